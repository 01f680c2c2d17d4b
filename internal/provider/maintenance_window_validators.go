package provider

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/buildlevel/terraform-provider-exchange/internal/window"
)

// The maintenance_window block's validators (framework validators: the plan names the
// attribute at fault).

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
