package servicing

import (
	"errors"
	"fmt"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
)

// The maintenance window (Options.Window) is checked before every downtime step: a step that
// runs is never stopped when the window ends (an installer killed halfway leaves Exchange
// half upgraded), so the check is between steps, and the steps that need no window (checks,
// services put back, the build check) run at any time.

// ErrWindowEnded is the cause of a *StepError when the apply stopped because the window
// ended (errors.Is).
var ErrWindowEnded = errors.New("the maintenance window ended")

// WindowError: the plan has downtime steps and the apply started outside the maintenance
// window. Nothing was done (the lock was not even taken).
type WindowError struct {
	Server string
	// Step is the plan's first downtime step, Index its 1-based position, Total the plan's
	// number of steps.
	Step         exchange.Step
	Index, Total int
	Now          time.Time
	// Next describes the next window ("" when the declared intervals have all ended).
	Next string
}

func (e *WindowError) Error() string {
	return fmt.Sprintf("server %s: the maintenance window has not begun (it is %s), so nothing was done: the plan's first downtime step, step %d of %d (%s), starts only inside a window. %s",
		e.Server, formatTime(e.Now), e.Index, e.Total, e.Step.Action(), nextWindowAdvice(e.Next))
}

func nextWindowAdvice(next string) string {
	if next == "" {
		return "No declared window is left: add one to maintenance_window, then run terraform apply again inside it."
	}
	return "The next window is " + next + "; run terraform apply again inside it."
}

// now is the time the window is checked against.
func (x *executor) now() time.Time {
	if x.o.Now != nil {
		return x.o.Now()
	}
	return x.clk.Now()
}

// nextWindow describes the window containing t or the next one; "" when none is left.
func (x *executor) nextWindow(t time.Time) string {
	iv, ok := x.o.Window.Next(t)
	if !ok {
		return ""
	}
	return x.o.Window.Describe(iv)
}

// windowAtStart refuses a plan with downtime steps outside the window before anything is
// called, so that even the preparation of the downtime (services stopped, pages moved aside)
// does not happen outside it.
func (x *executor) windowAtStart() error {
	if x.o.Window == nil {
		return nil
	}
	now := x.now()
	for i, s := range x.plan.Steps {
		if s.Downtime {
			if x.o.Window.Contains(now) {
				return nil
			}
			return &WindowError{Server: x.plan.Server, Step: s, Index: i + 1, Total: len(x.plan.Steps), Now: now, Next: x.nextWindow(now)}
		}
	}
	return nil
}

// windowBefore is the check before step i: once the window has ended the apply stops
// before a downtime step, after the step before it finished, and recovery puts back what
// can run outside the window (services, the revocation check, the customisations); the next
// plan reads the server and continues with the steps left. In a cluster the check is at the
// start of each of the plan's downtime windows (a run of downtime steps): a clustered server
// taken offline is brought online again by the steps that follow, so that the end of the
// maintenance window never leaves it offline.
func (x *executor) windowBefore(i int) error {
	s := x.plan.Steps[i]
	if x.o.Window == nil || !s.Downtime {
		return nil
	}
	if x.cluster && i > 0 && x.plan.Steps[i-1].Downtime {
		return nil
	}
	now := x.now()
	if x.o.Window.Contains(now) {
		return nil
	}
	return &stepFailure{
		err: fmt.Errorf("%w before this downtime step could start (it is %s); the steps before it finished, and no downtime step is started outside a window",
			ErrWindowEnded, formatTime(now)),
		next: nextWindowAdvice(x.nextWindow(now)) + " Its plan continues with the steps left.",
	}
}
