package servicing

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
)

// validate checks the whole plan before anything remote happens: a plan this executor cannot
// run completely is a bug in the planner, and finding it at step 9 would leave the server
// half-serviced.
func validate(t remote.Target, plan exchange.Plan, o Options) error {
	if o.Owner == "" && !plan.Empty() {
		return fmt.Errorf("server %s: servicing needs a lock owner (Options.Owner); nothing was done. This is a bug in the provider: please report it", t.Server)
	}
	if plan.Server != "" && !strings.EqualFold(plan.Server, t.Server) {
		return fmt.Errorf("server %s: the plan is for server %s; nothing was done. This is a bug in the provider: please report it", t.Server, plan.Server)
	}
	return validateSteps(plan, func(exchange.Step) string { return t.Server }, func(s exchange.Step) error {
		if s.Server != "" && !strings.EqualFold(s.Server, t.Server) {
			return fmt.Errorf("the step is for server %s, not %s", s.Server, t.Server)
		}
		return nil
	})
}

// validateSteps checks every step: it has a kind, its server (checkServer), and the fields
// its kind cannot run without (StepKind.Check). serverOf names the server in the error.
func validateSteps(plan exchange.Plan, serverOf func(exchange.Step) string, checkServer func(exchange.Step) error) error {
	bad := func(i int, s exchange.Step, format string, args ...any) error {
		return &StepError{Server: serverOf(s), Index: i + 1, Total: len(plan.Steps), Step: s,
			Err:  fmt.Errorf(format, args...),
			Next: "Nothing was done. This is a bug in the provider's plan: please report it with the planned steps."}
	}
	for i, s := range plan.Steps {
		if s.Kind == nil {
			return bad(i, s, "the step has no action")
		}
		if err := checkServer(s); err != nil {
			return bad(i, s, "%v", err)
		}
		if err := s.Kind.Check(); err != nil {
			return bad(i, s, "%v", err)
		}
	}
	return nil
}

// stepFailure is a step's error with what the StepError needs beyond it.
type stepFailure struct {
	err  error
	job  *exchange.Job
	next string
	// manual: the apply stops at a manual step that is not done; nothing is undone, so
	// that the server stays as the administrator's step needs it.
	manual bool
}

func (f *stepFailure) Error() string { return f.err.Error() }
func (f *stepFailure) Unwrap() error { return f.err }

// runStep runs one step. Every operation is idempotent on the server, so running a step again
// after an interrupted apply is safe.
func (x *executor) runStep(ctx context.Context, s exchange.Step) error {
	return s.Kind.Run(stepRun{executor: x, ctx: ctx, s: s})
}

// stepRun runs one step: its methods are exchange.StepRunner's, one per step kind (the
// cluster kinds' are in cluster.go).
type stepRun struct {
	*executor
	ctx context.Context
	s   exchange.Step
}

var _ exchange.StepRunner = stepRun{}

// Preflight checks on the server what the later steps read. It changes nothing, so a
// failure leaves nothing to undo: the error names each attribute and path and says what
// to fix.
func (x stepRun) Preflight(k exchange.Preflight) error {
	checks, err := wire.PreflightChecks(k.Checks)
	if err != nil {
		return &stepFailure{err: fmt.Errorf("preflight: %v", err), next: preflightNext}
	}
	res, err := remote.Call(x.ctx, x.r, x.t, wire.PreflightRequest{Checks: checks})
	if err != nil {
		return err
	}
	if len(res.Items) != len(k.Checks) {
		return fmt.Errorf("preflight: the server answered %d checks, not %d", len(res.Items), len(k.Checks))
	}
	var problems []string
	for i, item := range res.Items {
		c := k.Checks[i]
		media, pkg := c.Attributes()
		var named []string
		for _, x := range [][2]string{{media, c.MediaPath}, {pkg, c.PackagePath}} {
			if x[0] != "" && x[1] != "" {
				named = append(named, fmt.Sprintf(`%s "%s"`, x[0], x[1]))
			}
		}
		what := strings.Join(named, ", ")
		if what == "" {
			what = c.Action
		}
		switch {
		case item.Problem != "" && c.Action == exchange.PreflightFile:
			problems = append(problems, fmt.Sprintf("%s: %s", what, item.Problem))
		case item.Problem != "":
			problems = append(problems, fmt.Sprintf("%s (for %s): %s", what, c.Action, item.Problem))
		case item.Skipped != "":
			x.logf(x.s, "preflight: %s: not checked, %s", what, item.Skipped)
		default:
			x.logf(x.s, "preflight: %s: %s readable", what, strings.Join(item.Found, ", "))
		}
	}
	if len(problems) > 0 {
		return &stepFailure{err: fmt.Errorf("preflight on %s failed: %s", x.t.Server, strings.Join(problems, "; ")), next: preflightNext}
	}
	return nil
}

// preflightNext is what to do after a failed preflight.
const preflightNext = "Nothing on the server was changed. Correct the attribute named (or make the file readable from the server, " +
	"e.g. the share's permissions for the connecting account), then run terraform apply again."

func (x stepRun) VerifyBackups(exchange.VerifyBackups) error {
	x.logf(x.s, "backups: checked against fresh facts when this apply re-planned; nothing to do on the server")
	return nil
}

func (x stepRun) SaveCustomizations(k exchange.SaveCustomizations) error {
	return x.customizations(wire.ActionSave, k.LogonFile)
}

func (x stepRun) RestoreCustomizations(k exchange.RestoreCustomizations) error {
	return x.customizations(wire.ActionRestore, k.LogonFile)
}

func (x stepRun) customizations(action, logonFile string) error {
	if action == wire.ActionSave {
		x.customSaved = true // before the call: a restore is harmless if the save did not happen
	}
	res, err := remote.Call(x.ctx, x.r, x.t, wire.CustomizationsRequest{Action: action, LogonFile: logonFile})
	if err != nil {
		if isFault(err) && action == wire.ActionSave {
			x.customSaved = false
		}
		return err
	}
	if action == wire.ActionRestore {
		x.customSaved = false
	}
	x.logf(x.s, "customisations %s: %s", map[string]string{wire.ActionSave: "saved", wire.ActionRestore: "restored"}[action], listOrNothing(res.Items))
	return nil
}

func (x stepRun) StopService(k exchange.StopService) error {
	name := k.Service
	x.stopped = appendOnce(x.stopped, name) // before the call: starting it again is harmless
	res, err := x.service(x.ctx, name, wire.ActionStop)
	if err != nil {
		if isFault(err) {
			x.stopped = remove(x.stopped, name)
		}
		return err
	}
	x.report.Stopped = append(x.report.Stopped, name)
	x.logf(x.s, "service %s: %s -> %s", name, orUnknown(res.Before), orUnknown(res.After))
	return nil
}

func (x stepRun) StartService(k exchange.StartService) error {
	name := k.Service
	res, err := x.service(x.ctx, name, wire.ActionStart)
	if err != nil {
		return err
	}
	x.stopped = remove(x.stopped, name)
	x.report.Restarted = append(x.report.Restarted, name)
	x.logf(x.s, "service %s: %s -> %s", name, orUnknown(res.Before), orUnknown(res.After))
	return nil
}

func (x stepRun) DisableRevocationCheck(exchange.DisableRevocationCheck) error {
	return x.revocationCheck(false)
}

func (x stepRun) EnableRevocationCheck(exchange.EnableRevocationCheck) error {
	return x.revocationCheck(true)
}

func (x stepRun) revocationCheck(enable bool) error {
	if !enable {
		x.revocationOff = true
	}
	res, err := remote.Call(x.ctx, x.r, x.t, wire.RevocationCheckRequest{Enabled: enable})
	if err != nil {
		if isFault(err) && !enable {
			x.revocationOff = false
		}
		return err
	}
	if enable {
		x.revocationOff = false
	}
	x.logf(x.s, "certificate revocation check: %s -> %s", onOff(res.Before), onOff(res.After))
	return nil
}

func (x stepRun) StartFirewall(exchange.StartFirewall) error {
	return x.firewall(wire.ActionStart)
}

func (x stepRun) RestoreFirewall(exchange.RestoreFirewall) error {
	return x.firewall(wire.ActionRestore)
}

func (x stepRun) firewall(action string) error {
	res, err := remote.Call(x.ctx, x.r, x.t, wire.FirewallRequest{Action: action})
	if err != nil {
		return err
	}
	what := "running already: nothing recorded"
	switch {
	case action == wire.ActionStart && res.Recorded:
		what = "started; recorded that it was " + orUnknown(res.RecordedState) + " (" + orUnknown(res.RecordedStartMode) + ")"
	case action == wire.ActionRestore && res.Recorded:
		what = "put back to " + orUnknown(res.RecordedState) + " (" + orUnknown(res.RecordedStartMode) + ")"
	case action == wire.ActionRestore:
		what = "no record of an earlier start: left as it is"
	}
	x.logf(x.s, "Windows Firewall service %s: %s -> %s, %s", res.Service, orUnknown(res.Before), orUnknown(res.After), what)
	return nil
}

func (x stepRun) SetRemoteStreamingBackup(exchange.SetRemoteStreamingBackup) error {
	res, err := remote.Call(x.ctx, x.r, x.t, wire.RemoteStreamingBackupRequest{Enabled: true})
	if err != nil {
		return err
	}
	x.logf(x.s, "Enable Remote Streaming Backup: %s -> %s", onOff(res.Before), onOff(res.After))
	return nil
}

func (x stepRun) StartExchangeServices(exchange.StartExchangeServices) error {
	res, err := remote.Call(x.ctx, x.r, x.t, wire.ExchangeServicesRequest{})
	if err != nil {
		return err
	}
	x.logf(x.s, "Exchange services: start mode given back to %s; started %s", listOrNothing(res.Enabled), listOrNothing(res.Started))
	if len(res.LeftToCluster) > 0 {
		x.logf(x.s, "Exchange services left to the cluster (they come online with their group): %s", strings.Join(res.LeftToCluster, ", "))
	}
	if len(res.Failed) > 0 {
		return &stepFailure{
			err: fmt.Errorf("Exchange services did not start: %s", strings.Join(res.Failed, "; ")),
			next: "Find out why they do not start (the System and Application event logs on the server), " +
				"start them, then run terraform apply again; the apply continues from the remaining steps.",
		}
	}
	return nil
}

func (x stepRun) Reboot(k exchange.Reboot) error { return x.reboot(x.ctx, x.s, k.When) }

func (x stepRun) VerifyBuild(k exchange.VerifyBuild) error { return x.verifyBuild(x.ctx, x.s, k.Build) }

func (x stepRun) Install(k exchange.Installer) error { return x.runJob(x.ctx, x.s, k.Job()) }

func (x *executor) service(ctx context.Context, name, action string) (wire.ServiceResult, error) {
	return remote.Call(ctx, x.r, x.t, wire.ServiceRequest{Name: name, Action: action})
}

// jobStart is the job_start request of a step's installer job; id is the job's id.
func jobStart(id, action string, j exchange.InstallJob) wire.JobStartRequest {
	return wire.JobStartRequest{ID: id, Action: action, MediaPath: j.MediaPath, PackagePath: j.PackagePath,
		PatchCode: j.PatchCode, KB: j.KB, Language: j.Language, Group: j.Group}
}

// runJob starts the step's installer job (or attaches to the one with its id) and waits for it.
func (x *executor) runJob(ctx context.Context, s exchange.Step, j exchange.InstallJob) error {
	if j.Group != "" { // upgrade_cms
		// From its start, the clustered server may belong to the new version only: the
		// advice for bringing it back must not send it to an older node.
		g := x.groupOf(j.Group)
		g.upgrading = s.Action()
		err := x.runJob1(ctx, s, j)
		if err == nil {
			g.upgrading, g.upgraded = "", true
		}
		return err
	}
	return x.runJob1(ctx, s, j)
}

func (x *executor) runJob1(ctx context.Context, s exchange.Step, j exchange.InstallJob) error {
	spec := jobStart(x.jobID(s), s.Action(), j)
	called := x.clk.Now()
	// From here until the job is seen finished an installer may run: nothing may be undone.
	// A job_start whose answer was lost may have started it.
	x.job = &exchange.Job{ID: spec.ID, Action: spec.Action, State: exchange.JobRunning}
	job, err := remote.Call(ctx, x.r, x.t, spec)
	if err != nil {
		var f *wire.Fault
		if errors.As(err, &f) {
			x.job = nil // the server answered: nothing was started
			return &stepFailure{err: fmt.Errorf("the installer did not start: %w", f), next: faultNext(f)}
		}
		if ctx.Err() != nil {
			return err
		}
		return &stepFailure{
			err: fmt.Errorf("could not start the installer (job %s): %w", spec.ID, err),
			next: "The installer may or may not have started, so nothing was undone. Once the server answers, " +
				"run terraform apply again: it attaches to the job if it started and continues from the remaining steps.",
		}
	}
	if job.ID == "" {
		job.ID = spec.ID
	}
	x.job = &job
	// A record that is already finished is an earlier run's.
	earlier := job.State != exchange.JobRunning
	if earlier || job.Started.Before(called.Add(-attachSlack)) {
		x.logf(s, "attaching to job %s (%s) started at %s", job.ID, job.State, formatTime(job.Started))
	} else {
		x.logf(s, "started job %s; the installer runs on the server, log %s", job.ID, orUnknown(job.LogPath))
	}

	job, err = x.waitJob(ctx, s, job)
	if err != nil {
		return err
	}
	x.job = nil
	switch job.State {
	case exchange.JobSucceeded:
		if job.RebootRequired {
			x.rebootRequired = true
		}
		x.logf(s, "job %s succeeded (exit code %d%s)", job.ID, job.ExitCode, map[bool]string{true: ", reboot required"}[job.RebootRequired])
		return nil
	case exchange.JobFailed:
		msg := fmt.Sprintf("installer exit code %d", job.ExitCode)
		if job.Error != "" {
			msg += " (" + job.Error + ")"
		}
		if job.LogPath != "" {
			msg += "; log " + job.LogPath
		}
		next := nextFixAndRerun
		if earlier {
			// job_start returns an existing record, failed or not, instead of starting again.
			msg = fmt.Sprintf("an earlier run of this installer (job %s, started at %s) failed, and the server returned its record instead of running it again: %s",
				job.ID, formatTime(job.Started), msg)
			next = fmt.Sprintf("Read the log and fix the cause. Then delete the failed job's record on the server (job %s under %s), "+
				"so that the installer runs again, and run terraform apply again; the apply continues from the remaining steps.", job.ID, jobsKey)
		} else if spec.Action == exchange.ActionUpgradeCMS {
			// The CMS key the broken-off /upgradeCMS left lets only /upgradeCMS run on the
			// node, and the next plan runs it there again before anything else.
			next = fmt.Sprintf("Read the log and fix the cause, then run terraform plan and apply: the plan runs Setup.com /upgradeCMS on %s again, "+
				"starts %s (Start-ClusteredMailboxServer) and continues with the remaining nodes.",
				x.t.Server, spec.Group)
		} else if strings.HasPrefix(job.Error, "FileInUse") {
			next = "Another program held a file the installer had to replace (often an antivirus or backup agent): " +
				"stop it during servicing (add its service to the services to stop), then run terraform apply again; " +
				"the apply continues from the remaining steps."
		}
		return &stepFailure{err: errors.New(msg), job: &job, next: next}
	default:
		return &stepFailure{
			err:  fmt.Errorf("job %s reports state %q, which this provider does not know", job.ID, job.State),
			job:  &job,
			next: "The provider and its scripts disagree: report this as a bug. Check the installer log on the server before running terraform apply again.",
		}
	}
}

// waitJob polls the job every PollInterval until it is not running, within JobTimeout.
// Transient transport errors are expected (an install restarts services and may drop
// WinRM connections) and polling goes on; a fault or a permanent error stops it.
func (x *executor) waitJob(ctx context.Context, s exchange.Step, job exchange.Job) (exchange.Job, error) {
	deadline := x.clk.Now().Add(x.o.JobTimeout)
	var lastErr error
	for job.State == exchange.JobRunning {
		if !x.clk.Now().Before(deadline) {
			msg := fmt.Sprintf("the installer (job %s, started at %s) was still running after %s", job.ID, formatTime(job.Started), x.o.JobTimeout)
			if lastErr != nil {
				msg = fmt.Sprintf("the state of the installer (job %s, started at %s) could not be read for %s; last error: %v", job.ID, formatTime(job.Started), x.o.JobTimeout, lastErr)
			}
			return job, &stepFailure{
				err: errors.New(msg),
				job: &job,
				next: fmt.Sprintf("Nothing was undone because the installer may still be running. Check it on the server (log %s); "+
					"once it has finished, run terraform apply again: it attaches to the job and continues from the remaining steps.", orUnknown(job.LogPath)),
			}
		}
		if err := x.clk.Sleep(ctx, x.o.PollInterval); err != nil {
			return job, err
		}
		st, err := remote.Call(ctx, x.r, x.t, wire.JobStatusRequest{ID: job.ID})
		if err != nil {
			if ctx.Err() != nil {
				return job, err
			}
			if !transient(err) {
				return job, &stepFailure{
					err: fmt.Errorf("could not read the state of the installer (job %s): %w", job.ID, err),
					job: &job,
					next: fmt.Sprintf("Nothing was undone because the installer may still be running. Check it on the server (log %s); "+
						"once it has finished, run terraform apply again: it attaches to the job and continues from the remaining steps.", orUnknown(job.LogPath)),
				}
			}
			if lastErr == nil {
				x.logf(s, "job %s: the server does not answer (%v); the installer keeps running, polling goes on", job.ID, err)
			}
			lastErr = err
			continue
		}
		if lastErr != nil {
			x.logf(s, "job %s: the server answers again", job.ID)
			lastErr = nil
		}
		if st.ID == "" {
			st.ID = job.ID
		}
		job = st
		x.job = &job
		if err := x.refreshLock(ctx, s); err != nil {
			return job, err
		}
	}
	return job, nil
}

// transient reports whether a failed poll may succeed later: the transport could not reach
// the server, WinRM failed the request, or the script wrote no result (PowerShell did not
// start on a server busy installing). A script's fault, bad credentials or TLS, and a result
// that does not decode are not.
func transient(err error) bool {
	if isFault(err) {
		return false
	}
	var re *remote.Error
	if errors.As(err, &re) {
		switch re.Kind {
		case remote.KindUnreachable, remote.KindTimeout, remote.KindServer, remote.KindQuota:
			return true
		case remote.KindProtocol:
			return errors.Is(err, wire.ErrNoResult)
		}
	}
	return false
}

func isFault(err error) bool {
	var f *wire.Fault
	return errors.As(err, &f)
}

// reboot restarts the server when the step says so and waits until it answers with a newer
// boot time.
func (x *executor) reboot(ctx context.Context, s exchange.Step, when exchange.RebootWhen) error {
	// Read the server first: whether a reboot is pending, and the boot time to wait past
	// should the restart command's answer be lost.
	f, err := x.r.Probe(ctx, x.t)
	if err != nil {
		return fmt.Errorf("could not read the server before restarting it: %w", err)
	}
	x.report.Facts = f
	if when == exchange.RebootIfRequired && !x.rebootRequired {
		if len(f.PendingReboot) == 0 {
			x.logf(s, "no reboot needed")
			return nil
		}
		x.logf(s, "a reboot is pending (%s)", strings.Join(f.PendingReboot, ", "))
	} else if x.rebootRequired {
		x.logf(s, "the installer asked for a reboot")
	}
	if g, ok := f.Cluster.ServedBy(x.t.Server); ok {
		// The procedures restart a node only while it serves no clustered server; one that
		// serves one now (an apply resumed after the clustered server moved to this node)
		// would take it down with the restart: mail is down until the cluster fails it over.
		return &stepFailure{
			err: fmt.Errorf("a reboot is due, but %s runs the clustered server %s (%s): restarting it would take %s down", x.t.Server, g.Name, g.State, g.Name),
			next: fmt.Sprintf("Move %s to another node of the cluster (Move-ClusteredMailboxServer on Exchange 2007, Cluster Administrator on 2000/2003) in a maintenance window, "+
				"then run terraform apply again: the reboot runs then. Nothing was restarted.", g.Name),
		}
	}

	res, err := remote.Call(ctx, x.r, x.t, wire.RebootRequest{})
	if err != nil {
		// The transport does not send a restart twice; when the server took the command and
		// the answer was lost, it is restarting: wait for it as if the answer had come.
		var re *remote.Error
		if !errors.As(err, &re) || !re.MayHaveRun {
			return fmt.Errorf("could not restart the server: %w", err)
		}
		x.logf(s, "the answer to the restart command was lost (%v); the server may be restarting", err)
		res.BootTime = f.BootTime
	}
	x.down = true
	x.logf(s, "restarting (booted at %s); waiting up to %s for it to answer again", formatTime(res.BootTime), x.o.RebootTimeout)
	deadline := x.clk.Now().Add(x.o.RebootTimeout)
	var lastErr error
	for {
		if !x.clk.Now().Before(deadline) {
			msg := fmt.Sprintf("the server did not come back within %s after the restart", x.o.RebootTimeout)
			if lastErr != nil {
				msg += fmt.Sprintf(" (last error: %v)", lastErr)
			} else {
				msg += " (it still answers with the boot time from before the restart)"
			}
			return &stepFailure{
				err: errors.New(msg),
				next: "Check the server's console: it may hang at shutdown, apply updates or wait at a boot prompt. " +
					"Once it answers over WinRM, run terraform apply again; the apply continues from the remaining steps.",
			}
		}
		if err := x.clk.Sleep(ctx, x.o.PollInterval); err != nil {
			return err
		}
		pctx, cancel := context.WithTimeout(ctx, max(deadline.Sub(x.clk.Now()), time.Second))
		f, err := x.r.Probe(pctx, x.t)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			if lastErr == nil {
				x.logf(s, "the server does not answer while it restarts (%v); waiting", err)
			}
			lastErr = err
			continue
		}
		lastErr = nil
		if !f.BootTime.After(res.BootTime) {
			continue // not down yet
		}
		x.down = false
		x.rebootRequired = false
		x.report.Facts = f
		x.logf(s, "the server is back (booted at %s)", formatTime(f.BootTime))
		return x.refreshLock(ctx, s)
	}
}

// verifyBuild reads the build again and compares it with want.
func (x *executor) verifyBuild(ctx context.Context, s exchange.Step, want exchange.Build) error {
	f, err := x.r.Probe(ctx, x.t)
	if err != nil {
		return fmt.Errorf("could not read the build: %w", err)
	}
	x.report.Facts = f
	got, err := exchange.ParseBuild(f.Build)
	if err != nil {
		return fmt.Errorf("the server reports a build this provider cannot read: %w", err)
	}
	if !got.SameBuild(want) {
		return &stepFailure{
			err: fmt.Errorf("the server runs build %s, not %s", got, want),
			next: "The installer reported success but the build is not the target: check the setup logs on the server " +
				`(C:\ExchangeSetupLogs) and the installed updates, then run terraform plan and terraform apply again.`,
		}
	}
	x.logf(s, "build %s as planned", got)
	return nil
}

// faultNext is the advice for a job_start fault.
func faultNext(f *wire.Fault) string {
	switch f.Code {
	case "watermark":
		// Running setup again cannot clear them: it refuses while they exist (msxfaq.de,
		// "Service Packs für Exchange 2007").
		return "An earlier Exchange setup was interrupted and left Action/Watermark values (named above); setup refuses to start while they exist. " +
			"By hand: " + exchange.InterruptedSetupAdvice(exchange.SetupKeyRoot+`\<Role>`) +
			`. Or, for a service pack, set clear_setup_watermark = { reason = "..." } and the plan does it. ` +
			"Then run terraform plan and terraform apply again: the apply runs setup and continues from the remaining steps."
	case "setup_running":
		return "Another setup or installer runs on the server (not one this provider started). " +
			"Wait until it has finished (or end it if it hangs), then run terraform apply again."
	case "refused":
		return "Fix what the installer refused (the package path, its fit to the server's level), " +
			"then run terraform plan and terraform apply again."
	}
	return nextFixAndRerun
}

// jobsKey is where the server keeps the job records (see exchange.Facts.Jobs).
const jobsKey = `HKLM\SOFTWARE\BuildLevel\ExchangeProvider\Jobs`

const nextFixAndRerun = "Fix the cause and run terraform apply again; the apply continues from the remaining steps."

func appendOnce(list []string, s string) []string {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return list
		}
	}
	return append(list, s)
}

func remove(list []string, s string) []string {
	out := list[:0:0]
	for _, v := range list {
		if !strings.EqualFold(v, s) {
			out = append(out, v)
		}
	}
	return out
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func listOrNothing(items []string) string {
	if len(items) == 0 {
		return "nothing"
	}
	return strings.Join(items, ", ")
}

// VerifyOWA asks the server's own OWA for its logon page ("How to install the latest Service Pack or Update Rollup for Exchange 2007": after the update, log
// on to OWA to check it works). The logon form must come back; a 401 means OWA answers
// but does not use forms-based authentication, so there is no logon page to check.
func (x stepRun) VerifyOWA(exchange.VerifyOWA) error {
	res, err := remote.Call(x.ctx, x.r, x.t, wire.OWACheckRequest{})
	if err != nil {
		return err
	}
	cert := ""
	if res.CertificateErrors != "" {
		cert = "; certificate: " + res.CertificateErrors
	}
	switch {
	case res.Status == 200 && res.LogonForm:
		x.logf(x.s, "OWA answered %s with its logon form (HTTP 200, %d characters%s)", res.URL, res.Length, cert)
		return nil
	case res.Status == 401:
		x.logf(x.s, "OWA answered %s with HTTP 401: it asks for Windows authentication, so forms-based logon (Logon.aspx) is not in use%s", res.URL, cert)
		return nil
	}
	what := fmt.Sprintf("HTTP %d", res.Status)
	switch {
	case res.Status == 0:
		what = "no answer: " + res.Error
	case res.Status == 200:
		what = fmt.Sprintf("HTTP 200 without a logon form (%d characters): the blank page", res.Length)
	}
	return &stepFailure{
		err: fmt.Errorf("OWA did not answer %s with its logon page (%s)", res.URL, what),
		next: `A customised Logon.aspx made for the earlier build shows a blank page. Compare the live page (<Exchange>\ClientAccess\Owa\auth\logon.aspx) ` +
			`with the one the update wrote (kept as %SystemRoot%\Temp\ExchangeProvider\customizations\owa_logon\setup\logon.aspx when owa_logon_file was put in place), ` +
			`re-create the customisations in the new page, check that IIS (W3SVC) runs, then run terraform apply again: it checks OWA again.`,
	}
}

func (x stepRun) CheckNoSetupRunning(exchange.CheckNoSetupRunning) error {
	if _, err := x.setupWatermark(wire.SetupWatermarkRequest{Action: wire.SetupWatermarkCheck}); err != nil {
		return err
	}
	x.logf(x.s, "no setup or installer runs on the server")
	return nil
}

func (x stepRun) ExportSetupKey(k exchange.ExportSetupKey) error {
	res, err := x.setupWatermark(wire.SetupWatermarkRequest{Action: wire.SetupWatermarkExport, Key: k.Key, File: k.File})
	if err != nil {
		return err
	}
	if res.Exported {
		x.logf(x.s, "exported %s to %s", res.Key, res.File)
	} else {
		x.logf(x.s, "%s exists already (an earlier run exported these values): not exported again", res.File)
	}
	return nil
}

func (x stepRun) RemoveSetupWatermark(k exchange.RemoveSetupWatermark) error {
	res, err := x.setupWatermark(wire.SetupWatermarkRequest{Action: wire.SetupWatermarkRemove, Key: k.Key})
	if err != nil {
		return err
	}
	x.logf(x.s, "%s: removed %s", res.Key, listOrNothing(res.Removed))
	return nil
}

// setupWatermark runs one setup_watermark action; setup_running stops the apply with what
// to do (the values are only stale when no setup runs).
func (x stepRun) setupWatermark(req wire.SetupWatermarkRequest) (wire.SetupWatermarkResult, error) {
	res, err := remote.Call(x.ctx, x.r, x.t, req)
	var f *wire.Fault
	if errors.As(err, &f) && f.Code == "setup_running" {
		return res, &stepFailure{err: err,
			next: "A setup or installer runs on the server, so the Action/Watermark values may be its own: nothing was removed. " +
				"Wait until it has finished (or find who runs it), then run terraform plan and terraform apply again."}
	}
	return res, err
}
