package provider

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/window"
)

func weekly(t *testing.T) *window.Window {
	t.Helper()
	w, err := window.Weekly([]string{"Sat"}, "22:00", 4*time.Hour, "Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	return &w
}

var downtimeSteps = []exchange.Step{
	{Kind: exchange.VerifyBackups{}, Server: "HUB5"},
	{Kind: exchange.Reboot{When: exchange.RebootAlways}, Server: "HUB5", Downtime: true, Reboot: true},
}

// The plan names the window; outside it, it warns that an apply now would do nothing.
func TestScheduledWindowWarnsOutside(t *testing.T) {
	d := &providerData{window: weekly(t), clock: at("2026-12-05T12:00:00+01:00")}
	var diags diag.Diagnostics
	v := d.scheduledWindow(context.Background(), nil, types.ObjectNull(scheduledType.AttrTypes), len(downtimeSteps), firstDowntime(downtimeSteps), &diags)
	if got := v.Attributes()["description"].(types.String).ValueString(); got != "Sat 2026-12-05 22:00–02:00 Europe/Rome" {
		t.Errorf("description = %q", got)
	}
	if diags.WarningsCount() != 1 || !strings.Contains(diags.Warnings()[0].Summary(), "The downtime steps wait for the maintenance window Sat 2026-12-05 22:00–02:00 Europe/Rome") ||
		!strings.Contains(diags.Warnings()[0].Detail(), "Server HUB5. It is") ||
		!strings.Contains(diags.Warnings()[0].Detail(), "an apply now would stop before the first downtime step, with nothing done") {
		t.Errorf("want one warning naming the window; got %v", diags)
	}

	// Inside the window: the open occurrence, no warning.
	d.clock = at("2026-12-06T01:00:00+01:00")
	diags = nil
	v = d.scheduledWindow(context.Background(), nil, types.ObjectNull(scheduledType.AttrTypes), len(downtimeSteps), firstDowntime(downtimeSteps), &diags)
	if got := v.Attributes()["end"].(types.String).ValueString(); got != "2026-12-06T02:00:00+01:00" || diags.WarningsCount() != 0 {
		t.Errorf("inside: end %q, diags %v", got, diags)
	}
}

// No downtime step, no window: null. An explicit window whose intervals have all ended is
// refused at plan time.
func TestScheduledWindowNullAndEnded(t *testing.T) {
	d := &providerData{window: weekly(t), clock: at("2026-12-05T12:00:00+01:00")}
	var diags diag.Diagnostics
	if v := d.scheduledWindow(context.Background(), nil, types.ObjectNull(scheduledType.AttrTypes), 1, "", &diags); !v.IsNull() || diags.HasError() {
		t.Errorf("without downtime steps: %v %v", v, diags)
	}
	d.window = nil
	if v := d.scheduledWindow(context.Background(), nil, types.ObjectNull(scheduledType.AttrTypes), 2, "HUB5", &diags); !v.IsNull() || diags.HasError() {
		t.Errorf("without a window: %v %v", v, diags)
	}
	past := &windowModel{Days: types.ListNull(types.StringType), Intervals: []intervalModel{{
		Start: types.StringValue("2026-01-01T00:00:00Z"), End: types.StringValue("2026-01-01T04:00:00Z")}}}
	d.scheduledWindow(context.Background(), past, types.ObjectNull(scheduledType.AttrTypes), 2, "HUB5", &diags)
	if !diags.HasError() || !strings.Contains(diags.Errors()[0].Detail(), "Every interval of maintenance_window has ended") {
		t.Errorf("an ended window must be refused: %v", diags)
	}
}

// A resource created with nothing to do has no prior state: its scheduled_window is a typed
// null, not the zero types.Object that Terraform refuses as "Value Conversion Error" (found by
// the soak: an organisation upgrade planned again after its state was lost).
func TestScheduledWindowWithoutStateIsTypedNull(t *testing.T) {
	d := &providerData{window: weekly(t), clock: at("2026-12-05T12:00:00+01:00")}
	var diags diag.Diagnostics
	v := d.scheduledWindow(context.Background(), nil, types.Object{}, 0, "", &diags)
	if !v.IsNull() || !v.Type(context.Background()).Equal(types.ObjectType{AttrTypes: scheduledType.AttrTypes}) {
		t.Errorf("no steps, no state: got %#v, want a null of the scheduled_window type", v)
	}
}

// With plan_timestamp the window is the one open or next at the plan's time, whatever the
// clock: the apply of a saved plan a week later schedules the same one, warns that it has
// ended, and refuseEndedWindow refuses it when the steps have a downtime step. A plan with
// no steps keeps the last apply's window, which an apply must not refuse.
func TestScheduledWindowFromPlanTime(t *testing.T) {
	d := &providerData{window: weekly(t), clock: at("2026-12-12T23:00:00+01:00"), planTime: at("2026-12-05T12:00:00+01:00")()}
	var diags diag.Diagnostics
	v := d.scheduledWindow(context.Background(), nil, types.ObjectNull(scheduledType.AttrTypes), len(downtimeSteps), firstDowntime(downtimeSteps), &diags)
	if got := v.Attributes()["description"].(types.String).ValueString(); got != "Sat 2026-12-05 22:00–02:00 Europe/Rome" {
		t.Errorf("description = %q, want the window after the plan's time", got)
	}
	if diags.WarningsCount() != 1 || !strings.Contains(diags.Warnings()[0].Summary(), "This plan was made for the maintenance window Sat 2026-12-05 22:00–02:00 Europe/Rome, which has ended") ||
		!strings.HasPrefix(diags.Warnings()[0].Detail(), "Server HUB5. ") {
		t.Errorf("want one warning that the plan's window has ended; got %v", diags)
	}
	ctx := d.withWindow(context.Background(), nil, &v, &diags)
	if d.refuseEndedWindow(ctx, "Server HUB5", false, &diags) || diags.HasError() {
		t.Errorf("no downtime step to run: nothing to refuse; got %v", diags)
	}
	if !d.refuseEndedWindow(ctx, "Server HUB5", true, &diags) || !strings.Contains(diags.Errors()[0].Detail(),
		"That window ended at 2026-12-06T01:00:00Z (it is 2026-12-12T22:00:00Z), so nothing was done. Run terraform plan again") {
		t.Errorf("want the apply refused; got %v", diags)
	}

	// Inside the plan's window the apply goes on.
	d.clock = at("2026-12-05T23:00:00+01:00")
	diags = nil
	v = d.scheduledWindow(context.Background(), nil, types.ObjectNull(scheduledType.AttrTypes), len(downtimeSteps), firstDowntime(downtimeSteps), &diags)
	if d.refuseEndedWindow(d.withWindow(context.Background(), nil, &v, &diags), "Server HUB5", true, &diags) || diags.HasError() || diags.WarningsCount() != 0 {
		t.Errorf("inside the plan's window: %v", diags)
	}
}
