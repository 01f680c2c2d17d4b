package provider

import (
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	provschema "github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// The maintenance_window block in the two schema packages: the resources' and the
// provider's (whose block is the default of every resource without one).

// maintenanceWindowBlock is the resources' maintenance_window block.
func maintenanceWindowBlock() schema.Block {
	attrs := map[string]schema.Attribute{}
	for name, s := range windowSpecs() {
		switch {
		case s.intervals:
			nested := map[string]schema.Attribute{}
			for n, v := range s.intervalOf {
				nested[n] = schema.StringAttribute{Required: true, Validators: v,
					MarkdownDescription: "RFC 3339 time with its offset."}
			}
			attrs[name] = schema.ListNestedAttribute{Optional: true, MarkdownDescription: s.desc, Validators: s.lists,
				NestedObject: schema.NestedAttributeObject{Attributes: nested, Validators: []validator.Object{intervalOrderValidator{}}}}
		case s.list:
			attrs[name] = schema.ListAttribute{Optional: true, ElementType: types.StringType, MarkdownDescription: s.desc, Validators: s.lists}
		default:
			attrs[name] = schema.StringAttribute{Optional: true, MarkdownDescription: s.desc, Validators: s.strings}
		}
	}
	return schema.SingleNestedBlock{MarkdownDescription: windowBlockDescription + " Overrides the provider's `maintenance_window`.",
		Attributes: attrs, Validators: []validator.Object{windowShapeValidator{}}}
}

// providerWindowBlock is the provider's maintenance_window block.
func providerWindowBlock() provschema.Block {
	attrs := map[string]provschema.Attribute{}
	for name, s := range windowSpecs() {
		switch {
		case s.intervals:
			nested := map[string]provschema.Attribute{}
			for n, v := range s.intervalOf {
				nested[n] = provschema.StringAttribute{Required: true, Validators: v,
					MarkdownDescription: "RFC 3339 time with its offset."}
			}
			attrs[name] = provschema.ListNestedAttribute{Optional: true, MarkdownDescription: s.desc, Validators: s.lists,
				NestedObject: provschema.NestedAttributeObject{Attributes: nested, Validators: []validator.Object{intervalOrderValidator{}}}}
		case s.list:
			attrs[name] = provschema.ListAttribute{Optional: true, ElementType: types.StringType, MarkdownDescription: s.desc, Validators: s.lists}
		default:
			attrs[name] = provschema.StringAttribute{Optional: true, MarkdownDescription: s.desc, Validators: s.strings}
		}
	}
	return provschema.SingleNestedBlock{MarkdownDescription: "The default maintenance window of every servicing resource without " +
		"a `maintenance_window` block of its own. " + windowBlockDescription, Attributes: attrs, Validators: []validator.Object{windowShapeValidator{}}}
}

// scheduledWindowAttribute is the resources' computed scheduled_window.
func scheduledWindowAttribute() schema.Attribute {
	str := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, MarkdownDescription: desc}
	}
	return schema.SingleNestedAttribute{Computed: true,
		MarkdownDescription: "The maintenance window the plan's downtime steps are to run in: the occurrence open at the plan's " +
			"time (the provider's `plan_timestamp`, else the clock) or the next one (the plan warns when it is not open yet). " +
			"With `plan_timestamp`, the apply of a saved plan after this window has ended is refused before anything runs. " +
			"Null without a window (`maintenance_window` here or in the provider) or without downtime steps; without planned " +
			"steps it keeps the last apply's value.",
		Attributes: map[string]schema.Attribute{
			"start":       str("When the window opens, RFC 3339."),
			"end":         str("When it closes, RFC 3339."),
			"description": str("The window for a reviewer, e.g. `Sat 2026-12-05 22:00–02:00 Europe/Rome`."),
		}}
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
