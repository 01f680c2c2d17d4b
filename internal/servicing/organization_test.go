package servicing

import (
	"context"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
)

// frontEndGroupPlan: FE1 and FE2 load-balanced, each "upgraded" by stopping a service.
func frontEndGroupPlan() exchange.OrganizationPlan {
	group := []string{"FE1", "FE2"}
	one := func(server string, k exchange.StepKind) exchange.Plan {
		return exchange.Plan{Server: server, Steps: []exchange.Step{{Kind: k, Server: server}}}
	}
	fg := &exchange.FrontEndGroup{Servers: group}
	for _, s := range group {
		fg.Checks = append(fg.Checks, one(s, exchange.CheckNoSetupRunning{}))
		fg.Offline = append(fg.Offline, one(s, exchange.TakeFrontEndOffline{FrontEnds: group}))
		fg.Members = append(fg.Members, exchange.OrganizationUnit{Wave: 1, Server: s, Plans: []exchange.Plan{one(s, exchange.StopService{Service: "VirusScan"})}})
		fg.Online = append(fg.Online, one(s, exchange.BringFrontEndOnline{FrontEnds: group}))
	}
	return exchange.OrganizationPlan{Units: []exchange.OrganizationUnit{{Wave: 1, Server: "load-balanced front-ends FE1, FE2", FrontEnds: fg}}}
}

func applyFrontEndGroup(t *testing.T, failOn string) ([]string, error) {
	f, clk := newFake(t)
	targets := map[string]remote.Target{"FE1": {Server: "FE1"}, "FE2": {Server: "FE2"}}
	f.targets = []remote.Target{targets["FE1"], targets["FE2"]}
	f.hook = func(_ context.Context, _ int, op string, _ map[string]any) error {
		if op == wire.OpSetupWatermark && f.cur+" check" == failOn {
			return &remote.Error{Server: f.cur, Operation: op, Kind: remote.KindFault, Err: &wire.Fault{Code: "setup_running", Message: "Setup.com runs on the server"}}
		}
		if op == wire.OpService && f.cur == failOn {
			return &remote.Error{Server: failOn, Operation: op, Kind: remote.KindFault, Err: &wire.Fault{Code: "failed", Message: "Windows refused to stop service VirusScan"}}
		}
		return nil
	}
	var locked []string
	err := ApplyOrganization(context.Background(), f, frontEndGroupPlan(), OrganizationOptions{
		Parallelism: 1,
		Target:      func(s string) remote.Target { return targets[s] },
		Lock:        func(s string) func() { locked = append(locked, s); return func() {} },
		Options:     func(string) Options { return Options{Owner: "test", clock: clk} },
	})
	if !slices.Equal(locked, []string{"FE1", "FE2"}) {
		t.Errorf("locked %v, want both front-ends for the whole window", locked)
	}
	var calls []string
	for _, c := range f.callsOn() {
		if strings.Contains(c, "front_end") || strings.Contains(c, "service stop") || strings.Contains(c, wire.OpSetupWatermark) {
			calls = append(calls, c)
		}
	}
	return calls, err
}

// Every front-end offline before any is upgraded, every one online after all are.
func TestApplyOrganizationFrontEndsOneWindow(t *testing.T) {
	calls, err := applyFrontEndGroup(t, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"FE1: setup_watermark check", "FE2: setup_watermark check", "FE1: front_end offline", "FE2: front_end offline", "FE1: service stop VirusScan", "FE2: service stop VirusScan",
		"FE1: front_end online", "FE2: front_end online"}
	if !slices.Equal(calls, want) {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(calls, "\n"), strings.Join(want, "\n"))
	}
}

// A front-end whose upgrade fails keeps the whole group offline: no client meets
// front-ends at different service packs; the error says so and what to do.
func TestApplyOrganizationFrontEndFailureKeepsGroupOffline(t *testing.T) {
	calls, err := applyFrontEndGroup(t, "FE2")
	if err == nil {
		t.Fatal("no error")
	}
	if slices.ContainsFunc(calls, func(c string) bool { return strings.Contains(c, "online") }) {
		t.Errorf("a front-end was brought back while FE2 failed:\n%s", strings.Join(calls, "\n"))
	}
	for _, want := range []string{"wave 1 failed.\nDone: none.\nFailed: FE1, FE2.", "upgrading the load-balanced front-ends FE1, FE2 stopped (upgraded: FE1; failed: FE2)",
		"none of them is brought back into service", "run terraform apply again", "server FE2: step 1 of 1 (stop_service) failed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// The second front-end's check fails at apply: no front-end was taken offline (no needless
// outage), and the error names the server.
func TestApplyOrganizationFrontEndCheckFailsBeforeWindow(t *testing.T) {
	calls, err := applyFrontEndGroup(t, "FE2 check")
	if err == nil || !strings.Contains(err.Error(), "FE2") {
		t.Fatalf("error %v, want FE2's failed check", err)
	}
	if slices.ContainsFunc(calls, func(c string) bool { return strings.Contains(c, "front_end") || strings.Contains(c, "service stop") }) {
		t.Errorf("the group was taken offline or upgraded although FE2's check failed:\n%s", strings.Join(calls, "\n"))
	}
	if !strings.Contains(err.Error(), "No front-end of the group was taken offline") {
		t.Errorf("the error does not say the group still serves:\n%v", err)
	}
}

// Outside the maintenance window a group is not touched at all: not even its checks, which
// need no window themselves, run, since the window after them could not start.
func TestApplyOrganizationFrontEndsOutsideWindowCallsNothing(t *testing.T) {
	f, clk := newFake(t)
	f.targets = []remote.Target{{Server: "FE1"}, {Server: "FE2"}}
	plan := frontEndGroupPlan()
	g := plan.Units[0].FrontEnds
	for _, plans := range [][]exchange.Plan{g.Offline, g.Online} {
		for i := range plans {
			plans[i].Steps[0].Downtime = true
		}
	}
	w := explicitWindow(t, t0.Add(time.Hour), t0.Add(5*time.Hour))
	err := ApplyOrganization(context.Background(), f, plan, OrganizationOptions{
		Target:  func(s string) remote.Target { return remote.Target{Server: s} },
		Options: func(string) Options { return Options{Owner: "test", clock: clk, Window: w} },
	})
	if err == nil || !strings.Contains(err.Error(), "FE1, FE2 were not touched") || !strings.Contains(err.Error(), "the maintenance window has not begun") {
		t.Fatalf("error %v, want the window refusal naming the group", err)
	}
	if calls := f.callsOn(); len(calls) > 0 {
		t.Errorf("outside the window the group was touched:\n%s", strings.Join(calls, "\n"))
	}
}

// threeWaves: SRV1, SRV2 and SRV3 in waves 1 to 3, each "serviced" by stopping a service
// after its preflight of the media, with the organisation's preflight phase before wave 1.
func threeWaves() exchange.OrganizationPlan {
	var o exchange.OrganizationPlan
	for i, s := range []string{"SRV1", "SRV2", "SRV3"} {
		pf := exchange.Step{Kind: exchange.Preflight{Checks: []exchange.PreflightCheck{{JobID: "install_service_pack-8.3.83.6",
			Action: exchange.ActionInstallServicePack, MediaPath: `D:\SP3`}}}, Server: s}
		o.Preflight = append(o.Preflight, exchange.OrganizationUnit{Wave: i + 1, Server: s, Plans: []exchange.Plan{{Server: s, Steps: []exchange.Step{pf}}}})
		o.Units = append(o.Units, exchange.OrganizationUnit{Wave: i + 1, Server: s, Plans: []exchange.Plan{{Server: s,
			Steps: []exchange.Step{pf, {Kind: exchange.StopService{Service: "VirusScan"}, Server: s, Downtime: true}}}}})
	}
	return o
}

func applyThreeWaves(t *testing.T, missing ...string) ([]string, error) {
	f, clk := newFake(t)
	f.targets = []remote.Target{{Server: "SRV1"}, {Server: "SRV2"}, {Server: "SRV3"}}
	f.missing = map[string]bool{}
	for _, m := range missing {
		f.missing[m] = true
	}
	err := ApplyOrganization(context.Background(), f, threeWaves(), OrganizationOptions{
		Parallelism: 1,
		Target:      func(s string) remote.Target { return remote.Target{Server: s} },
		Options:     func(string) Options { return Options{Owner: "test", clock: clk} },
	})
	var calls []string
	for _, c := range f.callsOn() {
		if !strings.Contains(c, "lock") {
			calls = append(calls, c)
		}
	}
	return calls, err
}

// Every server's preflight runs before wave 1 touches anything: media missing on the wave-3
// server stops the apply before any service is stopped anywhere, naming the server, its wave
// and the path; the other servers' preflights ran too (every problem in one round). The
// checks-only applies leave the job records alone (no job_clear).
func TestApplyOrganizationPreflightsBeforeTheFirstWave(t *testing.T) {
	calls, err := applyThreeWaves(t, "SRV3")
	if err == nil || !strings.Contains(err.Error(), "the preflight before the first wave failed on SRV3 (wave 3), so no wave was started: nothing was changed on any server") ||
		!strings.Contains(err.Error(), `media_path "D:\SP3"`) || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("error %v", err)
	}
	if want := []string{"SRV1: preflight", "SRV2: preflight", "SRV3: preflight"}; !slices.Equal(calls, want) {
		t.Errorf("calls:\n  %s\nwant only every server's preflight", strings.Join(calls, "\n  "))
	}
	calls, err = applyThreeWaves(t)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"SRV1: preflight", "SRV2: preflight", "SRV3: preflight",
		"SRV1: preflight", "SRV1: service stop VirusScan", "SRV1: job_clear",
		"SRV2: preflight", "SRV2: service stop VirusScan", "SRV2: job_clear",
		"SRV3: preflight", "SRV3: service stop VirusScan", "SRV3: job_clear"}
	if !slices.Equal(calls, want) {
		t.Errorf("calls:\n  %s\nwant:\n  %s", strings.Join(calls, "\n  "), strings.Join(want, "\n  "))
	}
}

// Outside the maintenance window the first wave cannot start, so the preflights do not run
// either: nothing is touched.
func TestApplyOrganizationPreflightsOutsideWindowCallNothing(t *testing.T) {
	f, clk := newFake(t)
	f.targets = []remote.Target{{Server: "SRV1"}, {Server: "SRV2"}, {Server: "SRV3"}}
	w := explicitWindow(t, t0.Add(time.Hour), t0.Add(5*time.Hour))
	err := ApplyOrganization(context.Background(), f, threeWaves(), OrganizationOptions{
		Target:  func(s string) remote.Target { return remote.Target{Server: s} },
		Options: func(string) Options { return Options{Owner: "test", clock: clk, Window: w} },
	})
	if err == nil || !strings.Contains(err.Error(), "the maintenance window has not begun") {
		t.Fatalf("error %v, want the window refusal", err)
	}
	if calls := f.callsOn(); len(calls) > 0 {
		t.Errorf("outside the window a server was touched:\n%s", strings.Join(calls, "\n"))
	}
}

// An organisation upgrade passes on what a server's apply could not clean up: SRV2's job
// records cannot be cleared (its WinRM gone after its last step), every wave still runs and
// the apply succeeds, and Unfinished is told of SRV2 once.
func TestApplyOrganizationTellsUnfinishedCleanUp(t *testing.T) {
	f, clk := newFake(t)
	f.targets = []remote.Target{{Server: "SRV1"}, {Server: "SRV2"}, {Server: "SRV3"}}
	f.hook = func(_ context.Context, _ int, op string, _ map[string]any) error {
		if op == wire.OpJobClear && f.cur == "SRV2" {
			return &remote.Error{Server: "SRV2", Operation: op, Kind: remote.KindUnreachable, Err: syscall.ECONNREFUSED}
		}
		return nil
	}
	var told []string
	err := ApplyOrganization(context.Background(), f, threeWaves(), OrganizationOptions{
		Parallelism: 1,
		Target:      func(s string) remote.Target { return remote.Target{Server: s} },
		Options:     func(string) Options { return Options{Owner: "test", clock: clk} },
		Unfinished:  func(msg string) { told = append(told, msg) },
	})
	if err != nil {
		t.Fatalf("ApplyOrganization: %v", err)
	}
	if len(told) != 1 || !strings.Contains(told[0], "server SRV2: every step is done, but its job records could not be cleared") {
		t.Errorf("Unfinished was told %q, want SRV2's job records once", told)
	}
	if n := strings.Count(strings.Join(f.callsOn(), "\n"), "SRV3: service stop VirusScan"); n != 1 {
		t.Errorf("wave 3 ran %d times, want once:\n%s", n, strings.Join(f.callsOn(), "\n"))
	}
}
