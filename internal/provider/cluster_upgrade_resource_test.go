package provider

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/buildlevel/terraform-provider-exchange/internal/simulator"
)

// clusterFleet is the simulator's cluster fixture with fresh backups and our credentials.
func clusterFleet(t *testing.T) string {
	raw, err := os.ReadFile("../simulator/testdata/clusters.json")
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	s = regexp.MustCompile(`"credentials": \{[^}]*\}`).ReplaceAllString(s, credentialsJSON())
	fresh := fmt.Sprintf(`"last_full_backup": %q, "last_system_state_backup": %q, `, hoursAgo(1), hoursAgo(1))
	// The CCR nodes run without the Windows Firewall, as the nodes of "Service Packs für Exchange 2007" do (it is
	// started for setup and stopped again): stopped on MBX1B, disabled on MBX1A.
	s = regexp.MustCompile(`\{"name": "([A-Z0-9]+)", "address"`).ReplaceAllString(s, `{`+fresh+`"name": "$1", "address"`)
	s = strings.Replace(s, `"name": "MBX1A",`, `"firewall": "disabled", "name": "MBX1A",`, 1)
	return strings.Replace(s, `"name": "MBX1B",`, `"firewall": "stopped", "name": "MBX1B",`, 1)
}

func clusterNodes(names ...string) string {
	var parts []string
	for _, n := range names {
		addr := map[string]string{"MBX1A": "127.0.50.11", "MBX1B": "127.0.50.12", "EVSN1": "127.0.50.21", "EVSN2": "127.0.50.22",
			"E2KN1": "127.0.50.31", "E2KN2": "127.0.50.32", "E55A": "127.0.50.41", "E55B": "127.0.50.42"}[n]
		parts = append(parts, fmt.Sprintf(`{ server = %q, address = %q }`, n, addr))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// stepPairs is "node action" per planned step, from the simulator-independent plan.
func journalOf(sim *simulator.Simulator, servers ...string) []string {
	var out []string
	for _, e := range sim.Journal() {
		in := false
		for _, s := range servers {
			in = in || strings.EqualFold(e.Server, s)
		}
		if !in {
			continue
		}
		switch e.Operation {
		case "probe", "job_status", "lock", "job_clear", "discover":
			continue
		case "cluster":
			out = append(out, fmt.Sprintf("%s cluster %v %v", e.Server, e.Params["Action"], e.Params["Node"]))
		case "job_start":
			out = append(out, fmt.Sprintf("%s job_start %v %s", e.Server, e.Params["Action"], e.Outcome))
		case "administrator": // a simulator control: what an administrator did by hand
			out = append(out, fmt.Sprintf("%s administrator %v %s", e.Server, e.Params["Action"], e.Outcome))
		default:
			out = append(out, e.Server+" "+e.Operation)
		}
	}
	return out
}

// standBy puts an administrator at Cluster Administrator of every cluster of sim (the
// simulator's control, LiveCluster.StandBy): each Exchange 2003 EVS is upgraded as soon as it
// can be, so that an apply about something else runs through the manual step. The manual
// step's own tests (TestAccClusterUpgrade2003ActivePassive) do without.
func standBy(sim *simulator.Simulator) {
	for _, name := range []string{"EVS1", "EVSA"} { // the Exchange 2003 clusters of clusters.json
		if c := sim.Cluster(name); c != nil {
			c.StandBy(true)
		}
	}
}

// cms1SP3 upgrades the CCR cluster CMS1 of clusterFleet (MBX1A, MBX1B) to SP3.
var cms1SP3 = `
resource "exchange_cluster_upgrade" "cms1" {
  cluster      = "CMS1"
  nodes        = ` + clusterNodes("MBX1A", "MBX1B") + `
  service_pack = 3
  media_path   = "D:\\Exchange2007SP3"
  backup {
    max_database_age     = "24h"
    max_system_state_age = "168h"
    domain_controller_backup_time = "` + evidenceTime + `"
    # Exchange 2000/2003/5.5 databases: the backup software's times (a server cannot tell).
    database_backup_times = { E55A = "` + evidenceTime + `", E55B = "` + evidenceTime + `", EVSN1 = "` + evidenceTime + `", EVSN2 = "` + evidenceTime + `" }
  }
}
`

func TestAccClusterUpgradeCCR(t *testing.T) {
	sim := startSimulatorWith(t, clusterFleet(t), simulator.Options{InstallDuration: 300 * time.Millisecond, RebootDuration: 200 * time.Millisecond})
	config := providerConfig(sim, "") + cms1SP3
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: config,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectKnownValue("exchange_cluster_upgrade.cms1", tfjsonpath.New("planned_steps"), nodeActions(concat(
					// Both nodes' media checked before the cluster group moves.
					[]string{"MBX1A preflight", "MBX1B preflight"},
					[]string{"MBX1A move_cluster_group"}, onNode("MBX1B", ccrNodeSP...),
					[]string{"MBX1A stop_clustered_server", "MBX1B move_cluster_group", "MBX1B upgrade_cms", "MBX1B start_clustered_server",
						"MBX1B move_cluster_group"},
					onNode("MBX1A", ccrNodeSP...))...)),
				plancheck.ExpectKnownValue("exchange_cluster_upgrade.cms1", tfjsonpath.New("downtime"),
					knownvalue.ListExact([]knownvalue.Check{knownvalue.StringRegexp(regexp.MustCompile(`CMS1 is unavailable, from .*stop.* \(MBX1A\) to .*start.* \(MBX1B\)`))})),
			}},
			Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr("exchange_cluster_upgrade.cms1", "live_builds.MBX1A", "8.3.83.6"),
				resource.TestCheckResourceAttr("exchange_cluster_upgrade.cms1", "live_builds.MBX1B", "8.3.83.6"),
				resource.TestCheckResourceAttr("exchange_cluster_upgrade.cms1", "active_node", "MBX1B"),
				func(*terraform.State) error {
					// CCR: the passive node, then the CMS moved to it and
					// upgraded, then the old active node.
					// The firewall is started for setup ("Service Packs für Exchange 2007") and put back after it:
					// stopped on MBX1B, stopped and Disabled again on MBX1A.
					for node, want := range map[string]string{"MBX1A": "Stopped/Disabled", "MBX1B": "Stopped/Manual"} {
						st := sim.Host(node).State()
						if got := st.Firewall.State + "/" + st.Firewall.StartMode; got != want || st.FirewallRecord != nil {
							return fmt.Errorf("%s's firewall is %s (record %v), want %s and no record", node, got, st.FirewallRecord, want)
						}
					}
					return nil
				},
				testCheckJournalOrder(nodesJournal(sim, "MBX1A", "MBX1B"),
					"MBX1A preflight",
					"MBX1B preflight",
					"MBX1B firewall",
					"MBX1B job_start install_service_pack ok",
					"MBX1B reboot",
					"MBX1B firewall",
					"MBX1A cluster stop_cms",
					"MBX1B cluster move_group MBX1B",
					"MBX1B job_start upgrade_cms ok",
					"MBX1B cluster start_cms",
					"MBX1A firewall",
					"MBX1A job_start install_service_pack ok",
					"MBX1A reboot",
					"MBX1A firewall"),
			),
		}},
	})
}

// ccrNodeSP is a CCR node's service pack procedure.
var ccrNodeSP = []string{"verify_backups", "set_remote_streaming_backup", "start_firewall", "install_service_pack", "reboot",
	"restore_firewall", "start_exchange_services", "set_remote_streaming_backup", "verify_build"}

// nodeActions is the plan check for an exact list of "NODE action" steps.
func nodeActions(pairs ...string) knownvalue.Check {
	checks := make([]knownvalue.Check, len(pairs))
	for i, p := range pairs {
		node, action, _ := strings.Cut(p, " ")
		checks[i] = knownvalue.ObjectPartial(map[string]knownvalue.Check{
			"server": knownvalue.StringExact(node), "action": knownvalue.StringExact(action)})
	}
	return knownvalue.ListExact(checks)
}

func clusterConfig(sim *simulator.Simulator, name string, sp int, media string, nodes ...string) string {
	return providerConfig(sim, "") + fmt.Sprintf(`
resource "exchange_cluster_upgrade" "c" {
  cluster      = %q
  nodes        = %s
  service_pack = %d
  media_path   = %q
  backup {
    max_database_age     = "24h"
    max_system_state_age = "168h"
    domain_controller_backup_time = "`+evidenceTime+`"
    # Exchange 2000/2003/5.5 databases: the backup software's times (a server cannot tell).
    database_backup_times = { E55A = "`+evidenceTime+`", E55B = "`+evidenceTime+`", EVSN1 = "`+evidenceTime+`", EVSN2 = "`+evidenceTime+`" }
  }
}
`, name, clusterNodes(nodes...), sp, media)
}

// Exchange 2003 active/passive: the passive node with its cluster service
// stopped, the EVS's resources offline, the EVS moved to the upgraded node and upgraded,
// then the other node, then a failover test.
func TestAccClusterUpgrade2003ActivePassive(t *testing.T) {
	sim := startSimulatorWith(t, clusterFleet(t), simulator.Options{InstallDuration: 300 * time.Millisecond, RebootDuration: 200 * time.Millisecond})
	config := clusterConfig(sim, "EVS1", 2, `\\files\exchange2003\SP2`, "EVSN1", "EVSN2")
	var before int
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				// The plan shows the manual step; the apply runs everything before it and
				// stops there with the administrator's instructions.
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue("exchange_cluster_upgrade.c", tfjsonpath.New("planned_steps"), nodeActions(
						"EVSN1 preflight", "EVSN2 preflight",
						"EVSN1 move_cluster_group", "EVSN2 stop_cluster_service", "EVSN2 verify_backups", "EVSN2 install_service_pack",
						"EVSN2 reboot", "EVSN2 start_exchange_services", "EVSN2 verify_build",
						"EVSN1 take_evs_resources_offline", "EVSN2 start_cluster_service", "EVSN2 move_cluster_group",
						"EVSN2 upgrade_evs_manually", "EVSN2 bring_group_online",
						"EVSN2 move_cluster_group", "EVSN1 stop_cluster_service", "EVSN1 verify_backups", "EVSN1 install_service_pack",
						"EVSN1 reboot", "EVSN1 start_exchange_services", "EVSN1 verify_build", "EVSN1 start_cluster_service",
						"EVSN2 failover_test")),
					plancheck.ExpectKnownValue("exchange_cluster_upgrade.c", tfjsonpath.New("planned_steps").AtSliceIndex(12).AtMapKey("params"),
						knownvalue.MapExact(map[string]knownvalue.Check{"group": knownvalue.StringExact("EVS1"),
							"build": knownvalue.StringExact("6.5.7638"), "manual": knownvalue.StringExact("true")})),
					plancheck.ExpectKnownValue("exchange_cluster_upgrade.c", tfjsonpath.New("planned_steps").AtSliceIndex(12).AtMapKey("description"),
						knownvalue.StringRegexp(regexp.MustCompile(`^MANUAL STEP, by an administrator: in Cluster Administrator on EVSN2, right-click the System Attendant resource of EVS1 and choose "Upgrade Exchange Virtual Server"`))),
					plancheck.ExpectKnownValue("exchange_cluster_upgrade.c", tfjsonpath.New("downtime"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.StringRegexp(regexp.MustCompile(`^steps 10 to 14: EVS1 is unavailable`)),
						knownvalue.StringRegexp(regexp.MustCompile(`^steps 23 to 23: EVS1 is unavailable`)),
					})),
				}},
				ExpectError: saying("the clustered server EVS1 is DOWN and was not brought back (it waits for the manual step)",
					"server EVSN2: step 13 of 23 (upgrade_evs_manually", "stopped at a manual step",
					`"Upgrade Exchange Virtual Server" of EVS1 is a manual step: no command line for it is documented`,
					`Active Directory records EVS1 as "Version 6.5 (Build 7226.6: Service Pack 1)", below 6.5.7638`,
					`In Cluster Administrator on EVSN2`, `right-click the System Attendant resource in the group of EVS1 and choose "Upgrade Exchange Virtual Server"`,
					"the next plan sees the upgrade", "choose Reinstall"),
			},
			{
				// The administrator upgrades the EVS (the simulator's control); the next plan
				// reads it from Active Directory and continues with the EVS coming online.
				PreConfig: func() {
					j := journalOf(sim, "EVSN1", "EVSN2")
					if err := inOrder(j, "EVSN2 job_start install_service_pack ok", "EVSN1 cluster offline_evs_resources",
						"EVSN2 cluster move_group EVSN2"); err != nil {
						t.Fatal(err)
					}
					if n := count(j, "EVSN2 cluster online_group"); n != 0 {
						t.Fatalf("the stopped apply brought EVS1 online (%d): %q", n, j)
					}
					wantGroup(t, sim, "EVS1", "EVSN2", simulator.StatePartialOnline)
					if err := sim.Cluster("EVS1").UpgradeVirtualServer("EVS1", "EVSN2"); err != nil {
						t.Fatal(err)
					}
					before = len(sim.Journal())
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					// The service pack's job record is still on EVSN2 (the stopped apply did not
					// clear it): what follows an install is checked again there first.
					plancheck.ExpectKnownValue("exchange_cluster_upgrade.c", tfjsonpath.New("planned_steps"), nodeActions(
						"EVSN1 preflight",
						"EVSN2 reboot", "EVSN2 start_exchange_services", "EVSN2 verify_build",
						"EVSN2 bring_group_online",
						"EVSN2 move_cluster_group", "EVSN1 stop_cluster_service", "EVSN1 verify_backups", "EVSN1 install_service_pack",
						"EVSN1 reboot", "EVSN1 start_exchange_services", "EVSN1 verify_build", "EVSN1 start_cluster_service",
						"EVSN2 failover_test")),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("exchange_cluster_upgrade.c", "live_builds.EVSN1", "6.5.7638"),
					resource.TestCheckResourceAttr("exchange_cluster_upgrade.c", "live_builds.EVSN2", "6.5.7638"),
					testCheckJournalOrder(nodesJournal(sim, "EVSN1", "EVSN2"), "EVSN2 job_start install_service_pack ok", "EVSN2 cluster move_group EVSN2",
						"EVSN2 administrator upgrade_evs ok", "EVSN2 cluster online_group",
						"EVSN1 cluster stop_service", "EVSN1 job_start install_service_pack ok", "EVSN1 cluster start_service",
						"EVSN2 cluster move_group EVSN1", "EVSN2 cluster move_group EVSN2"),
					testCheckJournalCount(nodesJournal(sim, "EVSN1", "EVSN2"), "EVSN2 job_start install_service_pack", 1, "installs on EVSN2"),
					func(*terraform.State) error {
						for _, e := range sim.Journal()[before:] {
							if e.Operation != "probe" && (strings.HasPrefix(e.Outcome, "fault:") || e.Outcome == "rejected" || e.Outcome == "failed") {
								return fmt.Errorf("the continued apply met %+v", e)
							}
						}
						if v := sim.Host("EVSN1").Facts().Cluster.Groups[0].ADVersion; v != "Version 6.5 (Build 7638: Service Pack 2)" {
							return fmt.Errorf("EVS1 in Active Directory: %q", v)
						}
						wantGroup(t, sim, "EVS1", "EVSN2", simulator.StateOnline)
						return nil
					},
				),
			},
		},
	})
}

// The Exchange 5.5 and 2000 clusters of clusters.json run on Windows 2000, which has no
// WinRM (KB 968930): their nodes refuse the connection, as real ones do. The plan refuses,
// naming every node and the reason; nothing is touched. Their procedures are verified
// without WinRM: the planner (internal/exchange cluster_test.go: "5.5: the active node
// first ...", "resume 5.5: ...", "2000 active/active: plain moves, no EVS upgrade", "2000
// active/passive: ...") and the executor against its fake (internal/servicing
// cluster_test.go: TestCluster55ActiveNodeFirstGroupInPlace,
// TestCluster2000ActiveActivePlainMoves); the simulator's model of them in
// internal/simulator cluster_test.go.
func TestAccClusterUpgradeRefusesNodesWithoutWinRM(t *testing.T) {
	cases := []struct {
		name   string
		config func(sim *simulator.Simulator) string
		named  []string // what the refusal names, in order
	}{
		{"5.5", func(sim *simulator.Simulator) string {
			return clusterConfig(sim, "X55", 4, `\\files\exchange55\SP4`, "E55A", "E55B")
		}, []string{"Cannot read every node of X55", "E55A", "E55B"}},
		{"2000 active/passive", func(sim *simulator.Simulator) string {
			return clusterConfig(sim, "EVS2K", 3, `\\files\exchange2000\SP3`, "E2KN1", "E2KN2")
		}, []string{"Cannot read every node of EVS2K", "E2KN1", "E2KN2"}},
		{"2000 active/active", func(sim *simulator.Simulator) string {
			return aaConfig(aaProvider(sim, map[string]string{"A2KCL": "A2K1"}, "A2K1", "A2K2"), "A2KCL", 3, `\\files\exchange2000\SP3`)
		}, []string{"A2KCL"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sim := startSimulatorWith(t, clusterFleet(t), fastServicing)
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviders,
				Steps: []resource.TestStep{{
					Config:   c.config(sim),
					PlanOnly: true,
					ExpectError: saying(append(c.named, "If the server runs Windows 2000 or Windows NT 4.0",
						"this provider cannot reach such a server yet")...),
				}},
			})
		})
	}
}

// An apply that stopped between nodes (the passive node upgraded, the CMS not moved yet)
// continues from the CMS steps without repeating the finished node.
func TestAccClusterUpgradeResumesBetweenNodes(t *testing.T) {
	sim := startSimulatorWith(t, clusterFleet(t), simulator.Options{InstallDuration: 300 * time.Millisecond, RebootDuration: 200 * time.Millisecond})
	sim.Host("MBX1B").SetBuild(mustBuild(t, "8.3.83.6")) // the first apply got this far
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: clusterConfig(sim, "CMS1", 3, `D:\Exchange2007SP3`, "MBX1A", "MBX1B"),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				// MBX1B's /upgradeCMS and MBX1A's service pack are still to come: their media
				// are checked first, then the downtime starts.
				plancheck.ExpectKnownValue("exchange_cluster_upgrade.c", tfjsonpath.New("planned_steps").AtSliceIndex(0).AtMapKey("action"),
					knownvalue.StringExact("preflight")),
				plancheck.ExpectKnownValue("exchange_cluster_upgrade.c", tfjsonpath.New("planned_steps").AtSliceIndex(1).AtMapKey("action"),
					knownvalue.StringExact("preflight")),
				plancheck.ExpectKnownValue("exchange_cluster_upgrade.c", tfjsonpath.New("planned_steps").AtSliceIndex(2).AtMapKey("action"),
					knownvalue.StringExact("stop_clustered_server")),
			}},
			Check: resource.ComposeAggregateTestCheckFunc(
				testCheckJournalCount(nodesJournal(sim, "MBX1A", "MBX1B"), "MBX1B job_start install_service_pack", 0, "installs on the finished node"),
				testCheckJournalOrder(nodesJournal(sim, "MBX1A", "MBX1B"), "MBX1A cluster stop_cms", "MBX1B cluster move_group MBX1B", "MBX1B job_start upgrade_cms ok",
					"MBX1B cluster start_cms", "MBX1A job_start install_service_pack ok"),
			),
		}},
	})
}

// Refused before anything is touched: a node that cannot be read, and an active node
// already above the target.
func TestAccClusterUpgradeRefusals(t *testing.T) {
	sim := startSimulatorWith(t, clusterFleet(t), fastServicing)
	sim.Host("MBX1A").SetBuild(mustBuild(t, "8.3.83.6"))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config:      clusterConfig(sim, "CMS1", 2, `D:\Exchange2007SP3`, "MBX1A", "MBX1B"),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?si)MBX1A.*(above|ahead|higher).*(target|SP2)`),
			},
			{
				Config: providerConfig(sim, "") + `
resource "exchange_cluster_upgrade" "c" {
  cluster      = "EVS1"
  nodes        = [{ server = "EVSN1", address = "127.0.50.21" }, { server = "EVSN2", address = "127.0.50.250" }]
  service_pack = 2
  media_path   = "\\\\files\\exchange2003\\SP2"
  backup {
    max_database_age = "24h"
  }
}
`,
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Cannot read every node of EVS1.*EVSN2`),
			},
		},
	})
	onlyReads(t, sim)
}
