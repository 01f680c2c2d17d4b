package provider

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/simulator"
)

// beforeApply is a plan check that changes the simulator between `terraform plan -out` and
// `terraform apply PLANFILE` (the testing framework applies the saved plan it checked): what
// an administrator does after the plan was reviewed and before the window.
type beforeApply func()

func (f beforeApply) CheckPlan(context.Context, plancheck.CheckPlanRequest, *plancheck.CheckPlanResponse) {
	f()
}

// A cluster node changed between the saved plan and its apply: the apply refuses with
// "Cluster CMS1 changed since the plan" and touches no server, not with Terraform's
// "Provider produced inconsistent final plan".
func TestAccClusterSavedPlanOfChangedNodeIsRefused(t *testing.T) {
	sim := startSimulatorWith(t, clusterFleet(t), simulator.Options{InstallDuration: 300 * time.Millisecond, RebootDuration: 200 * time.Millisecond})
	heldScenario(t, "a saved plan applied after the server changed", sim)
	// SP3 taken off MBX1B by hand (a restore to SP1).
	testSavedPlanOfChangedServer(t, sim, providerConfig(sim, "")+cms1SP3, "exchange_cluster_upgrade.cms1", "MBX1B", "8.1.393.1",
		saying("Cluster CMS1 changed since the plan"))
}

// A server of an organisation changed between the saved plan and its apply: the apply
// refuses with "The organisation (server HUB1) changed since the plan", listing the steps
// reviewed and now, and only reads the servers; not with Terraform's "Provider produced
// inconsistent final plan".
func TestAccOrganizationSavedPlanOfChangedServerIsRefused(t *testing.T) {
	sim := startSimulatorWith(t, rollupOrgFleet(), simulator.Options{InstallDuration: 200 * time.Millisecond, RebootDuration: 200 * time.Millisecond})
	heldScenario(t, "a saved plan applied after the server changed", sim)
	// Update Rollup 10 uninstalled from HUB1 by hand.
	config := providerConfig(sim, `addresses = { CAS1 = "127.0.64.1", HUB1 = "127.0.64.2" }`) + rollupOrgConfig
	testSavedPlanOfChangedServer(t, sim, config, "exchange_organization_upgrade.org", "HUB1", "8.3.213.1",
		saying("The organisation (server HUB1) changed since the plan", "Reviewed:",
			"1. wave 1, HUB1: check on the server", "install Update Rollup 10", "Now: (nothing to do)"))
}

// An update rollup's server changed between the saved plan and its apply: the apply
// refuses with "Server HUB5 changed since the plan" and only reads the server.
func TestAccSavedPlanOfChangedServerIsRefused(t *testing.T) {
	sim := startSimulatorWith(t, windowFleet(), fastServicing)
	heldScenario(t, "a saved plan applied after the server changed", sim)
	// Update Rollup 23 removed by hand. Kept on destroy: the test's destroy at the end would
	// uninstall the rollup put back.
	testSavedPlanOfChangedServer(t, sim, providerConfig(sim, "")+windowRollup("keep_on_destroy = true"), "exchange_update_rollup.hub5", "HUB5", "8.3.83.6",
		saying("Server HUB5 changed since the plan", "Reviewed:", "install Update Rollup 23", "Now: (nothing to do)"))
}

// testSavedPlanOfChangedServer applies config, then sets server back to the build restored
// by hand, so that the plan of resource addr (an update) services it again; between that
// saved plan and its apply, someone brings server to the build the first apply left by
// hand, so the reviewed steps are not what would run. The apply must fail with want and
// only read the servers.
func testSavedPlanOfChangedServer(t *testing.T, sim *simulator.Simulator, config, addr, server, restored string, want *regexp.Regexp) {
	t.Helper()
	var serviced string
	var planned int
	resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: testProviders, Steps: []resource.TestStep{
		{Config: config, Check: func(*terraform.State) error { serviced = sim.Host(server).Facts().Build; return nil }},
		{
			PreConfig: func() { sim.Host(server).SetBuild(exchange.MustParseBuild(restored)) },
			Config:    config,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
				beforeApply(func() {
					sim.Host(server).SetBuild(exchange.MustParseBuild(serviced))
					planned = len(sim.Journal())
				}),
			}},
			ExpectError: want,
		},
	}})
	onlyReadsSince(t, sim, planned)
}

// onlyReadsSince fails t unless the simulator's journal after its first planned entries
// holds only reads (probe, discover): a refused apply may change no server. planned 0 means
// the plan check that marks the journal never ran.
func onlyReadsSince(t *testing.T, sim *simulator.Simulator, planned int) {
	t.Helper()
	if planned == 0 {
		t.Fatal("the plan check that changes the server never ran")
	}
	for _, e := range sim.Journal()[planned:] {
		if e.Operation != "probe" && e.Operation != "discover" {
			t.Errorf("the refused apply ran %s %v on %s: it may only read", e.Operation, e.Params["Action"], e.Server)
		}
	}
}

// A resource the saved plan creates has no state, so the apply's own plan gets no private
// data (Terraform's NodeAbstractResourceInstance.plan sends the prior state's, and a create
// has none): planned from a changed server, it differs from the saved plan and Terraform
// stops with "Provider produced inconsistent final plan" before it asks the provider to
// apply (NodeApplyableResourceInstance.checkPlannedChange). The provider cannot turn that
// into its own refusal; what it must ensure is that nothing but reads ran on any server.
func TestAccSavedPlanCreateOfChangedServerRunsNothing(t *testing.T) {
	for name, c := range map[string]struct {
		fleet  func(*testing.T) string
		config func(*simulator.Simulator) string
		change func(*simulator.Simulator)
	}{
		"update rollup": {
			fleet:  func(*testing.T) string { return windowFleet() },
			config: func(sim *simulator.Simulator) string { return providerConfig(sim, "") + windowRollup("") },
			// Update Rollup 23 installed by hand after the plan.
			change: func(sim *simulator.Simulator) { sim.Host("HUB5").SetBuild(exchange.MustParseBuild("8.3.517.0")) },
		},
		"cluster upgrade": {
			fleet:  clusterFleet,
			config: func(sim *simulator.Simulator) string { return providerConfig(sim, "") + cms1SP3 },
			// The passive node upgraded to SP3 by hand after the plan.
			change: func(sim *simulator.Simulator) { sim.Host("MBX1B").SetBuild(exchange.MustParseBuild("8.3.83.6")) },
		},
		"organization upgrade": {
			fleet: func(*testing.T) string { return rollupOrgFleet() },
			config: func(sim *simulator.Simulator) string {
				return providerConfig(sim, `addresses = { CAS1 = "127.0.64.1", HUB1 = "127.0.64.2" }`) + rollupOrgConfig
			},
			// Update Rollup 10 installed on HUB1 by hand after the plan.
			change: func(sim *simulator.Simulator) { sim.Host("HUB1").SetBuild(exchange.MustParseBuild("8.3.298.3")) },
		},
	} {
		t.Run(name, func(t *testing.T) {
			sim := startSimulatorWith(t, c.fleet(t), fastServicing)
			heldScenario(t, "a saved plan applied after the server changed", sim)
			var planned int
			resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: testProviders, Steps: []resource.TestStep{{
				Config: c.config(sim),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{beforeApply(func() {
					c.change(sim)
					planned = len(sim.Journal())
				})}},
				ExpectError: saying("Provider produced inconsistent final plan", "planned_steps"),
			}}})
			onlyReadsSince(t, sim, planned)
		})
	}
}
