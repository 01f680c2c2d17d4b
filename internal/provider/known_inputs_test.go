package provider

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// An input known only at apply, anywhere in the configuration (here inside the backup
// block, and revocation_check), defers the steps: the plan shows them as known after apply
// instead of planning with an empty waiver ("backups are not checked") and then refusing at
// apply, and the apply plans and runs them once the value is known.
func TestAccInputKnownAtApplyDefersTheSteps(t *testing.T) {
	for name, attrs := range map[string]string{
		"waiver_reason": `
  backup {
    waiver_reason = terraform_data.later.output
  }`,
		"revocation_check": `
  revocation_check = terraform_data.later.output == "" ? "never" : "auto"
  backup {
    waiver_reason = "a Client Access server holds no databases"
  }`,
	} {
		t.Run(name, func(t *testing.T) {
			sim := startSimulatorWith(t, rollupFleet(), fastServicing)
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviders,
				Steps: []resource.TestStep{{
					Config: providerConfig(sim, "") + `
resource "terraform_data" "later" {
  input = "change CHG-4711: Client Access server, no databases"
}

resource "exchange_update_rollup" "cas3" {
  server       = "CAS3"
  address      = "127.0.53.1"
  rollup       = "10"
  package_path = "D:\\RU10.msp"` + attrs + `
}
`,
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectUnknownValue("exchange_update_rollup.cas3", tfjsonpath.New("planned_steps")),
					}},
					Check: resource.TestCheckResourceAttr("exchange_update_rollup.cas3", "live_rollup", "10"),
				}},
			})
		})
	}
}
