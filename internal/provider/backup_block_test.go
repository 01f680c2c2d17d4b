package provider

import (
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// A backup block with neither max_database_age nor waiver_reason is refused at plan,
// naming both, whichever resource has it; one with only max_system_state_age too.
func TestAccBackupBlockNeedsAnAgeOrAWaiver(t *testing.T) {
	sim := startSimulatorWith(t, refusalFleet(), fastServicing)
	refused := `(?s)backup\.max_database_age.*backup\.waiver_reason|backup\.waiver_reason.*backup\.max_database_age`
	step := func(body string) resource.TestStep {
		return resource.TestStep{Config: providerConfig(sim, "") + body, PlanOnly: true, ExpectError: regexp.MustCompile(refused)}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			step(`
resource "exchange_service_pack" "x" {
  server       = "SP1SRV"
  address      = "127.0.52.2"
  service_pack = 3
  media_path   = "D:\\SP"
  backup {
    max_system_state_age          = "168h"
    domain_controller_backup_time = "` + evidenceTime + `"
  }
}`),
			step(`
resource "exchange_update_rollup" "x" {
  server       = "SP3SRV"
  address      = "127.0.52.1"
  rollup       = "latest"
  package_path = "D:\\RU.msp"
  backup {}
}`),
		},
	})
	onlyReads(t, sim)
}
