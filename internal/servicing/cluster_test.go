package servicing

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
)

var (
	node1 = remote.Target{Server: "NODE1", Address: "node1.contoso.local"}
	node2 = remote.Target{Server: "NODE2", Address: "node2.contoso.local"}
	// nodes keys the targets in another case than their names, and in reverse order.
	nodes = map[string]remote.Target{"node2": node2, "Node1": node1}
)

const (
	cms      = "CMS01"
	spJob1   = "install_service_pack-8.3.83.6-node1"
	spJob2   = "install_service_pack-8.3.83.6-node2"
	cmsJob2  = "upgrade_cms-8.3.83.6-cms01-node2"
	stranger = "terraform-provider-exchange@laptop07"
)

func on(server string, kind exchange.StepKind, desc string) exchange.Step {
	s := step(kind, desc)
	s.Server = server
	return s
}

// newClusterFake is a CCR cluster: CMS01 online on NODE1, NODE2 passive.
func newClusterFake(t *testing.T) (*fakeRemote, *fakeClock) {
	f, clk := newFake(t)
	f.targets = []remote.Target{node1, node2}
	f.groups = map[string]*fakeGroup{"cms01": {name: cms, owner: "NODE1", state: "Online"}}
	f.cannotOnline = map[string]bool{}
	return f, clk
}

// ccrPlan is a CCR service pack plan as exchange.PlanCluster orders it: the passive node, the
// downtime with /upgradeCMS on it, the old active node, a failover test.
func ccrPlan() exchange.Plan {
	return exchange.Plan{Server: cms, Steps: []exchange.Step{
		on("NODE2", exchange.StopService{Service: virus}, "stop "+virus),
		on("NODE2", exchange.SetRemoteStreamingBackup{}, "enable Remote Streaming Backup"),
		on("NODE2", exchange.InstallServicePack{ServicePack: 3, MediaPath: `D:\SP3`, Build: exchange.MustParseBuild(sp3)}, `Setup.com /mode:upgrade from D:\SP3`),
		on("NODE2", exchange.Reboot{When: exchange.RebootIfRequired}, "reboot if required"),
		on("NODE2", exchange.StartService{Service: virus}, "start "+virus),
		on("NODE1", exchange.StopClusteredServer{Group: cms}, "stop CMS01"),
		on("NODE1", exchange.MoveClusterGroup{Group: cms, To: "NODE2"}, "move CMS01 to NODE2"),
		on("NODE2", exchange.UpgradeCMS{Group: cms, MediaPath: `D:\SP3`, Build: exchange.MustParseBuild(sp3)}, `Setup.com /upgradeCMS from D:\SP3`),
		on("NODE2", exchange.StartClusteredServer{Group: cms}, "start CMS01"),
		on("NODE1", exchange.InstallServicePack{ServicePack: 3, MediaPath: `D:\SP3`, Build: exchange.MustParseBuild(sp3)}, `Setup.com /mode:upgrade from D:\SP3`),
		on("NODE1", exchange.Reboot{When: exchange.RebootIfRequired}, "reboot if required"),
		on("NODE2", exchange.FailoverTest{Group: cms, To: "NODE1"}, "failover test of CMS01 to NODE1"),
		on("NODE1", exchange.VerifyBuild{Build: exchange.MustParseBuild(sp3)}, "verify build "+sp3),
	}}
}

func assertCallsOn(t *testing.T, f *fakeRemote, want []string) {
	t.Helper()
	if got := f.callsOn(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("remote calls:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func assertUnlocked(t *testing.T, f *fakeRemote) {
	t.Helper()
	for _, n := range []string{"NODE1", "NODE2"} {
		if owner, _ := f.lock(n); *owner != "" {
			t.Errorf("the lock of %s is still held by %q", n, *owner)
		}
	}
}

func TestClusterPlanRunsOnItsNodes(t *testing.T) {
	f, clk := newClusterFake(t)
	f.afterJobBuild = sp3
	logs := &logRecorder{}

	rep, err := ApplyCluster(context.Background(), f, nodes, ccrPlan(), opts(clk, logs))
	if err != nil {
		t.Fatalf("ApplyCluster: %v", err)
	}
	assertCallsOn(t, f, []string{
		// Every lock first, in name order.
		"NODE1: lock take",
		"NODE2: lock take",
		"NODE2: service stop " + virus,
		"NODE2: remote_streaming_backup true",
		"NODE2: job_start " + spJob2, "NODE2: job_status " + spJob2,
		"NODE2: probe",
		"NODE2: service start " + virus,
		"NODE1: cluster stop_cms CMS01",
		"NODE1: cluster move_group CMS01 NODE2",
		"NODE2: job_start " + cmsJob2, "NODE2: job_status " + cmsJob2,
		"NODE2: cluster start_cms CMS01",
		"NODE1: job_start " + spJob1, "NODE1: job_status " + spJob1,
		"NODE1: probe",
		// The failover test: to NODE1 and back to NODE2, where the CMS was.
		"NODE2: cluster move_group CMS01 NODE1",
		"NODE2: cluster move_group CMS01 NODE2",
		"NODE1: probe",
		"NODE1: job_clear", "NODE2: job_clear",
		"NODE1: lock release", "NODE2: lock release",
	})
	if len(rep.Done) != len(ccrPlan().Steps) {
		t.Errorf("Done = %d steps, want %d", len(rep.Done), len(ccrPlan().Steps))
	}
	assertUnlocked(t, f)
	if g := f.groups["cms01"]; g.owner != "NODE2" || g.state != "Online" {
		t.Errorf("CMS01 is %s on %s", g.state, g.owner)
	}
	// The /upgradeCMS job names its CMS and media.
	for i, c := range f.calls {
		if c != "job_start "+cmsJob2 {
			continue
		}
		want := map[string]any{"ID": cmsJob2, "Action": exchange.ActionUpgradeCMS, "MediaPath": `D:\SP3`, "PackagePath": "", "PatchCode": "", "KB": "", "Language": "", "Group": cms}
		for k, v := range want {
			if f.params[i][k] != v {
				t.Errorf("job_start %s: %s = %#v, want %#v", cmsJob2, k, f.params[i][k], v)
			}
		}
	}
	for _, s := range []string{
		"server NODE1: took the servicing lock",
		"server NODE1, step 7 of 13 (move_cluster_group): CMS01 moved to NODE2: Offline on NODE2",
		"server NODE2, step 12 of 13 (failover_test): failover test passed: CMS01 came online on NODE1 and back on NODE2",
		"cluster CMS01 (NODE1, NODE2): all 13 steps done",
	} {
		if !logs.has(s) {
			t.Errorf("no log message with %q in:\n%s", s, strings.Join(logs.msgs, "\n"))
		}
	}
}

func TestClusterLocksInNameOrderAndReleasedWhenOneIsHeld(t *testing.T) {
	f, clk := newClusterFake(t)
	owner2, expires2 := f.lock("NODE2")
	*owner2, *expires2 = stranger, t0.Add(7*time.Minute)

	_, err := ApplyCluster(context.Background(), f, nodes, ccrPlan(), opts(clk, &logRecorder{}))
	var le *LockHeldError
	if !errors.As(err, &le) || le.Server != "NODE2" || le.Owner != stranger {
		t.Fatalf("ApplyCluster = %v, want a *LockHeldError for NODE2", err)
	}
	// NODE1's lock, taken first, is released; nothing else is done.
	assertCallsOn(t, f, []string{"NODE1: lock take", "NODE2: lock take", "NODE1: lock release"})
	if owner, _ := f.lock("NODE1"); *owner != "" {
		t.Errorf("the lock of NODE1 is held by %q", *owner)
	}
	if *owner2 != stranger {
		t.Errorf("the lock of NODE2 is held by %q", *owner2)
	}
}

func TestClusterLocksRefreshedOnEveryNode(t *testing.T) {
	f, clk := newClusterFake(t)
	f.scripts[spJob2] = jobScript{polls: 5}
	o := opts(clk, &logRecorder{})
	o.LockTTL = 90 * time.Second // refresh every 30s; polls every 15s
	plan := exchange.Plan{Server: cms, Steps: []exchange.Step{ccrPlan().Steps[2]}}
	if _, err := ApplyCluster(context.Background(), f, nodes, plan, o); err != nil {
		t.Fatalf("ApplyCluster: %v", err)
	}
	s := "NODE2: job_status " + spJob2
	assertCallsOn(t, f, []string{"NODE1: lock take", "NODE2: lock take", "NODE2: job_start " + spJob2,
		s, s, "NODE1: lock take", "NODE2: lock take", s, s, "NODE1: lock take", "NODE2: lock take", s, s,
		"NODE1: lock take", "NODE2: lock take",
		"NODE1: job_clear", "NODE2: job_clear", "NODE1: lock release", "NODE2: lock release"})
}

func TestClusterFailureAfterStopClusteredServerStartsIt(t *testing.T) {
	f, clk := newClusterFake(t)
	f.scripts[cmsJob2] = jobScript{state: exchange.JobFailed, exitCode: 1, err: "The CMS could not be upgraded"}
	plan := exchange.Plan{Server: cms, Steps: ccrPlan().Steps[5:9]}

	_, err := ApplyCluster(context.Background(), f, nodes, plan, opts(clk, &logRecorder{}))
	var se *StepError
	if !errors.As(err, &se) || se.Server != "NODE2" || se.Index != 3 {
		t.Fatalf("ApplyCluster = %v, want a *StepError at step 3 on NODE2", err)
	}
	assertCallsOn(t, f, []string{
		"NODE1: lock take", "NODE2: lock take",
		"NODE1: cluster stop_cms CMS01",
		"NODE1: cluster move_group CMS01 NODE2",
		"NODE2: job_start " + cmsJob2, "NODE2: job_status " + cmsJob2,
		// Recovery: start the CMS on the node that owns it now.
		"NODE2: cluster start_cms CMS01",
		"NODE1: lock release", "NODE2: lock release",
	})
	if se.Down != "" {
		t.Errorf("Down = %q, want none: the CMS came back", se.Down)
	}
	msg := err.Error()
	for _, s := range []string{
		"server NODE2: step 3 of 4 (upgrade_cms: Setup.com /upgradeCMS from D:\\SP3) failed: installer exit code 1 (The CMS could not be upgraded)",
		"Recovered: brought the clustered server CMS01 online on NODE2.",
	} {
		if !strings.Contains(msg, s) {
			t.Errorf("error lacks %q:\n%s", s, msg)
		}
	}
	assertUnlocked(t, f)
	if g := f.groups["cms01"]; g.state != "Online" {
		t.Errorf("CMS01 is %s", g.state)
	}
}

func TestClusterServerThatStaysDownLeadsTheError(t *testing.T) {
	f, clk := newClusterFake(t)
	f.scripts[cmsJob2] = jobScript{state: exchange.JobFailed, exitCode: 1}
	f.cannotOnline["node2"] = true
	plan := exchange.Plan{Server: cms, Steps: ccrPlan().Steps[5:9]}

	_, err := ApplyCluster(context.Background(), f, nodes, plan, opts(clk, &logRecorder{}))
	var se *StepError
	if !errors.As(err, &se) {
		t.Fatalf("ApplyCluster = %v, want a *StepError", err)
	}
	// The /upgradeCMS failed: it is finished first, and the CMS is never sent back to the
	// node that still runs the older version (it would be refused there).
	want := `the clustered server CMS01 is DOWN: bring it online on NODE2 with Setup.com /upgradeCMS run again there ` +
		`(its log: C:\ExchangeSetupLogs\ExchangeSetup.log), then Start-ClusteredMailboxServer -Identity CMS01 (Exchange Management Shell); ` +
		`it cannot run on a node with the older Exchange version any more, so do not move it back to NODE1. server NODE2: step 3 of 4`
	if msg := err.Error(); !strings.HasPrefix(msg, want) {
		t.Errorf("error:\n%s\nwant it to begin with:\n%s", msg, want)
	}
	if !strings.Contains(err.Error(), "Next: Read the log and fix the cause, then run terraform plan and apply: the plan runs Setup.com /upgradeCMS on NODE2 again") {
		t.Errorf("the next step must be the unfinished /upgradeCMS (the next plan refuses until then):\n%s", err)
	}
	if !strings.Contains(err.Error(), "Recovery: could not bring the clustered server CMS01 online: it is Failed on NODE2.") {
		t.Errorf("error: %v", err)
	}
	assertUnlocked(t, f)
}

func TestClusterServerDownWhileInstallerRunsIsNotTouched(t *testing.T) {
	f, clk := newClusterFake(t)
	f.scripts[cmsJob2] = jobScript{polls: 1000}
	o := opts(clk, &logRecorder{})
	o.JobTimeout = time.Minute
	plan := exchange.Plan{Server: cms, Steps: ccrPlan().Steps[5:9]}

	_, err := ApplyCluster(context.Background(), f, nodes, plan, o)
	if err == nil {
		t.Fatal("ApplyCluster succeeded")
	}
	for _, c := range f.calls {
		if strings.HasPrefix(c, "cluster start_cms") || strings.HasPrefix(c, "cluster online_group") {
			t.Errorf("recovery touched the CMS while its installer may run: %s", c)
		}
	}
	if want := "the clustered server CMS01 is DOWN and was not brought back (the installer (job " + cmsJob2 + ") may still be running on NODE2): bring it online on NODE2"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error:\n%s\nwant it to begin with:\n%s", err, want)
	}
	assertUnlocked(t, f)
}

func TestClusterFailoverTestMovesThereAndBack(t *testing.T) {
	f, clk := newClusterFake(t)
	f.clusterOnline = cms // the probe reports who owns CMS01: nothing this run did says it
	plan := exchange.Plan{Server: cms, Steps: []exchange.Step{
		on("NODE1", exchange.FailoverTest{Group: cms, To: "NODE2"}, "failover test of CMS01 to NODE2"),
	}}
	if _, err := ApplyCluster(context.Background(), f, nodes, plan, opts(clk, &logRecorder{})); err != nil {
		t.Fatalf("ApplyCluster: %v", err)
	}
	assertCallsOn(t, f, []string{
		"NODE1: lock take", "NODE2: lock take",
		"NODE1: probe",
		"NODE1: cluster move_group CMS01 NODE2",
		"NODE1: cluster move_group CMS01 NODE1",
		"NODE1: job_clear", "NODE2: job_clear",
		"NODE1: lock release", "NODE2: lock release",
	})
	if g := f.groups["cms01"]; g.owner != "NODE1" || g.state != "Online" {
		t.Errorf("CMS01 is %s on %s", g.state, g.owner)
	}
}

func TestClusterFailoverTestFailureSaysHowToMoveBack(t *testing.T) {
	f, clk := newClusterFake(t)
	f.clusterOnline = cms
	f.cannotOnline["node2"] = true
	plan := exchange.Plan{Server: cms, Steps: []exchange.Step{
		on("NODE1", exchange.FailoverTest{Group: cms, To: "NODE2"}, "failover test of CMS01 to NODE2"),
	}}
	_, err := ApplyCluster(context.Background(), f, nodes, plan, opts(clk, &logRecorder{}))
	if err == nil {
		t.Fatal("ApplyCluster succeeded")
	}
	assertCallsOn(t, f, []string{
		"NODE1: lock take", "NODE2: lock take",
		"NODE1: probe",
		"NODE1: cluster move_group CMS01 NODE2",
		// Recovery tries where it is; it moves nothing.
		"NODE2: cluster online_group CMS01",
		"NODE1: lock release", "NODE2: lock release",
	})
	want := `the clustered server CMS01 is DOWN: bring it online on NODE2 with cluster.exe group "CMS01" /online, or move it back to NODE1, where it last ran, with cluster.exe group "CMS01" /moveto:NODE1 and bring it online there. server NODE1: step 1 of 1 (failover_test: failover test of CMS01 to NODE2) failed: CMS01 was moved to NODE2 but did not come online there: it is Failed on NODE2.`
	if msg := err.Error(); !strings.HasPrefix(msg, want) {
		t.Errorf("error:\n%s\nwant it to begin with:\n%s", msg, want)
	}
}

func TestClusterRecoveryNeverStopsAClusterService(t *testing.T) {
	f, clk := newClusterFake(t)
	f.scripts[spJob2] = jobScript{state: exchange.JobFailed, exitCode: 1603}
	plan := exchange.Plan{Server: cms, Steps: []exchange.Step{
		on("NODE1", exchange.BlockFailover{Group: cms}, "block failover of CMS01"),
		on("NODE2", exchange.StopClusterService{}, "stop the cluster service"),
		on("NODE2", exchange.StopService{Service: virus}, "stop "+virus),
		on("NODE2", exchange.InstallServicePack{MediaPath: `D:\SP3`, Build: exchange.MustParseBuild(sp3)}, "install SP3"),
		on("NODE2", exchange.StartService{Service: virus}, "start "+virus),
		on("NODE2", exchange.StartClusterService{}, "start the cluster service"),
		on("NODE1", exchange.AllowFailover{Group: cms}, "allow failover of CMS01"),
	}}
	_, err := ApplyCluster(context.Background(), f, nodes, plan, opts(clk, &logRecorder{}))
	var se *StepError
	if !errors.As(err, &se) || se.Server != "NODE2" || se.Index != 4 {
		t.Fatalf("ApplyCluster = %v, want a *StepError at step 4 on NODE2", err)
	}
	assertCallsOn(t, f, []string{
		"NODE1: lock take", "NODE2: lock take",
		"NODE1: cluster block_failover CMS01",
		"NODE2: cluster stop_service",
		"NODE2: service stop " + virus,
		"NODE2: job_start " + spJob2, "NODE2: job_status " + spJob2,
		// Recovery: the failing node's services, then failover allowed again; the
		// cluster service of NODE2 stays stopped, nothing is stopped.
		"NODE2: service start " + virus,
		"NODE1: cluster allow_failover CMS01",
		"NODE1: lock release", "NODE2: lock release",
	})
	msg := err.Error()
	for _, s := range []string{
		"Recovered: started VirusScan on NODE2; allowed failover of CMS01 again.",
		"Not undone: the cluster service is stopped on NODE2 (start it with net start clussvc once Exchange on NODE2 is repaired).",
	} {
		if !strings.Contains(msg, s) {
			t.Errorf("error lacks %q:\n%s", s, msg)
		}
	}
	if se.Down != "" {
		t.Errorf("Down = %q", se.Down)
	}
}

func TestClusterInvalidPlanRejectedBeforeLock(t *testing.T) {
	for name, tc := range map[string]struct {
		mutate func(*exchange.Plan)
		index  int
		text   string
	}{
		"unknown node": {func(p *exchange.Plan) { p.Steps[6].Server = "NODE3" }, 7, "the step is for server NODE3, which is not a node of this apply (NODE1, NODE2)"},
		"no node":      {func(p *exchange.Plan) { p.Steps[0].Server = "" }, 1, "the step names no node"},
		"no group":     {func(p *exchange.Plan) { p.Steps[5].Kind = exchange.StopClusteredServer{} }, 6, "parameter group is missing"},
		"no to":        {func(p *exchange.Plan) { p.Steps[11].Kind = exchange.FailoverTest{Group: cms} }, 12, "parameter to is missing"},
		"cms no media": {func(p *exchange.Plan) {
			p.Steps[7].Kind = exchange.UpgradeCMS{Group: cms, Build: exchange.MustParseBuild(sp3)}
		}, 8, "parameter media_path is missing"},
	} {
		t.Run(name, func(t *testing.T) {
			f, clk := newClusterFake(t)
			plan := ccrPlan()
			tc.mutate(&plan)
			_, err := ApplyCluster(context.Background(), f, nodes, plan, opts(clk, &logRecorder{}))
			var se *StepError
			if !errors.As(err, &se) || se.Index != tc.index {
				t.Fatalf("ApplyCluster = %v, want a *StepError at step %d", err, tc.index)
			}
			if !strings.Contains(err.Error(), tc.text) || !strings.Contains(err.Error(), "Nothing was done. This is a bug") {
				t.Errorf("error: %v", err)
			}
			assertCalls(t, f, nil)
		})
	}
	t.Run("target named otherwise", func(t *testing.T) {
		f, clk := newClusterFake(t)
		_, err := ApplyCluster(context.Background(), f, map[string]remote.Target{"NODE1": node2}, ccrPlan(), opts(clk, &logRecorder{}))
		if err == nil || !strings.Contains(err.Error(), "the target of node NODE1 is server NODE2") {
			t.Errorf("ApplyCluster = %v", err)
		}
		assertCalls(t, f, nil)
	})
}

func TestClusterEmptyPlanCallsNothing(t *testing.T) {
	f, clk := newClusterFake(t)
	rep, err := ApplyCluster(context.Background(), f, nil, exchange.Plan{Server: cms}, opts(clk, &logRecorder{}))
	if err != nil || len(rep.Done) != 0 {
		t.Fatalf("ApplyCluster = %v, %v", rep, err)
	}
	assertCalls(t, f, nil)
}

func TestClusterJobIDDistinctPerNode(t *testing.T) {
	sp := func(server string) exchange.Step {
		return on(server, exchange.InstallServicePack{MediaPath: `D:\SP3`, Build: exchange.MustParseBuild(sp3)}, "install SP3")
	}
	a, b := ClusterJobID(sp("NODE1")), ClusterJobID(sp("Node2"))
	if a != spJob1 || b != spJob2 {
		t.Errorf("ClusterJobID = %q, %q; want %q, %q", a, b, spJob1, spJob2)
	}
	if a == b {
		t.Errorf("the two nodes' installs share the job id %q", a)
	}
	cmsStep := on("NODE2", exchange.UpgradeCMS{Group: cms, MediaPath: `D:\SP3`, Build: exchange.MustParseBuild(sp3)}, "upgrade CMS01")
	if got := ClusterJobID(cmsStep); got != cmsJob2 {
		t.Errorf("ClusterJobID(upgrade_cms) = %q, want %q", got, cmsJob2)
	}
	if got, want := ClusterJobID(exchange.Step{Kind: exchange.InstallServicePack{Build: exchange.MustParseBuild(sp3)}}), spJob; got != want {
		t.Errorf("ClusterJobID without a server = %q, want %q", got, want)
	}
}

func TestClusterInterruptedMoveBringsTheServerBack(t *testing.T) {
	f, clk := newClusterFake(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.hook = func(ctx context.Context, n int, op string, p map[string]any) error {
		if op == wire.OpCluster && p["Action"] == wire.ClusterMoveGroup {
			cancel()
			return &remote.Error{Server: "NODE1", Operation: op, Kind: remote.KindCanceled, Err: context.Canceled}
		}
		return nil
	}
	plan := exchange.Plan{Server: cms, Steps: ccrPlan().Steps[5:9]}
	_, err := ApplyCluster(ctx, f, nodes, plan, opts(clk, &logRecorder{}))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("ApplyCluster = %v, want context.Canceled", err)
	}
	// No installer runs: the CMS is started again, with a fresh context, where it is.
	assertCallsOn(t, f, []string{
		"NODE1: lock take", "NODE2: lock take",
		"NODE1: cluster stop_cms CMS01",
		"NODE1: cluster move_group CMS01 NODE2",
		"NODE1: cluster start_cms CMS01",
		"NODE1: lock release", "NODE2: lock release",
	})
	if !strings.HasPrefix(err.Error(), "server NODE1: step 2 of 4 (move_cluster_group: move CMS01 to NODE2) stopped: the apply was interrupted (context canceled). Recovered: brought the clustered server CMS01 online on NODE1.") {
		t.Errorf("error: %v", err)
	}
}

func TestClusterLockLostOnAnotherNode(t *testing.T) {
	f, clk := newClusterFake(t)
	f.scripts[spJob2] = jobScript{polls: 5}
	f.hook = func(ctx context.Context, _ int, op string, p map[string]any) error {
		if op == wire.OpJobStatus && f.polls[spJob2] == 1 {
			owner, expires := f.lock("NODE1")
			*owner, *expires = stranger, f.clk.Now().Add(10*time.Minute)
		}
		return nil
	}
	o := opts(clk, &logRecorder{})
	o.LockTTL = 90 * time.Second
	plan := exchange.Plan{Server: cms, Steps: ccrPlan().Steps[:3]}
	_, err := ApplyCluster(context.Background(), f, nodes, plan, o)
	if err == nil || !strings.Contains(err.Error(), "the servicing lock of server NODE1 expired and "+stranger+" took it") ||
		!strings.Contains(err.Error(), "Not undone (another apply holds server NODE1 now): service VirusScan is stopped on NODE2.") {
		t.Fatalf("ApplyCluster = %v", err)
	}
	// Nothing undone; NODE2's lock, still ours, is released, NODE1's is the other apply's.
	s := "NODE2: job_status " + spJob2
	assertCallsOn(t, f, []string{"NODE1: lock take", "NODE2: lock take",
		"NODE2: service stop " + virus, "NODE2: remote_streaming_backup true", "NODE2: job_start " + spJob2,
		s, s, "NODE1: lock take", "NODE2: lock release"})
	if owner, _ := f.lock("NODE1"); *owner != stranger {
		t.Errorf("the lock of NODE1 is held by %q", *owner)
	}
}

// A group that comes up Failed makes the cluster answer "refused": the step's advice names
// what the two Exchange cluster errors mean, not a generic "fix the cause".
func TestRefusedOnlineGivesTheClusterAdvice(t *testing.T) {
	f, clk := newClusterFake(t)
	f.hook = func(_ context.Context, _ int, op string, p map[string]any) error {
		if op == wire.OpCluster && p["Action"] == wire.ClusterOnlineGroup {
			return &remote.Error{Server: "NODE1", Operation: op, Kind: remote.KindFault,
				Err: &wire.Fault{Code: "refused", Message: "group CMS01 failed on NODE1"}}
		}
		return nil
	}
	plan := exchange.Plan{Server: cms, Steps: []exchange.Step{on("NODE1", exchange.BringGroupOnline{Group: cms}, "bring CMS01 online")}}
	_, err := ApplyCluster(context.Background(), f, map[string]remote.Target{"NODE1": node1, "NODE2": node2}, plan, opts(clk, &logRecorder{}))
	if err == nil || !strings.Contains(err.Error(), "did not come online: refused: group CMS01 failed on NODE1") ||
		!strings.Contains(err.Error(), "event 1025 means the clustered server is not upgraded") {
		t.Fatalf("want the cluster advice, got %v", err)
	}
}

// The manual step "Upgrade Exchange Virtual Server": the executor reads the EVS's version in
// Active Directory through the probe. Not upgraded: the apply stops there with the
// administrator's instructions and brings nothing online (the upgrade needs the EVS
// offline). Upgraded: the apply goes on.
func TestClusterManualEVSUpgrade(t *testing.T) {
	sp2 := exchange.MustParseBuild("6.5.7638")
	plan := exchange.Plan{Server: "EVS1", Steps: []exchange.Step{
		on("NODE1", exchange.TakeEVSResourcesOffline{Group: "EVS1"}, "EVS1 offline but IP, disk, name"),
		on("NODE1", exchange.MoveClusterGroup{Group: "EVS1", To: "NODE2"}, "move EVS1 to NODE2"),
		on("NODE2", exchange.UpgradeEVSManually{Group: "EVS1", Build: sp2}, "MANUAL STEP: Upgrade Exchange Virtual Server"),
		on("NODE2", exchange.BringGroupOnline{Group: "EVS1"}, "EVS1 online"),
	}}
	for _, tt := range []struct {
		name, adVersion string
		stops           bool
	}{
		{"not upgraded", "Version 6.5 (Build 7226.6: Service Pack 1)", true},
		{"AD unread", "", true},
		{"upgraded", "Version 6.5 (Build 7638.2: Service Pack 2)", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, clk := newClusterFake(t)
			f.groups = map[string]*fakeGroup{"evs1": {name: "EVS1", owner: "NODE1", state: "Online"}}
			f.clusterOnline, f.adVersion = "EVS1", tt.adVersion
			_, err := ApplyCluster(context.Background(), f, nodes, plan, opts(clk, &logRecorder{}))
			if !tt.stops {
				if err != nil {
					t.Fatal(err)
				}
				if g := f.groups["evs1"]; g.state != "Online" || g.owner != "NODE2" {
					t.Errorf("EVS1 is %s on %s", g.state, g.owner)
				}
				return
			}
			var se *StepError
			if !errors.As(err, &se) || se.Index != 3 {
				t.Fatalf("ApplyCluster = %v, want a stop at step 3", err)
			}
			assertCallsOn(t, f, []string{
				"NODE1: lock take", "NODE2: lock take",
				"NODE1: cluster offline_evs_resources EVS1",
				"NODE1: cluster move_group EVS1 NODE2",
				"NODE2: probe",
				"NODE1: lock release", "NODE2: lock release",
			})
			msg := err.Error()
			for _, want := range []string{
				"the clustered server EVS1 is DOWN and was not brought back (it waits for the manual step)",
				"server NODE2: step 3 of 4 (upgrade_evs_manually: MANUAL STEP: Upgrade Exchange Virtual Server) stopped at a manual step",
				`"Upgrade Exchange Virtual Server" of EVS1 is a manual step`,
				`In Cluster Administrator on NODE2`,
				"the next plan sees the upgrade",
			} {
				if !strings.Contains(msg, want) {
					t.Errorf("error lacks %q:\n%s", want, msg)
				}
			}
			if strings.Contains(msg, "Recover") {
				t.Errorf("a manual stop undoes nothing:\n%s", msg)
			}
		})
	}
}
