package window

import (
	"strings"
	"testing"
	"time"
)

func mustWeekly(t *testing.T, days []string, start string, length time.Duration, zone string) Window {
	t.Helper()
	w, err := Weekly(days, start, length, zone)
	if err != nil {
		t.Fatalf("Weekly: %v", err)
	}
	return w
}

func at(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// A Saturday-night window across midnight, in Rome: inside on both sides of midnight,
// outside before and after, and Next names this Saturday's or the next one's.
func TestWeeklyAcrossMidnight(t *testing.T) {
	w := mustWeekly(t, []string{"Sat"}, "22:00", 4*time.Hour, "Europe/Rome")
	for _, c := range []struct {
		now    string
		inside bool
		next   string
	}{
		{"2026-12-05T21:59:00+01:00", false, "Sat 2026-12-05 22:00–02:00 Europe/Rome"},
		{"2026-12-05T22:00:00+01:00", true, "Sat 2026-12-05 22:00–02:00 Europe/Rome"},
		{"2026-12-06T01:59:59+01:00", true, "Sat 2026-12-05 22:00–02:00 Europe/Rome"},
		{"2026-12-06T02:00:00+01:00", false, "Sat 2026-12-12 22:00–02:00 Europe/Rome"},
		{"2026-12-09T12:00:00Z", false, "Sat 2026-12-12 22:00–02:00 Europe/Rome"},
	} {
		now := at(t, c.now)
		if got := w.Contains(now); got != c.inside {
			t.Errorf("%s: Contains = %v, want %v", c.now, got, c.inside)
		}
		iv, ok := w.Next(now)
		if !ok || w.Describe(iv) != c.next {
			t.Errorf("%s: Next = %q (%v), want %q", c.now, w.Describe(iv), ok, c.next)
		}
		end, ok := w.End(now)
		if ok != c.inside || (ok && !end.Equal(iv.End)) {
			t.Errorf("%s: End = %v, %v; want %v, %v", c.now, end, ok, iv.End, c.inside)
		}
	}
}

// DST in Europe/Rome: the duration is elapsed time, so the wall-clock end moves when the
// clocks change inside an occurrence; a start in the skipped hour moves forward.
func TestWeeklyDSTEuropeRome(t *testing.T) {
	// 25 October 2026, 03:00 CEST becomes 02:00 CET: a 4h window from 00:00 ends at 03:00 CET.
	w := mustWeekly(t, []string{"sunday"}, "00:00", 4*time.Hour, "Europe/Rome")
	iv, _ := w.Next(at(t, "2026-10-24T12:00:00Z"))
	if want := at(t, "2026-10-25T00:00:00+02:00"); !iv.Start.Equal(want) {
		t.Errorf("autumn start = %v, want %v", iv.Start, want)
	}
	if want := at(t, "2026-10-25T03:00:00+01:00"); !iv.End.Equal(want) {
		t.Errorf("autumn end = %v, want %v (4h elapsed)", iv.End, want)
	}
	if got := w.Describe(iv); got != "Sun 2026-10-25 00:00–03:00 Europe/Rome" {
		t.Errorf("autumn Describe = %q", got)
	}
	if w.Contains(at(t, "2026-10-25T03:30:00+01:00")) {
		t.Error("03:30 CET is past the 4h window")
	}
	// The week after, without a change, the same window ends at 04:00 again.
	iv, _ = w.Next(at(t, "2026-10-30T12:00:00Z"))
	if got := w.Describe(iv); got != "Sun 2026-11-01 00:00–04:00 Europe/Rome" {
		t.Errorf("next week Describe = %q", got)
	}

	// 29 March 2026, 02:00 CET becomes 03:00 CEST: 02:30 does not exist that night.
	w = mustWeekly(t, []string{"Sun"}, "02:30", time.Hour, "Europe/Rome")
	iv, _ = w.Next(at(t, "2026-03-28T12:00:00Z"))
	if want := at(t, "2026-03-29T03:30:00+02:00"); !iv.Start.Equal(want) {
		t.Errorf("spring start = %v, want %v", iv.Start, want)
	}
	if !w.Contains(at(t, "2026-03-29T04:00:00+02:00")) || w.Contains(at(t, "2026-03-29T03:00:00+02:00")) {
		t.Error("spring window: wrong containment around the moved start")
	}
}

// Days whose occurrences touch are one window (Next/End see it whole).
func TestWeeklyOverlappingDaysMerge(t *testing.T) {
	w := mustWeekly(t, []string{"Sat", "Sun"}, "00:00", 24*time.Hour, "UTC")
	end, ok := w.End(at(t, "2026-12-05T10:00:00Z"))
	if !ok || !end.Equal(at(t, "2026-12-07T00:00:00Z")) {
		t.Errorf("End = %v, %v; want Monday 00:00", end, ok)
	}
	iv, _ := w.Next(at(t, "2026-12-07T00:00:00Z"))
	if got := w.Describe(iv); got != "Sat 2026-12-12 00:00–Mon 2026-12-14 00:00 UTC" {
		t.Errorf("Describe = %q", got)
	}
}

func TestExplicitIntervals(t *testing.T) {
	w, err := Explicit([]Interval{
		{at(t, "2026-12-12T22:00:00+01:00"), at(t, "2026-12-13T02:00:00+01:00")},
		{at(t, "2026-12-05T22:00:00+01:00"), at(t, "2026-12-06T02:00:00+01:00")},
	})
	if err != nil {
		t.Fatal(err)
	}
	iv, ok := w.Next(at(t, "2026-12-06T03:00:00+01:00"))
	if !ok || w.Describe(iv) != "Sat 2026-12-12 22:00–02:00 +01:00" {
		t.Errorf("Next = %q, %v", w.Describe(iv), ok)
	}
	if !w.Contains(at(t, "2026-12-05T23:00:00+01:00")) || w.Contains(at(t, "2026-12-06T02:00:00+01:00")) {
		t.Error("containment wrong")
	}
	if _, ok := w.Next(at(t, "2026-12-13T02:00:00+01:00")); ok {
		t.Error("after the last interval there is no next window")
	}
	if _, err := Explicit([]Interval{{at(t, "2026-12-06T02:00:00Z"), at(t, "2026-12-06T02:00:00Z")}}); err == nil || !strings.Contains(err.Error(), "interval 1 ends") {
		t.Errorf("an empty interval must be refused: %v", err)
	}
}

func TestWeeklyRefusesBadInput(t *testing.T) {
	for _, c := range []struct {
		days       []string
		start      string
		length     time.Duration
		zone, want string
	}{
		{[]string{"Samstag"}, "22:00", time.Hour, "UTC", `"Samstag" is not a day of the week`},
		{[]string{"Sat"}, "10pm", time.Hour, "UTC", `"10pm" is not a time of day`},
		{[]string{"Sat"}, "24:00", time.Hour, "UTC", `"24:00" is not a time of day`},
		{[]string{"Sat"}, "22:00", 0, "UTC", "is not between 1s and 7 days"},
		{[]string{"Sat"}, "22:00", 8 * 24 * time.Hour, "UTC", "is not between 1s and 7 days"},
		{[]string{"Sat"}, "22:00", time.Hour, "Europe/Atlantis", `"Europe/Atlantis" is not an IANA time zone`},
		{[]string{"Sat"}, "22:00", time.Hour, "Local", `"Local" is not an IANA time zone`},
		{nil, "22:00", time.Hour, "UTC", "no day of the week"},
	} {
		if _, err := Weekly(c.days, c.start, c.length, c.zone); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Weekly(%v, %q, %s, %q) = %v, want %q", c.days, c.start, c.length, c.zone, err, c.want)
		}
	}
}

func TestZeroWindowHasNoOccurrence(t *testing.T) {
	var w Window
	if !w.IsZero() || w.Contains(time.Now()) {
		t.Error("the zero window contains nothing")
	}
}
