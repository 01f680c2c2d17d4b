// Package servicing runs a plan (exchange.Plan) on one server: safely, because it holds the
// server's servicing lock and undoes what it changed when a step fails, and resumably, because
// installers run detached on the server under a job id derived from the step, so an apply that
// was interrupted, or the next one, attaches to the same job instead of starting setup twice.
//
// It decides nothing about *what* to do (that is the planner's, package exchange) and builds no
// PowerShell (that is package remote's): it runs the plan's steps in order through named
// operations (package wire) and waits for long-running work.
package servicing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
)

// Remote is what the executor needs from the transport (satisfied by *remote.Client).
type Remote interface {
	Probe(ctx context.Context, t remote.Target) (exchange.Facts, error)
	Run(ctx context.Context, t remote.Target, op string, params []wire.Param, out any) error
}

var _ Remote = (*remote.Client)(nil)

// Defaults of Options.
const (
	DefaultLockTTL       = 10 * time.Minute
	DefaultPollInterval  = 15 * time.Second
	DefaultJobTimeout    = 4 * time.Hour
	DefaultRebootTimeout = 30 * time.Minute
)

// Bounds of the best-effort work done after the caller's context ended.
const (
	// recoveryBudget bounds the recovery calls made with a fresh context after cancellation.
	recoveryBudget = 2 * time.Minute
	// releaseBudget bounds the lock release made with a fresh context after cancellation.
	releaseBudget = 30 * time.Second
	// attachSlack: a running job whose start time lies this much before the job_start call
	// was started by an earlier apply. Only used to word the log (clocks may differ).
	attachSlack = 2 * time.Minute
)

// Options tune an Apply.
type Options struct {
	// Owner names the lock owner, e.g. "terraform-provider-exchange@<hostname>". Required.
	// The lock admits its owner again, so two applies that share an Owner are not kept apart.
	Owner string
	// LockTTL is how long the lock holds without a refresh; default 10m. It is refreshed
	// between steps and while waiting on jobs and reboots, every LockTTL/3.
	LockTTL time.Duration
	// PollInterval is the wait between job status reads and between probes during a
	// reboot; default 15s, at most LockTTL/3.
	PollInterval time.Duration
	// JobTimeout bounds the wait for one installer job; default 4h.
	JobTimeout time.Duration
	// RebootTimeout bounds the wait for a restarted server to answer again; default 30m.
	RebootTimeout time.Duration
	// Log receives progress messages, each naming the server and the step (the provider logs
	// them with tflog). Messages about the apply as a whole (the lock) carry a Step with only
	// Server set. May be nil. Messages never contain secrets.
	Log func(step exchange.Step, msg string)

	// clock is time for tests; nil means the real clock.
	clock clock
}

func (o Options) withDefaults() Options {
	if o.LockTTL <= 0 {
		o.LockTTL = DefaultLockTTL
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.JobTimeout <= 0 {
		o.JobTimeout = DefaultJobTimeout
	}
	if o.RebootTimeout <= 0 {
		o.RebootTimeout = DefaultRebootTimeout
	}
	// The lock must not expire between two polls.
	if o.PollInterval > o.LockTTL/3 {
		o.PollInterval = o.LockTTL / 3
	}
	if o.clock == nil {
		o.clock = realClock{}
	}
	return o
}

// Report is what an Apply did. It is returned with errors too (what was done before the failure).
type Report struct {
	// Done are the steps that completed, in order.
	Done []exchange.Step
	// Facts is the last successful probe of this apply (zero when no step probed: only
	// reboot and verify_build probe).
	Facts exchange.Facts
	// Stopped are the services stop_service steps stopped; Restarted the services started
	// again, by start_service steps or by recovery.
	Stopped, Restarted []string
}

// Apply runs plan on server t, in order, under the server's servicing lock.
//
// Before anything remote it validates the plan (known actions, the parameters each needs, the
// server): a bad plan is a *StepError and nothing is called. It then takes the lock (another
// owner's lock: *LockHeldError, nothing else called), runs the steps and releases the lock,
// on success and on failure. A failing step returns a *StepError after best-effort recovery
// (restart the services this run stopped, turn the revocation check back on, restore the
// customisations), except while an installer this run started or attached to may still be
// running: then nothing is undone that could disturb it. When ctx ends (Terraform interrupted
// or timed out) Apply returns promptly; errors.Is(err, context.Canceled) (or
// context.DeadlineExceeded) holds then.
// An empty plan does nothing and calls nothing.
func Apply(ctx context.Context, r Remote, t remote.Target, plan exchange.Plan, o Options) (Report, error) {
	o = o.withDefaults()
	if err := validate(t, plan, o); err != nil {
		return Report{}, err
	}
	if plan.Empty() {
		return Report{}, nil
	}
	x := &executor{r: r, t: t, plan: plan, o: o, clk: o.clock}
	if err := x.takeLock(ctx); err != nil {
		return x.report, err
	}
	for i, s := range plan.Steps {
		x.cur = i + 1
		err := ctx.Err()
		if err == nil {
			err = x.refreshLock(ctx, s)
		}
		if err == nil {
			what := s.Description
			if what == "" {
				what = s.Action
			}
			x.logf(s, "starting: %s", what)
			err = x.runStep(ctx, s)
		}
		if err != nil {
			return x.report, x.fail(ctx, i, s, err)
		}
		x.report.Done = append(x.report.Done, s)
	}
	// Every step ran: the job records of this plan are history. One left on the server
	// tells the next plan that an apply stopped after that install (and what is left to do).
	var cleared wire.JobClearResult
	if err := x.r.Run(ctx, x.t, wire.OpJobClear, nil, &cleared); err != nil {
		x.logf(x.applyStep(), "could not clear the finished job records (%v); the next plan may repeat the steps after them", err)
	}
	if err := x.releaseLock(ctx); err != nil {
		// The lock expires by itself; the work is done, so this is not a failure.
		x.logf(x.applyStep(), "could not release the servicing lock (%v); it expires by itself within %s", err, o.LockTTL)
	}
	x.logf(x.applyStep(), "all %d steps done", len(plan.Steps))
	return x.report, nil
}

// executor is the state of one Apply: what it holds and what it changed.
type executor struct {
	r    Remote
	t    remote.Target
	plan exchange.Plan
	o    Options
	clk  clock

	report Report
	cur    int // 1-based index of the step running, for messages; 0 before the first

	lockRefreshed time.Time // when the lock was last taken or refreshed (local clock)
	lockLost      *wire.LockResult

	// What this run changed and has not yet put back, for recovery.
	stopped       []string // services stopped by stop_service and not started since, in order
	revocationOff bool     // disable_revocation_check ran, enable_revocation_check not yet
	customSaved   bool     // save_customizations ran, restore_customizations not yet

	// rebootRequired: a job of this run asked for a reboot and none has happened since.
	rebootRequired bool
	// job is an installer this run started or attached to that may still be running (it
	// was not seen finished). While it is set nothing is undone on failure.
	job *exchange.Job
	// down: the server was restarted and has not answered since.
	down bool
}

func (x *executor) applyStep() exchange.Step { return exchange.Step{Server: x.t.Server} }

// logf logs a progress message that names the server and, for a step's message, the step.
func (x *executor) logf(s exchange.Step, format string, args ...any) {
	if x.o.Log == nil {
		return
	}
	where := "server " + x.t.Server
	if x.cur > 0 && s.Action != "" {
		where += fmt.Sprintf(", step %d of %d (%s)", x.cur, len(x.plan.Steps), s.Action)
	}
	x.o.Log(s, where+": "+fmt.Sprintf(format, args...))
}

// takeLock takes the servicing lock or says who holds it.
func (x *executor) takeLock(ctx context.Context) error {
	var res wire.LockResult
	if err := x.r.Run(ctx, x.t, wire.OpLock, x.lockParams(false), &res); err != nil {
		return fmt.Errorf("server %s: could not take the servicing lock, nothing was changed: %w", x.t.Server, err)
	}
	if !res.Held {
		return &LockHeldError{Server: x.t.Server, Owner: res.Owner, Expires: res.Expires}
	}
	x.lockRefreshed = x.clk.Now()
	x.logf(x.applyStep(), "took the servicing lock as %s until %s", x.o.Owner, formatTime(res.Expires))
	return nil
}

// refreshLock takes the lock again once a third of its TTL has passed. A failed refresh is
// logged and tried again later (the server may be busy or restarting); a lock another owner
// took meanwhile (ours expired) is an error.
func (x *executor) refreshLock(ctx context.Context, s exchange.Step) error {
	if x.clk.Now().Sub(x.lockRefreshed) < x.o.LockTTL/3 {
		return nil
	}
	var res wire.LockResult
	if err := x.r.Run(ctx, x.t, wire.OpLock, x.lockParams(false), &res); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		x.logf(s, "could not refresh the servicing lock (%v); trying again later", err)
		return nil
	}
	if !res.Held {
		x.lockLost = &res
		return &stepFailure{
			err: fmt.Errorf("the servicing lock expired and %s took it (until %s)", orUnknown(res.Owner), formatTime(res.Expires)),
			next: "Another apply is servicing this server now; nothing more was done by this one. " +
				"Let that apply finish, then run terraform plan and terraform apply again.",
		}
	}
	x.lockRefreshed = x.clk.Now()
	return nil
}

// releaseLock releases the lock, with a fresh context when ctx has ended.
func (x *executor) releaseLock(ctx context.Context) error {
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), releaseBudget)
		defer cancel()
	}
	var res wire.LockResult
	if err := x.r.Run(ctx, x.t, wire.OpLock, x.lockParams(true), &res); err != nil {
		return err
	}
	x.logf(x.applyStep(), "released the servicing lock")
	return nil
}

func (x *executor) lockParams(release bool) []wire.Param {
	ttl := int(x.o.LockTTL / time.Second)
	if ttl < 1 {
		ttl = 1
	}
	return []wire.Param{
		{Name: "Owner", Value: x.o.Owner},
		{Name: "TTLSeconds", Value: ttl},
		{Name: "Release", Value: release},
	}
}

// fail turns a step's error into the *StepError Apply returns, after recovery (when it is
// safe) and the lock's release.
func (x *executor) fail(ctx context.Context, i int, s exchange.Step, err error) error {
	se := &StepError{Server: x.t.Server, Index: i + 1, Total: len(x.plan.Steps), Step: s, Err: err}
	var sf *stepFailure
	if errors.As(err, &sf) {
		se.Err, se.Job, se.Next = sf.err, sf.job, sf.next
	}
	if se.Job == nil && x.job != nil {
		j := *x.job
		se.Job = &j
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		se.Err, se.Next = x.interruption(ctxErr)
	}
	if se.Next == "" {
		se.Next = nextFixAndRerun
	}

	switch {
	case x.lockLost != nil:
		se.Left, se.leftWhy = x.changes(), "another apply holds the server now"
	case x.job != nil:
		se.Left, se.leftWhy = x.changes(), "the installer may still be running"
	case x.down:
		se.Left, se.leftWhy = x.changes(), "the server does not answer"
	default:
		se.Recovery = x.recover(ctx, s)
	}
	if x.lockLost == nil {
		if err := x.releaseLock(ctx); err != nil {
			se.Recovery = append(se.Recovery, fmt.Sprintf("could not release the servicing lock (%v); it expires by itself within %s", err, x.o.LockTTL))
		}
	}
	if x.o.Log != nil {
		x.o.Log(s, se.Error())
	}
	return se
}

// interruption is the error and the advice when ctx ended during a step.
func (x *executor) interruption(ctxErr error) (error, string) {
	what := "the apply was interrupted"
	if errors.Is(ctxErr, context.DeadlineExceeded) {
		what = "the apply ran out of time"
	}
	if x.job != nil {
		return fmt.Errorf("%s (%w); the installer (job %s) may still be running on the server, and the next terraform apply attaches to it instead of starting it again",
				what, ctxErr, x.job.ID),
			"Run terraform apply again: it waits for the running installer and continues from the remaining steps."
	}
	if x.down {
		return fmt.Errorf("%s (%w) while the server was restarting", what, ctxErr),
			"Run terraform apply again once the server answers: it continues from the remaining steps."
	}
	return fmt.Errorf("%s (%w)", what, ctxErr),
		"Run terraform apply again: it continues from the remaining steps."
}

// changes lists what this run changed and has not put back, for a StepError that could not undo them.
func (x *executor) changes() []string {
	var out []string
	for _, name := range x.stopped {
		out = append(out, "service "+name+" is stopped")
	}
	if x.revocationOff {
		out = append(out, "the certificate revocation check is off")
	}
	if x.customSaved {
		out = append(out, "the customisations are saved aside, not restored")
	}
	return out
}

// recover puts back, best effort, what this run changed: the services it stopped (in reverse
// order), the revocation check, the customisations. When ctx has ended it uses a fresh,
// bounded context: nothing that could disturb an installer runs here (recover is not called
// while one may run).
func (x *executor) recover(ctx context.Context, s exchange.Step) []string {
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), recoveryBudget)
		defer cancel()
	}
	var done []string
	for i := len(x.stopped) - 1; i >= 0; i-- {
		name := x.stopped[i]
		var res wire.ServiceResult
		err := x.r.Run(ctx, x.t, wire.OpService, []wire.Param{{Name: "Name", Value: name}, {Name: "Action", Value: wire.ActionStart}}, &res)
		if err != nil {
			done = append(done, fmt.Sprintf("could not start %s (%v)", name, err))
			continue
		}
		x.report.Restarted = append(x.report.Restarted, name)
		done = append(done, "started "+name)
	}
	x.stopped = nil
	if x.revocationOff {
		var res wire.SettingResult
		if err := x.r.Run(ctx, x.t, wire.OpRevocationCheck, []wire.Param{{Name: "Enabled", Value: true}}, &res); err != nil {
			done = append(done, fmt.Sprintf("could not turn the certificate revocation check back on (%v)", err))
		} else {
			x.revocationOff = false
			done = append(done, "turned the certificate revocation check back on")
		}
	}
	if x.customSaved {
		var res wire.CustomizationsResult
		if err := x.r.Run(ctx, x.t, wire.OpCustomizations, []wire.Param{{Name: "Action", Value: wire.ActionRestore}}, &res); err != nil {
			done = append(done, fmt.Sprintf("could not restore the customisations (%v)", err))
		} else {
			x.customSaved = false
			done = append(done, "restored the customisations")
		}
	}
	for _, d := range done {
		x.logf(s, "recovery: %s", d)
	}
	return done
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "an unknown time"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown owner"
	}
	return s
}
