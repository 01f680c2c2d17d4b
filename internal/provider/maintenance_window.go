package provider

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
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

// withWindow starts a resource's apply: it carries the resource's window to
// executorOptions (every apply path goes through it) and makes the scheduled_window the
// state gets known (knownScheduled), so that each resource needs one line for both.
func (d *providerData) withWindow(ctx context.Context, b *windowModel, scheduled *types.Object, diags *diag.Diagnostics) context.Context {
	if scheduled != nil {
		*scheduled = knownScheduled(*scheduled)
	}
	return context.WithValue(ctx, windowKey{}, d.effectiveWindow(ctx, b, diags))
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
// occurrence open now or the next one (a plan outside the window also warns that an apply
// now would not start them); without steps, the state's value (as planned_steps); otherwise
// null. A window with no occurrence left is an error at plan time. downtime is the server
// of the plan's first downtime step ("" for none: firstDowntime).
func (d *providerData) scheduledWindow(ctx context.Context, b *windowModel, state types.Object, steps int, downtime string, diags *diag.Diagnostics) types.Object {
	if steps == 0 {
		if state.IsUnknown() {
			return types.ObjectNull(scheduledType.AttrTypes)
		}
		return state
	}
	w := d.effectiveWindow(ctx, b, diags)
	if w == nil || downtime == "" {
		return types.ObjectNull(scheduledType.AttrTypes)
	}
	now := d.now()
	iv, ok := w.Next(now)
	if !ok {
		diags.AddAttributeError(path.Root("maintenance_window"), "Server "+downtime+": no maintenance window is left",
			fmt.Sprintf("Every interval of maintenance_window has ended (it is %s), so the planned downtime steps could never start. Add the next window.",
				now.UTC().Format(time.RFC3339)))
		return types.ObjectNull(scheduledType.AttrTypes)
	}
	desc := w.Describe(iv)
	if iv.Start.After(now) {
		diags.AddWarning("Server "+downtime+": the downtime steps wait for the maintenance window "+desc,
			"It is "+now.UTC().Format(time.RFC3339)+", outside the maintenance window: an apply now would stop before the first downtime step, "+
				"with nothing done. Apply inside the window.")
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

// --- validators of the block's attributes ---

var clockPattern = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)

func dayValidator() validator.String {
	return stringvalidator.OneOfCaseInsensitive("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun",
		"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
}

// windowDurationValidator: a positive Go duration of at most a week.
type windowDurationValidator struct{}

func (windowDurationValidator) Description(context.Context) string {
	return "must be a duration from 1s to 168h (a week), such as 4h or 90m"
}

func (v windowDurationValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (v windowDurationValidator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	d, err := time.ParseDuration(req.ConfigValue.ValueString())
	if err != nil || d <= 0 || d > window.MaxDuration {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid maintenance window duration",
			fmt.Sprintf("%q %s.", req.ConfigValue.ValueString(), v.Description(ctx)))
	}
}

// zoneValidator: an IANA time zone name the embedded zone database knows.
type zoneValidator struct{}

func (zoneValidator) Description(context.Context) string {
	return "must be an IANA time zone name such as Europe/Rome or UTC"
}

func (v zoneValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (zoneValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := window.LoadZone(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid time zone", err.Error())
	}
}

// intervalOrderValidator: an interval ends after it starts.
type intervalOrderValidator struct{}

func (intervalOrderValidator) Description(context.Context) string {
	return "end must be after start"
}

func (v intervalOrderValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (intervalOrderValidator) ValidateObject(_ context.Context, req validator.ObjectRequest, resp *validator.ObjectResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	a := req.ConfigValue.Attributes()
	s, _ := a["start"].(types.String)
	e, _ := a["end"].(types.String)
	if s.IsNull() || s.IsUnknown() || e.IsNull() || e.IsUnknown() {
		return
	}
	start, err1 := time.Parse(time.RFC3339, s.ValueString())
	end, err2 := time.Parse(time.RFC3339, e.ValueString())
	if err1 == nil && err2 == nil && !end.After(start) {
		resp.Diagnostics.AddAttributeError(req.Path.AtName("end"), "Maintenance window interval ends before it starts",
			fmt.Sprintf("end %s is not after start %s: an interval must end after it starts.", e.ValueString(), s.ValueString()))
	}
}

// windowShapeValidator: a maintenance_window block has days (a recurrence) or intervals,
// exactly one. (An attribute-level ExactlyOneOf would also fire on the block's attributes
// when the block is absent.)
type windowShapeValidator struct{}

func (windowShapeValidator) Description(context.Context) string {
	return "exactly one of days (with start, duration and time_zone) or intervals"
}

func (v windowShapeValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (windowShapeValidator) ValidateObject(_ context.Context, req validator.ObjectRequest, resp *validator.ObjectResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	a := req.ConfigValue.Attributes()
	days, intervals := a["days"], a["intervals"]
	if days == nil || intervals == nil || days.IsUnknown() || intervals.IsUnknown() {
		return
	}
	switch {
	case days.IsNull() && intervals.IsNull():
		resp.Diagnostics.AddAttributeError(req.Path, "Maintenance window without days or intervals",
			"Set days, start, duration and time_zone for a weekly window, or intervals for explicit ones.")
	case !days.IsNull() && !intervals.IsNull():
		resp.Diagnostics.AddAttributeError(req.Path, "Maintenance window with both days and intervals",
			"Set either days (with start, duration and time_zone) or intervals, not both.")
	}
}

// rfc3339Validator: an RFC 3339 time with its offset.
func rfc3339Validator() validator.String {
	return stringvalidator.RegexMatches(regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$`),
		"must be an RFC 3339 time with its offset, such as 2026-12-05T22:00:00+01:00")
}

// windowSpec is the block's attributes, described once for both schema packages.
type windowSpec struct {
	desc       string
	list       bool // a list of strings (days)
	intervals  bool // the list of {start, end}
	strings    []validator.String
	lists      []validator.List
	intervalOf map[string][]validator.String
}

func windowSpecs() map[string]windowSpec {
	rel := func(name string) path.Expression { return path.MatchRelative().AtParent().AtName(name) }
	return map[string]windowSpec{
		"days": {list: true,
			desc: "Days of the week the window opens on: `Mon` … `Sun` or the full names, in any case, e.g. `[\"Sat\", \"Sun\"]`. " +
				"With `start`, `duration` and `time_zone`; or use `intervals` instead.",
			lists: []validator.List{listvalidator.SizeAtLeast(1), listvalidator.UniqueValues(),
				listvalidator.ValueStringsAre(dayValidator()),
				listvalidator.AlsoRequires(rel("start"), rel("duration"), rel("time_zone"))}},
		"start": {desc: "Local time the window opens on each of `days`, `HH:MM` (24-hour), e.g. `22:00`.",
			strings: []validator.String{stringvalidator.RegexMatches(clockPattern, "must be a time of day HH:MM (24-hour), such as 22:00"),
				stringvalidator.AlsoRequires(rel("days"))}},
		"duration": {desc: "How long the window stays open, as elapsed time (a DST change inside it moves its end on the clock), " +
			"from `1s` to `168h`, e.g. `4h`. A window may run past midnight.",
			strings: []validator.String{windowDurationValidator{}, stringvalidator.AlsoRequires(rel("days"))}},
		"time_zone": {desc: "IANA time zone of `start`, e.g. `Europe/Rome` or `UTC` (the zone database is built into the provider, " +
			"so it does not depend on the machine that runs Terraform).",
			strings: []validator.String{zoneValidator{}, stringvalidator.AlsoRequires(rel("days"))}},
		"intervals": {intervals: true,
			desc: "Explicit windows instead of `days`: each with `start` and `end`, RFC 3339 times with their offsets " +
				"(`2026-12-05T22:00:00+01:00`), end after start.",
			lists: []validator.List{listvalidator.SizeAtLeast(1)},
			intervalOf: map[string][]validator.String{
				"start": {rfc3339Validator()},
				"end":   {rfc3339Validator()},
			}},
	}
}

const windowBlockDescription = "When the apply may start the plan's `downtime` steps. Outside the window an apply with downtime " +
	"steps stops before doing anything; when the window ends during an apply, the step running is finished (an installer is never " +
	"stopped), the apply stops before the next downtime step with the next window in its message, and puts back what can be put " +
	"back (services, the revocation check); the next apply inside a window continues. Steps without downtime (checks, services " +
	"put back) run at any time. Either `days`, `start`, `duration` and `time_zone`, or `intervals`."
