package provider

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
)

// SP3 RU5 (installed before Terraform), a package for RU10.
func rollupFleet() string {
	return fmt.Sprintf(`{%s,
  "packages": {"D:\\RU10.msp": {"kind": "update_rollup", "service_pack": 3, "update_rollup": 10}},
  "servers": [
    {"name": "CAS3", "address": "127.0.53.1", "product": "2007", "build": "8.3.213.1", "roles": ["ClientAccess"],
     "last_system_state_backup": %q, "third_party_services": []}
  ],
  "clusters": []
}`, credentialsJSON(), hoursAgo(1))
}

var rollup10 = `
resource "exchange_update_rollup" "cas3" {
  server       = "CAS3"
  address      = "127.0.53.1"
  rollup       = "10"
  package_path = "D:\\RU10.msp"
  backup {
    max_system_state_age = "168h"
    domain_controller_backup_time = "` + evidenceTime + `"
    waiver_reason        = "a Client Access server holds no databases"
  }
}
`

// Install a rollup, import it, see a hand-made change as drift, and uninstall exactly what
// the resource installed on destroy.
func TestAccUpdateRollupLifecycle(t *testing.T) {
	sim := startSimulatorWith(t, rollupFleet(), fastServicing)
	host := sim.Host("CAS3")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		CheckDestroy: resource.ComposeAggregateTestCheckFunc(
			func(*terraform.State) error {
				if b := host.Facts().Build; b != "8.3.213.1" {
					return fmt.Errorf("after destroy the server runs %s; want RU5 (8.3.213.1), the rollup beneath RU10", b)
				}
				return nil
			},
			testCheckJournalCount(serverJournal(sim, "CAS3"),
				`installer started C:\WINDOWS\System32\msiexec.exe /package {24B2C164-DE66-44FE-B468-A46D9D5E6B31} /uninstall`, 1, "rollup uninstalls"),
		),
		Steps: []resource.TestStep{
			{
				Config: providerConfig(sim, "") + rollup10,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue("exchange_update_rollup.cas3", tfjsonpath.New("planned_steps"), actions(
						"verify_backups", "install_update_rollup", "reboot", "start_exchange_services", "verify_owa", "verify_build")),
					plancheck.ExpectKnownValue("exchange_update_rollup.cas3", tfjsonpath.New("planned_steps").AtSliceIndex(2).AtMapKey("reboot"),
						knownvalue.Bool(true)),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("exchange_update_rollup.cas3", "live_rollup", "10"),
					resource.TestCheckResourceAttr("exchange_update_rollup.cas3", "live_build", "8.3.298.3"),
					resource.TestCheckResourceAttr("exchange_update_rollup.cas3", "backup.waiver_reason", "a Client Access server holds no databases"),
				),
			},
			{
				// Import by server name: the desired rollup is read from the server.
				ResourceName:            "exchange_update_rollup.cas3",
				ImportState:             true,
				ImportStateId:           "CAS3@127.0.53.1",
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"package_path", "backup", "planned_steps", "warnings", "timeouts", "service_pack", "kb"},
				Config:                  providerConfig(sim, "") + rollup10,
			},
			{
				// Someone uninstalls RU10 by hand: the plan shows the drift as the steps to
				// put it back.
				PreConfig:          func() { host.SetBuild(exchange.MustParseBuild("8.3.213.1")) },
				Config:             providerConfig(sim, "") + rollup10,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPreRefresh: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("exchange_update_rollup.cas3", plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue("exchange_update_rollup.cas3", tfjsonpath.New("planned_steps").AtSliceIndex(1).AtMapKey("action"),
						knownvalue.StringExact("install_update_rollup")),
				}},
			},
			{
				// Apply puts it back; the destroy that ends the test uninstalls it again.
				Config: providerConfig(sim, "") + rollup10,
				Check:  resource.TestCheckResourceAttr("exchange_update_rollup.cas3", "live_rollup", "10"),
			},
		},
	})
}

// An Exchange 2003 back-end from SP1 to SP2: the installer is the SP's update.exe, no
// rollups or interim updates are involved, and the plan warns that backups taken before the
// service pack cannot be restored after it.
// servicePack2003 is a fleet of one Exchange 2003 back-end server (SP1, Backup Exec, backed up
// 3 hours ago) with SP2 media, and the resource "exchange_service_pack" "<lower-case name>"
// that installs SP2 on it.
func servicePack2003(name, address string) (fleet, config string) {
	fleet = fmt.Sprintf(`{%s,
  "packages": {"E:\\E2003SP2": {"kind": "service_pack", "product": "2003", "service_pack": 2}},
  "servers": [
    {"name": %q, "address": %q, "product": "2003", "build": "6.5.7226", "roles": ["BackEnd"],
     "third_party_services": ["BackupExecRPCService"],
     "last_full_backup": %q, "last_system_state_backup": %q}
  ],
  "clusters": []
}`, credentialsJSON(), name, address, hoursAgo(3), hoursAgo(3))
	config = fmt.Sprintf(`
resource "exchange_service_pack" %q {
  server       = %q
  address      = %q
  service_pack = 2
  media_path   = "E:\\E2003SP2"
  backup {
    max_database_age     = "24h"
    max_system_state_age = "168h"
    domain_controller_backup_time = %q
    # Exchange 2000/2003/5.5 databases: the backup software's times (a server cannot tell).
    database_backup_times = { %s = %q }
  }
}
`, strings.ToLower(name), name, address, evidenceTime, name, evidenceTime)
	return fleet, config
}

func TestAccServicePack2003(t *testing.T) {
	fleet, config := servicePack2003("BE3", "127.0.54.1")
	sim := startSimulatorWith(t, fleet, fastServicing)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: providerConfig(sim, "") + config,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectKnownValue("exchange_service_pack.be3", tfjsonpath.New("planned_steps"), actions(
					"verify_backups", "stop_service", "install_service_pack", "reboot", "start_exchange_services",
					"start_service", "verify_build")),
				plancheck.ExpectKnownValue("exchange_service_pack.be3", tfjsonpath.New("warnings"),
					knownvalue.ListPartial(map[int]knownvalue.Check{0: knownvalue.StringRegexp(regexp.MustCompile(`new full backup`))})),
			}},
			Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr("exchange_service_pack.be3", "live_level", "Exchange 2003 SP2"),
				testCheckJournalOrder(serverJournal(sim, "BE3"),
					"service stop BackupExecRPCService",
					`installer started E:\E2003SP2\i386\update.exe`,
					"reboot", "exchange_services",
					"service start BackupExecRPCService"),
			),
		}},
	})
}
