package provider

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// testClock is the provider's "now" in a test: a function the test swaps between steps.
type testClock struct {
	mu sync.Mutex
	fn func() time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fn()
}

func (c *testClock) set(fn func() time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fn = fn
}

func at(s string) func() time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return func() time.Time { return t }
}

// providersWithClock serve the provider in-process with the test's clock.
func providersWithClock(c *testClock) map[string]func() (tfprotov6.ProviderServer, error) {
	return map[string]func() (tfprotov6.ProviderServer, error){
		"exchange": providerserver.NewProtocol6WithError(&exchangeProvider{version: "test", clock: c.now}),
	}
}

// Saturday nights in Rome, 22:00 for four hours.
const saturdayNight = `
  maintenance_window {
    days      = ["Sat"]
    start     = "22:00"
    duration  = "4h"
    time_zone = "Europe/Rome"
  }
`

func windowFleet() string {
	return fmt.Sprintf(`{%s,
  "packages": {"D:\\RU23.msp": {"kind": "update_rollup", "service_pack": 3, "update_rollup": 23}},
  "servers": [
    {"name": "HUB5", "address": "127.0.77.1", "product": "2007", "build": "8.3.83.6", "roles": ["HubTransport"],
     "third_party_services": ["BackupExecAgentAccelerator"], "last_system_state_backup": %q}
  ],
  "clusters": []
}`, credentialsJSON(), hoursAgo(1))
}

func windowRollup(block string) string {
	return `
resource "exchange_update_rollup" "hub5" {
  server       = "HUB5"
  address      = "127.0.77.1"
  rollup       = "23"
  package_path = "D:\\RU23.msp"
  backup {
    max_system_state_age = "168h"
    domain_controller_backup_time = "` + evidenceTime + `"
    waiver_reason        = "a Hub Transport server holds no databases"
  }
` + block + `
}
`
}

// Outside the window (here the provider's default window: the resource has none) the plan
// says when the downtime steps can run, and the apply refuses before doing anything: no
// service stopped, no installer, no reboot.
func TestAccWindowRefusesOutside(t *testing.T) {
	sim := startSimulatorWith(t, windowFleet(), fastServicing)
	clock := &testClock{fn: at("2026-12-05T12:00:00+01:00")}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: providersWithClock(clock),
		Steps: []resource.TestStep{{
			Config: providerConfig(sim, saturdayNight) + windowRollup(""),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectKnownValue("exchange_update_rollup.hub5", tfjsonpath.New("scheduled_window"), knownvalue.ObjectExact(map[string]knownvalue.Check{
					"start":       knownvalue.StringExact("2026-12-05T22:00:00+01:00"),
					"end":         knownvalue.StringExact("2026-12-06T02:00:00+01:00"),
					"description": knownvalue.StringExact("Sat 2026-12-05 22:00–02:00 Europe/Rome"),
				})),
			}},
			ExpectError: saying("Servicing server HUB5 stopped", "server HUB5: the maintenance window has not begun (it is 2026-12-05 11:00:00 UTC), so nothing was done: "+
				"the plan's first downtime step, step 3 of 7 (install_update_rollup), starts only inside a window. The next window is Sat 2026-12-05 22:00–02:00 Europe/Rome; run terraform apply again inside it."),
		}},
	})
	// Reads only (the order check discovers the organisation): nothing that changes the server.
	for _, e := range journal(sim, "HUB5") {
		if e != "discover" {
			t.Errorf("an apply outside the window must change nothing; journal:\n  %s", strings.Join(journal(sim, "HUB5"), "\n  "))
			break
		}
	}
}

// The window ends while the rollup installs: the installer runs to its end, the reboot
// after it does not start, the backup agent stopped for the install is started again, and
// the apply says when the next window is. The apply in that window continues after the
// install (the plan says so) and reaches the target build.
func TestAccWindowEndsDuringInstall(t *testing.T) {
	sim := startSimulatorWith(t, windowFleet(), fastServicing)
	installerStarted := func() bool {
		return count(journal(sim, "HUB5"), `installer started C:\WINDOWS\System32\msiexec.exe /update D:\RU23.msp`) > 0
	}
	inside, past := at("2026-12-05T23:30:00+01:00"), at("2026-12-06T02:05:00+01:00")
	// Inside the window until the installer has started; past its end from then on.
	clock := &testClock{fn: func() time.Time {
		if installerStarted() {
			return past()
		}
		return inside()
	}}
	// A resource's own window overrides the provider's (which never opens here).
	never := `
  maintenance_window {
    intervals = [{ start = "2020-01-01T00:00:00Z", end = "2020-01-01T01:00:00Z" }]
  }
`
	config := providerConfig(sim, never) + windowRollup(saturdayNight)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: providersWithClock(clock),
		Steps: []resource.TestStep{{
			Config: config,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectKnownValue("exchange_update_rollup.hub5", tfjsonpath.New("planned_steps"), actions(
					"verify_backups", "stop_service", "install_update_rollup", "reboot", "start_exchange_services", "start_service", "verify_build")),
				plancheck.ExpectKnownValue("exchange_update_rollup.hub5", tfjsonpath.New("scheduled_window").AtMapKey("description"),
					knownvalue.StringExact("Sat 2026-12-05 22:00–02:00 Europe/Rome")),
			}},
			ExpectError: saying("server HUB5: step 4 of 7 (reboot", "stopped: the maintenance window ended before this downtime step could start (it is 2026-12-06 01:05:00 UTC); the steps before it finished",
				"Recovered: started BackupExecAgentAccelerator.", "Next: The next window is Sat 2026-12-12 22:00–02:00 Europe/Rome; run terraform apply again inside it. Its plan continues with the steps left."),
		}, {
			PreConfig: func() {
				j := journal(sim, "HUB5")
				if err := inOrder(j, "service stop BackupExecAgentAccelerator", `installer started C:\WINDOWS\System32\msiexec.exe /update D:\RU23.msp`,
					"installer finished", "service start BackupExecAgentAccelerator"); err != nil {
					t.Fatal(err)
				}
				if n := count(j, "reboot"); n != 0 {
					t.Fatalf("no reboot may start after the window ended; journal:\n  %s", strings.Join(j, "\n  "))
				}
				clock.set(at("2026-12-12T22:10:00+01:00"))
			},
			Config: config,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectKnownValue("exchange_update_rollup.hub5", tfjsonpath.New("planned_steps").AtSliceIndex(0).AtMapKey("description"),
					knownvalue.StringRegexp(regexp.MustCompile(`^continue after the update rollup`))),
				plancheck.ExpectKnownValue("exchange_update_rollup.hub5", tfjsonpath.New("scheduled_window").AtMapKey("description"),
					knownvalue.StringExact("Sat 2026-12-12 22:00–02:00 Europe/Rome")),
			}},
			Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr("exchange_update_rollup.hub5", "live_rollup", "23"),
				func(*terraform.State) error {
					j := journal(sim, "HUB5")
					if n := count(j, `installer started C:\WINDOWS\System32\msiexec.exe /update D:\RU23.msp`); n != 1 {
						return fmt.Errorf("the rollup must install once, got %d:\n  %s", n, strings.Join(j, "\n  "))
					}
					return inOrder(j, "installer finished", "service start BackupExecAgentAccelerator", "exchange_services")
				},
			),
		}},
	})
}

// The block's validators name the attribute and say what to write.
func TestAccWindowValidation(t *testing.T) {
	sim := startSimulator(t, windowFleet())
	clock := &testClock{fn: at("2026-12-05T23:00:00+01:00")}
	for name, c := range map[string]struct{ block, want string }{
		"day":      {`days = ["Samstag"]` + "\n start = \"22:00\"\n duration = \"4h\"\n time_zone = \"UTC\"", `(?s)maintenance_window\.days.*value must be one of`},
		"start":    {`days = ["Sat"]` + "\n start = \"10pm\"\n duration = \"4h\"\n time_zone = \"UTC\"", `(?s)maintenance_window\.start.*must be a time of day HH:MM`},
		"duration": {`days = ["Sat"]` + "\n start = \"22:00\"\n duration = \"200h\"\n time_zone = \"UTC\"", `(?s)Invalid maintenance window duration.*"200h" must be a duration from 1s to\s+168h`},
		"zone":     {`days = ["Sat"]` + "\n start = \"22:00\"\n duration = \"4h\"\n time_zone = \"Europe/Atlantis\"", `(?s)Invalid time zone.*time_zone = "Europe/Atlantis".*is not an IANA time zone`},
		"both":     {`days = ["Sat"]` + "\n start = \"22:00\"\n duration = \"4h\"\n time_zone = \"UTC\"\n intervals = [{ start = \"2026-12-05T22:00:00Z\", end = \"2026-12-06T02:00:00Z\" }]", `(?s)Maintenance window with both days and intervals`},
		"neither":  {`time_zone = "UTC"`, `(?s)Maintenance window without days or intervals`},
		"partial":  {`days = ["Sat"]` + "\n start = \"22:00\"", `(?s)Attribute "maintenance_window.duration" must be specified when\s+"maintenance_window.days" is specified`},
		"order":    {`intervals = [{ start = "2026-12-06T02:00:00Z", end = "2026-12-05T22:00:00Z" }]`, `(?s)interval ends before it starts.*end 2026-12-05T22:00:00Z is not after start`},
		"rfc3339":  {`intervals = [{ start = "tonight", end = "2026-12-05T22:00:00Z" }]`, `(?s)maintenance_window\.intervals\[0\]\.start.*RFC 3339`},
	} {
		t.Run(name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: providersWithClock(clock),
				Steps: []resource.TestStep{{
					Config:      providerConfig(sim, "") + windowRollup("maintenance_window {\n"+c.block+"\n}"),
					PlanOnly:    true,
					ExpectError: regexp.MustCompile(c.want),
				}},
			})
		})
	}
}

// An organisation upgrade outside its window: the first wave's servers refuse before doing
// anything, the later waves are not started, and no server is touched.
func TestAccWindowOrganizationOutside(t *testing.T) {
	sim := startSimulatorWith(t, orgFleet(), fastServicing)
	clock := &testClock{fn: at("2026-12-05T12:00:00+01:00")}
	var pairs []string
	for _, s := range orgServers {
		pairs = append(pairs, fmt.Sprintf("%s = %q", s.name, s.addr))
	}
	config := providerConfig(sim, "addresses = {\n    "+strings.Join(pairs, "\n    ")+"\n  }") + `
resource "exchange_organization_upgrade" "org" {
  discover_through = { server = "CAS1" }
  parallelism      = 2` + orgTargets + `
  # Backup ages are measured by the test's clock, days from the fleet's backups.
  backup {
    waiver_reason = "the window is under test, not the backups"
  }
` + saturdayNight + `
}
`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: providersWithClock(clock),
		Steps: []resource.TestStep{{
			Config: config,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectKnownValue("exchange_organization_upgrade.org", tfjsonpath.New("scheduled_window").AtMapKey("description"),
					knownvalue.StringExact("Sat 2026-12-05 22:00–02:00 Europe/Rome")),
			}},
			ExpectError: saying("wave 1 failed", "Not started: ", "the maintenance window has not begun (it is 2026-12-05 11:00:00 UTC), so nothing was done"),
		}},
	})
	for _, s := range orgServers {
		for _, e := range journal(sim, s.name) {
			if e != "discover" {
				t.Errorf("%s was touched outside the window: %s", s.name, strings.Join(journal(sim, s.name), ", "))
				break
			}
		}
	}
}
