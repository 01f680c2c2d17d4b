package provider

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// A 2007 RTM server with everything the procedure handles: an interim update, a UM language pack, a
// backup agent, a customised OWA, no internet access, Remote Streaming Backup on.
func rtmFleet() string {
	return fmt.Sprintf(`{%s,
  "packages": {
    "D:\\SP3":        {"kind": "service_pack", "product": "2007", "service_pack": 3},
    "D:\\RU23.msp":   {"kind": "update_rollup", "service_pack": 3, "update_rollup": 23},
    "D:\\UM-SP3":     {"kind": "um_language_pack", "service_pack": 3, "language": "de-DE"}
  },
  "servers": [
    {"name": "EX07", "address": "127.0.51.1", "product": "2007", "build": "8.0.685.24",
     "roles": ["ClientAccess", "HubTransport", "Mailbox", "UnifiedMessaging"],
     "interim_updates": ["KB300001"], "um_language_packs": ["de-DE"],
     "third_party_services": ["BackupExecAgentAccelerator"], "owa_customized": true,
     "internet_access": false, "remote_streaming_backup": true,
     "last_full_backup": %q, "last_system_state_backup": %q}
  ],
  "clusters": []
}`, credentialsJSON(), hoursAgo(2), hoursAgo(30))
}

var spAndRollup = `
resource "exchange_service_pack" "ex07" {
  server                 = "EX07"
  address                = "127.0.51.1"
  service_pack           = 3
  media_path             = "D:\\SP3"
  um_language_pack_path  = "D:\\UM-SP3"
  remove_interim_updates = ["KB300001"]
  backup {
    max_database_age     = "24h"
    max_system_state_age = "168h"
    domain_controller_backup_time = "` + evidenceTime + `"
  }
}

resource "exchange_update_rollup" "ex07" {
  server       = "EX07"
  address      = "127.0.51.1"
  rollup       = "latest"
  service_pack = exchange_service_pack.ex07.service_pack
  package_path = "D:\\RU23.msp"
  backup {
    max_database_age     = "24h"
    max_system_state_age = "168h"
    domain_controller_backup_time = "` + evidenceTime + `"
  }
}
`

func actions(names ...string) knownvalue.Check {
	checks := make([]knownvalue.Check, len(names))
	for i, n := range names {
		checks[i] = knownvalue.ObjectPartial(map[string]knownvalue.Check{"action": knownvalue.StringExact(n)})
	}
	return knownvalue.ListExact(checks)
}

// RTM to SP3 and the newest rollup in one apply: the plan shows the procedure's steps in order, the
// apply runs them in that order on the server, and the server ends at SP3 RU23.
func TestAccServicePackThenRollup2007(t *testing.T) {
	t.Parallel() // its servers' addresses are no other parallel test's
	sim := startSimulatorWith(t, rtmFleet(), fastServicing)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: providerConfig(sim, "") + spAndRollup,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectKnownValue("exchange_service_pack.ex07", tfjsonpath.New("planned_steps"), actions(
					"verify_backups", "save_customizations", "remove_interim_update", "remove_um_language_pack",
					"stop_service", "disable_revocation_check", "install_service_pack", "reboot",
					"start_exchange_services", "restore_customizations", "verify_owa", "add_um_language_pack",
					"enable_revocation_check", "start_service", "set_remote_streaming_backup", "verify_build")),
				// The rollup is planned against the server as the service pack leaves it: with
				// the SP's own Logon.aspx, which is not customised.
				plancheck.ExpectKnownValue("exchange_update_rollup.ex07", tfjsonpath.New("planned_steps"), actions(
					"verify_backups", "stop_service", "disable_revocation_check",
					"install_update_rollup", "reboot", "start_exchange_services", "verify_owa",
					"enable_revocation_check", "start_service", "verify_build")),
				plancheck.ExpectKnownValue("exchange_service_pack.ex07",
					tfjsonpath.New("planned_steps").AtSliceIndex(6).AtMapKey("description"),
					knownvalue.StringRegexp(regexp.MustCompile(`Setup\.com /mode:upgrade from D:\\SP3 .*8\.3\.83\.6`))),
				plancheck.ExpectKnownValue("exchange_service_pack.ex07",
					tfjsonpath.New("planned_steps").AtSliceIndex(6).AtMapKey("downtime"), knownvalue.Bool(true)),
				plancheck.ExpectUnknownValue("exchange_service_pack.ex07", tfjsonpath.New("live_service_pack")),
			}},
			Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr("exchange_service_pack.ex07", "live_service_pack", "3"),
				resource.TestCheckResourceAttr("exchange_service_pack.ex07", "live_level", "Exchange 2007 SP3"),
				resource.TestCheckResourceAttr("exchange_update_rollup.ex07", "live_build", "8.3.517.0"),
				resource.TestCheckResourceAttr("exchange_update_rollup.ex07", "live_level", "Exchange 2007 SP3 Update Rollup 23"),
				resource.TestCheckResourceAttr("exchange_update_rollup.ex07", "live_rollup", "23"),
				testCheckJournalCount(serverJournal(sim, "EX07"), "installer started", 5, "installer runs (IU removal, UM removal, SP, UM add, RU)"),
				// The procedure, in order, then the rollup after the service pack.
				testCheckJournalOrder(serverJournal(sim, "EX07"),
					"customizations save",
					`installer started C:\WINDOWS\System32\msiexec.exe /package {24B2C164-DE66-44FE-B468-A46D9D5E6B31} /uninstall`,
					`installer started D:\UM-SP3\Setup.com /RemoveUmLanguagePack:de-DE`,
					"service stop BackupExecAgentAccelerator",
					"revocation_check false",
					`installer started D:\SP3\Setup.com /mode:upgrade`,
					"reboot",
					"exchange_services",
					"customizations restore",
					"owa_check",
					`installer started D:\UM-SP3\Setup.com /AddUmLanguagePack:de-DE`,
					"revocation_check true",
					"service start BackupExecAgentAccelerator",
					"remote_streaming_backup true",
					// the rollup (the SP's own Logon.aspx stays in place)
					"service stop BackupExecAgentAccelerator",
					"revocation_check false",
					`installer started C:\WINDOWS\System32\msiexec.exe /update D:\RU23.msp`,
					"reboot",
					"exchange_services",
					"owa_check",
					"revocation_check true",
					"service start BackupExecAgentAccelerator",
				),
			),
		}, {
			// At its level, the server plans nothing.
			Config: providerConfig(sim, "") + spAndRollup,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectEmptyPlan(),
			}},
		}},
	})
}

// A media path that comes from another resource is known only at apply: the plan shows the
// steps as known after apply instead of refusing "media_path is not set", and the apply
// plans and runs them then.
func TestAccServicePackWithInputKnownAtApply(t *testing.T) {
	sim := startSimulatorWith(t, rtmFleet(), fastServicing)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: providerConfig(sim, "") + `
resource "terraform_data" "media" {
  input = "D:\\SP3"
}

resource "exchange_service_pack" "ex07" {
  server                 = "EX07"
  address                = "127.0.51.1"
  service_pack           = 3
  media_path             = terraform_data.media.output
  um_language_pack_path  = "D:\\UM-SP3"
  remove_interim_updates = ["KB300001"]
  backup {
    max_database_age     = "24h"
    max_system_state_age = "168h"
    domain_controller_backup_time = "` + evidenceTime + `"
  }
}
`,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectUnknownValue("exchange_service_pack.ex07", tfjsonpath.New("planned_steps")),
			}},
			Check: resource.TestCheckResourceAttr("exchange_service_pack.ex07", "live_service_pack", "3"),
		}},
	})
}
