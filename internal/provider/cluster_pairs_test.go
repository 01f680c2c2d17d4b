package provider

import (
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/buildlevel/terraform-provider-exchange/internal/simulator"
)

// The pairs of testdata/clusters.json (a CCR, a 2003 active/passive EVS, a 5.5 cluster) each
// interrupted between its nodes and refused for the same reasons; the active/active pairs
// are in cluster_active_active_test.go.

type clusterPair struct {
	name, cluster string
	nodes         [2]string // active, passive
	sp            int
	media         string
	// first is the node upgraded first: the passive node of a CCR or an
	// active/passive EVS, the active node of a 5.5 cluster.
	first, other string
	firstBuild   string
	// interrupted leaves the cluster as an apply stopped after the first node would.
	interrupted func(t *testing.T, sim *simulator.Simulator)
	// resumed are the planned steps of the next apply, and journal what it must run in order.
	resumed, journal []string
	// above is a build set on the active node, above the service pack below.
	above string
	below int
}

var clusterPairs = []clusterPair{
	{
		name: "CCR", cluster: "CMS1", nodes: [2]string{"MBX1A", "MBX1B"}, sp: 3, media: `D:\Exchange2007SP3`,
		first: "MBX1B", other: "MBX1A", firstBuild: "8.3.83.6",
		interrupted: func(*testing.T, *simulator.Simulator) {}, // the passive node upgraded and back: nothing else changed
		resumed: concat([]string{"MBX1A stop_clustered_server", "MBX1B move_cluster_group", "MBX1B upgrade_cms",
			"MBX1B start_clustered_server", "MBX1B move_cluster_group"},
			onNode("MBX1A", ccrNodeSP...)),
		journal: []string{"MBX1A cluster stop_cms", "MBX1B cluster move_group MBX1B", "MBX1B job_start upgrade_cms ok",
			"MBX1B cluster start_cms", "MBX1A job_start install_service_pack ok"},
		above: "8.3.83.6", below: 2,
	},
	{
		name: "2003 active/passive", cluster: "EVS1", nodes: [2]string{"EVSN1", "EVSN2"}, sp: 2, media: `\\files\exchange2003\SP2`,
		first: "EVSN2", other: "EVSN1", firstBuild: "6.5.7638",
		// The passive node installed with its cluster service stopped, as the plan left it
		// (it starts again only when the EVS moves to it, KB 328839).
		interrupted: func(t *testing.T, sim *simulator.Simulator) {
			sim.Cluster("EVS1").Update(func(s *simulator.ClusterState) { s.ServiceRunning["EVSN2"] = false })
		},
		resumed: concat([]string{"EVSN1 take_evs_resources_offline", "EVSN2 start_cluster_service", "EVSN2 move_cluster_group",
			"EVSN2 upgrade_evs_manually", "EVSN2 bring_group_online", "EVSN2 move_cluster_group", "EVSN1 stop_cluster_service"},
			onNode("EVSN1", perNodeSP...),
			[]string{"EVSN1 start_cluster_service", "EVSN2 failover_test"}),
		journal: []string{"EVSN1 cluster offline_evs_resources", "EVSN2 cluster start_service", "EVSN2 administrator upgrade_evs ok",
			"EVSN2 cluster online_group", "EVSN1 cluster stop_service", "EVSN1 job_start install_service_pack ok", "EVSN1 cluster start_service"},
		above: "6.5.7638.2", below: 1,
	},
	{
		name: "5.5", cluster: "X55", nodes: [2]string{"E55A", "E55B"}, sp: 4, media: `\\files\exchange55\SP4`,
		first: "E55A", other: "E55B", firstBuild: "5.5.2653",
		// The active node upgraded and its virtual server back online there at its level;
		// failover allowed again.
		interrupted: func(t *testing.T, sim *simulator.Simulator) {
			sim.Cluster("X55").Update(func(s *simulator.ClusterState) { s.Group("X55").UpgradedBuild = mustBuild(t, "5.5.2653") })
		},
		resumed: concat([]string{"E55A move_cluster_group", "E55B stop_cluster_service"},
			onNode("E55B", perNodeSP...), []string{"E55B start_cluster_service"}),
		journal: []string{"E55B cluster stop_service", "E55B job_start install_service_pack ok", "E55B cluster start_service"},
		above:   "5.5.2653", below: 3,
	},
}

// An apply stopped after the first node of each pair: the next apply continues from the
// right node and step, and does not install on the finished node again.
func TestAccClusterPairsResumeBetweenNodes(t *testing.T) {
	for _, p := range clusterPairs {
		t.Run(p.name, func(t *testing.T) {
			sim := startSimulatorWith(t, clusterFleet(t), faultServicing)
			standBy(sim) // an administrator does the manual Upgrade Exchange Virtual Server when it can be done
			sim.Host(p.first).SetBuild(mustBuild(t, p.firstBuild))
			p.interrupted(t, sim)
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviders,
				Steps: []resource.TestStep{{
					Config: clusterConfig(sim, p.cluster, p.sp, p.media, p.nodes[0], p.nodes[1]),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectKnownValue("exchange_cluster_upgrade.c", tfjsonpath.New("planned_steps"), nodeActions(p.resumed...)),
					}},
					Check: resource.ComposeAggregateTestCheckFunc(
						resource.TestCheckResourceAttr("exchange_cluster_upgrade.c", "live_builds."+p.other, sim.Host(p.first).Facts().Build),
						testCheckJournalCount(nodesJournal(sim, p.nodes[:]...), p.first+" job_start install_service_pack", 0, "installs on the finished node"),
						testCheckJournalOrder(nodesJournal(sim, p.nodes[:]...), p.journal...),
					),
				}},
			})
		})
	}
}

// Refused before anything is touched, for each pair: a node that cannot be read, and an
// active node already above the target.
func TestAccClusterPairsRefusals(t *testing.T) {
	for _, p := range clusterPairs {
		t.Run(p.name, func(t *testing.T) {
			sim := startSimulatorWith(t, clusterFleet(t), fastServicing)
			unreachable := providerConfig(sim, "") + fmt.Sprintf(`
resource "exchange_cluster_upgrade" "c" {
  cluster      = %q
  nodes        = [{ server = %q, address = %q }, { server = %q, address = "127.0.50.250" }]
  service_pack = %d
  media_path   = %q
  backup {
    max_database_age = "24h"
  }
}
`, p.cluster, p.nodes[0], sim.Addr(p.nodes[0]), p.nodes[1], p.sp, p.media)
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviders,
				Steps: []resource.TestStep{
					{
						Config:      unreachable,
						PlanOnly:    true,
						ExpectError: saying("Cannot read every node of "+p.cluster, p.nodes[1], "Every node must be reachable"),
					},
					{
						PreConfig:   func() { sim.Host(p.nodes[0]).SetBuild(mustBuild(t, p.above)) },
						Config:      clusterConfig(sim, p.cluster, p.below, p.media, p.nodes[0], p.nodes[1]),
						PlanOnly:    true,
						ExpectError: saying(p.nodes[0], "above the target", "a service pack cannot be uninstalled"),
					},
				},
			})
			onlyReads(t, sim)
		})
	}
}
