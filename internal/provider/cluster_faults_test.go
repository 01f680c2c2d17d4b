package provider

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
	"github.com/buildlevel/terraform-provider-exchange/internal/simulator"
	"github.com/buildlevel/terraform-provider-exchange/internal/simulator/simtest"
)

// Faults of clusters (docs/simulator.md "Faults"): what a user sees
// when a node or a clustered server does not do what the plan expects, and the refusals
// made before anything is touched.

// faultServicing: installs and reboots take a fraction of a second.
var faultServicing = simulator.Options{InstallDuration: 300 * time.Millisecond, RebootDuration: 200 * time.Millisecond}

// saying matches an error whose text holds each part, in order, anything between. Terraform
// wraps a diagnostic's text (and may draw a "│" at the start of each line), so a space in a
// part matches any run of spaces, line breaks and box characters. A part that starts with a
// line break must start a line.
func saying(parts ...string) *regexp.Regexp {
	quoted := make([]string, len(parts))
	for i, p := range parts {
		start := ""
		if rest, ok := strings.CutPrefix(p, "\n"); ok {
			start, p = `\n[\s│]*`, rest
		}
		quoted[i] = start + strings.ReplaceAll(regexp.QuoteMeta(p), " ", `[\s│]+`)
	}
	return regexp.MustCompile(`(?s)` + strings.Join(quoted, `.*`))
}

// shortTimeoutProvider is providerConfig with a short timeout per remote operation, so that
// the calls to a node that is down give up after a few seconds, not twenty.
func shortTimeoutProvider(sim *simulator.Simulator, timeout string) string {
	const long = `timeout        = "20s"`
	p := providerConfig(sim, "")
	if !strings.Contains(p, long) {
		panic("providerConfig no longer sets " + long)
	}
	return strings.Replace(p, long, fmt.Sprintf("timeout        = %q", timeout), 1)
}

// clusterConfigWith is clusterConfig under the provider block given, with more attributes or
// blocks in the resource.
func clusterConfigWith(provider, name string, sp int, media, extra string, nodes ...string) string {
	return provider + fmt.Sprintf(`
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
    database_backup_times = { EVSN1 = "`+evidenceTime+`", EVSN2 = "`+evidenceTime+`" }
  }
%s
}
`, name, clusterNodes(nodes...), sp, media, extra)
}

// setupRuns counts the installer runs on server whose command starts with command.
func setupRuns(sim *simulator.Simulator, server, command string) int {
	return simtest.InstallerRuns(sim.Journal(), server, command)
}

// byHand is an administrator at a node's console: a cluster.exe command through the
// simulator's WinRM, as the error's advice says.
func byHand(t *testing.T, sim *simulator.Simulator) *remote.Client {
	t.Helper()
	c, err := remote.New(remote.Config{Username: testUser, Password: testPassword, HTTPS: true,
		Port: sim.HTTPSPort(), CACertificate: sim.CACertPEM()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wantGroup fails the test unless the cluster's CMS/EVS group is in state on owner.
func wantGroup(t *testing.T, sim *simulator.Simulator, name, owner, state string) *simulator.ClusterGroupState {
	t.Helper()
	s := sim.Cluster(name).State().Group(name)
	if !strings.EqualFold(s.Owner, owner) || s.GroupState() != state {
		t.Fatalf("%s is %s on %s; want %s on %s: %+v", name, s.GroupState(), s.Owner, state, owner, s.Resources)
	}
	return s
}

// onlyReads fails the test when the simulator journaled anything but reads: a refused plan
// touches no server.
func onlyReads(t *testing.T, sim *simulator.Simulator) {
	t.Helper()
	if err := simtest.OnlyReads(sim.Journal()); err != nil {
		t.Error(err)
	}
}

// A passive node that does not come back from its reboot: the apply stops while waiting for
// it, names the node, the step and what to do. Once the node is powered on, the next apply
// continues from the right step: setup is not run again on the node, the CMS is moved to it
// and upgraded, then the other node.
func TestAccClusterFaultNodeDoesNotReturnFromReboot(t *testing.T) {
	sim := startSimulatorWith(t, clusterFleet(t), faultServicing)
	heldScenario(t, "a server that never comes back", sim)
	mbx1b := sim.Host("MBX1B")
	if err := mbx1b.InjectFault(simulator.Fault{Kind: simulator.FaultNoRebootReturn}); err != nil {
		t.Fatal(err)
	}
	const setup = `D:\Exchange2007SP3\Setup.com /mode:upgrade`
	// The provider does not shorten the executor's reboot wait (30 minutes): the resource's
	// create timeout bounds it here.
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: clusterConfigWith(shortTimeoutProvider(sim, "3s"), "CMS1", 3, `D:\Exchange2007SP3`, `  timeouts {
    create = "6s"
  }`, "MBX1A", "MBX1B"),
				ExpectError: saying("Upgrading cluster CMS1 stopped", "server MBX1B: step 8 of 26 (reboot",
					"stopped: the apply ran out of time", "while the server was restarting",
					"Run terraform apply again once the server answers"),
			},
			{
				PreConfig: func() {
					if mbx1b.Reachable() {
						t.Fatal("MBX1B came back by itself: the fault was not used")
					}
					if n := setupRuns(sim, "MBX1B", setup); n != 1 {
						t.Fatalf("before the retry want setup run once on MBX1B, got %d:\n%s", n, strings.Join(journalOf(sim, "MBX1B"), "\n"))
					}
					if s := sim.Cluster("CMS1").State().Group("CMS1"); s.Owner != "MBX1A" || s.GroupState() != simulator.StateOnline {
						t.Fatalf("the CMS must still run on MBX1A: %s on %s", s.GroupState(), s.Owner)
					}
					mbx1b.PowerOn()
				},
				Config: clusterConfig(sim, "CMS1", 3, `D:\Exchange2007SP3`, "MBX1A", "MBX1B"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					// No install on MBX1B (it is at SP3): after the preflights (MBX1B's
					// /upgradeCMS, MBX1A's service pack) the plan goes on from its reboot.
					plancheck.ExpectKnownValue("exchange_cluster_upgrade.c", tfjsonpath.New("planned_steps").AtSliceIndex(0).AtMapKey("action"),
						knownvalue.StringExact("preflight")),
					plancheck.ExpectKnownValue("exchange_cluster_upgrade.c", tfjsonpath.New("planned_steps").AtSliceIndex(1).AtMapKey("action"),
						knownvalue.StringExact("preflight")),
					plancheck.ExpectKnownValue("exchange_cluster_upgrade.c", tfjsonpath.New("planned_steps").AtSliceIndex(2),
						knownvalue.ObjectPartial(map[string]knownvalue.Check{
							"server": knownvalue.StringExact("MBX1B"), "action": knownvalue.StringExact("reboot")})),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("exchange_cluster_upgrade.c", "live_builds.MBX1A", "8.3.83.6"),
					resource.TestCheckResourceAttr("exchange_cluster_upgrade.c", "live_builds.MBX1B", "8.3.83.6"),
					resource.TestCheckResourceAttr("exchange_cluster_upgrade.c", "active_node", "MBX1B"),
					noLeakInState,
					testCheckSetupRuns(sim, "MBX1B", setup, 1),
					// Once: the restart it did not come back from.
					testCheckJournalCount(nodesJournal(sim, "MBX1A", "MBX1B"), "MBX1B reboot", 1, "restarts of MBX1B"),
					testCheckJournalOrder(nodesJournal(sim, "MBX1A", "MBX1B"),
						"MBX1B job_start install_service_pack ok",
						"MBX1B reboot",
						"MBX1A cluster stop_cms",
						"MBX1B cluster move_group MBX1B",
						"MBX1B job_start upgrade_cms ok",
						"MBX1B cluster start_cms",
						"MBX1A job_start install_service_pack ok",
						"MBX1A reboot"),
				),
			},
		},
	})
}

// The EVS does not come online on the node it was just upgraded on (its Information Store
// fails, once: KB 328839, step 6): the apply stops at that step and names the EVS, the
// node and the failed resource; recovery tries the group again and it comes online where it
// is. The next apply continues with the other node and does not upgrade the EVS again.
func TestAccClusterFaultEVSWontComeOnlineRecovered(t *testing.T) {
	sim := startSimulatorWith(t, clusterFleet(t), faultServicing)
	standBy(sim) // an administrator does the manual Upgrade Exchange Virtual Server when it can be done
	if err := sim.Host("EVSN2").InjectFault(simulator.Fault{Kind: simulator.FaultEVSWontComeOnline}); err != nil {
		t.Fatal(err)
	}
	config := clusterConfig(sim, "EVS1", 2, `\\files\exchange2003\SP2`, "EVSN1", "EVSN2")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: config,
				ExpectError: saying("Upgrading cluster EVS1 stopped",
					"server EVSN2: step 14 of 23 (bring_group_online", "failed:",
					"group EVS1 failed on EVSN2", "Exchange Information Store Instance - EVS1 Failed",
					"Recovered: brought the clustered server EVS1 online on EVSN2",
					"Next:", "run terraform apply again; the apply continues from the remaining steps"),
			},
			{
				PreConfig: func() {
					s := wantGroup(t, sim, "EVS1", "EVSN2", simulator.StateOnline)
					if got := s.UpgradedBuild.String(); got != "6.5.7638" {
						t.Fatalf("EVS1 is upgraded for %s; want SP2 (6.5.7638), by the stopped apply", got)
					}
					j := journalOf(sim, "EVSN1", "EVSN2")
					if n := count(j, "EVSN1 job_start"); n != 0 {
						t.Fatalf("the stopped apply went on to EVSN1:\n  %s", strings.Join(j, "\n  "))
					}
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					// EVSN2's install record is still there: its after-install steps again (no
					// reboot is pending: nothing to do), then EVSN1; no EVS upgrade.
					plancheck.ExpectKnownValue("exchange_cluster_upgrade.c", tfjsonpath.New("planned_steps"), nodeActions(
						"EVSN1 preflight",
						"EVSN2 reboot", "EVSN2 start_exchange_services", "EVSN2 verify_build",
						"EVSN2 move_cluster_group", "EVSN1 stop_cluster_service", "EVSN1 verify_backups", "EVSN1 install_service_pack",
						"EVSN1 reboot", "EVSN1 start_exchange_services", "EVSN1 verify_build", "EVSN1 start_cluster_service",
						"EVSN2 failover_test")),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("exchange_cluster_upgrade.c", "live_builds.EVSN1", "6.5.7638"),
					resource.TestCheckResourceAttr("exchange_cluster_upgrade.c", "live_builds.EVSN2", "6.5.7638"),
					testCheckJournalCount(nodesJournal(sim, "EVSN1", "EVSN2"), "EVSN2 administrator upgrade_evs ok", 1, "EVS upgrades"),
					testCheckJournalCount(nodesJournal(sim, "EVSN1", "EVSN2"), "EVSN2 job_start install_service_pack ok", 1, "installs on EVSN2"),
					testCheckJournalCount(nodesJournal(sim, "EVSN1", "EVSN2"), "EVSN1 job_start install_service_pack ok", 1, "installs on EVSN1"),
					func(*terraform.State) error {
						if s := sim.Cluster("EVS1").State().Group("EVS1"); s.GroupState() != simulator.StateOnline {
							return fmt.Errorf("EVS1 is %s on %s after the apply", s.GroupState(), s.Owner)
						}
						return nil
					},
					testCheckJournalOrder(nodesJournal(sim, "EVSN1", "EVSN2"), "EVSN2 cluster online_group", "EVSN2 cluster online_group",
						"EVSN1 cluster stop_service", "EVSN1 job_start install_service_pack ok", "EVSN1 cluster start_service",
						"EVSN2 cluster move_group EVSN1", "EVSN2 cluster move_group EVSN2"),
				),
			},
		},
	})
}

// The EVS stays down after the failure (its Information Store fails on the step and again
// on recovery): the error leads with the EVS being DOWN, where it is and the command that
// brings it back. The simulator shows it Failed on the upgraded node. Following that advice
// by hand brings it online, and the next apply finishes the cluster.
func TestAccClusterFaultEVSStaysDown(t *testing.T) {
	sim := startSimulatorWith(t, clusterFleet(t), faultServicing)
	standBy(sim)  // an administrator does the manual Upgrade Exchange Virtual Server when it can be done
	for range 2 { // the step's attempt and recovery's
		if err := sim.Host("EVSN2").InjectFault(simulator.Fault{Kind: simulator.FaultEVSWontComeOnline}); err != nil {
			t.Fatal(err)
		}
	}
	config := clusterConfig(sim, "EVS1", 2, `\\files\exchange2003\SP2`, "EVSN1", "EVSN2")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: config,
				ExpectError: saying("Upgrading cluster EVS1 stopped",
					"\nthe clustered server EVS1 is DOWN: bring it online on EVSN2 with cluster.exe group \"EVS1\" /online",
					"server EVSN2: step 14 of 23 (bring_group_online", "failed:",
					"group EVS1 failed on EVSN2", "Exchange Information Store Instance - EVS1 Failed",
					"Recovery: could not bring the clustered server EVS1 online"),
			},
			{
				PreConfig: func() {
					s := wantGroup(t, sim, "EVS1", "EVSN2", simulator.StateFailed)
					for _, r := range s.Resources {
						if want := map[bool]string{true: simulator.StateFailed, false: simulator.StateOnline}[r.Type == simulator.ResourceInformationStore]; r.State != want {
							t.Fatalf("EVS1 resource %s is %s; want %s", r.Name, r.State, want)
						}
					}
					// The advice, by hand: cluster.exe group "EVS1" /online on EVSN2.
					res, err := byHand(t, sim).Cluster(context.Background(), remote.Target{Server: "EVSN2", Address: "127.0.50.22"},
						wire.ClusterOnlineGroup, "EVS1", "")
					if err != nil || res.GroupState != simulator.StateOnline {
						t.Fatalf("bringing EVS1 online as the error says: %+v %v", res, err)
					}
				},
				Config: config,
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("exchange_cluster_upgrade.c", "live_builds.EVSN1", "6.5.7638"),
					testCheckJournalCount(nodesJournal(sim, "EVSN1", "EVSN2"), "EVSN2 administrator upgrade_evs ok", 1, "upgrades of EVS1"),
					testCheckGroup(sim, "EVS1", "EVSN2", simulator.StateOnline),
				),
			},
		},
	})
}

// Setup.com /upgradeCMS breaks off on the upgraded node: the CMS stays stopped there and the
// node keeps the stale CMS key. The apply's error leads with CMS1 being DOWN and names the
// step, the node, the exit code and the log. The next plan, touching nothing, runs
// /upgradeCMS there again before anything else is installed (the key lets only that setup
// run, and it completes it), starts the CMS and upgrades the other node; its apply finishes.
func TestAccClusterFaultUpgradeCMSAbort(t *testing.T) {
	sim := startSimulatorWith(t, clusterFleet(t), faultServicing)
	if err := sim.Host("MBX1B").InjectFault(simulator.Fault{Kind: simulator.FaultUpgradeCMSAbort}); err != nil {
		t.Fatal(err)
	}
	config := clusterConfig(sim, "CMS1", 3, `D:\Exchange2007SP3`, "MBX1A", "MBX1B")
	var before int
	step := func(i int, action, server string) []plancheck.PlanCheck {
		at := tfjsonpath.New("planned_steps").AtSliceIndex(i)
		return []plancheck.PlanCheck{
			plancheck.ExpectKnownValue("exchange_cluster_upgrade.c", at.AtMapKey("action"), knownvalue.StringExact(action)),
			plancheck.ExpectKnownValue("exchange_cluster_upgrade.c", at.AtMapKey("server"), knownvalue.StringExact(server)),
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: config,
				ExpectError: saying("Upgrading cluster CMS1 stopped",
					"\nthe clustered server CMS1 is DOWN: bring it online on MBX1B",
					"server MBX1B: step 15 of 26 (upgrade_cms", "failed: installer exit code 1603",
					`log C:\ExchangeSetupLogs\ExchangeSetup.log`,
					"Recovery: could not bring the clustered server CMS1 online",
					"run Setup.com /upgradeCMS on MBX1B again"),
			},
			{
				PreConfig: func() {
					wantGroup(t, sim, "CMS1", "MBX1B", simulator.StateOffline)
					if !sim.Host("MBX1B").Facts().Setup.StaleCMSKey {
						t.Fatal("MBX1B must report the stale CMS key")
					}
					before = len(sim.Journal())
				},
				Config:             config,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPreRefresh: append(slices.Concat(
					// After both nodes' preflights (0-1: /upgradeCMS again on MBX1B, MBX1A's
					// service pack) and the node's own post-install steps (2-4: reboot if asked,
					// services, build).
					step(0, "preflight", "MBX1A"), step(1, "preflight", "MBX1B"), step(5, "upgrade_cms", "MBX1B"), step(6, "start_clustered_server", "MBX1B")),
					plancheck.ExpectKnownValue("exchange_cluster_upgrade.c", tfjsonpath.New("warnings"), knownvalue.SetPartial(
						[]knownvalue.Check{knownvalue.StringRegexp(regexp.MustCompile(`node MBX1B: the CMS key of CMS1 is still on the node .*upgrade_cms on MBX1B runs Setup\.com /upgradeCMS again`))})))},
			},
			{
				PreConfig: func() {
					for _, e := range sim.Journal()[before:] {
						// Reads only: the backup evidence of EVSN1 and EVSN2 (the map serves both
						// clusters) is checked against the organisation, which is discovered.
						if e.Operation != "probe" && e.Operation != "discover" {
							t.Fatalf("the plan touched a server: %+v", e)
						}
					}
				},
				Config: config,
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("exchange_cluster_upgrade.c", "live_builds.MBX1A", "8.3.83.6"),
					resource.TestCheckResourceAttr("exchange_cluster_upgrade.c", "active_node", "MBX1B"),
					testCheckSetupRuns(sim, "MBX1B", `D:\Exchange2007SP3\Setup.com /mode:upgrade`, 1),
					// Twice: broken off, then again.
					testCheckSetupRuns(sim, "MBX1B", `D:\Exchange2007SP3\Setup.com /upgradeCMS`, 2),
					func(*terraform.State) error {
						if sim.Host("MBX1B").Facts().Setup.StaleCMSKey {
							return fmt.Errorf("MBX1B still reports the CMS key")
						}
						return nil
					},
					testCheckGroup(sim, "CMS1", "MBX1B", simulator.StateOnline),
					// The broken-off run and the first apply's failed recovery, then the run again.
					testCheckJournalOrder(nodesJournal(sim, "MBX1A", "MBX1B"), "MBX1B job_start upgrade_cms ok", "MBX1B cluster start_cms",
						"MBX1B job_start upgrade_cms ok", "MBX1B cluster start_cms",
						"MBX1A job_start install_service_pack ok", "MBX1A reboot"),
				),
			},
		},
	})
}

// Refused at plan time, nothing touched: error c1037b44 on a node
// (the EVS sits on a node not yet upgraded), a node with a stale CMS key, and event 1025 on
// a node where Active Directory records the EVS upgraded (the node was removed and added
// again). Each error names the node and the manual action.
func TestAccClusterRefusesNodeEventsAndStaleCMSKey(t *testing.T) {
	sim := startSimulatorWith(t, clusterFleet(t), faultServicing)
	evs1 := sim.Cluster("EVS1")
	setEvents := func(node string, ids ...string) func() {
		return func() {
			evs1.Update(func(s *simulator.ClusterState) {
				s.Events = map[string][]string{node: ids}
			})
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				PreConfig: setEvents("EVSN1", simulator.EventVersionMismatch),
				Config:    clusterConfig(sim, "EVS1", 2, `\\files\exchange2003\SP2`, "EVSN1", "EVSN2"),
				PlanOnly:  true,
				ExpectError: saying("Server EVSN1: error c1037b44 was logged on the node",
					"the version of Exchange on this computer does not match",
					"Move the EVS to an upgraded node (and use Cluster Administrator on an upgraded node), then plan again"),
			},
			{
				PreConfig: func() {
					sim.Host("MBX1B").Update(func(s *simulator.State) { s.StaleCMSKey = true })
				},
				Config:   clusterConfig(sim, "CMS1", 3, `D:\Exchange2007SP3`, "MBX1A", "MBX1B"),
				PlanOnly: true,
				ExpectError: saying("Server MBX1B: the CMS key of CMS1 is still on the node",
					"/upgradeCMS was forgotten (or broke off)",
					"Run Setup.com /upgradeCMS on the node that owns the CMS (MBX1A now), then plan again"),
			},
			{
				// Event 1025 on EVSN2 (SP2), where EVS1 failed although Active Directory
				// records it upgraded for SP2: not "not upgraded yet", so the node was removed
				// and re-added (KB 328839).
				PreConfig: func() {
					sim.Host("EVSN2").Update(func(s *simulator.State) { s.Build = exchange.MustParseBuild("6.5.7638") })
					evs1.Update(func(s *simulator.ClusterState) {
						g := s.Group("EVS1")
						g.Owner, g.UpgradedBuild = "EVSN2", exchange.MustParseBuild("6.5.7638")
						for i := range g.Resources {
							if g.Resources[i].Type == simulator.ResourceSystemAttendant {
								g.Resources[i].State = simulator.StateFailed
							}
						}
						s.Events = map[string][]string{"EVSN2": {simulator.EventMustBeUpgraded}}
					})
				},
				Config:   clusterConfig(sim, "EVS1", 2, `\\files\exchange2003\SP2`, "EVSN1", "EVSN2"),
				PlanOnly: true,
				ExpectError: saying(`Server EVSN2: event 1025 (MSExchangeCluster, "the Exchange virtual server must be upgraded before it can come online") was logged on the node since its last boot, yet Active Directory already records EVS1 at SP2 (Version 6.5 (Build 7638: Service Pack 2))`,
					"a node removed from the cluster and added again",
					"In Cluster Administrator on EVSN2, right-click the System Attendant resource of EVS1: if Upgrade Exchange Virtual Server is missing, run Exchange 2003 setup on EVSN2 and choose Reinstall (KB 328839); then plan again"),
			},
		},
	})
	onlyReads(t, sim)
}

// A nodes list that is not the cluster's: a server of another cluster, and a node left out.
// Refused before anything is touched, naming the server and the cluster's nodes.
func TestAccClusterRefusesNodesMismatch(t *testing.T) {
	sim := startSimulatorWith(t, clusterFleet(t), faultServicing)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config:   clusterConfig(sim, "CMS1", 3, `D:\Exchange2007SP3`, "MBX1A", "EVSN1"),
				PlanOnly: true,
				ExpectError: saying("EVSN1 is not a node of CMS1", "EVSN1 reports cluster EVS1",
					"List the nodes of CMS1, or leave nodes unset"),
			},
			{
				Config:   clusterConfig(sim, "CMS1", 3, `D:\Exchange2007SP3`, "MBX1A", "MBX1A"),
				PlanOnly: true,
				ExpectError: saying("nodes does not list every node of CMS1", "The cluster reports nodes MBX1A, MBX1B; missing: MBX1B",
					"list them all, or leave nodes unset"),
			},
		},
	})
	onlyReads(t, sim)
}
