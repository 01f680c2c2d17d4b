package simulator

import (
	"sort"
	"sync"
	"time"
)

// Clock is the simulated time the hosts live in: installers run for a while in it, locks
// expire in it, reboots take time in it, and the journal stamps entries with it. The
// default is real time; tests that want to decide when an install finishes use a
// ManualClock and Advance it.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine (real time) or from Advance (ManualClock)
	// once d has passed, unless stop is called first; stop reports whether it prevented
	// the call.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now().UTC() }

func (realClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

// ManualClock is a Clock that moves only when told to. The zero value is not usable:
// make one with NewManualClock.
type ManualClock struct {
	mu     sync.Mutex
	now    time.Time
	seq    int
	timers map[int]*manualTimer
}

type manualTimer struct {
	due time.Time
	seq int
	f   func()
}

// NewManualClock returns a clock that reads start until it is advanced.
func NewManualClock(start time.Time) *ManualClock {
	return &ManualClock{now: start.UTC(), timers: map[int]*manualTimer{}}
}

// Now is the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc registers f to run when the clock has been advanced by d or more. A d of zero
// or less runs at the next Advance (even of zero).
func (c *ManualClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	id := c.seq
	c.timers[id] = &manualTimer{due: c.now.Add(d), seq: id, f: f}
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, pending := c.timers[id]
		delete(c.timers, id)
		return pending
	}
}

// Advance moves the clock forward by d and runs, in the caller's goroutine and in the
// order they fall due, every function whose time has come (including ones those
// functions register for a time already passed).
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		var due []*manualTimer
		for _, t := range c.timers {
			if !t.due.After(c.now) {
				due = append(due, t)
			}
		}
		if len(due) == 0 {
			c.mu.Unlock()
			return
		}
		sort.Slice(due, func(i, j int) bool {
			if !due[i].due.Equal(due[j].due) {
				return due[i].due.Before(due[j].due)
			}
			return due[i].seq < due[j].seq
		})
		first := due[0]
		delete(c.timers, first.seq)
		c.mu.Unlock()
		first.f()
	}
}

// Pending is how many functions wait for the clock to advance.
func (c *ManualClock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}
