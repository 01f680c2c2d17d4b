// Package servicing runs a plan (exchange.Plan) on one server (Apply) or on the nodes of one
// cluster (ApplyCluster): safely, because it holds the servicing lock of every server it
// touches and undoes what it changed when a step fails, and resumably, because installers run
// detached on the server under a job id derived from the step (exchange.JobID; ClusterJobID
// in a cluster plan), so an apply that was interrupted, or the next one, attaches to the same
// job instead of starting setup twice.
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
	"github.com/buildlevel/terraform-provider-exchange/internal/window"
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
	// releaseBudget bounds the lock release made with a fresh context after cancellation or
	// a timeout: short, because the apply is already over its time and the lock expires by
	// itself (LockTTL); a node that is down would otherwise hold it here for the provider's
	// whole retry budget.
	releaseBudget = 5 * time.Second
	// attachSlack: a running job whose start time lies this much before the job_start call
	// was started by an earlier apply. Only used to word the log (clocks may differ).
	attachSlack = 2 * time.Minute
)

// Options tune an Apply.
type Options struct {
	// Owner names the lock owner; it must name one apply (the provider uses host, pid and a
	// run id, see internal/provider/lockowner.go). Required. The lock admits its owner again,
	// so two applies that share an Owner are not kept apart.
	Owner string
	// TakeOver, when set, is asked about an unexpired lock another owner holds: dead reports
	// that owner's process is proven gone, and the lock is then taken over at once (lock.ps1
	// checks under its mutex that it is still that owner's). why explains the answer and goes
	// into the *LockHeldError when the lock is not taken. Nil: such a lock frees only by
	// expiring.
	TakeOver func(owner string) (dead bool, why string)
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
	// Server set (in ApplyCluster the node's, or the plan's Server for the final message).
	// May be nil. Messages never contain secrets.
	Log func(step exchange.Step, msg string)
	// Window, when set, is when downtime steps may start (window.go): outside it a plan
	// with downtime steps is refused before anything is called, and once it ends the apply
	// stops before the next downtime step. Nil: at any time.
	Window *window.Window
	// Now is the time Window is checked against; nil: the executor's clock.
	Now func() time.Time

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
	// Unfinished says, per server, what the end of a successful apply could not do after
	// every step was done (clear the job records, release the lock), what that means and
	// what to do: the caller shows each as a warning. The apply itself succeeded.
	Unfinished []string
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
	x := newExecutor(r, []remote.Target{t}, plan, o, exchange.JobID)
	only := x.nodes[0]
	x.nodeOf = func(exchange.Step) *node { return only }
	return x.run(ctx)
}

// executor is the state of one apply: what it holds and what it changed, on each node.
type executor struct {
	r    Remote
	plan exchange.Plan
	o    Options
	clk  clock

	// nodes are the servers the apply locks, in name order (Apply: the one server).
	nodes []*node
	// nodeOf resolves the node a step runs on (validated before the lock).
	nodeOf func(exchange.Step) *node
	// jobID names the installer job of a step (exchange.JobID; ClusterJobID for clusters).
	jobID func(exchange.Step) string
	// cluster: an ApplyCluster, whose messages name the node of each change they list.
	cluster bool

	// node is the node of the step running: its fields (x.t, x.stopped, x.job, ...) are
	// that node's state. Recovery and the lock handling visit the other nodes explicitly.
	*node

	report Report
	cur    int // 1-based index of the step running, for messages; 0 before the first

	lockLost *wire.LockResult
	lostOn   *node // the node whose lock another owner took

	// groups are the cluster groups this run touched, in the order first touched.
	groups []*group
}

// node is one server of the apply and what this run changed on it and has not yet put back.
type node struct {
	t remote.Target

	locked        bool      // the lock was taken (to release it)
	lockRefreshed time.Time // when the lock was last taken or refreshed (local clock)
	// touched: a step of this run that is not a check started here, so the server may
	// differ from before the apply (releaseLock keeps the services record then).
	touched bool

	// What this run changed and has not yet put back, for recovery.
	stopped       []string // services stopped by stop_service and not started since, in order
	revocationOff bool     // disable_revocation_check ran, enable_revocation_check not yet
	customSaved   bool     // save_customizations ran, restore_customizations not yet
	// clusterStopped: stop_cluster_service ran here, start_cluster_service not yet.
	clusterStopped bool

	// rebootRequired: a job of this run asked for a reboot and none has happened since.
	rebootRequired bool
	// job is an installer this run started or attached to that may still be running (it
	// was not seen finished). While it is set nothing is undone on failure.
	job *exchange.Job
	// down: the server was restarted and has not answered since.
	down bool
}

func newExecutor(r Remote, targets []remote.Target, plan exchange.Plan, o Options, jobID func(exchange.Step) string) *executor {
	x := &executor{r: r, plan: plan, o: o, clk: o.clock, jobID: jobID}
	for _, t := range targets {
		x.nodes = append(x.nodes, &node{t: t})
	}
	x.node = x.nodes[0]
	return x
}

// run is the core Apply and ApplyCluster share: lock every node, run the steps in order on
// their nodes, clear the job records and release the locks; on a failure, recover and
// release (fail).
func (x *executor) run(ctx context.Context) (Report, error) {
	if err := x.windowAtStart(); err != nil {
		return x.report, err
	}
	if err := x.takeLocks(ctx); err != nil {
		return x.report, err
	}
	for i, s := range x.plan.Steps {
		x.cur = i + 1
		x.node = x.nodeOf(s)
		err := ctx.Err()
		if err == nil {
			err = x.refreshLock(ctx, s)
		}
		if err == nil {
			err = x.windowBefore(i)
		}
		if err == nil {
			what := s.Description
			if what == "" {
				what = s.Action()
			}
			x.logf(s, "starting: %s", what)
			if !exchange.IsCheck(s.Action()) {
				x.node.touched = true
			}
			err = x.runStep(ctx, s)
		}
		if err != nil {
			return x.report, x.fail(ctx, i, s, err)
		}
		x.report.Done = append(x.report.Done, s)
	}
	// Every step ran: the job records of this plan are history. One left on the server
	// tells the next plan that an apply stopped after that install (and what is left to do).
	// A plan of checks only (an organisation's preflight) has none: the records on the
	// server are another plan's, still to come, and stay.
	for _, n := range x.nodes {
		x.node = n
		if x.plan.ChecksOnly() {
			break
		}
		if _, err := remote.Call(ctx, x.r, n.t, wire.JobClearRequest{}); err != nil {
			x.logf(x.applyStep(), "could not clear the finished job records (%v); the next plan may repeat the steps after them", err)
			x.report.Unfinished = append(x.report.Unfinished, fmt.Sprintf("server %s: every step is done, but its job records could not be cleared (%v). "+
				"The next plan shows the steps after its last install again; they check the server and change nothing that is done. Run terraform apply again to clear them.", n.t.Server, err))
		}
	}
	for _, n := range x.nodes {
		x.node = n
		if err := x.releaseLock(ctx, n, false); err != nil {
			// The lock expires by itself; the work is done, so this is not a failure, but
			// another apply is refused until then: the caller says so.
			x.logf(x.applyStep(), "could not release the servicing lock (%v); it expires by itself within %s", err, x.o.LockTTL)
			x.report.Unfinished = append(x.report.Unfinished, fmt.Sprintf("server %s: every step is done, but its servicing lock could not be released (%v). "+
				"It expires by itself within %s; until then an apply from another host is refused, and one from this host takes it over (this process has ended).", n.t.Server, err, x.o.LockTTL))
		}
	}
	if x.cluster && x.o.Log != nil {
		x.o.Log(exchange.Step{Server: x.plan.Server}, fmt.Sprintf("cluster %s (%s): all %d steps done",
			orUnknown(x.plan.Server), nodeNames(x.targets()), len(x.plan.Steps)))
		return x.report, nil
	}
	x.logf(x.applyStep(), "all %d steps done", len(x.plan.Steps))
	return x.report, nil
}

func (x *executor) targets() []remote.Target {
	out := make([]remote.Target, len(x.nodes))
	for i, n := range x.nodes {
		out[i] = n.t
	}
	return out
}

func (x *executor) applyStep() exchange.Step { return exchange.Step{Server: x.t.Server} }

// logf logs a progress message that names the server and, for a step's message, the step.
func (x *executor) logf(s exchange.Step, format string, args ...any) {
	if x.o.Log == nil {
		return
	}
	where := "server " + x.t.Server
	if x.cur > 0 && s.Action() != "" {
		where += fmt.Sprintf(", step %d of %d (%s)", x.cur, len(x.plan.Steps), s.Action())
	}
	x.o.Log(s, where+": "+fmt.Sprintf(format, args...))
}

// on is " on NODE" in a cluster apply's messages about n, "" in Apply's.
func (x *executor) on(n *node) string {
	if !x.cluster {
		return ""
	}
	return " on " + n.t.Server
}

// takeLocks takes the servicing lock of every node, in name order (so two applies over the
// same nodes never wait on each other in a circle). When one cannot be taken, the ones
// already taken are released and nothing else is done.
func (x *executor) takeLocks(ctx context.Context) error {
	for i, n := range x.nodes {
		x.node = n
		if err := x.takeLock(ctx); err != nil {
			for _, m := range x.nodes[:i] {
				x.node = m
				if rerr := x.releaseLock(ctx, m, false); rerr != nil {
					x.logf(x.applyStep(), "could not release the servicing lock (%v); it expires by itself within %s", rerr, x.o.LockTTL)
				}
			}
			x.node = n
			return err
		}
	}
	return nil
}

// takeLock takes the current node's servicing lock or says who holds it.
func (x *executor) takeLock(ctx context.Context) error {
	req := x.lockRequest(false)
	res, err := remote.Call(ctx, x.r, x.t, req)
	if err != nil {
		return fmt.Errorf("server %s: could not take the servicing lock, nothing was changed: %w", x.t.Server, err)
	}
	why := ""
	if !res.Held && res.Owner != "" && x.o.TakeOver != nil {
		var dead bool
		dead, why = x.o.TakeOver(res.Owner)
		if dead {
			prev := res.Owner
			req.TakeOver = prev
			res, err = remote.Call(ctx, x.r, x.t, req)
			if err != nil {
				return fmt.Errorf("server %s: could not take over the servicing lock of %s (%s), nothing was changed: %w", x.t.Server, prev, why, err)
			}
			if res.Held {
				x.logf(x.applyStep(), "took over the servicing lock of %s: %s", prev, why)
			} else {
				// Another apply took it over first; ask about the one that holds it now.
				_, why = x.o.TakeOver(res.Owner)
			}
		}
	}
	if !res.Held {
		return &LockHeldError{Server: x.t.Server, Owner: res.Owner, Expires: res.Expires, Why: why}
	}
	x.locked = true
	x.lockRefreshed = x.clk.Now()
	x.logf(x.applyStep(), "took the servicing lock as %s until %s", x.o.Owner, formatTime(res.Expires))
	return nil
}

// refreshLock takes each node's lock again once a third of its TTL has passed (a cluster
// apply waits on one node's installer for hours while it holds the others' locks). A failed
// refresh is logged and tried again later (the server may be busy or restarting); a lock
// another owner took meanwhile (ours expired) is an error.
func (x *executor) refreshLock(ctx context.Context, s exchange.Step) error {
	for _, n := range x.nodes {
		if err := x.refreshNode(ctx, s, n); err != nil {
			return err
		}
	}
	return nil
}

func (x *executor) refreshNode(ctx context.Context, s exchange.Step, n *node) error {
	if x.clk.Now().Sub(n.lockRefreshed) < x.o.LockTTL/3 {
		return nil
	}
	of, this := "", "this server"
	if n != x.node {
		of, this = " of server "+n.t.Server, "server "+n.t.Server
	}
	res, err := remote.Call(ctx, x.r, n.t, x.lockRequest(false))
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		x.logf(s, "could not refresh the servicing lock%s (%v); trying again later", of, err)
		return nil
	}
	if !res.Held {
		x.lockLost, x.lostOn = &res, n
		return &stepFailure{
			err: fmt.Errorf("the servicing lock%s expired and %s took it (until %s)", of, orUnknown(res.Owner), formatTime(res.Expires)),
			next: "Another apply is servicing " + this + " now; nothing more was done by this one. " +
				"Let that apply finish, then run terraform plan and terraform apply again.",
		}
	}
	n.lockRefreshed = x.clk.Now()
	return nil
}

// releaseLock releases n's lock, with a fresh context when ctx has ended; keepRecord keeps
// the record of n's services from before the first lock (wire.LockRequest.KeepServiceRecord).
// Its log message names the current node: callers make n current.
func (x *executor) releaseLock(ctx context.Context, n *node, keepRecord bool) error {
	if ctx.Err() != nil && n.down {
		// Out of time, and the node does not answer since its restart: trying would only
		// keep the apply past its time. The lock expires by itself.
		return fmt.Errorf("%s does not answer since its restart", n.t.Server)
	}
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), releaseBudget)
		defer cancel()
	}
	req := x.lockRequest(true)
	req.KeepServiceRecord = keepRecord
	if _, err := remote.Call(ctx, x.r, n.t, req); err != nil {
		return err
	}
	n.locked = false
	x.logf(x.applyStep(), "released the servicing lock")
	return nil
}

func (x *executor) lockRequest(release bool) wire.LockRequest {
	ttl := int64(x.o.LockTTL / time.Second)
	if ttl < 1 {
		ttl = 1
	}
	return wire.LockRequest{Owner: x.o.Owner, TTLSeconds: ttl, Release: release}
}

// fail turns a step's error into the *StepError Apply returns, after recovery (when it is
// safe) and the locks' release.
func (x *executor) fail(ctx context.Context, i int, s exchange.Step, err error) error {
	se := &StepError{Server: x.t.Server, Index: i + 1, Total: len(x.plan.Steps), Step: s, Err: err}
	var sf *stepFailure
	if errors.As(err, &sf) {
		se.Err, se.Job, se.Next, se.manual = sf.err, sf.job, sf.next, sf.manual
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

	// Only the failing node can have an installer running or be restarting: the steps
	// before it completed.
	switch {
	case x.lockLost != nil:
		why := "another apply holds the server now"
		if x.lostOn != x.node {
			why = "another apply holds server " + x.lostOn.t.Server + " now"
		}
		se.Left, se.leftWhy = x.changes(), why
		se.Down = x.downText(why)
	case x.job != nil:
		se.Left, se.leftWhy = x.changes(), "the installer may still be running"
		se.Down = x.downText(fmt.Sprintf("the installer (job %s) may still be running on %s", x.job.ID, x.t.Server))
	case x.down:
		se.Left, se.leftWhy = x.changes(), "the server does not answer"
		se.Down = x.downText("server " + x.t.Server + " does not answer")
	case se.manual:
		// Undoing would bring the clustered server online, which the manual step needs
		// offline (and which fails before it: event 1025).
		se.Left, se.leftWhy = x.changes(), "the manual step needs the cluster as it is"
		se.Down = x.downText("it waits for the manual step")
	default:
		se.Recovery, se.Left = x.recoverAll(ctx, s)
		se.Down = x.downText("")
	}
	cur := x.node
	for _, n := range x.nodes {
		if n == x.lostOn || !n.locked {
			continue
		}
		x.node = n
		// A node this run changed keeps the record of its services as they were before it:
		// the next apply puts them back by it, not by what this run or its installer left.
		if err := x.releaseLock(ctx, n, n.touched); err != nil {
			se.Recovery = append(se.Recovery, fmt.Sprintf("could not release the servicing lock%s (%v); it expires by itself within %s", x.on(n), err, x.o.LockTTL))
		}
	}
	x.node = cur
	if x.o.Log != nil {
		x.o.Log(s, se.Error())
	}
	return se
}

// interruption is the error and the advice when ctx ended during a step.
//
//nolint:staticcheck // ST1008: the advice belongs with the error; every caller uses both
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

// changes lists what this run changed and has not put back, on every node (the failing
// node first), for a StepError that could not undo them.
func (x *executor) changes() []string {
	out := x.changesOf(x.node)
	for _, n := range x.nodes {
		if n != x.node {
			out = append(out, x.changesOf(n)...)
		}
	}
	return append(out, x.clusterChanges()...)
}

func (x *executor) changesOf(n *node) []string {
	var out []string
	for _, name := range n.stopped {
		out = append(out, "service "+name+" is stopped"+x.on(n))
	}
	if n.revocationOff {
		out = append(out, "the certificate revocation check is off"+x.on(n))
	}
	if n.customSaved {
		out = append(out, "the customisations are saved aside, not restored"+x.on(n))
	}
	if n.clusterStopped {
		out = append(out, "the cluster service is stopped on "+n.t.Server)
	}
	return out
}

func (n *node) changed() bool {
	return len(n.stopped) > 0 || n.revocationOff || n.customSaved
}

// recoverAll undoes, best effort, what this run changed: on the failing node first (what
// Apply undoes), then the cluster (the clustered servers this run left down are brought
// online, failover is allowed again), then on the other nodes. It returns what it did, and
// what it leaves on purpose: a cluster service this run stopped stays stopped (starting it
// makes a node whose install failed a failover target again). When ctx has ended it uses a
// fresh, bounded context: nothing that could disturb an installer runs here (recoverAll is
// not called while one may run), and nothing is ever stopped.
func (x *executor) recoverAll(ctx context.Context, s exchange.Step) (done, left []string) {
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), recoveryBudget)
		defer cancel()
	}
	done = x.recover(ctx, s, x.node)
	done = append(done, x.recoverCluster(ctx, s)...)
	for _, n := range x.nodes {
		if n != x.node && !n.down && n.changed() {
			done = append(done, x.recover(ctx, s, n)...)
		}
	}
	for _, n := range x.nodes {
		if n.clusterStopped {
			left = append(left, fmt.Sprintf("the cluster service is stopped on %s (start it with net start clussvc once Exchange on %s is repaired)", n.t.Server, n.t.Server))
		}
	}
	return done, left
}

// recover puts back, best effort, what this run changed on n: the services it stopped (in
// reverse order), the revocation check, the customisations.
func (x *executor) recover(ctx context.Context, s exchange.Step, n *node) []string {
	var done []string
	on := x.on(n)
	for i := len(n.stopped) - 1; i >= 0; i-- {
		name := n.stopped[i]
		if _, err := remote.Call(ctx, x.r, n.t, wire.ServiceRequest{Name: name, Action: wire.ActionStart}); err != nil {
			done = append(done, fmt.Sprintf("could not start %s%s (%v)", name, on, err))
			continue
		}
		x.report.Restarted = append(x.report.Restarted, name)
		done = append(done, "started "+name+on)
	}
	n.stopped = nil
	if n.revocationOff {
		if _, err := remote.Call(ctx, x.r, n.t, wire.RevocationCheckRequest{Enabled: true}); err != nil {
			done = append(done, fmt.Sprintf("could not turn the certificate revocation check back on%s (%v)", on, err))
		} else {
			n.revocationOff = false
			done = append(done, "turned the certificate revocation check back on"+on)
		}
	}
	if n.customSaved {
		// No user page here: recovery only makes sure a logon page is live again.
		if _, err := remote.Call(ctx, x.r, n.t, wire.CustomizationsRequest{Action: wire.ActionRestore, LogonFile: ""}); err != nil {
			done = append(done, fmt.Sprintf("could not restore the customisations%s (%v)", on, err))
		} else {
			n.customSaved = false
			done = append(done, "restored the customisations"+on)
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
