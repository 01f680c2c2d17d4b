package provider

import (
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

func interimUpdateConfig(present bool) string {
	return fmt.Sprintf(`
resource "exchange_interim_update" "iu" {
  server       = "HUB5"
  address      = "127.0.56.1"
  kb           = "KB555001"
  present      = %v
  package_path = "D:\\KB555001.msp"
  backup {
    max_system_state_age = "168h"
    domain_controller_backup_time = "`+evidenceTime+`"
    waiver_reason        = "a Hub Transport server holds no mailbox databases"
  }
}
`, present)
}

// An interim update installed, imported as SERVER/KB, and removed again with present =
// false: each change planned as steps and done by one installer run.
func TestAccInterimUpdateLifecycle(t *testing.T) {
	t.Parallel() // its servers' addresses are no other parallel test's
	fleet := fmt.Sprintf(`{%s,
  "packages": {"D:\\KB555001.msp": {"kind": "interim_update", "service_pack": 3, "update_rollup": 10, "kb": "KB555001"}},
  "servers": [
    {"name": "HUB5", "address": "127.0.56.1", "product": "2007", "build": "8.3.298.3", "roles": ["HubTransport"],
     "last_system_state_backup": %q, "third_party_services": []}
  ],
  "clusters": []
}`, credentialsJSON(), hoursAgo(1))
	sim := startSimulatorWith(t, fleet, fastServicing)
	installed := func() bool {
		for _, u := range sim.Host("HUB5").Facts().InterimUpdates {
			if u.KB == "KB555001" {
				return true
			}
		}
		return false
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: providerConfig(sim, "") + interimUpdateConfig(true),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue("exchange_interim_update.iu", tfjsonpath.New("planned_steps"), actions(
						"verify_backups", "install_interim_update", "reboot", "start_exchange_services")),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("exchange_interim_update.iu", "installed", "true"),
					resource.TestCheckResourceAttr("exchange_interim_update.iu", "id", "HUB5/KB555001"),
					func(*terraform.State) error {
						if !installed() {
							return fmt.Errorf("KB555001 is not installed on the server")
						}
						return nil
					},
				),
			},
			{
				ResourceName:            "exchange_interim_update.iu",
				ImportState:             true,
				ImportStateId:           "HUB5@127.0.56.1/KB555001",
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"package_path", "backup", "planned_steps", "warnings", "timeouts"},
				Config:                  providerConfig(sim, "") + interimUpdateConfig(true),
			},
			{
				Config: providerConfig(sim, "") + interimUpdateConfig(false),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue("exchange_interim_update.iu",
						tfjsonpath.New("planned_steps").AtSliceIndex(1).AtMapKey("action"), knownvalue.StringExact("remove_interim_update")),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					func(*terraform.State) error {
						if installed() {
							return fmt.Errorf("KB555001 is still installed after present = false")
						}
						return nil
					},
					testCheckJournalCount(serverJournal(sim, "HUB5"), "installer started", 2, "installer runs (one install, one removal)"),
				),
			},
		},
	})
}
