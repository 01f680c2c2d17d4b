package provider

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// Procedures of issue 9 (items 5, 7, 8, 9) against a simulator that answers as a real server.

// proceduresFleet: a 2007 SP3 RU5 hub server running a backup agent the probe's list knows
// and a virus scanner it does not (seed 004 stops BackupExec and ScanMail).
func proceduresFleet() string {
	return fmt.Sprintf(`{%s,
  "packages": {"D:\\RU10.msp": {"kind": "update_rollup", "service_pack": 3, "update_rollup": 10}},
  "servers": [
    {"name": "HUB71", "address": "127.0.171.1", "product": "2007", "build": "8.3.213.1", "roles": ["HubTransport"],
     "third_party_services": ["BackupExecAgentAccelerator", "ScanMail_Master"],
     "last_system_state_backup": %q}
  ],
  "clusters": []
}`, credentialsJSON(), hoursAgo(2))
}

func hubRollup(stop string) string {
	return fmt.Sprintf(`
resource "exchange_update_rollup" "hub71" {
  server        = "HUB71"
  address       = "127.0.171.1"
  rollup        = "10"
  package_path  = "D:\\RU10.msp"
  stop_services = %s
  backup {
    max_system_state_age = "168h"
    waiver_reason        = "hub server: no databases"
  }
}
`, stop)
}

// A service the user names in stop_services is stopped and started again when it exists on
// the server, whether or not the probe's list of third-party services knows it; one that
// does not exist is refused at plan time, by name.
func TestAccStopServicesNamesAnyService(t *testing.T) {
	sim := startSimulatorWith(t, proceduresFleet(), fastServicing)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config:      providerConfig(sim, "") + hubRollup(`["ScanMail_Mastr"]`),
			ExpectError: regexp.MustCompile(`stop_services names "ScanMail_Mastr", which is not a service on the\s+server`),
		}, {
			Config: providerConfig(sim, "") + hubRollup(`["ScanMail_Master", "BackupExecAgentAccelerator"]`),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectKnownValue("exchange_update_rollup.hub71", tfjsonpath.New("planned_steps").AtSliceIndex(1).AtMapKey("params"),
					knownvalue.MapPartial(map[string]knownvalue.Check{"service": knownvalue.StringExact("ScanMail_Master")})),
			}},
			Check: func(*terraform.State) error {
				return inOrder(journal(sim, "HUB71"),
					"service stop ScanMail_Master",
					"service stop BackupExecAgentAccelerator",
					`installer started C:\WINDOWS\System32\msiexec.exe /update D:\RU10.msp`,
					"service start BackupExecAgentAccelerator",
					"service start ScanMail_Master",
				)
			},
		}},
	})
}
