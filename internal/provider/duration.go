package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
)

// The bounds of every duration the provider takes. A value outside them is a typo (a unit
// left off, "15" for "15s"; "1500h" for "150h") that would make a run hang or poll a server
// continuously, so it is refused at plan with the range, never clamped.
var (
	// One remote operation (timeout, EXCHANGE_TIMEOUT): long enough for one WinRM round
	// trip, at most a day.
	timeoutBounds = durationBounds{time.Second, 24 * time.Hour}
	// How often a running installer or a rebooting server is checked (poll_interval,
	// EXCHANGE_POLL_INTERVAL): at most the wait for a reboot is useful.
	pollIntervalBounds = durationBounds{100 * time.Millisecond, 5 * time.Minute}
	// The largest age a backup may have (max_database_age, max_system_state_age): a year.
	backupAgeBounds = durationBounds{time.Minute, 365 * 24 * time.Hour}
)

type durationBounds struct{ min, max time.Duration }

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration: write it like 90s, 5m or 1h30m", s)
	}
	return d, nil
}

// parse reads a duration within the bounds.
func (b durationBounds) parse(s string) (time.Duration, error) {
	d, err := parseDuration(s)
	if err != nil {
		return 0, err
	}
	if d < b.min || d > b.max {
		return 0, fmt.Errorf("%q is outside %s: write a duration from %s to %s", s, b, b.min, b.max)
	}
	return d, nil
}

func (b durationBounds) String() string { return fmt.Sprintf("%s to %s", b.min, b.max) }

// durationValidator checks a string attribute holds a Go duration within its bounds.
type durationValidator struct{ bounds durationBounds }

func (v durationValidator) Description(context.Context) string {
	return fmt.Sprintf("must be a duration such as 90s, 5m or 1h30m, from %s", v.bounds)
}

func (v durationValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v durationValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := v.bounds.parse(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid duration", fmt.Sprintf("%s: %s.", req.Path, err))
	}
}
