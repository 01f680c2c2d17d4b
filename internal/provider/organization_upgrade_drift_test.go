package provider

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/simulator"
	"github.com/buildlevel/terraform-provider-exchange/internal/simulator/simtest"
)

// Two Exchange 2007 SP3 servers at Update Rollup 5, to be brought to Update Rollup 10.
func rollupOrgFleet() string {
	return fmt.Sprintf(`{%s,
  "packages": {"D:\\RU10.msp": {"kind": "update_rollup", "service_pack": 3, "update_rollup": 10}},
  "servers": [
    {"name": "CAS1", "address": "127.0.64.1", "product": "2007", "build": "8.3.213.1", "roles": ["ClientAccess"],
     "internet_facing": true, "last_system_state_backup": %q},
    {"name": "HUB1", "address": "127.0.64.2", "product": "2007", "build": "8.3.213.1", "roles": ["HubTransport"],
     "last_system_state_backup": %q}
  ],
  "clusters": []
}`, credentialsJSON(), hoursAgo(1), hoursAgo(1))
}

const rollupOrgConfig = `
resource "exchange_organization_upgrade" "org" {
  discover_through = { server = "CAS1" }
  targets = [
    { product = "2007", service_pack = 3, update_rollup = "10", package_path = "D:\\RU10.msp" },
  ]
  backup {
    max_system_state_age = "168h"
    waiver_reason        = "Client Access and Hub Transport servers: no databases"
  }
}
`

// A server changed by hand after the apply is drift: a refresh records its build and that it
// is below the target, the next apply puts it back; an organisation upgrade imported through
// one server plans an update that runs no step.
func TestAccOrganizationUpgradeDriftAndImport(t *testing.T) {
	t.Parallel() // its servers' addresses are no other parallel test's
	sim := startSimulatorWith(t, rollupOrgFleet(), simulator.Options{InstallDuration: 200 * time.Millisecond, RebootDuration: 200 * time.Millisecond})
	provider := providerConfig(sim, `addresses = { CAS1 = "127.0.64.1", HUB1 = "127.0.64.2" }`)
	const org = "exchange_organization_upgrade.org"
	installersBeforeImport := 0
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		// import blocks: Terraform 1.5 (OpenTofu 1.6).
		TerraformVersionChecks: []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_5_0)},
		Steps: []resource.TestStep{
			{
				Config: provider + rollupOrgConfig,
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(org, "live_builds.CAS1", "8.3.298.3"),
					resource.TestCheckResourceAttr(org, "live_builds.HUB1", "8.3.298.3"),
					resource.TestCheckResourceAttr(org, "below_target.#", "0"),
				),
			},
			{
				// Update Rollup 10 uninstalled by hand on HUB1: the refresh records it.
				PreConfig: func() {
					sim.Host("HUB1").SetBuild(exchange.MustParseBuild("8.3.213.1"))
				},
				RefreshState:       true,
				ExpectNonEmptyPlan: true, // the plan after the refresh puts the rollup back
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(org, "live_builds.CAS1", "8.3.298.3"),
					resource.TestCheckResourceAttr(org, "live_builds.HUB1", "8.3.213.1"),
					resource.TestCheckResourceAttr(org, "below_target.#", "1"),
					resource.TestCheckResourceAttr(org, "below_target.0",
						"HUB1: build 8.3.213.1 (Exchange 2007 SP3 Update Rollup 5 (KB2602324)), below its target"),
				),
			},
			{
				// The next plan shows the step that puts it back, and the apply runs it.
				Config: provider + rollupOrgConfig,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(org, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(org, tfjsonpath.New("below_target"), knownvalue.ListExact(nil)),
					plancheck.ExpectUnknownValue(org, tfjsonpath.New("live_builds")),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(org, "live_builds.HUB1", "8.3.298.3"),
					resource.TestCheckResourceAttr(org, "below_target.#", "0"),
					resource.TestMatchResourceAttr(org, "planned_steps.#", regexp.MustCompile(`^[1-9]`)),
					func(*terraform.State) error {
						if n := simtest.InstallerRuns(sim.Journal(), "HUB1", ""); n != 2 {
							return fmt.Errorf("HUB1: %d installers started; want 2 (the apply, then the repair)", n)
						}
						if n := simtest.InstallerRuns(sim.Journal(), "CAS1", ""); n != 1 {
							return fmt.Errorf("CAS1 is at its target and was touched again: %d installers", n)
						}
						return nil
					},
				),
			},
			{
				// Removed from the configuration: destroying it leaves the servers as they are.
				Config: provider,
				Check: func(*terraform.State) error {
					installersBeforeImport = simtest.InstallerRuns(sim.Journal(), "CAS1", "") + simtest.InstallerRuns(sim.Journal(), "HUB1", "")
					return nil
				},
			},
			{
				// Imported through one server: the plan adds the configuration's inputs and
				// plans no step; its apply starts nothing on the servers.
				Config: provider + rollupOrgConfig + `
import {
  to = exchange_organization_upgrade.org
  id = "CAS1"
}
`,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(org, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(org, tfjsonpath.New("planned_steps"), knownvalue.ListExact(nil)),
					plancheck.ExpectKnownValue(org, tfjsonpath.New("live_builds"), knownvalue.MapExact(map[string]knownvalue.Check{
						"CAS1": knownvalue.StringExact("8.3.298.3"), "HUB1": knownvalue.StringExact("8.3.298.3"),
					})),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(org, "id", "CAS1,HUB1"),
					func(*terraform.State) error {
						if n := simtest.InstallerRuns(sim.Journal(), "CAS1", "") + simtest.InstallerRuns(sim.Journal(), "HUB1", ""); n != installersBeforeImport {
							return fmt.Errorf("the import's apply started %d installers", n-installersBeforeImport)
						}
						return nil
					},
				),
			},
			{
				// After that, the configuration plans no change.
				Config:   provider + rollupOrgConfig,
				PlanOnly: true,
			},
		},
	})
}

// A malformed import id is refused with the forms it can take.
func TestAccOrganizationUpgradeImportRefusesBadID(t *testing.T) {
	sim := startSimulatorWith(t, rollupOrgFleet(), simulator.Options{})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config:        providerConfig(sim, "") + rollupOrgConfig,
			ResourceName:  "exchange_organization_upgrade.org",
			ImportState:   true,
			ImportStateId: "CAS1,,HUB1",
			ExpectError:   regexp.MustCompile(`(?s)Invalid import id.*"" is not SERVER\[@ADDRESS\].*e\.g\. CAS01 or\s+MBX01,MBX02@10\.0\.0\.5`),
		}},
	})
}
