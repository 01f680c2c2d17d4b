package servicing

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/window"
)

// downtimePlan is spPlan with the downtime flags the planner sets (installers and reboots).
func downtimePlan() exchange.Plan {
	p := spPlan()
	for i, s := range p.Steps {
		switch s.Kind.(type) {
		case exchange.RemoveInterimUpdate, exchange.RemoveUMLanguagePack, exchange.InstallServicePack,
			exchange.Reboot, exchange.AddUMLanguagePack:
			p.Steps[i].Downtime = true
		}
	}
	return p
}

func explicitWindow(t *testing.T, from, to time.Time) *window.Window {
	t.Helper()
	w, err := window.Explicit([]window.Interval{{Start: from, End: to}, {Start: t0.Add(7 * 24 * time.Hour), End: t0.Add(7*24*time.Hour + 4*time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	return &w
}

// Outside the window a plan with downtime steps is refused before anything is called: not
// even the lock, the backup check or the services stopped before the installer.
func TestWindowNotBegunCallsNothing(t *testing.T) {
	f, clk := newFake(t)
	o := opts(clk, &logRecorder{})
	o.Window = explicitWindow(t, t0.Add(time.Hour), t0.Add(5*time.Hour))

	_, err := Apply(context.Background(), f, target, downtimePlan(), o)
	var we *WindowError
	if !errors.As(err, &we) {
		t.Fatalf("Apply = %v, want a *WindowError", err)
	}
	assertCalls(t, f, nil)
	want := "server EX01: the maintenance window has not begun (it is 2009-06-01 22:00:00 UTC), so nothing was done: the plan's first downtime step, " +
		"step 3 of 17 (remove_interim_update), starts only inside a window. The next window is Mon 2009-06-01 23:00–03:00 UTC; run terraform apply again inside it."
	if err.Error() != want {
		t.Errorf("error:\n  %s\nwant:\n  %s", err, want)
	}
}

// A plan without downtime steps (what an interrupted apply left to put back) runs at any time.
func TestWindowNotNeededWithoutDowntime(t *testing.T) {
	f, clk := newFake(t)
	o := opts(clk, &logRecorder{})
	o.Window = explicitWindow(t, t0.Add(time.Hour), t0.Add(5*time.Hour))
	plan := exchange.Plan{Server: "EX01", Steps: []exchange.Step{step(exchange.StartService{Service: bexec}, "start "+bexec)}}
	if _, err := Apply(context.Background(), f, target, plan, o); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	assertCalls(t, f, []string{"lock take", "service start " + bexec, "job_clear", "lock release"})
}

// The window ends while the service pack installs: the installer is waited for to the end,
// the reboot (the next downtime step) does not start, and recovery puts back what the run
// changed; the job record stays, so the next plan continues after the install.
func TestWindowEndsDuringInstaller(t *testing.T) {
	f, clk := newFake(t)
	f.scripts[spJob] = jobScript{polls: 8, reboot: true}
	f.afterJobBuild = sp3
	o := opts(clk, &logRecorder{})
	o.Window = explicitWindow(t, t0.Add(-time.Hour), t0.Add(time.Minute))

	rep, err := Apply(context.Background(), f, target, downtimePlan(), o)
	if !errors.Is(err, ErrWindowEnded) {
		t.Fatalf("Apply = %v, want ErrWindowEnded", err)
	}
	want := append(append([]string{}, prefix...), strings.Split(strings.Repeat("job_status "+spJob+"\n", 9), "\n")...)
	want = append(want[:len(want)-1],
		"service start "+virus, "service start "+bexec, "revocation_check true", "customizations restore", "lock release")
	assertCalls(t, f, want)
	if got := rep.Done[len(rep.Done)-1].Action(); got != exchange.ActionInstallServicePack {
		t.Errorf("last step done = %s, want the install", got)
	}
	for _, part := range []string{
		"server EX01: step 9 of 17 (reboot: reboot if required) stopped: the maintenance window ended before this downtime step could start (it is 2009-06-01 22:02:45 UTC)",
		"Recovered: started VirusScan; started BackupExecRPCService; turned the certificate revocation check back on; restored the customisations.",
		"Next: The next window is Mon 2009-06-08 22:00–02:00 UTC; run terraform apply again inside it. Its plan continues with the steps left.",
	} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error lacks %q:\n%s", part, err)
		}
	}
	if _, ok := f.jobs[spJob]; !ok {
		t.Error("the install's job record must stay for the next plan")
	}
}

// Inside the window the whole plan runs as without one.
func TestWindowInsideRunsEverything(t *testing.T) {
	f, clk := newFake(t)
	f.scripts[spJob] = jobScript{polls: 3, reboot: true}
	f.afterJobBuild = sp3
	f.staleProbes, f.downProbes = 1, 2
	o := opts(clk, &logRecorder{})
	o.Window = explicitWindow(t, t0.Add(-time.Hour), t0.Add(3*time.Hour))
	rep, err := Apply(context.Background(), f, target, downtimePlan(), o)
	if err != nil || len(rep.Done) != 17 {
		t.Fatalf("Apply = %d steps, %v", len(rep.Done), err)
	}
}

// Options.Now overrides the executor's clock for the window (the provider's clock).
func TestWindowUsesOptionsNow(t *testing.T) {
	f, clk := newFake(t)
	o := opts(clk, &logRecorder{})
	o.Window = explicitWindow(t, t0.Add(-time.Hour), t0.Add(time.Hour))
	o.Now = func() time.Time { return t0.Add(2 * time.Hour) }
	if _, err := Apply(context.Background(), f, target, downtimePlan(), o); !errors.As(err, new(*WindowError)) {
		t.Fatalf("Apply = %v, want a *WindowError", err)
	}
}

// ccrDowntimePlan is ccrPlan with the clustered mailbox server's downtime (steps 6 to 9:
// stopped, moved, upgraded, started) flagged as the cluster planner flags it.
func ccrDowntimePlan() exchange.Plan {
	p := ccrPlan()
	for i := 5; i <= 8; i++ {
		p.Steps[i].Downtime = true
	}
	return p
}

// In a cluster the window is checked where a downtime begins: the window ending during the
// passive node's install stops the apply before the clustered server is stopped.
func TestClusterWindowEndsBeforeDowntime(t *testing.T) {
	f, clk := newClusterFake(t)
	f.afterJobBuild = sp3
	f.scripts[spJob2] = jobScript{polls: 8}
	o := opts(clk, &logRecorder{})
	o.Window = explicitWindow(t, t0.Add(-time.Hour), t0.Add(time.Minute))

	_, err := ApplyCluster(context.Background(), f, nodes, ccrDowntimePlan(), o)
	var se *StepError
	if !errors.As(err, &se) || !errors.Is(err, ErrWindowEnded) || se.Index != 6 {
		t.Fatalf("ApplyCluster = %v, want the window's end at step 6", err)
	}
	for _, c := range f.callsOn() {
		if strings.HasPrefix(c, "NODE1: cluster") {
			t.Errorf("the clustered server must not be touched after the window ended: %s", c)
		}
	}
}

// Once the clustered server's downtime has begun it is finished, also when the window ends
// meanwhile: the end of the window never leaves it offline.
func TestClusterWindowEndsDuringDowntime(t *testing.T) {
	f, clk := newClusterFake(t)
	f.afterJobBuild = sp3
	f.scripts[cmsJob2] = jobScript{polls: 8}
	o := opts(clk, &logRecorder{})
	o.Window = explicitWindow(t, t0.Add(-time.Hour), t0.Add(time.Minute))

	rep, err := ApplyCluster(context.Background(), f, nodes, ccrDowntimePlan(), o)
	if err != nil {
		t.Fatalf("ApplyCluster: %v", err)
	}
	if len(rep.Done) != len(ccrPlan().Steps) {
		t.Errorf("Done = %d steps, want all %d", len(rep.Done), len(ccrPlan().Steps))
	}
	if g := f.groups["cms01"]; g.state != "Online" || g.owner != "NODE2" {
		t.Errorf("CMS01 is %s on %s, want Online on NODE2", g.state, g.owner)
	}
}
