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
	config := providerConfig(sim, "") + cms1SP3
	sp3 := ""
	var planned int
	resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: testProviders, Steps: []resource.TestStep{
		{Config: config, Check: func(*terraform.State) error { sp3 = sim.Host("MBX1B").Facts().Build; return nil }},
		{
			// SP3 taken off MBX1B by hand (a restore): the plan upgrades it again; before the
			// window someone upgraded it by hand, so the reviewed steps are not what would run.
			PreConfig: func() { sim.Host("MBX1B").SetBuild(exchange.MustParseBuild("8.1.393.1")) },
			Config:    config,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction("exchange_cluster_upgrade.cms1", plancheck.ResourceActionUpdate),
				beforeApply(func() {
					sim.Host("MBX1B").SetBuild(exchange.MustParseBuild(sp3))
					planned = len(sim.Journal())
				}),
			}},
			ExpectError: regexp.MustCompile(`Cluster CMS1 changed since the plan`),
		},
	}})
	onlyReadsSince(t, sim, planned)
}

// A server of an organisation changed between the saved plan and its apply: the apply
// refuses with "The organisation (server HUB1) changed since the plan", listing the steps
// reviewed and now, and only reads the servers; not with Terraform's "Provider produced
// inconsistent final plan".
func TestAccOrganizationSavedPlanOfChangedServerIsRefused(t *testing.T) {
	sim := startSimulatorWith(t, rollupOrgFleet(), simulator.Options{InstallDuration: 200 * time.Millisecond, RebootDuration: 200 * time.Millisecond})
	config := providerConfig(sim, `addresses = { CAS1 = "127.0.64.1", HUB1 = "127.0.64.2" }`) + rollupOrgConfig
	var planned int
	resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: testProviders, Steps: []resource.TestStep{
		{Config: config},
		{
			// Update Rollup 10 uninstalled from HUB1 by hand: the plan installs it again;
			// before the window someone put it back by hand, so the apply would run nothing.
			PreConfig: func() { sim.Host("HUB1").SetBuild(exchange.MustParseBuild("8.3.213.1")) },
			Config:    config,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction("exchange_organization_upgrade.org", plancheck.ResourceActionUpdate),
				beforeApply(func() {
					sim.Host("HUB1").SetBuild(exchange.MustParseBuild("8.3.298.3"))
					planned = len(sim.Journal())
				}),
			}},
			ExpectError: saying("The organisation (server HUB1) changed since the plan", "Reviewed:",
				"1. wave 1, HUB1: check on the server", "install Update Rollup 10", "Now: (nothing to do)"),
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
