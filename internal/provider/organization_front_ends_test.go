package provider

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/buildlevel/terraform-provider-exchange/internal/simulator"
)

// frontEndServers: three load-balanced Exchange 2003 front-ends at SP1.
var frontEndServers = []struct{ name, addr string }{
	{"FE1", "127.0.61.1"}, {"FE2", "127.0.61.2"}, {"FE3", "127.0.61.3"},
}

func frontEndFleet() string {
	var servers []string
	for _, s := range frontEndServers {
		servers = append(servers, fmt.Sprintf(`{"name": %q, "address": %q, "product": "2003", "build": "6.5.7226", "roles": ["FrontEnd"],
      "internet_facing": true, "last_system_state_backup": %q}`, s.name, s.addr, hoursAgo(1)))
	}
	return fmt.Sprintf(`{%s,
  "packages": {"E:\\E2003SP2": {"kind": "service_pack", "product": "2003", "service_pack": 2}},
  "servers": [%s],
  "clusters": []
}`, credentialsJSON(), strings.Join(servers, ",\n"))
}

func frontEndConfig(sim *simulator.Simulator, parallelism int) string {
	var pairs, refs []string
	for _, s := range frontEndServers {
		pairs = append(pairs, fmt.Sprintf("%s = %q", s.name, s.addr))
		refs = append(refs, fmt.Sprintf("{ server = %q }", s.name))
	}
	return providerConfig(sim, "addresses = {\n    "+strings.Join(pairs, "\n    ")+"\n  }") + fmt.Sprintf(`
resource "exchange_organization_upgrade" "fe" {
  servers     = [%s]
  parallelism = %d
  targets     = [{ product = "2003", service_pack = 2, media_path = "E:\\E2003SP2" }]
  backup {
    max_database_age     = "24h"
    max_system_state_age = "168h"
    domain_controller_backup_time = %q
  }
}
`, strings.Join(refs, ", "), parallelism, evidenceTime)
}

// KB 328839 upgrades load-balanced Exchange 2003 front-ends all at once: all offline, each
// upgraded, then all online, so that no client meets front-ends at different service packs.
// The journal says when each front-end served at which build: at no moment did one serve
// at SP2 while another served at SP1, whatever the parallelism, and at the end all serve
// at SP2.
func TestAccOrganizationLoadBalancedFrontEndsAllAtOnce(t *testing.T) {
	for _, parallelism := range []int{1, 2} {
		t.Run(fmt.Sprintf("parallelism=%d", parallelism), func(t *testing.T) {
			sim := startSimulatorWith(t, frontEndFleet(), simulator.Options{InstallDuration: 300 * time.Millisecond, RebootDuration: 100 * time.Millisecond})
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviders,
				Steps: []resource.TestStep{{
					Config: frontEndConfig(sim, parallelism),
					Check: resource.ComposeAggregateTestCheckFunc(
						checkFrontEndWindow("exchange_organization_upgrade.fe"),
						warningsContain("exchange_organization_upgrade.fe", "FE1, FE2, FE3 are taken to be load-balanced together (load_balanced_front_ends is not set)"),
						func(*terraform.State) error { return checkFrontEndsNeverMixed(sim, "6.5.7226", "6.5.7638") },
					),
				}},
			})
		})
	}
}

// checkFrontEndsNeverMixed replays the journal's serving entries: no moment with one
// front-end serving at build newBuild while another serves at oldBuild; at the end every
// front-end serves at newBuild.
func checkFrontEndsNeverMixed(sim *simulator.Simulator, oldBuild, newBuild string) error {
	type served struct {
		on    bool
		build string
	}
	now := map[string]served{}
	for _, s := range frontEndServers {
		now[s.name] = served{on: true, build: oldBuild} // the fleet starts them serving
	}
	changes := 0
	for _, e := range sim.Journal() {
		if e.Operation != "serving" {
			continue
		}
		changes++
		on, _ := e.Params["serving"].(bool)
		build, _ := e.Params["build"].(string)
		now[e.Server] = served{on: on, build: build}
		var atOld, atNew []string
		for name, s := range now {
			switch {
			case s.on && strings.HasPrefix(s.build, oldBuild):
				atOld = append(atOld, name)
			case s.on && strings.HasPrefix(s.build, newBuild):
				atNew = append(atNew, name)
			}
		}
		if len(atOld) > 0 && len(atNew) > 0 {
			return fmt.Errorf("journal entry %d (%s: %s): %s served at %s while %s served at %s",
				e.Seq, e.Server, e.Detail, strings.Join(atNew, ", "), newBuild, strings.Join(atOld, ", "), oldBuild)
		}
	}
	if changes == 0 {
		return fmt.Errorf("the journal has no serving entries: the front-ends were not serviced")
	}
	for name, s := range now {
		if !s.on || !strings.HasPrefix(s.build, newBuild) {
			return fmt.Errorf("after the apply %s serves: %v at build %s; want serving at %s", name, s.on, s.build, newBuild)
		}
	}
	return nil
}

// checkFrontEndWindow: the plan is every front-end's verify_backups (not downtime), then one
// downtime window: every front-end taken offline first, each upgraded, every one brought back online last; every step is downtime.
func checkFrontEndWindow(address string) resource.TestCheckFunc {
	return func(st *terraform.State) error {
		attrs := st.RootModule().Resources[address].Primary.Attributes
		n := 0
		if _, err := fmt.Sscan(attrs["planned_steps.#"], &n); err != nil {
			return fmt.Errorf("%s has no planned_steps: %v", address, err)
		}
		var got []string
		checks := 0
		for i := 0; i < n; i++ {
			at := fmt.Sprintf("planned_steps.%d.", i)
			check := attrs[at+"action"] == "verify_backups" || attrs[at+"action"] == "preflight"
			if i == checks && check && attrs[at+"downtime"] == "false" {
				checks++ // every front-end's checks, before the window
				continue
			}
			if check {
				return fmt.Errorf("step %d (%s on %s) runs inside the window, not before it", i+1, attrs[at+"action"], attrs[at+"server"])
			}
			if attrs[at+"downtime"] != "true" {
				return fmt.Errorf("step %d (%s on %s) is not in the downtime window", i+1, attrs[at+"action"], attrs[at+"server"])
			}
			got = append(got, attrs[at+"action"]+" "+attrs[at+"server"])
		}
		if checks != 6 {
			return fmt.Errorf("the plan does not begin with the 3 front-ends' preflight and verify_backups: %d", checks)
		}
		n = len(got)
		want := []string{"take_front_end_offline FE1", "take_front_end_offline FE2", "take_front_end_offline FE3"}
		if n < 9 || strings.Join(got[:3], ";") != strings.Join(want, ";") {
			return fmt.Errorf("the plan does not start with every front-end taken offline: %v", got)
		}
		want = []string{"bring_front_end_online FE1", "bring_front_end_online FE2", "bring_front_end_online FE3"}
		if strings.Join(got[n-3:], ";") != strings.Join(want, ";") {
			return fmt.Errorf("the plan does not end with every front-end brought back online: %v", got)
		}
		for _, fe := range []string{"FE1", "FE2", "FE3"} {
			if !slices.Contains(got[3:n-3], "install_service_pack "+fe) {
				return fmt.Errorf("%s is not upgraded inside the window: %v", fe, got)
			}
		}
		return nil
	}
}

// Every front-end is at SP2, but FE1 is still offline: an apply was interrupted before it
// brought FE1 back. The plan's waves show the recovery wave 0 with FE1, its only step is
// bring_front_end_online FE1, and after the apply FE1 serves again.
func TestAccOrganizationFrontEndRecoveryWave(t *testing.T) {
	sim := startSimulatorWith(t, strings.ReplaceAll(frontEndFleet(), `"6.5.7226"`, `"6.5.7638"`), simulator.Options{})
	sim.Host("FE1").Update(func(s *simulator.State) {
		s.FrontEndStartMode = "Auto" // what front_end.ps1 recorded when it took FE1 offline
		for i := range s.Services {
			if s.Services[i].Name == "W3SVC" {
				s.Services[i].State, s.Services[i].StartMode = "Stopped", "Disabled"
			}
		}
	})
	const address = "exchange_organization_upgrade.fe"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: frontEndConfig(sim, 1),
			Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr(address, "waves.#", "1"),
				resource.TestCheckResourceAttr(address, "waves.0.index", "0"),
				resource.TestCheckResourceAttr(address, "waves.0.name", "recovery: front-ends an interrupted apply left offline"),
				resource.TestCheckResourceAttr(address, "waves.0.servers.#", "1"),
				resource.TestCheckResourceAttr(address, "waves.0.servers.0", "FE1"),
				resource.TestCheckResourceAttr(address, "planned_steps.#", "1"),
				resource.TestCheckResourceAttr(address, "planned_steps.0.action", "bring_front_end_online"),
				resource.TestCheckResourceAttr(address, "planned_steps.0.wave", "0"),
				func(*terraform.State) error {
					last := false
					for _, e := range sim.Journal() {
						if e.Operation == "serving" && e.Server == "FE1" {
							last = e.Params["serving"] == true
						}
					}
					if !last {
						return fmt.Errorf("the journal does not show FE1 serving again")
					}
					return nil
				},
			),
		}},
	})
}

// exchange_service_pack on a front-end an organisation upgrade left offline refuses, naming
// the server and the organisation upgrade to apply; nothing is done on the server.
func TestAccServicePackRefusesFrontEndLeftOffline(t *testing.T) {
	sim := startSimulatorWith(t, frontEndFleet(), fastServicing)
	sim.Host("FE1").Update(func(s *simulator.State) { s.FrontEndStartMode = "Auto" })
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config:      providerConfig(sim, "") + sp("FE1", "127.0.61.1", 2, ""),
			ExpectError: regexp.MustCompile(`(?s)FE1.*exchange_organization_upgrade took it out of service.*KB 328839.*Apply the\s+exchange_organization_upgrade\s+that\s+took\s+FE1\s+offline`),
		}},
	})
	for _, e := range sim.Journal() {
		if e.Server == "FE1" && e.Operation != "probe" && e.Operation != "discover" { // discover carries the probe
			t.Errorf("the refused plan did something on FE1: %s %s", e.Operation, e.Detail)
		}
	}
}

// Under a maintenance window the plan warns that the group's downtime is one block, naming
// the group; the apply runs it inside the open window.
func TestAccOrganizationFrontEndsWindowWarning(t *testing.T) {
	sim := startSimulatorWith(t, frontEndFleet(), fastServicing)
	now := time.Now().UTC()
	window := fmt.Sprintf("maintenance_window {\n    intervals = [{ start = %q, end = %q }]\n  }", now.Add(-time.Hour).Format(time.RFC3339), now.Add(12*time.Hour).Format(time.RFC3339))
	config := strings.Replace(frontEndConfig(sim, 2), "  parallelism = 2\n", "  parallelism = 2\n  "+window+"\n", 1)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: config,
			Check: resource.ComposeAggregateTestCheckFunc(
				warningsContain("exchange_organization_upgrade.fe", "the load-balanced front-ends FE1, FE2, FE3 are one block of downtime in wave 1"),
				resource.TestCheckResourceAttrSet("exchange_organization_upgrade.fe", "scheduled_window.start"),
			),
		}},
	})
}
