package simulator

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/scripts"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
)

// startDiscoverFleet starts the fleet d (as plain JSON values) and a client for it over HTTP.
func startDiscoverFleet(t *testing.T, d map[string]any) (*Simulator, *remote.Client, context.Context) {
	t.Helper()
	raw, _ := json.Marshal(d)
	fleet, err := ParseFleet(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	sim, err := Start(fleet, Options{DisableHTTPS: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := sim.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	client, err := remote.New(remote.Config{Username: fleet.Credentials.Username, Password: fleet.Credentials.Password,
		Auth: remote.AuthNTLM, Port: sim.HTTPPort(), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return sim, client, ctx
}

// TestEndToEndDiscover: the real client and the real discover.ps1 (the simulator accepts
// nothing else) list the whole fixture fleet from any one of its servers.
func TestEndToEndDiscover(t *testing.T) {
	sim := startFixture(t, Options{DisableHTTPS: true})
	fleet := sim.Fleet()
	client, err := remote.New(remote.Config{Username: fleet.Credentials.Username, Password: fleet.Credentials.Password,
		Auth: remote.AuthNTLM, Port: sim.HTTPPort(), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// A live change shows: discovery reads each host as it is now.
	sim.Host("EX04").Update(func(s *State) { s.FQDN = "ex04.branch.contoso.local" })

	got, err := client.Discover(ctx, remote.Target{Server: "FE01", Address: sim.Addr("FE01")})
	if err != nil {
		t.Fatal(err)
	}
	if got.Organization != "Contoso" {
		t.Errorf("organization %q, want the default Contoso", got.Organization)
	}
	// The fixture's clusters are listed under their CMS/EVS name, not their nodes' (EX02
	// and EX03 run CMS01, BE01 and BE02 run EVS01): the nodes have no server object.
	want := []wire.DiscoveredServer{
		{Name: "CMS01", FQDN: "cms01.contoso.local", Product: "2007", Roles: []string{"Mailbox"}},
		{Name: "EDGE01", FQDN: "edge01.contoso.local", Product: "2007", Roles: []string{"Edge"}},
		{Name: "EVS01", FQDN: "evs01.contoso.local", Product: "2003", Roles: []string{"BackEnd"}},
		{Name: "EX01", FQDN: "ex01.contoso.local", Product: "2007", Roles: []string{"ClientAccess", "HubTransport"}},
		{Name: "EX04", FQDN: "ex04.branch.contoso.local", Product: "2007", Roles: []string{"UnifiedMessaging"}},
		{Name: "EX2K01", FQDN: "ex2k01.contoso.local", Product: "2000", Roles: []string{"BackEnd"}},
		// Active Directory records no role for Exchange 5.5.
		{Name: "EX55", FQDN: "ex55.contoso.local", Product: "5.5", Roles: []string{}},
		{Name: "FE01", FQDN: "fe01.contoso.local", Product: "2003", Roles: []string{"FrontEnd"}},
	}
	for i := range want {
		want[i].Site = DefaultSite
	}
	if !equalJSON(t, got.Servers, want) {
		t.Errorf("servers\n%s\nwant\n%s", mustJSON(t, got.Servers), mustJSON(t, want))
	}

	// The same answer from another server: the organisation, not the host, is listed.
	other, err := client.Discover(ctx, remote.Target{Server: "EX55", Address: sim.Addr("EX55")})
	if err != nil {
		t.Fatal(err)
	}
	if !equalJSON(t, other, got) {
		t.Errorf("discover on EX55 = %s, on FE01 %s", mustJSON(t, other), mustJSON(t, got))
	}

	var entries []string
	for _, e := range sim.Journal() {
		entries = append(entries, e.Server+" "+e.Operation+" "+e.Outcome+" "+e.Detail)
	}
	if want := []string{"FE01 discover ok 8 servers in Contoso", "EX55 discover ok 8 servers in Contoso"}; !slices.Equal(entries, want) {
		t.Errorf("journal %q, want %q", entries, want)
	}
}

// A fleet's organization, site and ad_unreachable reach the provider; a server that cannot
// read Active Directory answers "unavailable" and is still listed by the others.
func TestEndToEndDiscoverFleetFields(t *testing.T) {
	d := baseFleet()
	d["organization"] = "Fabrikam Mail"
	srv(d, 0)["site"] = "Branch-Site"
	srv(d, 3)["site"] = "First Routing Group"
	srv(d, 1)["site"] = ""
	srv(d, 2)["ad_unreachable"] = true
	srv(d, 0)["name"] = "ex01" // sorted ignoring case, spelled as the fleet spells it
	sim, client, ctx := startDiscoverFleet(t, d)

	got, err := client.Discover(ctx, remote.Target{Server: "EX02", Address: sim.Addr("EX02")})
	if err != nil {
		t.Fatal(err)
	}
	// EX02 and EX03 are the nodes of CMS01: it is listed with the site of EX02, which runs it.
	want := wire.DiscoverResult{Organization: "Fabrikam Mail", Servers: []wire.DiscoveredServer{
		{Name: "CMS01", FQDN: "cms01.contoso.local", Product: "2007", Roles: []string{"Mailbox"}, Site: ""},
		{Name: "ex01", FQDN: "ex01.contoso.local", Product: "2007", Roles: []string{"ClientAccess", "HubTransport"}, Site: "Branch-Site"},
		{Name: "FE01", FQDN: "fe01.contoso.local", Product: "2003", Roles: []string{"FrontEnd"}, Site: "First Routing Group"},
	}}
	if !equalJSON(t, got, want) {
		t.Errorf("discover\n%s\nwant\n%s", mustJSON(t, got), mustJSON(t, want))
	}

	_, err = client.Discover(ctx, remote.Target{Server: "EX03", Address: sim.Addr("EX03")})
	var fault *wire.Fault
	if !errors.As(err, &fault) || fault.Code != "unavailable" {
		t.Fatalf("discover on EX03: %v, want the unavailable fault", err)
	}
	for _, part := range []string{
		"cannot read Active Directory from EX03 (reading CN=Services,CN=Configuration,DC=contoso,DC=local: ",
		"no credentials for a second hop",
		"name the servers explicitly (one resource or data source per server) instead of discovering them",
	} {
		if !strings.Contains(fault.Message, part) {
			t.Errorf("fault message %q lacks %q", fault.Message, part)
		}
	}
	var re *remote.Error
	if !errors.As(err, &re) || re.Kind != remote.KindFault || re.Operation != wire.OpDiscover {
		t.Errorf("error %v: want a fault of discover", err)
	}

	var entries []string
	for _, e := range sim.Journal() {
		entries = append(entries, e.Server+" "+e.Operation+" "+e.Outcome)
	}
	if want := []string{"EX02 discover ok", "EX03 discover fault:unavailable"}; !slices.Equal(entries, want) {
		t.Errorf("journal %q, want %q", entries, want)
	}
}

// The simulator's "unavailable" text is the one discover.ps1 writes: the same fixed parts.
func TestDiscoverUnavailableMatchesTheScript(t *testing.T) {
	body, ok := scripts.Body(wire.OpDiscover)
	if !ok {
		t.Fatal("no discover.ps1")
	}
	for _, part := range []string{
		"Stop-ExOperation 'unavailable' ('cannot read Active Directory from ' + $computer + ' (' + $What + ': ' +",
		"(Get-ExReason $Problem) + '). No domain controller answers, or the account the provider connects as ' +",
		"'has no credentials for a second hop (WinRM with NTLM or Kerberos passes none on without CredSSP ' +",
		"'or delegation): ' + $ExHint)",
		"$ExHint = 'name the servers explicitly (one resource or data source per server) instead of discovering them'",
		"$servicesDn = 'CN=Services,' + $configNC",
		"Stop-ExUnavailable ('reading ' + $servicesDn) $_",
	} {
		if !strings.Contains(body, part) {
			t.Errorf("discover.ps1 lacks %q", part)
		}
	}
	h := newHost(Server{Name: "EX01", FQDN: "ex01.fabrikam.example", Product: "2007", ADUnreachable: true}, nil, time.Now())
	_, fault := opDiscover(&Handler{host: h}, &call{}, wire.DiscoverRequest{})
	if fault == nil {
		t.Fatal("no fault")
	}
	want := "cannot read Active Directory from EX01 (reading CN=Services,CN=Configuration,DC=fabrikam,DC=example: " +
		"An operations error occurred. (0x80072020) "
	if !strings.HasPrefix(fault.Message, want) {
		t.Errorf("message %q, want it to start %q", fault.Message, want)
	}
	if tail := "). No domain controller answers, or the account the provider connects as has no credentials for a second hop " +
		"(WinRM with NTLM or Kerberos passes none on without CredSSP or delegation): " +
		"name the servers explicitly (one resource or data source per server) instead of discovering them"; !strings.HasSuffix(fault.Message, tail) {
		t.Errorf("message %q, want it to end %q", fault.Message, tail)
	}
}

// As in real Active Directory, a cluster is listed under the names of its Exchange groups —
// the CMS, every EVS (two on an active/active cluster), the 5.5 virtual server — never
// under its nodes' names nor its Windows cluster's own name; each in the site of the node
// that runs it now.
func TestDiscoverListsClustersUnderTheirVirtualNames(t *testing.T) {
	d := clustersDoc(t)
	sites := map[string]string{"MBX1A": "Site-A", "MBX1B": "Site-B", "AAN1": "Site-A", "AAN2": "Site-B", "E55A": "Routing-55"}
	for _, s := range d["servers"].([]any) {
		m := s.(map[string]any)
		if site, ok := sites[m["name"].(string)]; ok {
			m["site"] = site
		}
	}
	sim, client, ctx := startDiscoverFleet(t, d)

	got, err := client.Discover(ctx, remote.Target{Server: "E55B", Address: sim.Addr("E55B")})
	if err != nil {
		t.Fatal(err)
	}
	mailbox, backEnd := []string{"Mailbox"}, []string{"BackEnd"}
	want := []wire.DiscoveredServer{
		{Name: "CMS1", FQDN: "cms1.contoso.local", Product: "2007", Roles: mailbox, Site: "Site-A"},
		{Name: "EVS1", FQDN: "evs1.contoso.local", Product: "2003", Roles: backEnd, Site: DefaultSite},
		{Name: "EVS2K", FQDN: "evs2k.contoso.local", Product: "2000", Roles: backEnd, Site: DefaultSite},
		{Name: "EVSA", FQDN: "evsa.contoso.local", Product: "2003", Roles: backEnd, Site: "Site-A"},
		{Name: "EVSB", FQDN: "evsb.contoso.local", Product: "2003", Roles: backEnd, Site: "Site-B"},
		{Name: "EVSC", FQDN: "evsc.contoso.local", Product: "2000", Roles: backEnd, Site: DefaultSite},
		{Name: "EVSD", FQDN: "evsd.contoso.local", Product: "2000", Roles: backEnd, Site: DefaultSite},
		// Active Directory records no role for Exchange 5.5.
		{Name: "X55", FQDN: "x55.contoso.local", Product: "5.5", Roles: []string{}, Site: "Routing-55"},
	}
	if !equalJSON(t, got.Servers, want) {
		t.Errorf("servers\n%s\nwant\n%s", mustJSON(t, got.Servers), mustJSON(t, want))
	}

	// A CMS moved to MBX1B is in MBX1B's site.
	sim.Cluster("CMS1").Update(func(s *ClusterState) { s.Group("CMS1").Owner = "MBX1B" })
	got, err = client.Discover(ctx, remote.Target{Server: "EVSN2", Address: sim.Addr("EVSN2")})
	if err != nil {
		t.Fatal(err)
	}
	want[0].Site = "Site-B"
	if !equalJSON(t, got.Servers, want) {
		t.Errorf("after the failover\n%s\nwant\n%s", mustJSON(t, got.Servers), mustJSON(t, want))
	}

	var entries []string
	for _, e := range sim.Journal() {
		if e.Operation == "discover" {
			entries = append(entries, e.Server+" "+e.Outcome+" "+e.Detail)
		}
	}
	if want := []string{"E55B ok 8 servers in Contoso", "EVSN2 ok 8 servers in Contoso"}; !slices.Equal(entries, want) {
		t.Errorf("journal %q, want %q", entries, want)
	}
}

// A host made outside Start discovers itself alone, in the default organisation.
func TestDiscoverStandaloneHost(t *testing.T) {
	h := newHost(Server{Name: "EX09", FQDN: "ex09", Product: "2007", Roles: []string{"Mailbox"}, Site: "S1"}, nil, time.Now())
	c := &call{}
	res, fault := opDiscover(&Handler{host: h}, c, wire.DiscoverRequest{})
	if fault != nil {
		t.Fatal(fault)
	}
	want := wire.DiscoverResult{Organization: DefaultOrganization, Servers: []wire.DiscoveredServer{
		{Name: "EX09", FQDN: "ex09", Product: "2007", Roles: []string{"Mailbox"}, Site: "S1"}}}
	if !equalJSON(t, res, want) {
		t.Errorf("%s, want %s", mustJSON(t, res), mustJSON(t, want))
	}

	// A passive node alone lists its CMS, in its own site (the active node is no host).
	b := exchange.MustParseBuild("8.1.240.6")
	servers := []Server{{Name: "N1", Product: "2007", Build: b}, {Name: "N2", Product: "2007", Build: b, Site: "S2"}}
	lc := newLiveCluster(Cluster{Name: "CMS9", Type: "ccr", Nodes: []string{"N1", "N2"}, Active: "N1"}, servers)
	n2 := newHost(servers[1], lc, time.Now())
	res, fault = opDiscover(&Handler{host: n2}, c, wire.DiscoverRequest{})
	if fault != nil {
		t.Fatal(fault)
	}
	want = wire.DiscoverResult{Organization: DefaultOrganization, Servers: []wire.DiscoveredServer{
		{Name: "CMS9", FQDN: "cms9.contoso.local", Product: "2007", Roles: []string{"Mailbox"}, Site: "S2"}}}
	if !equalJSON(t, res, want) {
		t.Errorf("%s, want %s", mustJSON(t, res), mustJSON(t, want))
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// equalJSON compares as the wire does, so [] and null differ.
func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	return mustJSON(t, a) == mustJSON(t, b)
}
