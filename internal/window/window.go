// Package window is the maintenance window a servicing apply keeps its downtime steps in: a
// weekly recurrence (days of the week, a start time, a duration, an IANA time zone) or a
// list of explicit intervals. It does no I/O and reads no clock: callers pass the time.
package window

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	// The zone database is embedded so that a window's time zone is known on any machine,
	// also one without /usr/share/zoneinfo (a minimal container, Windows).
	_ "time/tzdata"
)

// MaxDuration bounds one weekly occurrence: a week, the recurrence's period.
const MaxDuration = 7 * 24 * time.Hour

// Interval is one occurrence of a window: from Start (inclusive) to End (exclusive).
type Interval struct {
	Start, End time.Time
}

// Window is when downtime steps may start. The zero value has no occurrence.
type Window struct {
	// The weekly recurrence: on each day in days, from start after local midnight, for
	// length of elapsed time (a DST change inside an occurrence moves its wall-clock end,
	// not its length).
	days   [7]bool
	start  time.Duration
	length time.Duration
	loc    *time.Location
	// intervals, when set, are the occurrences themselves (sorted by start).
	intervals []Interval
}

// Weekly is the window on days (names, see ParseDay) from start ("HH:MM", 24-hour, local
// time in zone) for length, in the IANA time zone zone (e.g. "Europe/Rome", "UTC").
func Weekly(days []string, start string, length time.Duration, zone string) (Window, error) {
	var w Window
	if len(days) == 0 {
		return w, errors.New("no day of the week given")
	}
	for _, name := range days {
		d, err := ParseDay(name)
		if err != nil {
			return w, err
		}
		w.days[d] = true
	}
	var err error
	if w.start, err = ParseClock(start); err != nil {
		return w, err
	}
	if length <= 0 || length > MaxDuration {
		return w, fmt.Errorf("duration %s is not between 1s and 7 days (168h)", length)
	}
	w.length = length
	if w.loc, err = LoadZone(zone); err != nil {
		return w, err
	}
	return w, nil
}

// Explicit is the window made of the given intervals; each must end after it starts.
func Explicit(intervals []Interval) (Window, error) {
	if len(intervals) == 0 {
		return Window{}, errors.New("no interval given")
	}
	for i, iv := range intervals {
		if !iv.End.After(iv.Start) {
			return Window{}, fmt.Errorf("interval %d ends (%s) before or when it starts (%s)", i+1,
				iv.End.Format(time.RFC3339), iv.Start.Format(time.RFC3339))
		}
	}
	w := Window{intervals: append([]Interval(nil), intervals...)}
	sort.Slice(w.intervals, func(i, j int) bool { return w.intervals[i].Start.Before(w.intervals[j].Start) })
	return w, nil
}

var dayNames = map[string]time.Weekday{}

func init() {
	for d := time.Sunday; d <= time.Saturday; d++ {
		full := strings.ToLower(d.String())
		dayNames[full] = d
		dayNames[full[:3]] = d
	}
}

// ParseDay reads a day of the week: "Saturday" or "Sat", in any case.
func ParseDay(s string) (time.Weekday, error) {
	if d, ok := dayNames[strings.ToLower(strings.TrimSpace(s))]; ok {
		return d, nil
	}
	return 0, fmt.Errorf("%q is not a day of the week: write Mon, Tue, Wed, Thu, Fri, Sat or Sun (or the full name)", s)
}

// ParseClock reads a 24-hour "HH:MM" as the time after midnight.
func ParseClock(s string) (time.Duration, error) {
	t, err := time.Parse("15:04", s)
	if err != nil || len(s) != 5 {
		return 0, fmt.Errorf("%q is not a time of day: write it as HH:MM, 24-hour, e.g. 22:00", s)
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

// LoadZone loads an IANA time zone by name ("Europe/Rome", "UTC"). "" and "Local" are
// refused: a window must mean the same on every machine that plans or applies.
func LoadZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("%q is not an IANA time zone name: write one such as Europe/Rome or UTC", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("%q is not an IANA time zone name: write one such as Europe/Rome or UTC", name)
	}
	return loc, nil
}

// IsZero reports whether w is the zero Window (no window declared).
func (w Window) IsZero() bool { return w.loc == nil && len(w.intervals) == 0 }

// Contains reports whether t falls inside an occurrence of w.
func (w Window) Contains(t time.Time) bool {
	iv, ok := w.Next(t)
	return ok && !iv.Start.After(t)
}

// Next is the occurrence that contains t or, when none does, the next one to begin;
// occurrences that overlap or touch are one. ok is false when there is none (an explicit
// window whose intervals have all ended).
func (w Window) Next(t time.Time) (Interval, bool) {
	for _, iv := range merge(w.occurrences(t)) {
		if iv.End.After(t) {
			return iv, true
		}
	}
	return Interval{}, false
}

// End is when the occurrence containing t ends; ok is false when t is outside w.
func (w Window) End(t time.Time) (time.Time, bool) {
	iv, ok := w.Next(t)
	if !ok || iv.Start.After(t) {
		return time.Time{}, false
	}
	return iv.End, true
}

// occurrences are w's occurrences that can contain t or follow it: for a weekly window,
// those starting from 8 days before t (an occurrence lasts at most 7 days) to 15 days after.
func (w Window) occurrences(t time.Time) []Interval {
	if w.intervals != nil {
		return w.intervals
	}
	if w.loc == nil {
		return nil
	}
	local := t.In(w.loc)
	var out []Interval
	for off := -8; off <= 15; off++ {
		// time.Date normalises the day; a start in the hour a DST change skips is moved
		// forward by the gap, as time.Date does.
		day := time.Date(local.Year(), local.Month(), local.Day()+off, 0, 0, 0, 0, w.loc)
		if !w.days[day.Weekday()] {
			continue
		}
		h, m := int(w.start/time.Hour), int(w.start%time.Hour/time.Minute)
		start := time.Date(day.Year(), day.Month(), day.Day(), h, m, 0, 0, w.loc)
		out = append(out, Interval{Start: start, End: start.Add(w.length)})
	}
	return out
}

// merge joins sorted intervals that overlap or touch.
func merge(ivs []Interval) []Interval {
	var out []Interval
	for _, iv := range ivs {
		if n := len(out); n > 0 && !iv.Start.After(out[n-1].End) {
			if iv.End.After(out[n-1].End) {
				out[n-1].End = iv.End
			}
			continue
		}
		out = append(out, iv)
	}
	return out
}

// Describe names an occurrence for messages, in the window's time zone (an explicit
// interval in its start's offset): "Sat 2026-12-05 22:00–02:00 Europe/Rome", with the end's
// date when it is more than a day later.
func (w Window) Describe(iv Interval) string {
	loc, zone := iv.Start.Location(), ""
	if w.loc != nil {
		loc, zone = w.loc, w.loc.String()
	}
	s, e := iv.Start.In(loc), iv.End.In(loc)
	if zone == "" {
		zone = s.Format("-07:00")
		if zone == "+00:00" {
			zone = "UTC"
		}
	}
	end := e.Format("15:04")
	if e.Sub(s) >= 24*time.Hour {
		end = e.Format("Mon 2006-01-02 15:04")
	}
	return s.Format("Mon 2006-01-02 15:04") + "–" + end + " " + zone
}

// Zone is the window's time zone name; "" for an explicit window.
func (w Window) Zone() string {
	if w.loc == nil {
		return ""
	}
	return w.loc.String()
}
