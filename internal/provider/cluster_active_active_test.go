package provider

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/buildlevel/terraform-provider-exchange/internal/simulator"
)

// Active/active clusters (KB 328839, Exchange 2003 and Exchange 2000): two EVSs, one per
// node, in testdata/clusters.json: EVSA on AAN1 and EVSB on AAN2 (2003 SP1, cluster AACL);
// EVSC on A2K1 and EVSD on A2K2 (2000 SP2, cluster A2KCL).

// aaProvider reaches the nodes by their names and each virtual name (the cluster's own, an
// EVS's) at the node that runs it, as DNS would: virtual maps the name to that node.
func aaProvider(sim *simulator.Simulator, virtual map[string]string, nodes ...string) string {
	var pairs []string
	for name, node := range virtual {
		pairs = append(pairs, fmt.Sprintf("%s = %q", name, sim.Addr(node)))
	}
	for _, n := range nodes {
		pairs = append(pairs, fmt.Sprintf("%s = %q", n, sim.Addr(n)))
	}
	return providerConfig(sim, "addresses = {\n    "+strings.Join(pairs, "\n    ")+"\n  }")
}

// aaConfig upgrades a cluster called by its own name, its nodes read from the cluster.
func aaConfig(provider, cluster string, sp int, media string) string {
	return provider + fmt.Sprintf(`
resource "exchange_cluster_upgrade" "c" {
  cluster      = %q
  service_pack = %d
  media_path   = %q
  backup {
    max_database_age     = "24h"
    max_system_state_age = "168h"
    domain_controller_backup_time = "`+evidenceTime+`"
    # Exchange 2000/2003/5.5 databases: the backup software's times (a server cannot tell).
    database_backup_times = { A2K1 = "`+evidenceTime+`", A2K2 = "`+evidenceTime+`", AAN1 = "`+evidenceTime+`", AAN2 = "`+evidenceTime+`", EVSN1 = "`+evidenceTime+`" }
  }
}
`, cluster, sp, media)
}

// wantEVS fails unless EVS name of cluster runs on owner, online, upgraded for build.
func wantEVS(sim *simulator.Simulator, cluster, name, owner, build string) error {
	s := sim.Cluster(cluster).State()
	g := s.Group(name)
	if g == nil {
		return fmt.Errorf("cluster %s has no group %s", cluster, name)
	}
	if !strings.EqualFold(g.Owner, owner) || g.GroupState() != simulator.StateOnline || g.UpgradedBuild.String() != build {
		return fmt.Errorf("%s is %s on %s, upgraded for %s; want Online on %s, upgraded for %s", name, g.GroupState(), g.Owner, g.UpgradedBuild, owner, build)
	}
	return nil
}

var perNodeSP = []string{"verify_backups", "install_service_pack", "reboot", "start_exchange_services", "verify_build"}

func onNode(node string, actions ...string) []string {
	out := make([]string, len(actions))
	for i, a := range actions {
		out[i] = node + " " + a
	}
	return out
}

func concat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// Exchange 2003 active/active: every EVS onto one node, the free node upgraded, each EVS in
// turn moved to it and upgraded ("one EVS at a time"), then the other node, a failover test,
// and each EVS back on its own node.
func TestAccClusterUpgrade2003ActiveActive(t *testing.T) {
	sim := startSimulatorWith(t, clusterFleet(t), faultServicing)
	standBy(sim) // an administrator does the manual Upgrade Exchange Virtual Server when it can be done
	provider := aaProvider(sim, map[string]string{"AACL": "AAN1"}, "AAN1", "AAN2")
	steps := concat(
		[]string{"AAN2 move_cluster_group", "AAN2 move_cluster_group", "AAN1 stop_cluster_service"},
		onNode("AAN1", perNodeSP...),
		[]string{"AAN2 take_evs_resources_offline", "AAN1 start_cluster_service", "AAN1 move_cluster_group", "AAN1 upgrade_evs_manually", "AAN1 bring_group_online",
			"AAN2 take_evs_resources_offline", "AAN1 move_cluster_group", "AAN1 upgrade_evs_manually", "AAN1 bring_group_online",
			"AAN1 move_cluster_group", "AAN2 stop_cluster_service"},
		onNode("AAN2", perNodeSP...),
		[]string{"AAN2 start_cluster_service", "AAN1 failover_test", "AAN2 move_cluster_group"},
	)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: aaConfig(provider, "AACL", 2, `\\files\exchange2003\SP2`),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectKnownValue("exchange_cluster_upgrade.c", tfjsonpath.New("planned_steps"), nodeActions(steps...)),
				plancheck.ExpectKnownValue("exchange_cluster_upgrade.c", tfjsonpath.New("planned_steps").AtSliceIndex(0).AtMapKey("description"),
					knownvalue.StringRegexp(regexp.MustCompile(`move the running EVSA from AAN1 to AAN2`))),
				plancheck.ExpectKnownValue("exchange_cluster_upgrade.c", tfjsonpath.New("downtime"), knownvalue.ListExact([]knownvalue.Check{
					knownvalue.StringRegexp(regexp.MustCompile(`^steps 1 to 1: AACL is unavailable`)),
					knownvalue.StringRegexp(regexp.MustCompile(`^steps 9 to 17: AACL is unavailable, from "downtime starts: take every resource of EVSA offline`)),
					knownvalue.StringRegexp(regexp.MustCompile(`^steps 26 to 27: AACL is unavailable`)),
				})),
			}},
			Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr("exchange_cluster_upgrade.c", "type", "evs-active-active"),
				resource.TestCheckResourceAttr("exchange_cluster_upgrade.c", "live_builds.AAN1", "6.5.7638"),
				resource.TestCheckResourceAttr("exchange_cluster_upgrade.c", "live_builds.AAN2", "6.5.7638"),
				resource.TestCheckResourceAttr("exchange_cluster_upgrade.c", "owners.EVSA", "AAN1"),
				resource.TestCheckResourceAttr("exchange_cluster_upgrade.c", "owners.EVSB", "AAN2"),
				testCheckJournalOrder(nodesJournal(sim, "AAN1", "AAN2"),
					"AAN2 cluster move_group AAN2", "AAN1 cluster stop_service", "AAN1 job_start install_service_pack ok",
					"AAN2 cluster offline_evs_resources", "AAN1 cluster start_service", "AAN1 cluster move_group AAN1",
					"AAN1 administrator upgrade_evs ok", "AAN1 cluster online_group",
					"AAN2 cluster offline_evs_resources", "AAN1 cluster move_group AAN1", "AAN1 administrator upgrade_evs ok", "AAN1 cluster online_group",
					"AAN2 cluster stop_service", "AAN2 job_start install_service_pack ok", "AAN2 cluster start_service",
					"AAN1 cluster move_group AAN2", "AAN1 cluster move_group AAN1", "AAN2 cluster move_group AAN2"),
				testCheckEVS(sim, "AACL", "EVSA", "AAN1", "6.5.7638"),
				testCheckEVS(sim, "AACL", "EVSB", "AAN2", "6.5.7638"),
			),
		}},
	})
}

// Exchange 2000 active/active: every EVS onto one node, the free node upgraded, all EVSs
// moved to it (no EVS upgrade: the store updates the databases), the other node upgraded,
// each EVS back on its node.
func TestAccClusterUpgrade2000ActiveActive(t *testing.T) {
	sim := startSimulatorWith(t, clusterFleet(t), faultServicing)
	provider := aaProvider(sim, map[string]string{"A2KCL": "A2K1"}, "A2K1", "A2K2")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: aaConfig(provider, "A2KCL", 3, `\\files\exchange2000\SP3`),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectKnownValue("exchange_cluster_upgrade.c", tfjsonpath.New("planned_steps"), nodeActions(concat(
					[]string{"A2K2 move_cluster_group", "A2K2 move_cluster_group", "A2K1 stop_cluster_service"},
					onNode("A2K1", perNodeSP...),
					[]string{"A2K1 start_cluster_service", "A2K1 move_cluster_group", "A2K1 move_cluster_group", "A2K1 move_cluster_group",
						"A2K2 stop_cluster_service"},
					onNode("A2K2", perNodeSP...),
					[]string{"A2K2 start_cluster_service", "A2K2 move_cluster_group"},
				)...)),
			}},
			Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr("exchange_cluster_upgrade.c", "live_builds.A2K1", "6.0.6249"),
				resource.TestCheckResourceAttr("exchange_cluster_upgrade.c", "live_builds.A2K2", "6.0.6249"),
				// No Exchange 2000 EVS is upgraded by hand: the store updates the databases.
				testCheckJournalLacks(nodesJournal(sim, "A2K1", "A2K2"), "upgrade_evs"),
				testCheckJournalOrder(nodesJournal(sim, "A2K1", "A2K2"),
					"A2K2 cluster move_group A2K2", "A2K1 cluster stop_service", "A2K1 job_start install_service_pack ok",
					"A2K1 cluster start_service", "A2K1 cluster move_group A2K1", "A2K1 cluster move_group A2K1",
					"A2K2 cluster stop_service", "A2K2 job_start install_service_pack ok", "A2K2 cluster start_service",
					"A2K2 cluster move_group A2K2"),
				testCheckEVS(sim, "A2KCL", "EVSC", "A2K1", "6.0.6249"),
				testCheckEVS(sim, "A2KCL", "EVSD", "A2K2", "6.0.6249"),
			),
		}},
	})
}

// An apply stopped between the nodes of an active/active cluster: AAN1 is upgraded, its
// cluster service still stopped, both EVSs wait on AAN2. The next apply continues with the
// EVSs (one at a time), does not install on AAN1 again, upgrades AAN2, and puts each EVS
// back on the node it prefers.
func TestAccClusterUpgradeActiveActiveResumes(t *testing.T) {
	sim := startSimulatorWith(t, clusterFleet(t), faultServicing)
	standBy(sim) // an administrator does the manual Upgrade Exchange Virtual Server when it can be done
	sim.Host("AAN1").SetBuild(mustBuild(t, "6.5.7638.2"))
	sim.Cluster("AACL").Update(func(s *simulator.ClusterState) {
		s.Group("EVSA").Owner = "AAN2"
		s.ClusterGroupOwner = "AAN2"
		s.ServiceRunning["AAN1"] = false
	})
	provider := aaProvider(sim, map[string]string{"EVSB": "AAN2"}, "AAN1", "AAN2")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: aaConfig(provider, "EVSB", 2, `\\files\exchange2003\SP2`), // any EVS names the cluster
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectKnownValue("exchange_cluster_upgrade.c", tfjsonpath.New("planned_steps"), nodeActions(concat(
					[]string{"AAN2 take_evs_resources_offline", "AAN1 start_cluster_service", "AAN1 move_cluster_group", "AAN1 upgrade_evs_manually", "AAN1 bring_group_online",
						"AAN2 take_evs_resources_offline", "AAN1 move_cluster_group", "AAN1 upgrade_evs_manually", "AAN1 bring_group_online",
						"AAN1 move_cluster_group", "AAN2 stop_cluster_service"},
					onNode("AAN2", perNodeSP...),
					[]string{"AAN2 start_cluster_service", "AAN1 failover_test", "AAN2 move_cluster_group"},
				)...)),
			}},
			Check: resource.ComposeAggregateTestCheckFunc(
				testCheckJournalCount(nodesJournal(sim, "AAN1", "AAN2"), "AAN1 job_start install_service_pack", 0, "installs on the finished node"),
				testCheckJournalOrder(nodesJournal(sim, "AAN1", "AAN2"), "AAN2 cluster offline_evs_resources", "AAN1 cluster start_service", "AAN1 administrator upgrade_evs ok",
					"AAN2 cluster offline_evs_resources", "AAN1 administrator upgrade_evs ok", "AAN2 job_start install_service_pack ok",
					"AAN2 cluster move_group AAN2"),
				testCheckEVS(sim, "AACL", "EVSA", "AAN1", "6.5.7638.2"),
				testCheckEVS(sim, "AACL", "EVSB", "AAN2", "6.5.7638.2"),
			),
		}},
	})
}

// Refused before anything is touched: a node that cannot be read, an active node above the
// target, a Windows 2003 node without the IIS compression hotfix 831464, and a node listed
// that is not the cluster's.
func TestAccClusterUpgradeActiveActiveRefusals(t *testing.T) {
	fleet := strings.Replace(clusterFleet(t), `"name": "AAN2", "address"`,
		`"prerequisites": {"iis_compression_hotfix_831464": false}, "name": "AAN2", "address"`, 1)
	sim := startSimulatorWith(t, fleet, fastServicing)
	provider := aaProvider(sim, map[string]string{"AACL": "AAN1"}, "AAN1", "AAN2")
	withNodes := func(cluster string, sp int, nodes string) string {
		return provider + fmt.Sprintf(`
resource "exchange_cluster_upgrade" "c" {
  cluster      = %q
  nodes        = %s
  service_pack = %d
  media_path   = "\\\\files\\exchange2003\\SP2"
  backup {
    max_database_age = "24h"
  }
}
`, cluster, nodes, sp)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config:      aaConfig(provider, "AACL", 2, `\\files\exchange2003\SP2`),
				PlanOnly:    true,
				ExpectError: saying("AAN2", "without the IIS 6.0 compression hotfix 831464", "nstall hotfix 831464 and reboot"),
			},
			{
				Config:      withNodes("AACL", 2, `[{ server = "AAN1" }, { server = "AAN2", address = "127.0.50.250" }]`),
				PlanOnly:    true,
				ExpectError: saying("Cannot read every node of AACL", "AAN2"),
			},
			{
				Config:      withNodes("AACL", 2, `[{ server = "AAN1" }, { server = "EVSN1", address = "127.0.50.21" }]`),
				PlanOnly:    true,
				ExpectError: saying("EVSN1 is not a node of AACL"),
			},
			{
				PreConfig:   func() { sim.Host("AAN1").SetBuild(mustBuild(t, "6.5.7638.2")) },
				Config:      aaConfig(provider, "AACL", 1, `\\files\exchange2003\SP2`),
				PlanOnly:    true,
				ExpectError: saying("AAN1", "above the target Exchange 2003 SP1", "a service pack cannot be uninstalled"),
			},
		},
	})
	onlyReads(t, sim)
}
