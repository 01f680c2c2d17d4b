package exchange

import (
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
)

// Builds used below.
const (
	b2007RTM     = "8.0.685.24"
	b2007SP1RU9  = "8.1.393.1"
	b2007SP3RU23 = "8.3.517.0" // the newest 2007 build: SP3 Latest
	b2003SP1     = "6.5.7226"
	b2003SP2     = "6.5.7638.2"
	b2000SP2     = "6.0.5762"
)

func srv(name, product, build string, roles ...string) Facts {
	return Facts{Server: name, Product: product, Build: build, Roles: roles}
}

func internetFacing(f Facts) Facts { f.InternetFacing = true; return f }

func clustered(f Facts, name, typ string, nodes ...string) Facts {
	f.Cluster = &ClusterFacts{Name: name, Type: typ, Nodes: nodes, ActiveNode: nodes[0], Active: f.Server == nodes[0]}
	return f
}

// org2007 is a 12-server Exchange 2007 organisation at RTM: two internet-facing CAS, two
// other CAS, two Hub Transport, one CAS+HUB server, three Mailbox servers of which two are
// the nodes of a CCR clustered mailbox server, one Unified Messaging and one Edge.
func org2007(build string) []Facts {
	return []Facts{
		internetFacing(srv("CAS-IF1", "2007", build, "ClientAccess")),
		internetFacing(srv("CAS-IF2", "2007", build, "ClientAccess")),
		srv("CAS-INT1", "2007", build, "ClientAccess"),
		srv("CAS-INT2", "2007", build, "ClientAccess"),
		srv("HUB1", "2007", build, "HubTransport"),
		srv("HUB2", "2007", build, "HubTransport"),
		srv("CASHUB1", "2007", build, "ClientAccess", "HubTransport"),
		srv("MBX1", "2007", build, "Mailbox"),
		clustered(srv("MBXN1", "2007", build, "Mailbox"), "CMS1", "ccr", "MBXN1", "MBXN2"),
		clustered(srv("MBXN2", "2007", build, "Mailbox"), "CMS1", "ccr", "MBXN1", "MBXN2"),
		srv("UM1", "2007", build, "UnifiedMessaging"),
		srv("EDGE1", "2007", build, "Edge"),
	}
}

// site2003 is an Exchange 2003 site: two front-ends and two back-ends.
func site2003(build string) []Facts {
	return []Facts{
		internetFacing(srv("FE1", "2003", build, "FrontEnd")),
		internetFacing(srv("FE2", "2003", build, "FrontEnd")),
		srv("BE1", "2003", build, "BackEnd"),
		srv("BE2", "2003", build, "BackEnd"),
	}
}

func concat(lists ...[]Facts) []Facts {
	var out []Facts
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// set replaces the server of the same name.
func set(servers []Facts, f Facts) []Facts {
	out := append([]Facts(nil), servers...)
	for i := range out {
		if out[i].Server == f.Server {
			out[i] = f
			return out
		}
	}
	return append(out, f)
}

func withBuild(servers []Facts, name, build string) []Facts {
	for _, f := range servers {
		if f.Server == name {
			f.Build = build
			return set(servers, f)
		}
	}
	panic("no server " + name)
}

type waveWant struct {
	name    string
	servers []string
}

func checkWaves(t *testing.T, got []Wave, want []waveWant) {
	t.Helper()
	var g []waveWant
	for i, w := range got {
		if w.Index != i+1 {
			t.Errorf("wave %d has Index %d", i+1, w.Index)
		}
		if w.Reason == "" {
			t.Errorf("wave %d (%s) has no reason", w.Index, w.Name)
		}
		g = append(g, waveWant{w.Name, w.Servers})
	}
	if !reflect.DeepEqual(g, want) {
		t.Errorf("waves:\n got %v\nwant %v", g, want)
	}
}

func waveNamed(t *testing.T, o Ordering, name string) Wave {
	t.Helper()
	for _, w := range o.Waves {
		if w.Name == name {
			return w
		}
	}
	t.Fatalf("no wave %q in %v", name, o.Waves)
	return Wave{}
}

func mustContain(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s does not contain %q:\n%s", what, sub, s)
		}
	}
}

const (
	waveIFCAS  = "Exchange 2007 internet-facing Client Access"
	waveCAS    = "Exchange 2007 Client Access (not internet-facing)"
	waveHub    = "Exchange 2007 Hub Transport"
	waveMBX    = "Exchange 2007 Mailbox"
	waveUM     = "Exchange 2007 Unified Messaging"
	waveEdge   = "Exchange 2007 Edge Transport"
	wave2003FE = "Exchange 2003 front-end servers (load-balanced: all at once)"
	wave2003BE = "Exchange 2003 back-end servers"
	wave2000FE = "Exchange 2000 front-end servers"
	wave2000BE = "Exchange 2000 back-end servers"
	wave55     = "Exchange 5.5 servers"
)

var (
	targetSP3Latest = Target{Product: "2007", ServicePack: 3, Latest: true}
	target2003SP2   = Target{Product: "2003", ServicePack: 2}
)

func TestOrderOrganisation(t *testing.T) {
	servers := concat(org2007(b2007RTM), site2003(b2003SP1))
	o, err := Order(servers, []Target{targetSP3Latest, target2003SP2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkWaves(t, o.Waves, []waveWant{
		{wave2003FE, []string{"FE1", "FE2"}},
		{wave2003BE, []string{"BE1", "BE2"}},
		{waveIFCAS, []string{"CAS-IF1", "CAS-IF2"}},
		{waveCAS, []string{"CAS-INT1", "CAS-INT2", "CASHUB1"}},
		{waveHub, []string{"HUB1", "HUB2"}},
		{waveMBX, []string{"MBX1", "MBXN1", "MBXN2"}},
		{waveUM, []string{"UM1"}},
		{waveEdge, []string{"EDGE1"}},
	})
	if len(o.UpToDate) != 0 || len(o.Unplanned) != 0 {
		t.Errorf("UpToDate %v, Unplanned %v: want none", o.UpToDate, o.Unplanned)
	}

	// Reasons cite the rules.
	mustContain(t, "2003 front-end reason", waveNamed(t, o, wave2003FE).Reason,
		"front-end servers before any back-end server (KB 328839)", "all at once", "sync key errors", "cannot be told from the facts")
	mustContain(t, "2003 back-end reason", waveNamed(t, o, wave2003BE).Reason, "after every front-end server (KB 328839)")
	mustContain(t, "internet-facing CAS reason", waveNamed(t, o, waveIFCAS).Reason,
		"Target Exchange 2007 SP3 Update Rollup 23 (8.3.517.0)", "CAS-CAS proxy", " (\"How to install the latest Service Pack or Update Rollup for Exchange 2007\")",
		"Every Exchange 2003 server must be at SP2 before any Exchange 2007 server goes to SP1 or later (\"Service Packs für Exchange 2007\")",
		"servers BE1, BE2, FE1, FE2 are below SP2", "Older products first")
	mustContain(t, "CAS reason", waveNamed(t, o, waveCAS).Reason,
		"after the internet-facing ones", "CASHUB1 also holds Hub Transport", "earliest role")
	mustContain(t, "Mailbox reason", waveNamed(t, o, waveMBX).Reason,
		"Nodes MBXN1, MBXN2 of clustered mailbox server CMS1 (ccr) are one unit", "exchange_cluster_upgrade")
	mustContain(t, "Edge reason", waveNamed(t, o, waveEdge).Reason,
		"not ordered by the sources; last by this provider's choice")

	cas := []string{"CAS-IF1", "CAS-IF2", "CAS-INT1", "CAS-INT2", "CASHUB1"}
	fe2003, all2003 := []string{"FE1", "FE2"}, []string{"BE1", "BE2", "FE1", "FE2"}
	sorted := func(lists ...[]string) []string {
		var out []string
		for _, l := range lists {
			out = append(out, l...)
		}
		sort.Strings(out)
		return out
	}
	for server, want := range map[string][]string{
		"FE1":      nil,
		"BE2":      fe2003,
		"CAS-IF1":  all2003,
		"CAS-INT1": sorted(all2003, []string{"CAS-IF1", "CAS-IF2"}),
		"CASHUB1":  sorted(all2003, []string{"CAS-IF1", "CAS-IF2"}),
		"HUB1":     sorted(all2003, cas),
		"MBX1":     sorted(all2003, cas, []string{"HUB1", "HUB2"}),
		"MBXN2":    sorted(all2003, cas, []string{"HUB1", "HUB2"}),
		"UM1":      sorted(all2003, cas, []string{"HUB1", "HUB2", "MBX1", "MBXN1", "MBXN2"}),
		"EDGE1":    all2003,
	} {
		if got := o.Predecessors[server]; !reflect.DeepEqual(got, want) {
			t.Errorf("Predecessors[%s] = %v, want %v", server, got, want)
		}
	}
	if len(o.Predecessors) != len(servers) {
		t.Errorf("Predecessors has %d servers, want one entry per server in a wave (%d)", len(o.Predecessors), len(servers))
	}
}

func TestOrderUpToDate(t *testing.T) {
	servers := org2007(b2007SP1RU9)
	servers = withBuild(servers, "CAS-IF1", b2007SP3RU23)
	servers = withBuild(servers, "CAS-IF2", b2007SP3RU23)
	servers = withBuild(servers, "HUB2", "8.3.517.1") // an interim build above the target
	servers = withBuild(servers, "MBXN1", b2007SP3RU23)
	o, err := Order(servers, []Target{targetSP3Latest}, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkWaves(t, o.Waves, []waveWant{
		{waveCAS, []string{"CAS-INT1", "CAS-INT2", "CASHUB1"}},
		{waveHub, []string{"HUB1"}},
		{waveMBX, []string{"MBX1", "MBXN2"}},
		{waveUM, []string{"UM1"}},
		{waveEdge, []string{"EDGE1"}},
	})
	if want := []string{"CAS-IF1", "CAS-IF2", "HUB2", "MBXN1"}; !reflect.DeepEqual(o.UpToDate, want) {
		t.Errorf("UpToDate = %v, want %v", o.UpToDate, want)
	}
	// Servers at their target are no obstacle, and no 2003 rule without 2003 servers.
	if got, want := o.Predecessors["MBX1"], []string{"CAS-INT1", "CAS-INT2", "CASHUB1", "HUB1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Predecessors[MBX1] = %v, want %v", got, want)
	}
	if got := o.Predecessors["CAS-INT1"]; got != nil {
		t.Errorf("Predecessors[CAS-INT1] = %v, want none (the internet-facing CAS are done)", got)
	}
	// Still listed by the rules, whatever their level.
	if got, want := PredecessorsOf("MBX1", servers), []string{"CAS-IF1", "CAS-IF2", "CAS-INT1", "CAS-INT2", "CASHUB1", "HUB1", "HUB2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("PredecessorsOf(MBX1) = %v, want %v", got, want)
	}

	// Everything at the target: no waves.
	o, err = Order(org2007(b2007SP3RU23), []Target{targetSP3Latest}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Waves) != 0 || len(o.UpToDate) != 12 || len(o.Predecessors) != 0 {
		t.Errorf("all at target: waves %v, UpToDate %v, Predecessors %v", o.Waves, o.UpToDate, o.Predecessors)
	}
}

func TestOrder2003BeforeExchange2007SP1(t *testing.T) {
	servers := concat(org2007(b2007RTM), site2003(b2003SP1))
	target2007SP1 := Target{Product: "2007", ServicePack: 1}

	// The 2003 target is below SP2: the 2007 SP1 target cannot be ordered.
	_, err := Order(servers, []Target{target2007SP1, {Product: "2003", ServicePack: 1}}, nil)
	if err == nil {
		t.Fatal("2003 target SP1 with 2007 target SP1: want an error")
	}
	mustContain(t, "error", err.Error(), "Exchange 2007 SP1", "every Exchange 2003 server at SP2 first",
		"servers BE1, BE2, FE1, FE2 are below SP2", "Exchange 2003 target is Exchange 2003 SP1", "set the Exchange 2003 target to SP2")

	// No 2003 target at all.
	_, err = Order(servers, []Target{target2007SP1}, nil)
	if err == nil {
		t.Fatal("no 2003 target with 2007 target SP1: want an error")
	}
	mustContain(t, "error", err.Error(), "no Exchange 2003 target", "add an Exchange 2003 target of SP2")

	// One 2003 server already at SP2 is not named.
	_, err = Order(withBuild(servers, "BE1", b2003SP2), []Target{target2007SP1}, nil)
	if err == nil || !strings.Contains(err.Error(), "servers BE2, FE1, FE2 are below SP2") {
		t.Errorf("err = %v, want it to name BE2, FE1, FE2", err)
	}

	// With a 2003 SP2 target the 2003 waves come first, and every 2007 server waits for them.
	o, err := Order(servers, []Target{target2007SP1, target2003SP2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.Waves[0].Name != wave2003FE || o.Waves[1].Name != wave2003BE || len(o.Waves) != 8 {
		t.Fatalf("waves %v: want the 2003 waves first", o.Waves)
	}
	for _, w := range o.Waves[2:] {
		mustContain(t, w.Name+" reason", w.Reason, "before any Exchange 2007 server goes to SP1 or later (\"Service Packs für Exchange 2007\")")
		for _, s := range w.Servers {
			if got := o.Predecessors[s]; !containsAll(got, "FE1", "FE2", "BE1", "BE2") {
				t.Errorf("Predecessors[%s] = %v: want every 2003 server below SP2", s, got)
			}
		}
	}

	// The 2007 target stays on RTM (an update rollup): the rule does not bind; 2003 servers
	// without a target are unplanned.
	o, err = Order(servers, []Target{{Product: "2007", ServicePack: 0, UpdateRollup: 7}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.Waves[0].Name != waveIFCAS || o.Predecessors["CAS-IF1"] != nil {
		t.Errorf("2007 RTM RU7: waves %v, Predecessors[CAS-IF1] %v: want no 2003 waves nor 2003 predecessors", o.Waves, o.Predecessors["CAS-IF1"])
	}
	if r := o.Unplanned["FE1"]; !strings.Contains(r, "no target for Exchange 2003") {
		t.Errorf("Unplanned[FE1] = %q", r)
	}

	// Every 2007 server is already at SP1: nothing goes to SP1, so nothing waits.
	o, err = Order(concat(org2007("8.1.240.6"), site2003(b2003SP1)), []Target{target2007SP1}, nil)
	if err != nil {
		t.Fatalf("2007 already at the target: %v", err)
	}
	if len(o.Waves) != 0 {
		t.Errorf("waves %v, want none", o.Waves)
	}

	// Every 2003 server at SP2, the 2003 target SP1: they are above it, and nothing blocks.
	o, err = Order(concat(org2007(b2007RTM), site2003(b2003SP2)), []Target{target2007SP1, {Product: "2003", ServicePack: 1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := o.Unplanned["BE1"]; !strings.Contains(r, "above the target") {
		t.Errorf("Unplanned[BE1] = %q, want above the target", r)
	}
	if o.Waves[0].Name != waveIFCAS {
		t.Errorf("first wave %q", o.Waves[0].Name)
	}
}

func containsAll(list []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, l := range list {
			found = found || l == w
		}
		if !found {
			return false
		}
	}
	return true
}

func TestOrderOlderProductsFirst(t *testing.T) {
	servers := concat(
		[]Facts{srv("X2007", "2007", b2007RTM, "Mailbox")},
		[]Facts{
			srv("E2KBE", "2000", b2000SP2, "BackEnd"),
			srv("E2KFE2", "2000", b2000SP2, "FrontEnd"),
			srv("E2KFE1", "2000", b2000SP2, "FrontEnd"),
			clustered(srv("E2KN1", "2000", b2000SP2), "EVS1", "evs-active-passive", "E2KN1", "E2KN2"),
			clustered(srv("E2KN2", "2000", b2000SP2), "EVS1", "evs-active-passive", "E2KN1", "E2KN2"),
		},
		[]Facts{srv("OLD1", "5.5", "5.5.2448", "BackEnd"), srv("OLD2", "5.5", "5.5.2653")},
	)
	o, err := Order(servers, []Target{
		{Product: "2007", ServicePack: 0, UpdateRollup: 7},
		{Product: "2000", ServicePack: 3},
		{Product: "5.5", ServicePack: 4},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkWaves(t, o.Waves, []waveWant{
		{wave55, []string{"OLD1"}},
		{wave2000FE, []string{"E2KFE1", "E2KFE2"}},
		{wave2000BE, []string{"E2KBE", "E2KN1", "E2KN2"}},
		{waveMBX, []string{"X2007"}},
	})
	if want := []string{"OLD2"}; !reflect.DeepEqual(o.UpToDate, want) {
		t.Errorf("UpToDate = %v, want %v", o.UpToDate, want)
	}
	mustContain(t, "2000 front-end reason", o.Waves[1].Reason, "need not be upgraded at the same time", "Older products first")
	mustContain(t, "2000 back-end reason", o.Waves[2].Reason,
		"E2KN1, E2KN2 report neither FrontEnd nor BackEnd", "Nodes E2KN1, E2KN2 of Exchange Virtual Server EVS1", "exchange_cluster_upgrade")
	mustContain(t, "2007 reason", o.Waves[3].Reason, "Older products first: the Exchange 5.5/2000 waves come before the Exchange 2007 ones by this provider's choice")
	if got := o.Predecessors["X2007"]; got != nil {
		t.Errorf("Predecessors[X2007] = %v: older products first is a choice, not a rule", got)
	}
	if got, want := o.Predecessors["E2KN1"], []string{"E2KFE1", "E2KFE2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Predecessors[E2KN1] = %v, want %v", got, want)
	}
}

func TestOrderMultiRole(t *testing.T) {
	servers := []Facts{
		srv("ALLINONE", "2007", b2007RTM, "Mailbox", "HubTransport", "ClientAccess"),
		srv("HUBMBX", "2007", b2007RTM, "HubTransport", "Mailbox"),
		srv("MBXUM", "2007", b2007RTM, "UnifiedMessaging", "Mailbox"),
		srv("UM2", "2007", b2007RTM, "UnifiedMessaging"),
	}
	o, err := Order(servers, []Target{targetSP3Latest}, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkWaves(t, o.Waves, []waveWant{
		{waveCAS, []string{"ALLINONE"}},
		{waveHub, []string{"HUBMBX"}},
		{waveMBX, []string{"MBXUM"}},
		{waveUM, []string{"UM2"}},
	})
	mustContain(t, "CAS reason", o.Waves[0].Reason, "ALLINONE also holds Hub Transport, Mailbox", "wave of its earliest role")
	mustContain(t, "Mailbox reason", o.Waves[2].Reason, "MBXUM also holds Unified Messaging")
	if got, want := PredecessorsOf("MBXUM", servers), []string{"ALLINONE", "HUBMBX"}; !reflect.DeepEqual(got, want) {
		t.Errorf("PredecessorsOf(MBXUM) = %v, want %v", got, want)
	}
	if got := PredecessorsOf("ALLINONE", servers); got != nil {
		t.Errorf("PredecessorsOf(ALLINONE) = %v, want none", got)
	}
	// An internet-facing multi-role CAS goes with the internet-facing CAS.
	servers = append(servers, internetFacing(srv("EDGECAS", "2007", b2007RTM, "ClientAccess", "HubTransport")))
	if got, want := PredecessorsOf("ALLINONE", servers), []string{"EDGECAS"}; !reflect.DeepEqual(got, want) {
		t.Errorf("PredecessorsOf(ALLINONE) = %v, want %v", got, want)
	}
}

func TestPredecessorsOf(t *testing.T) {
	servers := concat(org2007(b2007SP3RU23), site2003(b2003SP2))
	cas := []string{"CAS-IF1", "CAS-IF2", "CAS-INT1", "CAS-INT2", "CASHUB1"}
	casHub := append(append([]string(nil), cas...), "HUB1", "HUB2")
	for _, c := range []struct {
		server string
		want   []string
	}{
		{"CAS-IF2", nil},
		{"CAS-INT2", []string{"CAS-IF1", "CAS-IF2"}},
		{"CASHUB1", []string{"CAS-IF1", "CAS-IF2"}},
		{"HUB2", cas},
		{"MBX1", casHub},
		{"mbx1", casHub}, // Windows names ignore case
		{"MBXN1", casHub},
		{"UM1", append(append([]string(nil), casHub...), "MBX1", "MBXN1", "MBXN2")},
		{"EDGE1", nil},
		{"FE1", nil},
		{"BE1", []string{"FE1", "FE2"}},
		{"NOSUCH", nil},
	} {
		if got := PredecessorsOf(c.server, servers); !reflect.DeepEqual(got, c.want) {
			t.Errorf("PredecessorsOf(%s) = %v, want %v", c.server, got, c.want)
		}
	}
	// Nobody waits for an Edge server, whatever its level.
	for _, f := range servers {
		for _, p := range PredecessorsOf(f.Server, servers) {
			if p == "EDGE1" {
				t.Errorf("PredecessorsOf(%s) lists EDGE1", f.Server)
			}
		}
	}
}

func TestOrderClusterIsOneUnit(t *testing.T) {
	// A node that (wrongly) reports a later role is kept with its cluster.
	servers := []Facts{
		clustered(srv("N1", "2007", b2007RTM, "Mailbox"), "CMS9", "scc", "N1", "N2"),
		clustered(srv("N2", "2007", b2007RTM, "UnifiedMessaging"), "CMS9", "scc", "N1", "N2"),
		srv("UM1", "2007", b2007RTM, "UnifiedMessaging"),
	}
	o, err := Order(servers, []Target{targetSP3Latest}, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkWaves(t, o.Waves, []waveWant{
		{waveMBX, []string{"N1", "N2"}},
		{waveUM, []string{"UM1"}},
	})
	if got := PredecessorsOf("N2", servers); got != nil {
		t.Errorf("PredecessorsOf(N2) = %v: nodes of one cluster do not precede each other", got)
	}
}

func TestOrderUnplanned(t *testing.T) {
	servers := []Facts{
		srv("CAS1", "2007", b2007SP1RU9, "ClientAccess"),
		srv("NEWER", "2007", "8.3.83.6", "Mailbox"),
		srv("NOROLE", "2007", b2007RTM),
		srv("E2K", "2000", b2000SP2, "BackEnd"),
		srv("E2010", "2010", "14.0.639.21", "Mailbox"),
		srv("BADBUILD55", "5.5", "garbage"), // no target: its build does not matter
	}
	o, err := Order(servers, []Target{{Product: "2007", ServicePack: 2, Latest: true}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkWaves(t, o.Waves, []waveWant{{waveCAS, []string{"CAS1"}}})
	if len(o.Unplanned) != 5 {
		t.Errorf("Unplanned = %v, want 5 servers", o.Unplanned)
	}
	mustContain(t, "Unplanned[NEWER]", o.Unplanned["NEWER"], "above the target", "Exchange 2007 SP3", "Exchange 2007 SP2 Update Rollup 5", "cannot be uninstalled")
	mustContain(t, "Unplanned[NOROLE]", o.Unplanned["NOROLE"], "no Exchange 2007 role")
	mustContain(t, "Unplanned[E2K]", o.Unplanned["E2K"], "no target for Exchange 2000", "targets are given for Exchange 2007")
	mustContain(t, "Unplanned[E2010]", o.Unplanned["E2010"], `"2010"`, "does not know")
	mustContain(t, "Unplanned[BADBUILD55]", o.Unplanned["BADBUILD55"], "no target for Exchange 5.5")
}

func TestOrderErrors(t *testing.T) {
	org := org2007(b2007RTM)
	for _, c := range []struct {
		name    string
		servers []Facts
		targets []Target
		want    []string
	}{
		{"unknown SP", org, []Target{{Product: "2003", ServicePack: 3}}, []string{"Exchange 2003 SP3", "not in the catalog", "known: RTM, SP1, SP2"}},
		{"unknown RU", org, []Target{{Product: "2007", ServicePack: 3, UpdateRollup: 30}}, []string{"Exchange 2007 SP3 Update Rollup 30", "known update rollups"}},
		{"unknown re-release", org, []Target{{Product: "2007", ServicePack: 3, UpdateRollup: 9, ReRelease: 2}}, []string{"Exchange 2007 SP3 Update Rollup 9 (re-release v2)"}},
		{"RU on 2003", org, []Target{{Product: "2003", ServicePack: 2, UpdateRollup: 1}}, []string{"Exchange 2003", "no update rollups"}},
		{"latest and RU", org, []Target{{Product: "2007", ServicePack: 3, UpdateRollup: 5, Latest: true}}, []string{"exclude each other"}},
		{"unknown product", org, []Target{{Product: "2010", ServicePack: 1}}, []string{`unknown product "2010"`}},
		{"two targets", org, []Target{targetSP3Latest, {Product: "2007", ServicePack: 2}}, []string{"two targets for Exchange 2007"}},
		{"duplicate name", set(org, srv("cas-if1", "2007", b2007RTM, "Mailbox")), []Target{targetSP3Latest}, []string{"cas-if1 is given twice"}},
		{"unreadable builds", withBuild(withBuild(org, "HUB1", "8.x.1"), "UM1", "6.5.7638"), []Target{targetSP3Latest},
			[]string{"server HUB1", "server UM1", "not an Exchange 2007 build"}},
		{"unreadable 2003 build under the SP2 rule", concat(org, []Facts{srv("BE9", "2003", "")}), []Target{targetSP3Latest},
			[]string{"every Exchange 2003 server at SP2", "server BE9"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Order(c.servers, c.targets, nil)
			if err == nil {
				t.Fatal("want an error")
			}
			mustContain(t, "error", err.Error(), c.want...)
		})
	}
}

func TestReached(t *testing.T) {
	cat := DefaultCatalog()
	for _, c := range []struct {
		name    string
		product string
		build   string
		target  Target
		want    bool
	}{
		{"exact", "2007", b2007SP1RU9, Target{Product: "2007", ServicePack: 1, UpdateRollup: 9}, true},
		{"below", "2007", b2007SP1RU9, Target{Product: "2007", ServicePack: 1, UpdateRollup: 10}, false},
		{"below latest", "2007", b2007SP1RU9, Target{Product: "2007", ServicePack: 1, Latest: true}, false},
		{"SP itself", "2007", b2007SP1RU9, Target{Product: "2007", ServicePack: 1}, true},
		{"above the SP", "2007", "8.3.83.6", Target{Product: "2007", ServicePack: 2, Latest: true}, true},
		{"interim build above RU9", "2007", "8.1.395.0", Target{Product: "2007", ServicePack: 1, UpdateRollup: 9}, true},
		{"interim build below RU10", "2007", "8.1.395.0", Target{Product: "2007", ServicePack: 1, UpdateRollup: 10}, false},
		{"no revision, several releases, target the lowest", "2007", "8.3.279", Target{Product: "2007", ServicePack: 3, UpdateRollup: 8}, true},
		{"no revision, several releases, target a re-release", "2007", "8.3.279", Target{Product: "2007", ServicePack: 3, UpdateRollup: 8, ReRelease: 3}, false},
		{"no revision, one release", "2007", "8.1.393", Target{Product: "2007", ServicePack: 1, UpdateRollup: 9}, true},
		{"2003 shown with revision", "2003", "6.5.7638.2", Target{Product: "2003", ServicePack: 2}, true},
		{"2003 SP1", "2003", b2003SP1, Target{Product: "2003", ServicePack: 2}, false},
		{"2007 RTM seen as .25", "2007", "8.0.685.25", Target{Product: "2007", ServicePack: 0}, true},
		{"2000 post-SP3 rollup", "2000", "6.0.6603", Target{Product: "2000", ServicePack: 3}, true},
		{"2000 hotfix build", "2000", "6.0.6300", Target{Product: "2000", ServicePack: 3}, true},
		{"2000 latest is SP3", "2000", "6.0.6249", Target{Product: "2000", ServicePack: 3, Latest: true}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Reached(srv("S1", c.product, c.build), c.target, cat)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("Reached(%s, %+v) = %v, want %v", c.build, c.target, got, c.want)
			}
		})
	}

	for _, c := range []struct {
		name   string
		f      Facts
		target Target
		want   string
	}{
		{"other product", srv("S1", "2003", b2003SP2), Target{Product: "2007", ServicePack: 1}, "target is for Exchange 2007"},
		{"malformed build", srv("S1", "2007", "eight"), Target{Product: "2007", ServicePack: 1}, "server S1: the live build cannot be read"},
		{"build of another product", srv("S1", "2007", b2003SP2), Target{Product: "2007", ServicePack: 1}, "not an Exchange 2007 build"},
		{"unknown target", srv("S1", "2007", b2007RTM), Target{Product: "2007", ServicePack: 4}, "Exchange 2007 SP4"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Reached(c.f, c.target, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestRequires2003SP2(t *testing.T) {
	if Requires2003SP2(Target{Product: "2007", ServicePack: 0, UpdateRollup: 7}) || !Requires2003SP2(Target{Product: "2007", ServicePack: 1}) ||
		Requires2003SP2(Target{Product: "2003", ServicePack: 2}) {
		t.Error("Requires2003SP2: want true only for Exchange 2007 SP1 and later")
	}
	below, err := Exchange2003BelowSP2(concat(org2007(b2007RTM), withBuild(site2003(b2003SP1), "FE2", b2003SP2)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"BE1", "BE2", "FE1"}; !reflect.DeepEqual(below, want) {
		t.Errorf("Exchange2003BelowSP2 = %v, want %v", below, want)
	}
}

// The rule across products is about going to SP1: 2007 servers already at SP1 going to SP3
// do not wait for the 2003 servers.
func TestRuleAcrossProductsOnlyForServersGoingToSP1(t *testing.T) {
	servers := []Facts{
		{Server: "MBX1", Product: "2007", Build: "8.1.393.1", Roles: []string{"Mailbox"}},
		{Server: "BE1", Product: "2003", Build: "6.5.7226", Roles: []string{"BackEnd"}},
	}
	o, err := Order(servers, []Target{{Product: "2007", ServicePack: 3}}, nil)
	if err != nil {
		t.Fatalf("a 2007 server past SP1 must not need the 2003 servers at SP2: %v", err)
	}
	if len(o.Waves) != 1 || o.Waves[0].Servers[0] != "MBX1" {
		t.Fatalf("waves: %+v", o.Waves)
	}
	// The same server at RTM goes to SP1: now the rule binds.
	servers[0].Build = "8.0.685.24"
	if _, err := Order(servers, []Target{{Product: "2007", ServicePack: 3}}, nil); err == nil || !strings.Contains(err.Error(), "SP2") {
		t.Fatalf("a 2007 server going to SP1 needs every 2003 server at SP2 first: %v", err)
	}
}

// The nodes of an active/active cluster name different EVSs, and a node whose cluster
// service is stopped names none: they are still one cluster, one unit.
func TestClusterKeysJoinEveryNodeOfACluster(t *testing.T) {
	n1 := clustered(srv("N1", "2003", b2003SP1, "BackEnd"), "EVS1", "evs-active-active", "N1", "N2")
	n2 := clustered(srv("N2", "2003", b2003SP1, "BackEnd"), "EVS2", "evs-active-active", "N1", "N2")
	dark := srv("N3", "2003", b2003SP1, "BackEnd")
	dark.Cluster = &ClusterFacts{Nodes: []string{}}
	m1 := clustered(srv("M1", "2003", b2003SP1, "BackEnd"), "EVS9", "evs-active-passive", "M1", "N3")
	alone := srv("BE9", "2003", b2003SP1, "BackEnd")
	got := ClusterKeys([]Facts{n1, n2, dark, m1, alone})
	want := []string{"2003/n1,n2", "2003/n1,n2", "2003/m1,n3", "2003/m1,n3", ""}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ClusterKeys = %q, want %q", got, want)
	}

	o, err := Order([]Facts{n1, n2}, []Target{{Product: "2003", ServicePack: 2}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Waves) != 1 {
		t.Fatalf("waves %+v, want one", o.Waves)
	}
	mustContain(t, "reason", o.Waves[0].Reason, "Nodes N1, N2 of the cluster of Exchange Virtual Servers EVS1 (evs-active-active) are one unit")
}

// A server at its target that an interrupted apply left mid-procedure (the install's job
// record still there, services it stopped recorded) is not done: it stays in its wave, so
// the organisation upgrade plans the rest of its procedure (the per-server planner's
// continuation) instead of leaving its services stopped.
func TestOrderUnfinishedServerAtTarget(t *testing.T) {
	servers := org2007(b2007SP3RU23)
	for i := range servers {
		switch servers[i].Server {
		case "HUB1":
			servers[i].Jobs = []Job{{ID: "install_service_pack-8.3.83.6", Action: ActionInstallServicePack, State: JobSucceeded}}
		case "CAS-INT1":
			servers[i].Leftovers.StoppedServices = []string{"BackupExecAgentAccelerator"}
		}
	}
	o, err := Order(servers, []Target{targetSP3Latest}, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkWaves(t, o.Waves, []waveWant{
		{waveCAS, []string{"CAS-INT1"}},
		{waveHub, []string{"HUB1"}},
	})
	if len(o.UpToDate) != 10 || slices.Contains(o.UpToDate, "HUB1") || slices.Contains(o.UpToDate, "CAS-INT1") {
		t.Errorf("UpToDate = %v: want every server but HUB1 and CAS-INT1", o.UpToDate)
	}
}
