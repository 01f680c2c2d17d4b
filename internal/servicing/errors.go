package servicing

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
)

// StepError is a step that failed (or was interrupted), what was undone, and what to do.
// Error() is one paragraph for a Terraform diagnostic's detail.
type StepError struct {
	Server string
	// Index is the step's position, 1-based as in the message ("step 7 of 14"); Total the
	// plan's number of steps.
	Index, Total int
	Step         exchange.Step
	// Job is the installer job of the step, when it has one (exit code, log path, error).
	Job *exchange.Job
	// Err is the cause. errors.Is(err, context.Canceled) holds when the apply was interrupted;
	// a script's fault is reachable with errors.As(err, **wire.Fault).
	Err error
	// Recovery lists what was undone after the failure, best effort; an entry that starts
	// with "could not" is an undo that failed.
	Recovery []string
	// Left lists what this run changed and deliberately did not undo (an installer may still
	// be running, the server does not answer, or another apply took over).
	Left []string
	// Next says what the user should do.
	Next string
	// Down, when set, says that a clustered server (CMS or EVS) is down after the failure
	// and recovery did not bring it back, and how to bring it online by hand. Error()
	// begins with it: it is the first thing to act on.
	Down string

	leftWhy string
	// manual: the apply stopped at a manual step (Next says what to do).
	manual bool
}

func (e *StepError) Error() string {
	var b strings.Builder
	if e.Down != "" {
		b.WriteString(sentence(e.Down) + " ")
	}
	fmt.Fprintf(&b, "server %s: step %d of %d (%s) ", e.Server, e.Index, e.Total, describe(e.Step))
	if e.manual {
		b.WriteString("stopped at a manual step: ")
	} else if errors.Is(e.Err, context.Canceled) || errors.Is(e.Err, context.DeadlineExceeded) || errors.Is(e.Err, ErrWindowEnded) {
		b.WriteString("stopped: ")
	} else {
		b.WriteString("failed: ")
	}
	b.WriteString(sentence(errText(e.Err)))
	if len(e.Recovery) > 0 {
		label := "Recovered"
		for _, r := range e.Recovery {
			if strings.HasPrefix(r, "could not") {
				label = "Recovery"
			}
		}
		b.WriteString(" " + label + ": " + sentence(strings.Join(e.Recovery, "; ")))
	}
	if len(e.Left) > 0 {
		why := ""
		if e.leftWhy != "" {
			why = " (" + e.leftWhy + ")"
		}
		b.WriteString(" Not undone" + why + ": " + sentence(strings.Join(e.Left, "; ")))
	}
	if e.Next != "" {
		b.WriteString(" Next: " + sentence(e.Next))
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *StepError) Unwrap() error { return e.Err }

// LockHeldError: another apply holds the server's servicing lock. Nothing was done.
type LockHeldError struct {
	Server  string
	Owner   string
	Expires time.Time
	// Why the lock was not taken over at once (Options.TakeOver), e.g. its process still
	// runs or it was taken from another host; may be empty.
	Why string
}

func (e *LockHeldError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "server %s: another apply (%s) holds the servicing lock until %s, so nothing was done.",
		e.Server, orUnknown(e.Owner), formatTime(e.Expires))
	if e.Why != "" {
		b.WriteString(" " + sentence(e.Why))
	}
	fmt.Fprintf(&b, " If that apply still runs, wait until it has finished, then run terraform apply again. "+
		"If it is dead (its Terraform process was killed or its machine stopped), the lock expires by itself: "+
		"wait until %s, then run terraform apply again.", formatTime(e.Expires))
	return b.String()
}

// describe is "action: description" for messages.
func describe(s exchange.Step) string {
	if s.Description == "" || s.Description == s.Action() {
		return s.Action()
	}
	return s.Action() + ": " + s.Description
}

func errText(err error) string {
	if err == nil {
		return "unknown error"
	}
	return err.Error()
}

// sentence ends s with a full stop.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasSuffix(s, ".") || strings.HasSuffix(s, "!") || strings.HasSuffix(s, "?") {
		return s
	}
	return s + "."
}
