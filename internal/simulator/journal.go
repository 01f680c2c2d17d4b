package simulator

import (
	"encoding/json"
	"io"
	"maps"
	"slices"
	"sync"
	"time"
)

// Entry is one operation the simulator performed or rejected, in the order it happened.
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
	// Outcome is "ok", "fault:<code>" or "rejected".
	Outcome string `json:"outcome"`
	// Detail says why a fault or a rejection happened.
	Detail string `json:"detail"`
}

const (
	outcomeOK       = "ok"
	outcomeRejected = "rejected"
	faultPrefix     = "fault:"
)

// journal keeps every entry and, when w is set, writes each one as a JSON line at once so
// a test or `tail -f` can follow a running simulator.
type journal struct {
	mu      sync.Mutex
	entries []Entry
	w       io.Writer
	err     error // first write error, reported by Close
}

func (j *journal) record(e Entry) {
	j.mu.Lock()
	defer j.mu.Unlock()
	e.Seq = len(j.entries) + 1
	e.Time = time.Now().UTC()
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
