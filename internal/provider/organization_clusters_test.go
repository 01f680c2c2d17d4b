package provider

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/buildlevel/terraform-provider-exchange/internal/simulator"
)

// Organisations with clusters, discovered: Active Directory lists a clustered server (CMS,
// EVS, 5.5 virtual server) under its network name, never its nodes; the provider probes that
// name, is answered by the node that runs it and reads every node of its cluster instead.

// clusterNodeAddresses reaches every node of testdata/clusters.json by its name.
const clusterNodeAddresses = `{
    MBX1A = "127.0.50.11", MBX1B = "127.0.50.12", EVSN1 = "127.0.50.21", EVSN2 = "127.0.50.22",
    E2KN1 = "127.0.50.31", E2KN2 = "127.0.50.32", E55A = "127.0.50.41", E55B = "127.0.50.42",
    AAN1 = "127.0.50.51", AAN2 = "127.0.50.52", A2K1 = "127.0.50.61", A2K2 = "127.0.50.62"
  }`

// clusterVirtualNames are the names discovery lists for testdata/clusters.json's clusters.
var clusterVirtualNames = []string{"CMS1", "EVS1", "EVS2K", "X55", "EVSA", "EVSB", "EVSC", "EVSD"}

// withWinRMOnly is fleet without its Exchange 5.5 and 2000 servers and their clusters: they
// run on Windows 2000, which has no WinRM (KB 968930), and an organisation whose Active
// Directory lists them is refused (TestAccOrganizationRefusesClustersWithoutWinRM). What is
// left is the 2007 CCR and the 2003 clusters.
func withWinRMOnly(t *testing.T, fleet string) string {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(fleet), &doc); err != nil {
		t.Fatal(err)
	}
	dropped := map[string]bool{}
	var servers []any
	for _, s := range doc["servers"].([]any) {
		m := s.(map[string]any)
		if p := m["product"]; p == "5.5" || p == "2000" {
			dropped[m["name"].(string)] = true
			continue
		}
		servers = append(servers, s)
	}
	var clusters []any
	for _, c := range doc["clusters"].([]any) {
		if !dropped[c.(map[string]any)["nodes"].([]any)[0].(string)] {
			clusters = append(clusters, c)
		}
	}
	if len(dropped) == 0 || len(clusters) == len(doc["clusters"].([]any)) {
		t.Fatal("the cluster fleet has no Exchange 5.5 or 2000 cluster to drop any more")
	}
	doc["servers"], doc["clusters"] = servers, clusters
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// clusterDNSVariable is the Terraform variable (read from the environment at every command)
// through which clusterDNS gives the provider the virtual names' addresses.
const clusterDNSVariable = "exchange_cluster_dns"

// clusterDNS stands in for DNS for the virtual names of a simulated organisation. In a real
// network a CMS/EVS name resolves to the group's own IP address, a cluster resource that moves
// with the group, so the name always reaches the node that runs it; a simulated group without
// a fleet `address` has no address of its own, so its name must resolve to the address of its owner node, and follow
// it when the group moves (an upgrade leaves a CMS or an EVS on another node). config maps
// the names through a Terraform variable set in the environment, which Terraform reads at
// every command; follow updates it from the simulator's clusters.
type clusterDNS struct {
	t   *testing.T
	sim *simulator.Simulator
}

func newClusterDNS(t *testing.T, sim *simulator.Simulator) *clusterDNS {
	d := &clusterDNS{t: t, sim: sim}
	t.Setenv("TF_VAR_"+clusterDNSVariable, d.records()) // and restored when the test ends
	return d
}

// records are the virtual names, each at the address of the node that owns its group now.
func (d *clusterDNS) records() string {
	var pairs []string
	for _, c := range d.sim.Fleet().Clusters {
		for _, g := range d.sim.Cluster(c.Name).State().Groups {
			pairs = append(pairs, fmt.Sprintf("%s = %q", g.Name, d.sim.Addr(g.Owner)))
		}
	}
	sort.Strings(pairs)
	return "{" + strings.Join(pairs, ", ") + "}"
}

// follow updates the records after groups moved.
func (d *clusterDNS) follow() {
	if err := os.Setenv("TF_VAR_"+clusterDNSVariable, d.records()); err != nil {
		d.t.Fatal(err)
	}
}

// config is the provider block (every node by its name, the virtual names by this DNS).
func (d *clusterDNS) config() string {
	return fmt.Sprintf(`
variable %q {
  type = map(string)
}
`, clusterDNSVariable) + providerConfig(d.sim, fmt.Sprintf("addresses = merge(%s, var.%s)", clusterNodeAddresses, clusterDNSVariable))
}

// organizationThrough is the organisation discovered through server, every product targeted.
func organizationThrough(server string) string {
	return fmt.Sprintf(`
data "exchange_organization" "org" {
  discover_through = { server = %q }
  targets = [
    { product = "5.5", service_pack = 4 },
    { product = "2000", service_pack = 3 },
    { product = "2003", service_pack = 2 },
    { product = "2007", service_pack = 3 },
  ]
}
`, server)
}

// spaced matches text whatever line breaks Terraform wrapped it with.
func spaced(text string) string {
	return strings.ReplaceAll(regexp.QuoteMeta(text), " ", `\s+`)
}

// What a user sees of an organisation of clusters, discovered through one node: every node
// (never a CMS/EVS name) with its cluster, and each cluster's nodes one unit of one wave,
// whose reason says so. A discovered CMS/EVS whose node cannot be reached is named in the
// error.
func TestAccOrganizationDiscoversClusterNodes(t *testing.T) {
	sim := startSimulatorWith(t, withWinRMOnly(t, clusterFleet(t)), simulator.Options{InstallDuration: 200 * time.Millisecond, RebootDuration: 200 * time.Millisecond})
	dns := newClusterDNS(t, sim)
	const ds = "data.exchange_organization.org"
	config := dns.config() + organizationThrough("MBX1A")
	// found: the nodes, sorted, each with the CMS/EVS of its cluster; the nodes of an
	// active/active cluster with the cluster's own name (the same on both nodes).
	found := []struct{ server, cluster string }{
		{"AAN1", "^AACL$"}, {"AAN2", "^AACL$"},
		{"EVSN1", "^EVS1$"}, {"EVSN2", "^EVS1$"}, {"MBX1A", "^CMS1$"}, {"MBX1B", "^CMS1$"},
	}
	checks := []resource.TestCheckFunc{
		resource.TestCheckResourceAttr(ds, "found.#", fmt.Sprint(len(found))),
		resource.TestCheckResourceAttr(ds, "id", "AAN1,AAN2,EVSN1,EVSN2,MBX1A,MBX1B"),
	}
	for i, f := range found {
		checks = append(checks,
			resource.TestCheckResourceAttr(ds, fmt.Sprintf("found.%d.server", i), f.server),
			resource.TestMatchResourceAttr(ds, fmt.Sprintf("found.%d.cluster", i), regexp.MustCompile(f.cluster)))
	}
	// The waves: each cluster's nodes together, the reason naming them one unit.
	waves := []struct {
		servers []string
		reasons []string
	}{
		{[]string{"AAN1", "AAN2", "EVSN1", "EVSN2"}, []string{
			"Nodes AAN1, AAN2 of the cluster of Exchange Virtual Servers AACL (evs-active-active) are one unit",
			"Nodes EVSN1, EVSN2 of Exchange Virtual Server EVS1 (evs-active-passive) are one unit"}},
		{[]string{"MBX1A", "MBX1B"}, []string{"Nodes MBX1A, MBX1B of clustered mailbox server CMS1 (ccr) are one unit"}},
	}
	checks = append(checks, resource.TestCheckResourceAttr(ds, "waves.#", fmt.Sprint(len(waves))))
	for i, w := range waves {
		checks = append(checks, resource.TestCheckResourceAttr(ds, fmt.Sprintf("waves.%d.servers.#", i), fmt.Sprint(len(w.servers))))
		for j, s := range w.servers {
			checks = append(checks, resource.TestCheckResourceAttr(ds, fmt.Sprintf("waves.%d.servers.%d", i, j), s))
		}
		for _, r := range w.reasons {
			checks = append(checks, resource.TestMatchResourceAttr(ds, fmt.Sprintf("waves.%d.reason", i), regexp.MustCompile(regexp.QuoteMeta(r))))
		}
	}
	// No virtual name is a server anywhere: not found, not in a wave, not up to date, not
	// unplanned.
	checks = append(checks, func(s *terraform.State) error {
		attrs := s.RootModule().Resources[ds].Primary.Attributes
		for k, v := range attrs {
			server := strings.HasSuffix(k, ".server") || strings.HasPrefix(k, "waves.") && strings.Contains(k, ".servers.") && !strings.HasSuffix(k, ".#") ||
				strings.HasPrefix(k, "up_to_date.") && k != "up_to_date.#"
			if server && slices.ContainsFunc(clusterVirtualNames, func(n string) bool { return strings.EqualFold(n, v) }) {
				return fmt.Errorf("%s = %s: a CMS/EVS name is listed as a server", k, v)
			}
			if name, ok := strings.CutPrefix(k, "unplanned."); ok && slices.ContainsFunc(clusterVirtualNames, func(n string) bool { return strings.EqualFold(n, name) }) {
				return fmt.Errorf("%s: a CMS/EVS name is listed as a server", k)
			}
		}
		return nil
	})
	// How the servers were read (one plan, one provider process): each virtual name once,
	// answered by the node that runs it, then every other node once by its own name. The
	// answer for a node's (first) CMS/EVS is its own facts: it is not probed again by its own name.
	checks = append(checks, func(*terraform.State) error {
		got := map[string][]string{}
		for _, e := range sim.Journal() {
			if e.Operation == "probe" {
				got[e.Server] = append(got[e.Server], fmt.Sprint(e.Params["Server"]))
			}
		}
		want := map[string][]string{}
		for _, c := range sim.Fleet().Clusters {
			for _, g := range sim.Cluster(c.Name).State().Groups {
				want[g.Owner] = append(want[g.Owner], g.Name)
			}
		}
		for _, h := range sim.Hosts() {
			if want[h.Name()] == nil {
				want[h.Name()] = []string{h.Name()}
			}
		}
		for server := range want {
			slices.Sort(got[server])
			slices.Sort(want[server])
			if !slices.Equal(got[server], want[server]) {
				return fmt.Errorf("%s was probed as %q, want %q", server, got[server], want[server])
			}
		}
		return nil
	})

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: config,
				Check:  resource.ComposeAggregateTestCheckFunc(checks...),
			},
			{
				// AAN2, which runs EVSB, is down for good, and EVSB stayed there offline (as a
				// group whose only possible owner is AAN2 would): the name discovered for EVSB
				// cannot be read, and the error names it.
				PreConfig: func() {
					aan2 := sim.Host("AAN2")
					if err := aan2.InjectFault(simulator.Fault{Kind: simulator.FaultNoRebootReturn}); err != nil {
						t.Fatal(err)
					}
					aan2.Restart()
					for deadline := time.Now().Add(10 * time.Second); aan2.Reachable(); time.Sleep(20 * time.Millisecond) {
						if time.Now().After(deadline) {
							t.Fatal("AAN2 did not go down")
						}
					}
					// Leaving the cluster, AAN2 handed EVSB to AAN1 (the simulator moves every
					// group); put it back on AAN2, offline, by hand.
					sim.Cluster("EVSB").Update(func(s *simulator.ClusterState) {
						g := s.Group("EVSB")
						g.Owner = "AAN2"
						for i := range g.Resources {
							g.Resources[i].State = simulator.StateOffline
						}
					})
					dns.follow()
				},
				Config:      config,
				ExpectError: regexp.MustCompile(`(?s)Cannot read every server of the organisation.*` + spaced("1 of 4 servers could not be read:") + `\s+EVSB: ` + spaced("server EVSB (127.0.50.52:")),
			},
		},
	})
}

// The same organisation with its Exchange 5.5 and 2000 clusters: their nodes run Windows
// 2000, which has no WinRM (KB 968930). Active Directory lists X55 as 5.5 and EVS2K, EVSC,
// EVSD as 2000: the plan refuses each by name with the reason, before any connection is
// tried (each name is followed at once by the reason, not by a connection error). That their
// nodes are one unit of a wave is the planner's (internal/exchange
// TestOrderLegacyClustersAreUnits).
func TestAccOrganizationRefusesClustersWithoutWinRM(t *testing.T) {
	sim := startSimulatorWith(t, clusterFleet(t), fastServicing)
	dns := newClusterDNS(t, sim)
	reason := func(name, product string) string {
		return `\s+` + name + `: ` + spaced("Active Directory records "+name+" as Exchange "+product+", which runs on Windows NT 4.0 or Windows 2000: those have no WinRM or PowerShell 2.0, so this provider cannot reach it yet")
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: dns.config() + organizationThrough("MBX1A"),
			ExpectError: regexp.MustCompile(`(?s)Cannot read every server of the organisation.*` + spaced("4 of 8 servers could not be read:") +
				reason("EVS2K", "2000") + `.*` + reason("EVSC", "2000") + `.*` + reason("EVSD", "2000") + `.*` + reason("X55", "5.5")),
		}},
	})
}

// The order check of a servicing resource (predecessorGuard) discovers the organisation
// too: the EVSs it lists stand for their nodes, which are named as the servers to upgrade
// first (every Exchange 2003 server at SP2 before any Exchange 2007 server goes to SP1).
func TestAccServicePackWaitsForClusterNodesDiscovered(t *testing.T) {
	hub := fmt.Sprintf(`{"last_full_backup": %q, "last_system_state_backup": %q, "name": "HUB9", "address": "127.0.50.71", `+
		`"product": "2007", "build": "8.0.685.24", "roles": ["HubTransport"]},
    `, hoursAgo(1), hoursAgo(1))
	fleet := clusterFleet(t)
	i := strings.Index(fleet, `"servers": [`)
	if i < 0 {
		t.Fatal("no servers in the cluster fleet")
	}
	i += len(`"servers": [`)
	fleet = withWinRMOnly(t, fleet[:i]+hub+fleet[i:])
	sim := startSimulatorWith(t, fleet, simulator.Options{})
	dns := newClusterDNS(t, sim)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: dns.config() + `
resource "exchange_service_pack" "hub" {
  server       = "HUB9"
  address      = "127.0.50.71"
  service_pack = 1
  media_path   = "D:\\Exchange2007SP1"
  backup {
    max_database_age     = "24h"
    max_system_state_age = "168h"
    domain_controller_backup_time = "` + evidenceTime + `"
    # Exchange 2000/2003/5.5 databases: the backup software's times (a server cannot tell).
    database_backup_times = { AAN1 = "` + evidenceTime + `", AAN2 = "` + evidenceTime + `", EVSN1 = "` + evidenceTime + `", EVSN2 = "` + evidenceTime + `" }
  }
}
`,
			PlanOnly: true,
			// The nodes of EVSA/EVSB (AACL) and of EVS1, exactly: no CMS/EVS name.
			ExpectError: regexp.MustCompile(`(?s)Server HUB9 must wait.*` + spaced("come before HUB9 and are not at it and are not upgraded earlier in this apply: "+
				"AAN1 (Exchange 2003 SP1), AAN2 (Exchange 2003 SP1), EVSN1 (Exchange 2003 SP1), EVSN2 (Exchange 2003 SP1). Upgrade them first")),
		}},
	})
	onlyReads(t, sim)
	viaName := map[string]string{}
	for _, e := range sim.Journal() {
		if e.Operation == "probe" {
			viaName[fmt.Sprint(e.Params["Server"])] = e.Server
		}
	}
	// The discovered names were read where they run.
	for name, node := range map[string]string{"EVS1": "EVSN1", "EVSA": "AAN1", "EVSB": "AAN2", "CMS1": "MBX1A"} {
		if viaName[name] != node {
			t.Errorf("%s was read on %q, want %s", name, viaName[name], node)
		}
	}
}

// Discovery through a cluster node given by address only: Active Directory lists the node
// under its CMS name, so the address reaches the node's facts through the CMS's cluster.
func TestAccOrganizationDiscoveredThroughANodeByAddress(t *testing.T) {
	sim := startSimulatorWith(t, withWinRMOnly(t, clusterFleet(t)), fastServicing)
	dns := newClusterDNS(t, sim)
	withoutMBX1A := strings.Replace(dns.config(), `MBX1A = "127.0.50.11", `, "", 1)
	if withoutMBX1A == dns.config() {
		t.Fatal("the provider block no longer maps MBX1A")
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: withoutMBX1A + `
data "exchange_organization" "org" {
  discover_through = { server = "MBX1A", address = "127.0.50.11" }
}
`,
			Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr("data.exchange_organization.org", "found.#", "6"),
				resource.TestCheckTypeSetElemNestedAttrs("data.exchange_organization.org", "found.*", map[string]string{"server": "MBX1A", "cluster": "CMS1"}),
			),
		}},
	})
}

// A CMS on an address of its own (its IP Address resource, as on a real cluster): the node
// that answers there is probed again by its own name, which proves that the node's own
// address, where steps go, reaches it. A virtual name at its node's address proved that
// already: the node is not probed again. MBX1B, which discovery goes through, is probed by
// that discovery (wire.DiscoverRequest.Server), not by a probe of its own.
func TestAccOrganizationProbesANodeAtItsOwnAddress(t *testing.T) {
	fleet := strings.Replace(clusterFleet(t), `{"name": "CMS1", `, `{"name": "CMS1", "address": "127.0.50.19", `, 1)
	sim := startSimulatorWith(t, withWinRMOnly(t, fleet), simulator.Options{})
	dns := newClusterDNS(t, sim)
	records := strings.Replace(dns.records(), `CMS1 = "127.0.50.11"`, `CMS1 = "127.0.50.19"`, 1)
	if !strings.Contains(records, `CMS1 = "127.0.50.19"`) {
		t.Fatalf("records %s", records)
	}
	t.Setenv("TF_VAR_"+clusterDNSVariable, records)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: dns.config() + organizationThrough("MBX1B"),
			Check: func(*terraform.State) error {
				got := map[string][]string{}
				for _, e := range sim.Journal() {
					if e.Operation == "probe" || e.Operation == "discover" {
						got[e.Server] = append(got[e.Server], e.Operation+" "+fmt.Sprint(e.Params["Server"]))
					}
				}
				slices.Sort(got["MBX1A"])
				for server, want := range map[string][]string{"MBX1A": {"probe CMS1", "probe MBX1A"}, "EVSN1": {"probe EVS1"}, "MBX1B": {"discover MBX1B"}} {
					if !slices.Equal(got[server], want) {
						return fmt.Errorf("%s ran %q, want %q", server, got[server], want)
					}
				}
				return nil
			},
		}},
	})
}
