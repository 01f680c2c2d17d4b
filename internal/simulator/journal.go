package simulator

import (
	"encoding/json"
	"io"
	"maps"
	"slices"
	"sync"
	"time"
)

// Entry is one operation the simulator performed or rejected, in the order it happened,
// or one event of the host itself: an installer starting or finishing (Operation
// "installer", Params ID and Action, Detail "Setup.com /mode:upgrade started", "...
// finished exit 3010"), a reboot going down or coming back (Operation "system").
// Tests assert sequences on the journal (probe EX01, then remove KB..., then install ...).
type Entry struct {
	// Seq counts from 1 across the whole simulator.
	Seq       int       `json:"seq"`
	Time      time.Time `json:"time"`
	Server    string    `json:"server"`
	Operation string    `json:"operation"`
	// Params are the operation's parameters as the script received them (string, int64,
	// bool, []string or nil); secrets are replaced by "<redacted>".
	Params map[string]any `json:"params"`
	// Outcome is "ok", "fault:<code>" or "rejected"; "attached" for a job_start that found
	// its job already there; "failed" for an installer that finished with an error.
	Outcome string `json:"outcome"`
	// Detail says why a fault or a rejection happened.
	Detail string `json:"detail"`
}

const (
	outcomeOK       = "ok"
	outcomeRejected = "rejected"
	outcomeAttached = "attached"
	outcomeFailed   = "failed"
	faultPrefix     = "fault:"

	// operationInstaller and operationSystem name the journal entries of events that are
	// not operations: installer runs and reboots.
	operationInstaller = "installer"
	operationSystem    = "system"
)

// journal keeps every entry and, when w is set, writes each one as a JSON line at once so
// a test or `tail -f` can follow a running simulator.
type journal struct {
	mu      sync.Mutex
	entries []Entry
	w       io.Writer
	err     error // first write error, reported by Close
	// now stamps entries: the simulator's clock; nil is the wall clock.
	now func() time.Time
}

func (j *journal) record(e Entry) {
	j.mu.Lock()
	defer j.mu.Unlock()
	e.Seq = len(j.entries) + 1
	if j.now != nil {
		e.Time = j.now().UTC()
	} else {
		e.Time = time.Now().UTC()
	}
	if e.Params == nil {
		e.Params = map[string]any{}
	}
	j.entries = append(j.entries, e)
	if j.w == nil || j.err != nil {
		return
	}
	line, err := json.Marshal(e)
	if err == nil {
		_, err = j.w.Write(append(line, '\n'))
	}
	if f, ok := j.w.(interface{ Flush() error }); ok && err == nil {
		err = f.Flush()
	}
	j.err = err
}

func (j *journal) snapshot() []Entry {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]Entry, len(j.entries))
	for i, e := range j.entries {
		e.Params = maps.Clone(e.Params)
		for k, v := range e.Params {
			if list, ok := v.([]string); ok {
				e.Params[k] = slices.Clone(list)
			}
		}
		out[i] = e
	}
	return out
}

func (j *journal) writeErr() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err
}
