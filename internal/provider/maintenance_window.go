package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/window"
)

// The maintenance_window block of the servicing resources and of the provider (its default):
// when the apply may start downtime steps (internal/window, enforced by internal/servicing).
// The schema is described once (windowSpec) and built for both schema packages
// (maintenance_window_schema.go).

// windowModel is the maintenance_window block.
type windowModel struct {
	Days      types.List      `tfsdk:"days"`
	Start     types.String    `tfsdk:"start"`
	Duration  types.String    `tfsdk:"duration"`
	TimeZone  types.String    `tfsdk:"time_zone"`
	Intervals []intervalModel `tfsdk:"intervals"`
}

type intervalModel struct {
	Start types.String `tfsdk:"start"`
	End   types.String `tfsdk:"end"`
}

// window reads the block (validated by the schema); nil for no block. A value known only
// at apply is an error: a window decided by the apply could not be reviewed.
func (b *windowModel) window(ctx context.Context, diags *diag.Diagnostics) *window.Window {
	if b == nil {
		return nil
	}
	for _, v := range []attr.Value{b.Days, b.Start, b.Duration, b.TimeZone} {
		if v.IsUnknown() {
			diags.AddAttributeError(path.Root("maintenance_window"), "The maintenance window is not known until apply",
				"Set maintenance_window from values known at plan time (literals or variables), so that the plan can say when its downtime steps run.")
			return nil
		}
	}
	var w window.Window
	var err error
	if len(b.Intervals) > 0 {
		ivs := make([]window.Interval, len(b.Intervals))
		for i, iv := range b.Intervals {
			ivs[i].Start, _ = time.Parse(time.RFC3339, iv.Start.ValueString())
			ivs[i].End, _ = time.Parse(time.RFC3339, iv.End.ValueString())
		}
		w, err = window.Explicit(ivs)
	} else {
		var days []string
		diags.Append(b.Days.ElementsAs(ctx, &days, false)...)
		length, _ := time.ParseDuration(b.Duration.ValueString())
		w, err = window.Weekly(days, b.Start.ValueString(), length, b.TimeZone.ValueString())
	}
	if err != nil {
		diags.AddAttributeError(path.Root("maintenance_window"), "Invalid maintenance window", err.Error())
		return nil
	}
	return &w
}

// effectiveWindow is the resource's maintenance_window, else the provider's; nil for none.
func (d *providerData) effectiveWindow(ctx context.Context, b *windowModel, diags *diag.Diagnostics) *window.Window {
	if b != nil {
		return b.window(ctx, diags)
	}
	return d.window
}

// now is the provider's clock: the wall clock, or a test's (newWithClock).
func (d *providerData) now() time.Time {
	if d.clock != nil {
		return d.clock()
	}
	return time.Now()
}

type windowKey struct{}

type scheduledKey struct{}

// withWindow starts a resource's apply: it carries the resource's window to
// executorOptions (every apply path goes through it) and the plan's scheduled_window to
// refuseEndedWindow, and makes the scheduled_window the state gets known (knownScheduled),
// so that each resource needs one line for all three.
func (d *providerData) withWindow(ctx context.Context, b *windowModel, scheduled *types.Object, diags *diag.Diagnostics) context.Context {
	if scheduled != nil {
		*scheduled = knownScheduled(*scheduled)
		ctx = context.WithValue(ctx, scheduledKey{}, *scheduled)
	}
	return context.WithValue(d.withClock(ctx), windowKey{}, d.effectiveWindow(ctx, b, diags))
}

// refuseEndedWindow refuses, before anything runs, the apply of a plan whose downtime
// steps were scheduled for a maintenance window that has ended: a saved plan applied in a
// later window. That is only seen with plan_timestamp: the apply of a saved plan plans
// again first, and without the plan's time it schedules the window open or next now.
// subject names what is applied ("Server EX01"); downtime says whether the steps the apply
// would run include a downtime step (the scheduled_window of a plan without steps is the
// last apply's). It reports whether it refused.
func (d *providerData) refuseEndedWindow(ctx context.Context, subject string, downtime bool, diags *diag.Diagnostics) bool {
	scheduled, _ := ctx.Value(scheduledKey{}).(types.Object)
	if !downtime || scheduled.IsNull() || scheduled.IsUnknown() {
		return false
	}
	attr := func(name string) string {
		s, _ := scheduled.Attributes()[name].(types.String)
		return s.ValueString()
	}
	end, err := time.Parse(time.RFC3339, attr("end"))
	now := d.now()
	if err != nil || now.Before(end) {
		return false
	}
	diags.AddAttributeError(path.Root("scheduled_window"), subject+": this plan was made for the maintenance window "+attr("description"),
		fmt.Sprintf("That window ended at %s (it is %s), so nothing was done. Run terraform plan again: the new plan is for the next "+
			"window; review it and apply it there.", end.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339)))
	return true
}

func windowOf(ctx context.Context) *window.Window {
	w, _ := ctx.Value(windowKey{}).(*window.Window)
	return w
}

// scheduledType is scheduled_window: the occurrence the plan's downtime steps are to run in.
var scheduledType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"start": types.StringType, "end": types.StringType, "description": types.StringType,
}}

// scheduledWindow is the plan's scheduled_window: with downtime steps and a window, the
// occurrence open at the plan's time or the next one (a plan outside the window also warns
// that an apply now would not start them); without steps, the state's value (as
// planned_steps); otherwise null. A window with no occurrence left is an error at plan
// time. downtime is the server of the plan's first downtime step ("" for none:
// firstDowntime). The plan's time is plan_timestamp (plantimestamp(), which Terraform gives
// the apply of a saved plan again, so that its plan schedules the same window), else now.
func (d *providerData) scheduledWindow(ctx context.Context, b *windowModel, state types.Object, steps int, downtime string, diags *diag.Diagnostics) types.Object {
	if steps == 0 {
		// No prior state (a create) leaves state as the zero types.Object, which has no type.
		if state.IsUnknown() || state.IsNull() {
			return types.ObjectNull(scheduledType.AttrTypes)
		}
		return state
	}
	w := d.effectiveWindow(ctx, b, diags)
	if w == nil || downtime == "" {
		return types.ObjectNull(scheduledType.AttrTypes)
	}
	now := d.now()
	planned := now
	if !d.planTime.IsZero() {
		planned = d.planTime
	}
	iv, ok := w.Next(planned)
	if !ok {
		diags.AddAttributeError(path.Root("maintenance_window"), "Server "+downtime+": no maintenance window is left",
			fmt.Sprintf("Every interval of maintenance_window has ended (it is %s), so the planned downtime steps could never start. Add the next window.",
				planned.UTC().Format(time.RFC3339)))
		return types.ObjectNull(scheduledType.AttrTypes)
	}
	desc := w.Describe(iv)
	// The server in the detail: the same window's warning of every resource is then one
	// summary, which Terraform shows once (see addPlanWarnings).
	switch {
	case !now.Before(iv.End):
		// Only where the plan's time is not now: a saved plan applied after its window.
		diags.AddWarning("This plan was made for the maintenance window "+desc+", which has ended",
			"Server "+downtime+". The plan's time (plan_timestamp) is "+planned.UTC().Format(time.RFC3339)+" and it is "+now.UTC().Format(time.RFC3339)+
				": an apply of this plan is refused before anything runs. Run terraform plan again.")
	case iv.Start.After(now):
		diags.AddWarning("The downtime steps wait for the maintenance window "+desc,
			"Server "+downtime+". It is "+now.UTC().Format(time.RFC3339)+", outside the maintenance window: an apply now would stop "+
				"before the first downtime step, with nothing done. Apply inside the window.")
	}
	v, dg := types.ObjectValue(scheduledType.AttrTypes, map[string]attr.Value{
		"start":       types.StringValue(iv.Start.Format(time.RFC3339)),
		"end":         types.StringValue(iv.End.Format(time.RFC3339)),
		"description": types.StringValue(desc),
	})
	diags.Append(dg...)
	return v
}

// firstDowntime is the server of the first downtime step; "" when there is none.
func firstDowntime(steps []exchange.Step) string {
	for _, s := range steps {
		if s.Downtime {
			return s.Server
		}
	}
	return ""
}

// orgFirstDowntime is firstDowntime of an organisation upgrade's steps.
func orgFirstDowntime(steps []orgStepModel) string {
	for _, s := range steps {
		if s.Downtime {
			return s.Server
		}
	}
	return ""
}

// knownScheduled is scheduled_window for the state after an apply: the plan's value, or null
// where the plan could not know it (its steps were known only at apply; such an apply runs
// nothing: the steps must be reviewed first).
func knownScheduled(v types.Object) types.Object {
	if v.IsUnknown() {
		return types.ObjectNull(scheduledType.AttrTypes)
	}
	return v
}
