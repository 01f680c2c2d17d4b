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
	if planned == 0 {
		t.Fatal("the plan check that changes MBX1B never ran")
	}
	for _, e := range sim.Journal()[planned:] {
		if e.Operation != "probe" && e.Operation != "discover" {
			t.Errorf("the refused apply ran %s %v on %s: it may only read", e.Operation, e.Params["Action"], e.Server)
		}
	}
}
