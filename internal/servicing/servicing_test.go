package servicing

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
)

const (
	owner  = "terraform-provider-exchange@ci01"
	spJob  = "install_service_pack-8.3.83.6"
	iuJob  = "remove_interim_update-KB970000"
	umDel  = "remove_um_language_pack-de-DE"
	umAdd  = "add_um_language_pack-de-DE"
	sp3    = "8.3.83.6"
	bexec  = "BackupExecRPCService"
	virus  = "VirusScan"
	spStep = 8 // 1-based position of install_service_pack in spPlan
)

func step(kind exchange.StepKind, desc string) exchange.Step {
	return exchange.Step{Kind: kind, Server: "EX01", Description: desc}
}

// spPlan is a service pack plan as the planner orders it.
func spPlan() exchange.Plan {
	return exchange.Plan{Server: "EX01", Steps: []exchange.Step{
		step(exchange.VerifyBackups{}, "verify backups"),
		step(exchange.SaveCustomizations{}, "save OWA customisations"),
		step(exchange.RemoveInterimUpdate{KB: "KB970000", PatchCode: "{11111111-2222-3333-4444-555555555555}"}, "remove interim update KB970000"),
		step(exchange.RemoveUMLanguagePack{Language: "de-DE", Path: `D:\SP3\UM`}, "remove UM language pack de-DE"),
		step(exchange.StopService{Service: bexec}, "stop "+bexec),
		step(exchange.StopService{Service: virus}, "stop "+virus),
		step(exchange.DisableRevocationCheck{}, "turn the certificate revocation check off"),
		step(exchange.InstallServicePack{ServicePack: 3, MediaPath: `D:\SP3`, Build: exchange.MustParseBuild(sp3)}, `Setup.com /mode:upgrade from D:\SP3`),
		step(exchange.Reboot{When: exchange.RebootIfRequired}, "reboot if required"),
		step(exchange.StartExchangeServices{}, "start Exchange services"),
		step(exchange.RestoreCustomizations{}, "restore OWA customisations"),
		step(exchange.AddUMLanguagePack{Language: "de-DE", Path: `D:\SP3\UM`}, "add UM language pack de-DE"),
		step(exchange.EnableRevocationCheck{}, "turn the certificate revocation check on"),
		step(exchange.StartService{Service: virus}, "start "+virus),
		step(exchange.StartService{Service: bexec}, "start "+bexec),
		step(exchange.SetRemoteStreamingBackup{}, "enable Remote Streaming Backup"),
		step(exchange.VerifyBuild{Build: exchange.MustParseBuild(sp3)}, "verify build "+sp3),
	}}
}

func opts(clk *fakeClock, logs *logRecorder) Options {
	return Options{Owner: owner, PollInterval: 15 * time.Second, clock: clk, Log: logs.log}
}

func assertCalls(t *testing.T, f *fakeRemote, want []string) {
	t.Helper()
	if strings.Join(f.calls, "\n") != strings.Join(want, "\n") {
		t.Errorf("remote calls:\n  %s\nwant:\n  %s", strings.Join(f.calls, "\n  "), strings.Join(want, "\n  "))
	}
}

// prefix is the calls of spPlan up to and including the SP's job_start.
var prefix = []string{
	"lock take",
	"customizations save",
	"job_start " + iuJob, "job_status " + iuJob,
	"job_start " + umDel, "job_status " + umDel,
	"service stop " + bexec,
	"service stop " + virus,
	"revocation_check false",
	"job_start " + spJob,
}

func TestFullServicePackPlan(t *testing.T) {
	f, clk := newFake(t)
	f.scripts[spJob] = jobScript{polls: 3, reboot: true}
	f.afterJobBuild = sp3
	f.staleProbes, f.downProbes = 1, 2
	logs := &logRecorder{}

	rep, err := Apply(context.Background(), f, target, spPlan(), opts(clk, logs))
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	want := append(append([]string{}, prefix...),
		"job_status "+spJob, "job_status "+spJob, "job_status "+spJob, "job_status "+spJob,
		// A probe for the boot time before the restart; then: old boot time, down, down, back.
		"probe", "reboot", "probe", "probe", "probe", "probe",
		"exchange_services",
		"customizations restore",
		"job_start "+umAdd, "job_status "+umAdd,
		"revocation_check true",
		"service start "+virus,
		"service start "+bexec,
		"remote_streaming_backup true",
		"probe",
		"job_clear", "lock release",
	)
	assertCalls(t, f, want)
	if len(rep.Done) != len(spPlan().Steps) {
		t.Errorf("Done = %d steps, want %d", len(rep.Done), len(spPlan().Steps))
	}
	if rep.Facts.Build != sp3 {
		t.Errorf("Facts.Build = %q, want %s", rep.Facts.Build, sp3)
	}
	if got, want := strings.Join(rep.Stopped, ","), bexec+","+virus; got != want {
		t.Errorf("Stopped = %s, want %s", got, want)
	}
	if got, want := strings.Join(rep.Restarted, ","), virus+","+bexec; got != want {
		t.Errorf("Restarted = %s, want %s", got, want)
	}
	if f.lockOwner != "" {
		t.Errorf("lock still held by %q", f.lockOwner)
	}
	if f.services[bexec] != "Running" || f.services[virus] != "Running" || !f.revocation || f.customSaved || !f.streaming {
		t.Errorf("server left changed: services %v revocation %v customSaved %v streaming %v", f.services, f.revocation, f.customSaved, f.streaming)
	}

	// Job parameters: step params mapped onto the job_start contract, path -> MediaPath for UM.
	wantParams := map[string]map[string]any{
		spJob: {"ID": spJob, "Action": exchange.ActionInstallServicePack, "MediaPath": `D:\SP3`, "PackagePath": "", "PatchCode": "", "KB": "", "Language": "", "Group": ""},
		iuJob: {"ID": iuJob, "Action": exchange.ActionRemoveInterimUpdate, "MediaPath": "", "PackagePath": "", "PatchCode": "{11111111-2222-3333-4444-555555555555}", "KB": "KB970000", "Language": "", "Group": ""},
		umAdd: {"ID": umAdd, "Action": exchange.ActionAddUMLanguagePack, "MediaPath": `D:\SP3\UM`, "PackagePath": "", "PatchCode": "", "KB": "", "Language": "de-DE", "Group": ""},
	}
	for i, c := range f.calls {
		id, ok := strings.CutPrefix(c, "job_start ")
		if !ok || wantParams[id] == nil {
			continue
		}
		for k, v := range wantParams[id] {
			if f.params[i][k] != v {
				t.Errorf("job_start %s: %s = %#v, want %#v", id, k, f.params[i][k], v)
			}
		}
		if len(f.params[i]) != len(wantParams[id]) {
			t.Errorf("job_start %s: params %v", id, f.params[i])
		}
	}
	// Lock parameters.
	if p := f.params[0]; p["Owner"] != owner || p["TTLSeconds"] != int64(600) || p["Release"] != false {
		t.Errorf("lock take params = %v", p)
	}

	// Every message names the server; progress is visible.
	for _, m := range logs.msgs {
		action, msg, _ := strings.Cut(m, "|")
		want := "server EX01: "
		if action != "" {
			want = "server EX01, step "
		}
		if !strings.HasPrefix(msg, want) || (action != "" && !strings.Contains(msg, " of 17 ("+action+"): ")) {
			t.Errorf("log message does not name the server and step: %q", m)
		}
	}
	for _, s := range []string{"started job " + spJob, "the server is back", "step 8 of 17 (install_service_pack): starting: Setup.com /mode:upgrade from D:\\SP3", "all 17 steps done"} {
		if !logs.has(s) {
			t.Errorf("no log message with %q in:\n%s", s, strings.Join(logs.msgs, "\n"))
		}
	}
}

func TestAttachToExistingJob(t *testing.T) {
	f, clk := newFake(t)
	started := t0.Add(-40 * time.Minute)
	f.jobs[spJob] = &exchange.Job{ID: spJob, Action: exchange.ActionInstallServicePack, State: exchange.JobRunning, Started: started, LogPath: `C:\ExchangeSetupLogs\ExchangeSetup.log`}
	f.scripts[spJob] = jobScript{polls: 2}
	f.afterJobBuild = sp3
	logs := &logRecorder{}
	plan := exchange.Plan{Server: "EX01", Steps: []exchange.Step{
		spPlan().Steps[spStep-1],
		step(exchange.VerifyBuild{Build: exchange.MustParseBuild(sp3)}, "verify build"),
	}}

	if _, err := Apply(context.Background(), f, target, plan, opts(clk, logs)); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	assertCalls(t, f, []string{
		"lock take",
		"job_start " + spJob,
		"job_status " + spJob, "job_status " + spJob, "job_status " + spJob,
		"probe",
		"job_clear", "lock release",
	})
	if len(f.started) != 0 {
		t.Errorf("the fake started jobs %v; the existing job should have been attached to", f.started)
	}
	if !logs.has("attaching to job " + spJob + " (running) started at 2009-06-01 21:20:00 UTC") {
		t.Errorf("no attach message in:\n%s", strings.Join(logs.msgs, "\n"))
	}
}

func TestAttachToFinishedJob(t *testing.T) {
	f, clk := newFake(t)
	fin := t0.Add(-5 * time.Minute)
	f.jobs[spJob] = &exchange.Job{ID: spJob, State: exchange.JobSucceeded, Started: t0.Add(-time.Hour), Finished: &fin, RebootRequired: true}
	f.downProbes = 1
	plan := exchange.Plan{Server: "EX01", Steps: []exchange.Step{
		spPlan().Steps[spStep-1],
		step(exchange.Reboot{When: exchange.RebootIfRequired}, "reboot if required"),
	}}
	logs := &logRecorder{}
	if _, err := Apply(context.Background(), f, target, plan, opts(clk, logs)); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	// Finished: no polling; its reboot request carries over to the reboot step.
	assertCalls(t, f, []string{"lock take", "job_start " + spJob, "probe", "reboot", "probe", "probe", "job_clear", "lock release"})
	if !logs.has("attaching to job " + spJob + " (succeeded)") {
		t.Errorf("no attach message in:\n%s", strings.Join(logs.msgs, "\n"))
	}
}

func TestFailingJobRecovers(t *testing.T) {
	f, clk := newFake(t)
	f.scripts[spJob] = jobScript{polls: 1, state: exchange.JobFailed, exitCode: 1603, err: "FileInUse: STORE.EXE", log: `C:\ExchangeSetupLogs\ExchangeSetup.log`}
	logs := &logRecorder{}

	rep, err := Apply(context.Background(), f, target, spPlan(), opts(clk, logs))
	var se *StepError
	if !errors.As(err, &se) {
		t.Fatalf("Apply = %v, want a *StepError", err)
	}
	assertCalls(t, f, append(append([]string{}, prefix...),
		"job_status "+spJob, "job_status "+spJob,
		// Recovery: services in reverse order, revocation check, customisations; then the lock.
		"service start "+virus,
		"service start "+bexec,
		"revocation_check true",
		"customizations restore",
		"lock release",
	))
	want := `server EX01: step 8 of 17 (install_service_pack: Setup.com /mode:upgrade from D:\SP3) failed: ` +
		`installer exit code 1603 (FileInUse: STORE.EXE); log C:\ExchangeSetupLogs\ExchangeSetup.log. ` +
		`Recovered: started VirusScan; started BackupExecRPCService; turned the certificate revocation check back on; restored the customisations. ` +
		`Next: Another program held a file the installer had to replace (often an antivirus or backup agent): ` +
		`stop it during servicing (add its service to the services to stop), then run terraform apply again; ` +
		`the apply continues from the remaining steps.`
	if err.Error() != want {
		t.Errorf("error:\n%s\nwant:\n%s", err, want)
	}
	if se.Index != spStep || se.Total != 17 || se.Step.Action() != exchange.ActionInstallServicePack {
		t.Errorf("StepError = index %d of %d, %s", se.Index, se.Total, se.Step.Action())
	}
	if se.Job == nil || se.Job.ExitCode != 1603 || se.Job.State != exchange.JobFailed {
		t.Errorf("StepError.Job = %+v", se.Job)
	}
	if len(rep.Done) != spStep-1 {
		t.Errorf("Done = %d steps, want %d", len(rep.Done), spStep-1)
	}
	if f.services[bexec] != "Running" || f.services[virus] != "Running" || !f.revocation || f.customSaved || f.lockOwner != "" {
		t.Errorf("not recovered: services %v revocation %v customSaved %v lock %q", f.services, f.revocation, f.customSaved, f.lockOwner)
	}
}

func TestCancelledMidJobDoesNotDisturbInstaller(t *testing.T) {
	f, clk := newFake(t)
	f.scripts[spJob] = jobScript{polls: 100}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	polls := 0
	f.hook = func(ctx context.Context, n int, op string, p map[string]any) error {
		if op == wire.OpJobStatus && p["ID"] == spJob {
			if polls++; polls == 2 {
				cancel() // Terraform interrupted while the installer runs
				return &remote.Error{Server: "EX01", Operation: op, Kind: remote.KindCanceled, Err: context.Canceled}
			}
		}
		return nil
	}
	logs := &logRecorder{}

	_, err := Apply(ctx, f, target, spPlan(), opts(clk, logs))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Apply = %v, want context.Canceled", err)
	}
	// No recovery: nothing touches services, the revocation check or the customisations.
	assertCalls(t, f, append(append([]string{}, prefix...),
		"job_status "+spJob, "job_status "+spJob,
		"lock release",
	))
	msg := err.Error()
	for _, s := range []string{
		"step 8 of 17 (install_service_pack: Setup.com /mode:upgrade from D:\\SP3) stopped: the apply was interrupted",
		"the installer (job " + spJob + ") may still be running on the server",
		"the next terraform apply attaches to it",
		"Not undone (the installer may still be running): service BackupExecRPCService is stopped; service VirusScan is stopped; the certificate revocation check is off; the customisations are saved aside, not restored.",
		"Next: Run terraform apply again",
	} {
		if !strings.Contains(msg, s) {
			t.Errorf("error lacks %q:\n%s", s, msg)
		}
	}
	if f.services[bexec] != "Stopped" || f.lockOwner != "" {
		t.Errorf("services %v, lock %q", f.services, f.lockOwner)
	}
}

func TestCancelledBeforeInstallRecovers(t *testing.T) {
	f, clk := newFake(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.hook = func(ctx context.Context, n int, op string, p map[string]any) error {
		if op == wire.OpService && p["Name"] == virus && p["Action"] == wire.ActionStop {
			cancel()
			return &remote.Error{Server: "EX01", Operation: op, Kind: remote.KindCanceled, Err: context.Canceled}
		}
		return nil
	}
	_, err := Apply(ctx, f, target, spPlan(), opts(clk, &logRecorder{}))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Apply = %v, want context.Canceled", err)
	}
	// No installer runs: recovery with a fresh context, including the service whose stop
	// was interrupted (it may have stopped).
	assertCalls(t, f, []string{
		"lock take",
		"customizations save",
		"job_start " + iuJob, "job_status " + iuJob,
		"job_start " + umDel, "job_status " + umDel,
		"service stop " + bexec,
		"service stop " + virus,
		"service start " + virus,
		"service start " + bexec,
		"customizations restore",
		"lock release",
	})
	if !strings.Contains(err.Error(), "step 6 of 17 (stop_service: stop VirusScan) stopped: the apply was interrupted (context canceled). Recovered: started VirusScan; started BackupExecRPCService; restored the customisations.") {
		t.Errorf("error: %v", err)
	}
}

func rebootPlan(when exchange.RebootWhen) exchange.Plan {
	return exchange.Plan{Server: "EX01", Steps: []exchange.Step{
		step(exchange.StopService{Service: bexec}, "stop "+bexec),
		step(exchange.Reboot{When: when}, "reboot"),
		step(exchange.StartService{Service: bexec}, "start "+bexec),
	}}
}

func TestRebootWaitsThroughProbeErrors(t *testing.T) {
	f, clk := newFake(t)
	f.staleProbes, f.downProbes = 2, 5
	logs := &logRecorder{}
	o := opts(clk, logs)
	o.LockTTL = 3 * time.Minute // refreshed every minute

	rep, err := Apply(context.Background(), f, target, rebootPlan(exchange.RebootAlways), o)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	// 2 stale + 5 down + 1 back, 15s apart: 2 minutes down, then the lock is refreshed.
	assertCalls(t, f, []string{
		"lock take",
		"service stop " + bexec,
		"probe", "reboot",
		"probe", "probe", "probe", "probe", "probe", "probe", "probe", "probe",
		"lock take",
		"service start " + bexec,
		"job_clear", "lock release",
	})
	if !rep.Facts.BootTime.After(t0) {
		t.Errorf("Facts.BootTime = %v, want after %v", rep.Facts.BootTime, t0)
	}
	if !logs.has("does not answer while it restarts") || !logs.has("the server is back") {
		t.Errorf("logs:\n%s", strings.Join(logs.msgs, "\n"))
	}
}

func TestRebootTimeout(t *testing.T) {
	f, clk := newFake(t)
	f.downProbes = 1 << 30
	o := opts(clk, &logRecorder{})
	o.PollInterval = time.Minute
	o.RebootTimeout = 5 * time.Minute

	_, err := Apply(context.Background(), f, target, rebootPlan(exchange.RebootAlways), o)
	var se *StepError
	if !errors.As(err, &se) || se.Index != 2 {
		t.Fatalf("Apply = %v, want a *StepError at step 2", err)
	}
	// Five probes within 5 minutes, no recovery (the server does not answer), a release attempt.
	assertCalls(t, f, []string{
		"lock take",
		"service stop " + bexec,
		"probe", "reboot",
		"probe", "probe", "probe", "probe", "probe",
		"lock release",
	})
	msg := err.Error()
	for _, s := range []string{
		"step 2 of 3 (reboot) failed: the server did not come back within 5m0s after the restart (last error: server EX01",
		"Recovery: could not release the servicing lock",
		"Not undone (the server does not answer): service BackupExecRPCService is stopped.",
		"Next: Check the server's console",
	} {
		if !strings.Contains(msg, s) {
			t.Errorf("error lacks %q:\n%s", s, msg)
		}
	}
}

func TestLockHeldByAnotherOwner(t *testing.T) {
	f, clk := newFake(t)
	f.lockOwner = "terraform-provider-exchange@laptop07"
	f.lockExpires = t0.Add(7 * time.Minute)

	rep, err := Apply(context.Background(), f, target, spPlan(), opts(clk, &logRecorder{}))
	var le *LockHeldError
	if !errors.As(err, &le) {
		t.Fatalf("Apply = %v, want a *LockHeldError", err)
	}
	assertCalls(t, f, []string{"lock take"})
	if len(rep.Done) != 0 {
		t.Errorf("Done = %v", rep.Done)
	}
	want := "server EX01: another apply (terraform-provider-exchange@laptop07) holds the servicing lock until 2009-06-01 22:07:00 UTC, " +
		"so nothing was done. If that apply still runs, wait until it has finished, then run terraform apply again. If it is dead " +
		"(its Terraform process was killed or its machine stopped), the lock expires by itself: wait until 2009-06-01 22:07:00 UTC, then run terraform apply again."
	if err.Error() != want {
		t.Errorf("error:\n%s\nwant:\n%s", err, want)
	}
}

// Two applies from one host have different owners (host, pid, run id): the second is
// refused while the first holds the lock, with the reason TakeOver gave, and does nothing
// more; once the first's process is proven gone its lock is taken over at once.
func TestLockSameHostOtherApply(t *testing.T) {
	f, clk := newFake(t)
	first := "terraform-provider-exchange@ci01 pid 4242 run aaaa"
	f.lockOwner, f.lockExpires = first, t0.Add(9*time.Minute)
	alive := true
	var asked []string
	o := opts(clk, &logRecorder{})
	o.Owner = "terraform-provider-exchange@ci01 pid 4343 run bbbb"
	o.TakeOver = func(owner string) (bool, string) {
		asked = append(asked, owner)
		if alive {
			return false, "It was taken on this host (ci01) by process 4242, which still runs"
		}
		return true, "process 4242 on this host (ci01) no longer runs"
	}

	_, err := Apply(context.Background(), f, target, spPlan(), o)
	var le *LockHeldError
	if !errors.As(err, &le) || le.Owner != first || le.Why == "" {
		t.Fatalf("Apply = %v, want a *LockHeldError naming %s and why", err, first)
	}
	assertCalls(t, f, []string{"lock take"})
	for _, s := range []string{first, "until 2009-06-01 22:09:00 UTC", "process 4242, which still runs.", "wait until it has finished"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error lacks %q:\n%s", s, err)
		}
	}
	if f.lockOwner != first || !f.lockExpires.Equal(t0.Add(9*time.Minute)) {
		t.Errorf("the first apply's lock was touched: %q until %s", f.lockOwner, f.lockExpires)
	}

	alive = false
	f.calls = nil
	f.afterJobBuild = sp3
	if _, err := Apply(context.Background(), f, target, spPlan(), o); err != nil {
		t.Fatalf("Apply after the first process ended = %v", err)
	}
	if len(f.calls) < 2 || f.calls[0] != "lock take" || f.calls[1] != "lock take over "+first || f.calls[len(f.calls)-1] != "lock release" {
		t.Errorf("calls %v, want a take, a take-over of %s, ..., a release", f.calls, first)
	}
	if f.lockOwner != "" || strings.Join(asked, ",") != first+","+first {
		t.Errorf("lock %q after the apply; TakeOver asked about %q", f.lockOwner, asked)
	}
}

// A lock from another host (TakeOver: not provably dead) is taken only once it expires.
func TestLockOtherHostWaitsForExpiry(t *testing.T) {
	f, clk := newFake(t)
	other := "terraform-provider-exchange@ci02 pid 4242 run aaaa"
	f.lockOwner, f.lockExpires = other, t0.Add(5*time.Minute)
	o := opts(clk, &logRecorder{})
	o.TakeOver = func(string) (bool, string) { return false, "It was taken from host ci02" }
	_, err := Apply(context.Background(), f, target, spPlan(), o)
	var le *LockHeldError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "It was taken from host ci02.") {
		t.Fatalf("Apply = %v, want a *LockHeldError", err)
	}
	assertCalls(t, f, []string{"lock take"})
	_ = clk.Sleep(context.Background(), 5*time.Minute)
	f.calls = nil
	f.afterJobBuild = sp3
	if _, err := Apply(context.Background(), f, target, spPlan(), o); err != nil {
		t.Fatalf("Apply after the lock expired = %v", err)
	}
	if len(f.calls) == 0 || f.calls[0] != "lock take" || f.lockOwner != "" {
		t.Errorf("calls %v, lock %q", f.calls, f.lockOwner)
	}
}

func TestIfRequiredRebootSkippedWhenNotNeeded(t *testing.T) {
	f, clk := newFake(t)
	logs := &logRecorder{}
	_, err := Apply(context.Background(), f, target, rebootPlan(exchange.RebootIfRequired), opts(clk, logs))
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	assertCalls(t, f, []string{"lock take", "service stop " + bexec, "probe", "service start " + bexec, "job_clear", "lock release"})
	if !logs.has("reboot|server EX01, step 2 of 3 (reboot): no reboot needed") {
		t.Errorf("logs:\n%s", strings.Join(logs.msgs, "\n"))
	}
}

func TestIfRequiredRebootWhenPending(t *testing.T) {
	f, clk := newFake(t)
	f.pending = []string{"PendingFileRenameOperations"}
	_, err := Apply(context.Background(), f, target, rebootPlan(exchange.RebootIfRequired), opts(clk, &logRecorder{}))
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	assertCalls(t, f, []string{"lock take", "service stop " + bexec, "probe", "reboot", "probe", "service start " + bexec, "job_clear", "lock release"})
}

func TestInvalidPlanRejectedBeforeLock(t *testing.T) {
	for name, tc := range map[string]struct {
		mutate func(*exchange.Plan)
		index  int
		text   string
	}{
		"no action":       {func(p *exchange.Plan) { p.Steps[10].Kind = nil }, 11, "the step has no action"},
		"service missing": {func(p *exchange.Plan) { p.Steps[4].Kind = exchange.StopService{} }, 5, "parameter service is missing"},
		"bad when":        {func(p *exchange.Plan) { p.Steps[8].Kind = exchange.Reboot{When: "sometimes"} }, 9, `parameter when is "sometimes"`},
		"no build":        {func(p *exchange.Plan) { p.Steps[16].Kind = exchange.VerifyBuild{} }, 17, "parameter build is missing"},
		"other server":    {func(p *exchange.Plan) { p.Steps[2].Server = "EX02" }, 3, "the step is for server EX02, not EX01"},
		"no media": {func(p *exchange.Plan) {
			k := p.Steps[7].Kind.(exchange.InstallServicePack)
			k.MediaPath = ""
			p.Steps[7].Kind = k
		}, 8, "parameter media_path is missing"},
		"iu no id": {func(p *exchange.Plan) { p.Steps[2].Kind = exchange.RemoveInterimUpdate{} }, 3, "parameter patch_code or kb is missing"},
	} {
		t.Run(name, func(t *testing.T) {
			f, clk := newFake(t)
			plan := spPlan()
			tc.mutate(&plan)
			_, err := Apply(context.Background(), f, target, plan, opts(clk, &logRecorder{}))
			var se *StepError
			if !errors.As(err, &se) || se.Index != tc.index {
				t.Fatalf("Apply = %v, want a *StepError at step %d", err, tc.index)
			}
			if !strings.Contains(err.Error(), tc.text) || !strings.Contains(err.Error(), "Nothing was done. This is a bug") {
				t.Errorf("error: %v", err)
			}
			assertCalls(t, f, nil)
		})
	}
}

func TestEmptyPlanCallsNothing(t *testing.T) {
	f, clk := newFake(t)
	rep, err := Apply(context.Background(), f, target, exchange.Plan{Server: "EX01"}, opts(clk, &logRecorder{}))
	if err != nil || len(rep.Done) != 0 {
		t.Fatalf("Apply = %v, %v", rep, err)
	}
	assertCalls(t, f, nil)
}

func TestTransientPollErrorsTolerated(t *testing.T) {
	f, clk := newFake(t)
	f.scripts[iuJob] = jobScript{polls: 2} // 2 running, then done; 2 failed reads in between
	n := 0
	f.hook = func(ctx context.Context, _ int, op string, p map[string]any) error {
		if op == wire.OpJobStatus {
			if n++; n == 2 || n == 3 {
				return unreachable(op) // setup restarts IIS and WinRM drops the connection
			}
		}
		return nil
	}
	logs := &logRecorder{}
	plan := exchange.Plan{Server: "EX01", Steps: []exchange.Step{spPlan().Steps[2]}}
	if _, err := Apply(context.Background(), f, target, plan, opts(clk, logs)); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	assertCalls(t, f, []string{"lock take", "job_start " + iuJob,
		"job_status " + iuJob, "job_status " + iuJob, "job_status " + iuJob, "job_status " + iuJob, "job_status " + iuJob,
		"job_clear", "lock release"})
	if !logs.has("polling goes on") || !logs.has("answers again") {
		t.Errorf("logs:\n%s", strings.Join(logs.msgs, "\n"))
	}
}

func TestPollFaultStopsWithoutRecovery(t *testing.T) {
	f, clk := newFake(t)
	f.scripts[spJob] = jobScript{polls: 10}
	n := 0
	f.hook = func(ctx context.Context, _ int, op string, p map[string]any) error {
		if op == wire.OpJobStatus && p["ID"] == spJob {
			if n++; n == 2 {
				return &remote.Error{Server: "EX01", Operation: op, Kind: remote.KindFault, Err: &wire.Fault{Code: "not_found", Message: "no job record"}}
			}
		}
		return nil
	}
	_, err := Apply(context.Background(), f, target, spPlan(), opts(clk, &logRecorder{}))
	var fault *wire.Fault
	if !errors.As(err, &fault) || fault.Code != "not_found" {
		t.Fatalf("Apply = %v, want the not_found fault", err)
	}
	assertCalls(t, f, append(append([]string{}, prefix...), "job_status "+spJob, "job_status "+spJob, "lock release"))
	if !strings.Contains(err.Error(), "Not undone (the installer may still be running)") {
		t.Errorf("error: %v", err)
	}
}

func TestJobTimeout(t *testing.T) {
	f, clk := newFake(t)
	f.scripts[iuJob] = jobScript{polls: 1 << 30}
	o := opts(clk, &logRecorder{})
	o.PollInterval = time.Hour
	o.LockTTL = 3 * time.Hour // refreshed after every poll
	o.JobTimeout = 3 * time.Hour
	plan := exchange.Plan{Server: "EX01", Steps: []exchange.Step{spPlan().Steps[2]}}
	_, err := Apply(context.Background(), f, target, plan, o)
	if err == nil || !strings.Contains(err.Error(), "was still running after 3h0m0s") || !strings.Contains(err.Error(), "attaches to the job") {
		t.Fatalf("Apply = %v", err)
	}
	// Polls at 1h, 2h, 3h, each followed by a lock refresh.
	assertCalls(t, f, []string{"lock take", "job_start " + iuJob,
		"job_status " + iuJob, "lock take", "job_status " + iuJob, "lock take", "job_status " + iuJob, "lock take",
		"lock release"})
}

func TestLockRefreshedWhilePolling(t *testing.T) {
	f, clk := newFake(t)
	f.scripts[iuJob] = jobScript{polls: 5}
	o := opts(clk, &logRecorder{})
	o.LockTTL = 90 * time.Second // refresh every 30s; polls every 15s
	plan := exchange.Plan{Server: "EX01", Steps: []exchange.Step{spPlan().Steps[2], spPlan().Steps[1]}}
	if _, err := Apply(context.Background(), f, target, plan, o); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	s := "job_status " + iuJob
	assertCalls(t, f, []string{"lock take", "job_start " + iuJob,
		s, s, "lock take", s, s, "lock take", s, s, "lock take",
		"customizations save", "job_clear", "lock release"})
	if p := f.params[0]; p["TTLSeconds"] != int64(90) {
		t.Errorf("TTLSeconds = %v", p["TTLSeconds"])
	}
}

func TestLockLostToAnotherOwner(t *testing.T) {
	f, clk := newFake(t)
	f.scripts[iuJob] = jobScript{polls: 5}
	f.hook = func(ctx context.Context, _ int, op string, p map[string]any) error {
		if op == wire.OpJobStatus && f.polls[iuJob] == 1 {
			// Ours expired (say, during a long outage) and another apply took it.
			f.lockOwner, f.lockExpires = "terraform-provider-exchange@laptop07", f.clk.Now().Add(10*time.Minute)
		}
		return nil
	}
	o := opts(clk, &logRecorder{})
	o.LockTTL = 90 * time.Second
	plan := exchange.Plan{Server: "EX01", Steps: []exchange.Step{spPlan().Steps[4], spPlan().Steps[2]}}
	_, err := Apply(context.Background(), f, target, plan, o)
	if err == nil || !strings.Contains(err.Error(), "the servicing lock expired and terraform-provider-exchange@laptop07 took it") {
		t.Fatalf("Apply = %v", err)
	}
	// Nothing undone, nothing released: the server is the other apply's now.
	assertCalls(t, f, []string{"lock take", "service stop " + bexec, "job_start " + iuJob,
		"job_status " + iuJob, "job_status " + iuJob, "lock take"})
	if f.lockOwner != "terraform-provider-exchange@laptop07" {
		t.Errorf("lock owner = %q", f.lockOwner)
	}
}

func TestWatermarkFault(t *testing.T) {
	f, clk := newFake(t)
	f.faults[wire.OpJobStart] = &wire.Fault{Code: "watermark", Message: "Mailbox role: Action=BuildToBuildUpgrade Watermark=..."}
	plan := exchange.Plan{Server: "EX01", Steps: []exchange.Step{
		spPlan().Steps[4], spPlan().Steps[6], spPlan().Steps[7], spPlan().Steps[12], spPlan().Steps[14],
	}}
	_, err := Apply(context.Background(), f, target, plan, opts(clk, &logRecorder{}))
	if err == nil {
		t.Fatal("Apply succeeded")
	}
	// The server refused before starting anything: recovery is safe.
	assertCalls(t, f, []string{"lock take", "service stop " + bexec, "revocation_check false", "job_start " + spJob,
		"service start " + bexec, "revocation_check true", "lock release"})
	for _, s := range []string{
		"step 3 of 5 (install_service_pack: Setup.com /mode:upgrade from D:\\SP3) failed: the installer did not start: watermark: Mailbox role",
		"Recovered: started BackupExecRPCService; turned the certificate revocation check back on.",
		"Next: An earlier Exchange setup was interrupted",
	} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error lacks %q:\n%v", s, err)
		}
	}
}

func TestJobStartLostAnswerDoesNotRecover(t *testing.T) {
	f, clk := newFake(t)
	f.hook = func(ctx context.Context, _ int, op string, p map[string]any) error {
		if op == wire.OpJobStart {
			return unreachable(op)
		}
		return nil
	}
	plan := exchange.Plan{Server: "EX01", Steps: []exchange.Step{spPlan().Steps[4], spPlan().Steps[7]}}
	_, err := Apply(context.Background(), f, target, plan, opts(clk, &logRecorder{}))
	if err == nil || !strings.Contains(err.Error(), "may or may not have started") {
		t.Fatalf("Apply = %v", err)
	}
	assertCalls(t, f, []string{"lock take", "service stop " + bexec, "job_start " + spJob, "lock release"})
}

func TestExchangeServicesFailed(t *testing.T) {
	f, clk := newFake(t)
	f.exFailed = []string{"MSExchangeIS: error 1068 (dependency failed)"}
	plan := exchange.Plan{Server: "EX01", Steps: []exchange.Step{spPlan().Steps[9]}}
	_, err := Apply(context.Background(), f, target, plan, opts(clk, &logRecorder{}))
	if err == nil || !strings.Contains(err.Error(), "failed: Exchange services did not start: MSExchangeIS: error 1068 (dependency failed).") {
		t.Fatalf("Apply = %v", err)
	}
	assertCalls(t, f, []string{"lock take", "exchange_services", "lock release"})
}

func TestVerifyBuildMismatch(t *testing.T) {
	f, clk := newFake(t)
	plan := exchange.Plan{Server: "EX01", Steps: []exchange.Step{spPlan().Steps[16]}}
	rep, err := Apply(context.Background(), f, target, plan, opts(clk, &logRecorder{}))
	if err == nil || !strings.Contains(err.Error(), "failed: the server runs build 8.1.240.6, not 8.3.83.6.") {
		t.Fatalf("Apply = %v", err)
	}
	if rep.Facts.Build != "8.1.240.6" {
		t.Errorf("Facts.Build = %q", rep.Facts.Build)
	}
	// Same build without a revision is the same.
	f2, clk2 := newFake(t)
	f2.build = "8.3.83"
	if _, err := Apply(context.Background(), f2, target, plan, opts(clk2, &logRecorder{})); err != nil {
		t.Errorf("Apply with 8.3.83: %v", err)
	}
}

func TestRealClockSleepStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (realClock{}).Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep = %v", err)
	}
	if err := (realClock{}).Sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatalf("Sleep = %v", err)
	}
}

func TestTransient(t *testing.T) {
	rerr := func(kind remote.Kind, err error) error {
		return &remote.Error{Server: "EX01", Operation: wire.OpJobStatus, Kind: kind, Err: err}
	}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{rerr(remote.KindUnreachable, syscall.ECONNRESET), true},
		{rerr(remote.KindServer, errors.New("HTTP 500")), true},
		{rerr(remote.KindTimeout, context.DeadlineExceeded), true},
		{rerr(remote.KindQuota, errors.New("quota")), true},
		{rerr(remote.KindProtocol, fmt.Errorf("no result: %w", wire.ErrNoResult)), true},
		{rerr(remote.KindProtocol, errors.New("bad JSON")), false},
		{rerr(remote.KindAuth, errors.New("401")), false},
		{rerr(remote.KindTLS, errors.New("x509")), false},
		{rerr(remote.KindFault, &wire.Fault{Code: "not_found"}), false},
		{errors.New("something else"), false},
	} {
		if got := transient(tc.err); got != tc.want {
			t.Errorf("transient(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestPollIntervalKeepsTheLock(t *testing.T) {
	o := Options{LockTTL: time.Minute, PollInterval: time.Hour}.withDefaults()
	if o.PollInterval != 20*time.Second {
		t.Errorf("PollInterval = %s, want 20s", o.PollInterval)
	}
	o = Options{}.withDefaults()
	if o.LockTTL != DefaultLockTTL || o.PollInterval != DefaultPollInterval || o.JobTimeout != DefaultJobTimeout || o.RebootTimeout != DefaultRebootTimeout {
		t.Errorf("defaults = %+v", o)
	}
}

func TestAttachToFailedJobSaysHowToRunAgain(t *testing.T) {
	f, clk := newFake(t)
	fin := t0.Add(-5 * time.Minute)
	f.jobs[spJob] = &exchange.Job{ID: spJob, State: exchange.JobFailed, ExitCode: 1603, Error: "FileInUse: STORE.EXE",
		LogPath: `C:\ExchangeSetupLogs\ExchangeSetup.log`, Started: t0.Add(-time.Hour), Finished: &fin}
	plan := exchange.Plan{Server: "EX01", Steps: []exchange.Step{spPlan().Steps[4], spPlan().Steps[spStep-1]}}
	_, err := Apply(context.Background(), f, target, plan, opts(clk, &logRecorder{}))
	if err == nil {
		t.Fatal("Apply succeeded")
	}
	assertCalls(t, f, []string{"lock take", "service stop " + bexec, "job_start " + spJob, "service start " + bexec, "lock release"})
	want := `server EX01: step 2 of 2 (install_service_pack: Setup.com /mode:upgrade from D:\SP3) failed: ` +
		`an earlier run of this installer (job install_service_pack-8.3.83.6, started at 2009-06-01 21:00:00 UTC) failed, ` +
		`and the server returned its record instead of running it again: installer exit code 1603 (FileInUse: STORE.EXE); ` +
		`log C:\ExchangeSetupLogs\ExchangeSetup.log. Recovered: started BackupExecRPCService. ` +
		`Next: Read the log and fix the cause. Then delete the failed job's record on the server ` +
		`(job install_service_pack-8.3.83.6 under HKLM\SOFTWARE\BuildLevel\ExchangeProvider\Jobs), so that the installer runs again, ` +
		`and run terraform apply again; the apply continues from the remaining steps.`
	if err.Error() != want {
		t.Errorf("error:\n%s\nwant:\n%s", err, want)
	}
}

// The server took the restart command and the answer was lost: the transport does not send
// it again (MayHaveRun), and the step waits for the new boot time instead of failing.
func TestRebootAnswerLost(t *testing.T) {
	f, clk := newFake(t)
	f.hook = func(_ context.Context, _ int, op string, _ map[string]any) error {
		if op == wire.OpReboot {
			f.rebooting = true
			f.downProbes = 2
			return &remote.Error{Server: target.Server, Operation: op, Kind: remote.KindUnreachable,
				Err: errors.New("connection reset"), MayHaveRun: true}
		}
		return nil
	}
	logs := &logRecorder{}
	if _, err := Apply(context.Background(), f, target, rebootPlan(exchange.RebootAlways), opts(clk, logs)); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	assertCalls(t, f, []string{"lock take", "service stop " + bexec, "probe", "reboot",
		"probe", "probe", "probe", "service start " + bexec, "job_clear", "lock release"})
	if !logs.has("answer to the restart command was lost") {
		t.Errorf("logs:\n%s", strings.Join(logs.msgs, "\n"))
	}
}

// Every step done, then the server stops accepting the account (a lock-out, a changed
// password) before the end of the apply: the job records stay and the lock is not released.
// The apply succeeded (nothing is undone), and its report says what is left and what to do,
// for the caller to show: the next plan shows the steps after the last install again, and
// the lock holds off other applies until it expires.
func TestUnfinishedCleanUpIsReported(t *testing.T) {
	f, clk := newFake(t)
	f.scripts[iuJob] = jobScript{}
	denied := func(op string) error {
		return &remote.Error{Server: "EX01", Address: "ex01.contoso.local:5985", Operation: op, Kind: remote.KindAuth, Err: errors.New("HTTP 401")}
	}
	f.hook = func(ctx context.Context, _ int, op string, p map[string]any) error {
		if op == wire.OpJobClear || (op == wire.OpLock && p["Release"] == true) {
			return denied(op)
		}
		return nil
	}
	logs := &logRecorder{}
	plan := exchange.Plan{Server: "EX01", Steps: []exchange.Step{spPlan().Steps[2]}}
	rep, err := Apply(context.Background(), f, target, plan, opts(clk, logs))
	if err != nil {
		t.Fatalf("Apply failed after every step was done: %v", err)
	}
	if len(rep.Done) != 1 {
		t.Errorf("steps done: %d, want 1", len(rep.Done))
	}
	if len(rep.Unfinished) != 2 {
		t.Fatalf("Unfinished = %q, want the job records and the lock", rep.Unfinished)
	}
	wantContains(t, "job records", rep.Unfinished[0], "server EX01", "job records could not be cleared", "Run terraform apply again")
	wantContains(t, "lock", rep.Unfinished[1], "server EX01", "servicing lock could not be released", "expires by itself within 10m0s")
	// Done in full, the report says nothing.
	f2, clk2 := newFake(t)
	f2.scripts[iuJob] = jobScript{}
	if rep, err := Apply(context.Background(), f2, target, plan, opts(clk2, logs)); err != nil || len(rep.Unfinished) != 0 {
		t.Errorf("a clean apply: %v, Unfinished %q", err, rep.Unfinished)
	}
}

// wantContains fails the test for each part what does not contain.
func wantContains(t *testing.T, name, what string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(what, p) {
			t.Errorf("%s: %q does not say %q", name, what, p)
		}
	}
}

// An apply that stops after it changed the server releases its lock keeping the record of
// the Exchange services as they were before it (KeepServiceRecord): setup may still run, and
// it leaves services Disabled; the next apply must put them back by the record from before
// this one, not take a new one of what setup left. An apply that stops at a check (nothing
// changed) and one that finished drop the record as before.
func TestReleaseKeepsTheServicesRecordAfterAChange(t *testing.T) {
	release := func(f *fakeRemote) (bool, bool) {
		for i := len(f.calls) - 1; i >= 0; i-- {
			if f.calls[i] == "lock release" {
				return f.params[i]["KeepServiceRecord"] == true, true
			}
		}
		return false, false
	}
	// The installer fails: the server was changed (services stopped, the check off).
	f, clk := newFake(t)
	f.scripts[spJob] = jobScript{polls: 1, state: exchange.JobFailed, exitCode: 1603, err: "FileInUse: STORE.EXE"}
	if _, err := Apply(context.Background(), f, target, spPlan(), opts(clk, &logRecorder{})); err == nil {
		t.Fatal("the failing installer did not fail the apply")
	}
	if keep, ok := release(f); !ok || !keep {
		t.Errorf("after a change: released %v, keeping the services record %v; want it kept", ok, keep)
	}
	// The preflight finds the media missing: nothing changed.
	f, clk = newFake(t)
	f.missing = map[string]bool{"EX01": true}
	preflight := exchange.Step{Kind: exchange.Preflight{Checks: []exchange.PreflightCheck{{JobID: spJob,
		Action: exchange.ActionInstallServicePack, MediaPath: `D:\SP3`}}}, Server: "EX01"}
	if _, err := Apply(context.Background(), f, target, exchange.Plan{Server: "EX01", Steps: []exchange.Step{preflight, spPlan().Steps[4]}}, opts(clk, &logRecorder{})); err == nil {
		t.Fatal("the failing preflight did not fail the apply")
	}
	if keep, ok := release(f); !ok || keep {
		t.Errorf("after a check only: released %v, keeping the services record %v; want it dropped", ok, keep)
	}
	// Every step done.
	f, clk = newFake(t)
	f.scripts[iuJob] = jobScript{}
	if _, err := Apply(context.Background(), f, target, exchange.Plan{Server: "EX01", Steps: []exchange.Step{spPlan().Steps[2]}}, opts(clk, &logRecorder{})); err != nil {
		t.Fatal(err)
	}
	if keep, ok := release(f); !ok || keep {
		t.Errorf("after every step: released %v, keeping the services record %v; want it dropped", ok, keep)
	}
}

// A reboot is pending on a node that runs the clustered mailbox server now (an apply
// resumed after CMS01 moved to it): the reboot step restarts nothing, fails naming the
// clustered server and saying to move it first; the stopped service is started again. Once
// CMS01 runs elsewhere, the reboot runs.
func TestRebootRefusedOnTheNodeThatRunsTheClusteredServer(t *testing.T) {
	f, clk := newFake(t)
	f.pending = []string{"PendingFileRenameOperations"}
	f.groups = map[string]*fakeGroup{"cms01": {name: "CMS01", owner: "EX01", state: "Online"}}
	f.clusterOnline = "CMS01"
	_, err := Apply(context.Background(), f, target, rebootPlan(exchange.RebootIfRequired), opts(clk, &logRecorder{}))
	if err == nil || !strings.Contains(err.Error(), "a reboot is due, but EX01 runs the clustered server CMS01 (Online)") ||
		!strings.Contains(err.Error(), "Move CMS01 to another node") {
		t.Fatalf("Apply = %v, want the reboot refused naming CMS01", err)
	}
	for _, c := range f.calls {
		if c == "reboot" {
			t.Fatalf("the node that runs CMS01 was restarted: %v", f.calls)
		}
	}
	if f.services[bexec] != "Running" {
		t.Errorf("%s left %s after the refused reboot", bexec, f.services[bexec])
	}
	f.groups["cms01"].owner = "NODE2"
	f.calls, f.nodes, f.params = nil, nil, nil
	if _, err := Apply(context.Background(), f, target, rebootPlan(exchange.RebootIfRequired), opts(clk, &logRecorder{})); err != nil {
		t.Fatalf("with CMS01 on NODE2: %v", err)
	}
	if !slices.Contains(f.calls, "reboot") {
		t.Errorf("with CMS01 on NODE2 the pending reboot did not run: %v", f.calls)
	}
}
