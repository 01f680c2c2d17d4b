package provider

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/buildlevel/terraform-provider-exchange/internal/simulator"
)

// orgServers: a 2007 organisation of 12 servers at SP2 and a 2003 front-end/back-end site
// at SP1. Name, address, product, build, roles, internet-facing.
var orgServers = []struct {
	name, addr, product, build, roles string
	internetFacing                    bool
}{
	{"CAS1", "127.0.60.1", "2007", "8.2.176.2", `"ClientAccess"`, true},
	{"CAS2", "127.0.60.2", "2007", "8.2.176.2", `"ClientAccess"`, true},
	{"CAS3", "127.0.60.3", "2007", "8.2.176.2", `"ClientAccess"`, false},
	{"CAS4", "127.0.60.4", "2007", "8.2.176.2", `"ClientAccess"`, false},
	{"HUB1", "127.0.60.5", "2007", "8.2.176.2", `"HubTransport"`, false},
	{"HUB2", "127.0.60.6", "2007", "8.2.176.2", `"HubTransport"`, false},
	{"MBX1", "127.0.60.7", "2007", "8.2.176.2", `"Mailbox"`, false},
	{"MBX2", "127.0.60.8", "2007", "8.2.176.2", `"Mailbox"`, false},
	{"MBX3", "127.0.60.9", "2007", "8.2.176.2", `"Mailbox"`, false},
	{"MBX4", "127.0.60.10", "2007", "8.2.176.2", `"Mailbox"`, false},
	{"UM1", "127.0.60.11", "2007", "8.2.176.2", `"UnifiedMessaging"`, false},
	{"UM2", "127.0.60.12", "2007", "8.2.176.2", `"UnifiedMessaging"`, false},
	{"FE1", "127.0.60.21", "2003", "6.5.7226", `"FrontEnd"`, true},
	{"FE2", "127.0.60.22", "2003", "6.5.7226", `"FrontEnd"`, true},
	{"BE1", "127.0.60.23", "2003", "6.5.7226", `"BackEnd"`, false},
	{"BE2", "127.0.60.24", "2003", "6.5.7226", `"BackEnd"`, false},
}

func orgFleet() string {
	var servers []string
	for _, s := range orgServers {
		servers = append(servers, fmt.Sprintf(`{"name": %q, "address": %q, "product": %q, "build": %q, "roles": [%s],
      "internet_facing": %v, "last_full_backup": %q, "last_system_state_backup": %q}`,
			s.name, s.addr, s.product, s.build, s.roles, s.internetFacing, hoursAgo(1), hoursAgo(1)))
	}
	return fmt.Sprintf(`{%s,
  "packages": {
    "D:\\E2007SP3":  {"kind": "service_pack", "product": "2007", "service_pack": 3},
    "E:\\E2003SP2":  {"kind": "service_pack", "product": "2003", "service_pack": 2}
  },
  "servers": [%s],
  "clusters": []
}`, credentialsJSON(), strings.Join(servers, ",\n"))
}

// orgProvider reaches every server by the provider's addresses map: discovery yields names.
func orgProvider(sim *simulator.Simulator) string {
	var pairs []string
	for _, s := range orgServers {
		pairs = append(pairs, fmt.Sprintf("%s = %q", s.name, s.addr))
	}
	return providerConfig(sim, "addresses = {\n    "+strings.Join(pairs, "\n    ")+"\n  }")
}

const orgTargets = `
  targets = [
    { product = "2003", service_pack = 2, media_path = "E:\\E2003SP2" },
    { product = "2007", service_pack = 3, media_path = "D:\\E2007SP3" },
  ]`

var wantWaves = [][]string{
	{"FE1", "FE2"}, {"BE1", "BE2"},
	{"CAS1", "CAS2"}, {"CAS3", "CAS4"}, {"HUB1", "HUB2"}, {"MBX1", "MBX2", "MBX3", "MBX4"}, {"UM1", "UM2"},
}

func TestAccOrganizationInOrder(t *testing.T) {
	// Installs long enough that parallel servers overlap even on a loaded machine.
	sim := startSimulatorWith(t, orgFleet(), simulator.Options{InstallDuration: time.Second, RebootDuration: 200 * time.Millisecond})
	var waveChecks []resource.TestCheckFunc
	for i, w := range wantWaves {
		waveChecks = append(waveChecks, resource.TestCheckResourceAttr("data.exchange_organization.org",
			fmt.Sprintf("waves.%d.servers.#", i), fmt.Sprint(len(w))))
		for j, s := range w {
			waveChecks = append(waveChecks, resource.TestCheckResourceAttr("data.exchange_organization.org",
				fmt.Sprintf("waves.%d.servers.%d", i, j), s))
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				// The waves, discovered through one server.
				Config: orgProvider(sim) + `
data "exchange_organization" "org" {
  discover_through = { server = "CAS1" }
  targets = [
    { product = "2003", service_pack = 2 },
    { product = "2007", service_pack = 3 },
  ]
}
`,
				Check: resource.ComposeAggregateTestCheckFunc(append(waveChecks,
					resource.TestCheckResourceAttr("data.exchange_organization.org", "found.#", "16"),
					resource.TestCheckResourceAttr("data.exchange_organization.org", "waves.#", "7"),
					resource.TestMatchResourceAttr("data.exchange_organization.org", "waves.2.name", regexp.MustCompile(`(?i)internet-facing`)),
				)...),
			},
			{
				// Upgrading a Mailbox server before the Client Access and Hub servers is refused,
				// naming them, before any server is touched.
				Config: orgProvider(sim) + `
resource "exchange_service_pack" "mbx1" {
  server       = "MBX1"
  service_pack = 3
  media_path   = "D:\\E2007SP3"
  backup {
    max_database_age     = "24h"
    max_system_state_age = "168h"
    domain_controller_backup_time = "` + evidenceTime + `"
    # Exchange 2000/2003/5.5 databases: the backup software's times (a server cannot tell).
    database_backup_times = { BE1 = "` + evidenceTime + `", BE2 = "` + evidenceTime + `" }
  }
}
`,
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Server MBX1 must wait.*CAS1 \(Exchange 2007 SP2\).*CAS2.*CAS3.*CAS4.*HUB1.*HUB2`),
			},
			{
				// The whole organisation, wave by wave.
				Config: orgProvider(sim) + `
resource "exchange_organization_upgrade" "org" {
  discover_through = { server = "CAS1" }
  parallelism      = 4` + orgTargets + `
  backup {
    max_database_age     = "24h"
    max_system_state_age = "168h"
    domain_controller_backup_time = "` + evidenceTime + `"
    # Exchange 2000/2003/5.5 databases: the backup software's times (a server cannot tell).
    database_backup_times = { BE1 = "` + evidenceTime + `", BE2 = "` + evidenceTime + `" }
  }
}
`,
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("exchange_organization_upgrade.org", "waves.#", "7"),
					func(*terraform.State) error { return checkWaveOrder(sim) },
					// The 2003 front-ends are taken to be load-balanced: one downtime window (KB 328839).
					warningsContain("exchange_organization_upgrade.org", "the Exchange 2003 front-ends FE1, FE2 are taken to be load-balanced together (load_balanced_front_ends is not set)"),
				),
			},
		},
	})
}

// checkWaveOrder reads the journal: every server's setup started, and no server of a wave
// started before every server of the waves before it had finished.
func checkWaveOrder(sim *simulator.Simulator) error {
	started, finished := map[string]int{}, map[string]int{}
	for _, e := range sim.Journal() {
		if e.Operation != "installer" {
			continue
		}
		switch {
		case strings.HasSuffix(e.Detail, " started") && started[e.Server] == 0:
			started[e.Server] = e.Seq
		case strings.Contains(e.Detail, " finished"):
			finished[e.Server] = e.Seq
		}
	}
	for i, w := range wantWaves {
		for _, s := range w {
			if started[s] == 0 || finished[s] == 0 {
				return fmt.Errorf("%s was not upgraded (wave %d)", s, i+1)
			}
			if f := sim.Host(s).Facts(); f.Build != map[bool]string{true: "8.3.83.6", false: "6.5.7638"}[f.Product == "2007"] {
				return fmt.Errorf("%s runs %s after the upgrade", s, f.Build)
			}
			for _, earlier := range wantWaves[:i] {
				for _, e := range earlier {
					if finished[e] > started[s] {
						return fmt.Errorf("%s (wave %d) started before %s of an earlier wave finished", s, i+1, e)
					}
				}
			}
		}
	}
	// Servers of one wave ran in parallel (parallelism 4): in the Mailbox wave the second
	// server started before the first finished, which one at a time never does. (Asking all
	// four to overlap made the test depend on the machine's load.)
	mbx := append([]string(nil), wantWaves[5]...)
	sort.Slice(mbx, func(i, j int) bool { return started[mbx[i]] < started[mbx[j]] })
	if started[mbx[1]] > finished[mbx[0]] {
		return fmt.Errorf("the Mailbox wave ran one server at a time despite parallelism = 4")
	}
	return nil
}

// A server that fails stops the later waves; the error says which servers were done, which
// failed and which were not started, and the next apply continues from the failed wave.
func TestAccOrganizationStopsAtAFailedWave(t *testing.T) {
	fleet := strings.Replace(orgFleet(), `"name": "HUB1", "address": "127.0.60.5", "product": "2007", "build": "8.2.176.2", "roles": ["HubTransport"],`,
		`"name": "HUB1", "address": "127.0.60.5", "product": "2007", "build": "8.2.176.2", "roles": ["HubTransport"], "faults": [{"kind": "file_in_use"}],`, 1)
	if fleet == orgFleet() {
		t.Fatal("the fault was not added to the fleet")
	}
	sim := startSimulatorWith(t, fleet, simulator.Options{InstallDuration: 200 * time.Millisecond, RebootDuration: 200 * time.Millisecond})
	config := orgProvider(sim) + `
resource "exchange_organization_upgrade" "org" {
  discover_through = { server = "CAS1" }
  parallelism      = 2` + orgTargets + `
  backup {
    max_database_age     = "24h"
    max_system_state_age = "168h"
    domain_controller_backup_time = "` + evidenceTime + `"
    # Exchange 2000/2003/5.5 databases: the backup software's times (a server cannot tell).
    database_backup_times = { BE1 = "` + evidenceTime + `", BE2 = "` + evidenceTime + `" }
  }
}
`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: config,
				ExpectError: regexp.MustCompile(`(?s)wave 5 failed\.\s+Done: BE1, BE2, CAS1, CAS2, CAS3, CAS4, FE1, FE2, HUB2\.\s+` +
					`Failed: HUB1\.\s+Not started: MBX1, MBX2, MBX3, MBX4, UM1, UM2\..*FileInUse`),
			},
			{
				PreConfig: func() {
					if b := sim.Host("MBX1").Facts().Build; b != "8.2.176.2" {
						t.Fatalf("a later wave was touched: MBX1 runs %s", b)
					}
				},
				Config: config,
				Check: func(*terraform.State) error {
					for _, s := range []string{"HUB1", "MBX1", "UM2"} {
						if b := sim.Host(s).Facts().Build; b != "8.3.83.6" {
							return fmt.Errorf("%s runs %s after the second apply", s, b)
						}
					}
					return nil
				},
			},
		},
	})
}

// Clusters are units of their wave: an organisation with a 2003 EVS and a 2007 CCR is
// upgraded wave by wave, each cluster node by node in the order of exchange.PlanCluster (the EVS
// of the back-end wave before the CMS of the Mailbox wave).
func TestAccOrganizationWithClusters(t *testing.T) {
	// Without the 5.5 and 2000 clusters: their Windows 2000 nodes have no WinRM and the plan
	// would refuse them (TestAccOrganizationRefusesClustersWithoutWinRM).
	sim := startSimulatorWith(t, withWinRMOnly(t, clusterFleet(t)), simulator.Options{InstallDuration: 200 * time.Millisecond, RebootDuration: 200 * time.Millisecond})
	standBy(sim) // an administrator does the manual Upgrade Exchange Virtual Server when it can be done
	// Discovery lists CMS1, EVS1, ...: each reached at the node that runs it, as DNS would,
	// also once the upgrade has left a CMS/EVS on another node (clusterDNS).
	dns := newClusterDNS(t, sim)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: dns.config() + `
resource "exchange_organization_upgrade" "org" {
  discover_through = { server = "MBX1A" }
  targets = [
    { product = "2003", service_pack = 2, media_path = "\\\\files\\exchange2003\\SP2" },
    { product = "2007", service_pack = 3, media_path = "D:\\Exchange2007SP3" },
  ]
  backup {
    max_database_age     = "24h"
    max_system_state_age = "168h"
    domain_controller_backup_time = "` + evidenceTime + `"
    # Exchange 2000/2003/5.5 databases: the backup software's times (a server cannot tell).
    database_backup_times = { AAN1 = "` + evidenceTime + `", AAN2 = "` + evidenceTime + `", EVSN1 = "` + evidenceTime + `", EVSN2 = "` + evidenceTime + `" }
  }
}
`,
			Check: resource.ComposeAggregateTestCheckFunc(
				func(*terraform.State) error {
					dns.follow() // for the plans after the apply
					for node, build := range map[string]string{"EVSN1": "6.5.7638", "EVSN2": "6.5.7638", "AAN1": "6.5.7638", "AAN2": "6.5.7638",
						"MBX1A": "8.3.83.6", "MBX1B": "8.3.83.6"} {
						if b := sim.Host(node).Facts().Build; b != build {
							return fmt.Errorf("%s runs %s, want %s", node, b, build)
						}
					}
					return nil
				},
				testCheckJournalOrder(nodesJournal(sim, "EVSN1", "EVSN2", "MBX1A", "MBX1B"),
					"EVSN2 administrator upgrade_evs ok", "EVSN2 cluster online_group",
					"MBX1A cluster stop_cms", "MBX1B job_start upgrade_cms ok", "MBX1B cluster start_cms",
					"MBX1A job_start install_service_pack ok"),
				// What the apply read afterwards (and recorded for the next plan) is every
				// node as serviced, not the answer a node gave under its CMS's name before.
				resource.TestCheckResourceAttr("exchange_organization_upgrade.org", "live_builds.MBX1A", "8.3.83.6"),
				resource.TestCheckResourceAttr("exchange_organization_upgrade.org", "live_builds.MBX1B", "8.3.83.6"),
			),
		}},
	})
}

// An Exchange 5.5 server runs on Windows NT 4.0 or 2000, which have no WinRM (KB 968930);
// the simulator refuses the connection as a real one does. Active Directory records it as
// 5.5: the plan refuses it by name, with the reason, before trying to connect (no
// connection error), and reads the others.
func TestAccOrganizationNamesServersWithoutWinRM(t *testing.T) {
	fleet := fmt.Sprintf(`{%s,
  "servers": [
    {"name": "BE1", "address": "127.0.61.1", "product": "2003", "build": "6.5.7226", "roles": ["BackEnd"],
     "last_full_backup": %q, "last_system_state_backup": %q},
    {"name": "OLD55", "address": "127.0.61.2", "product": "5.5", "build": "5.5.2650",
     "last_full_backup": %q, "last_system_state_backup": %q}
  ],
  "clusters": []
}`, credentialsJSON(), hoursAgo(1), hoursAgo(1), hoursAgo(1), hoursAgo(1))
	sim := startSimulatorWith(t, fleet, simulator.Options{})
	if sim.Host("OLD55").ServesWinRM() {
		t.Fatal("OLD55 (Windows 2000) serves WinRM")
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: providerConfig(sim, `addresses = { BE1 = "127.0.61.1", OLD55 = "127.0.61.2" }`) + `
data "exchange_organization" "org" {
  discover_through = { server = "BE1" }
  targets = [{ product = "2003", service_pack = 2 }]
}
`,
			// "OLD55: " then the reason at once: not "server OLD55 (address): could not connect".
			ExpectError: regexp.MustCompile(`(?s)` + spaced("1 of 2 servers could not be read:") + `\s+OLD55: ` + spaced("Active Directory records OLD55 as Exchange 5.5, which runs on Windows NT 4.0 or Windows 2000: those have no WinRM or PowerShell 2.0, so this provider cannot reach it yet")),
		}},
	})
}
