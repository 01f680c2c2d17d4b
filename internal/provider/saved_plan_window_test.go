package provider

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/window"
)

// laterWindows are two explicit windows around the wall clock, which Terraform's
// plantimestamp() reads: the first open now, the second a day later. The provider's clock
// (the test's) moves into the second between the plan and the apply of a saved plan.
type laterWindows struct {
	first, second window.Interval
}

func newLaterWindows() laterWindows {
	now := time.Now().UTC().Truncate(time.Second)
	return laterWindows{
		first:  window.Interval{Start: now.Add(-time.Hour), End: now.Add(time.Hour)},
		second: window.Interval{Start: now.Add(24 * time.Hour), End: now.Add(25 * time.Hour)},
	}
}

func (l laterWindows) block() string {
	f := func(t time.Time) string { return t.Format(time.RFC3339) }
	return fmt.Sprintf(`
  maintenance_window {
    intervals = [{ start = %q, end = %q }, { start = %q, end = %q }]
  }
`, f(l.first.Start), f(l.first.End), f(l.second.Start), f(l.second.End))
}

// inSecond is the provider's clock half an hour into the second window.
func (l laterWindows) inSecond() time.Time { return l.second.Start.Add(30 * time.Minute) }

// description is how the plan names the first window (window.Describe of an explicit
// interval: in its start's offset, UTC here).
func (l laterWindows) description() string {
	w, err := window.Explicit([]window.Interval{l.first})
	if err != nil {
		panic(err)
	}
	return w.Describe(l.first)
}

// refusal is the error of a saved plan of HUB5 applied in the second window.
func (l laterWindows) refusal() []string {
	return []string{"Server HUB5: this plan was made for the maintenance window " + l.description(),
		"That window ended at " + l.first.End.Format(time.RFC3339), "so nothing was done. Run terraform plan again"}
}

// planTimestamp is the provider setting that anchors each plan's window to the plan's time.
const planTimestamp = "plan_timestamp = plantimestamp()"

// A saved plan applied in a later maintenance window than the one it was made for, with
// plan_timestamp = plantimestamp(): Terraform gives the apply the plan's time again, so its
// plan schedules the same window, and the provider refuses before anything runs, naming
// that window, instead of Terraform's "Provider produced inconsistent final plan". Both
// for a resource the saved plan creates and for one it updates after a refresh.
func TestAccSavedPlanAppliedInALaterWindowIsRefused(t *testing.T) {
	sim := startSimulatorWith(t, windowFleet(), fastServicing)
	heldScenario(t, "a saved plan applied in a later maintenance window", sim)
	l := newLaterWindows()
	clock := &testClock{fn: time.Now}
	config := providerConfig(sim, planTimestamp) + windowRollup(l.block())
	scheduled := plancheck.ExpectKnownValue("exchange_update_rollup.hub5", tfjsonpath.New("scheduled_window"), knownvalue.ObjectExact(map[string]knownvalue.Check{
		"start":       knownvalue.StringExact(l.first.Start.Format(time.RFC3339)),
		"end":         knownvalue.StringExact(l.first.End.Format(time.RFC3339)),
		"description": knownvalue.StringExact(l.description()),
	}))
	var planned []int
	toSecondWindow := beforeApply(func() {
		clock.set(l.inSecond)
		planned = append(planned, len(sim.Journal()))
	})
	resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: providersWithClock(clock), Steps: []resource.TestStep{
		{
			// Created by the saved plan: no state, the plan's time is in the configuration.
			Config:           config,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{scheduled, toSecondWindow}},
			ExpectError:      saying(l.refusal()...),
		},
		{
			PreConfig: func() {
				onlyReadsSince(t, sim, planned[0])
				clock.set(time.Now)
			},
			Config: config,
			Check:  resource.TestCheckResourceAttr("exchange_update_rollup.hub5", "live_rollup", "23"),
		},
		{
			// Update Rollup 23 removed by hand: the refreshed plan installs it again, and is
			// applied a day later.
			PreConfig: func() { sim.Host("HUB5").SetBuild(exchange.MustParseBuild("8.3.83.6")) },
			Config:    config,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction("exchange_update_rollup.hub5", plancheck.ResourceActionUpdate), scheduled, toSecondWindow,
			}},
			ExpectError: saying(l.refusal()...),
		},
	}})
	onlyReadsSince(t, sim, planned[1])
}

// Without plan_timestamp the apply of a saved plan schedules the window open or next at
// its own time: applied in a later window, its plan differs from the saved one and
// Terraform stops with "Provider produced inconsistent final plan" before asking the
// provider to apply anything. What the maintenance window guide tells users to expect.
func TestAccSavedPlanInALaterWindowWithoutPlanTimestamp(t *testing.T) {
	sim := startSimulatorWith(t, windowFleet(), fastServicing)
	heldScenario(t, "a saved plan applied in a later maintenance window", sim)
	l := newLaterWindows()
	clock := &testClock{fn: time.Now}
	var planned int
	resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: providersWithClock(clock), Steps: []resource.TestStep{{
		Config: providerConfig(sim, "") + windowRollup(l.block()),
		ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{beforeApply(func() {
			clock.set(l.inSecond)
			planned = len(sim.Journal())
		})}},
		ExpectError: saying("Provider produced inconsistent final plan", "scheduled_window"),
	}}})
	onlyReadsSince(t, sim, planned)
}
