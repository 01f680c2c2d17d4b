package remote

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
	"github.com/buildlevel/terraform-provider-exchange/internal/simulator/wsman"
)

// sent is what one operation call put on the wire.
type sent struct {
	op     string
	params map[string]any
}

// recordingFixture answers every operation with answer(op) and records what was sent.
func recordingFixture(t *testing.T, answer func(op string) any) (*fixture, *[]sent) {
	t.Helper()
	var calls []sent
	f := newFixture(t, scriptHandler(t, func(ctx context.Context, s wire.Script, cmd wsman.Command) wsman.Result {
		params := map[string]any{}
		for _, p := range s.Params {
			params[p.Name] = p.Value
		}
		calls = append(calls, sent{op: s.Operation, params: params})
		return result(t, s.Operation, answer(s.Operation))
	}), false, wsman.Options{}, nil)
	return f, &calls
}

func TestOperationWrappers(t *testing.T) {
	expires := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	started := expires.Add(-time.Hour)
	finished := started.Add(30 * time.Minute)
	boot := started.Add(-48 * time.Hour)
	answers := map[string]any{
		wire.OpLock:    wire.LockResult{Held: true, Owner: "apply-1", Expires: expires},
		wire.OpService: wire.ServiceResult{Name: "BackupExecRPCService", Before: "Running", After: "Stopped", StartMode: "Auto"},
		wire.OpExchangeServices: wire.ExchangeServicesResult{Enabled: []string{"MSExchangeIS"}, Started: []string{"MSExchangeIS"}, Failed: []string{},
			Services: []exchange.ServiceFacts{{Name: "MSExchangeIS", State: "Running", StartMode: "Auto"}}},
		wire.OpRevocationCheck:       wire.SettingResult{Before: true, After: false},
		wire.OpRemoteStreamingBackup: wire.SettingResult{Before: false, After: true},
		wire.OpCustomizations:        wire.CustomizationsResult{Items: []string{"owa_logon"}},
		wire.OpJobStart:              exchange.Job{ID: "install_service_pack-8.3.83.6", Action: exchange.ActionInstallServicePack, State: exchange.JobRunning, LogPath: `C:\ExchangeSetupLogs\ExchangeSetup.log`, Started: started},
		wire.OpJobStatus:             exchange.Job{ID: "install_service_pack-8.3.83.6", Action: exchange.ActionInstallServicePack, State: exchange.JobSucceeded, ExitCode: 3010, Started: started, Finished: &finished, RebootRequired: true},
		wire.OpReboot:                wire.RebootResult{BootTime: boot},
		wire.OpCluster: wire.ClusterResult{Group: "EVS1 Group", Owner: "NODE2", GroupState: "PartialOnline", ClusterServiceRunning: true,
			Resources: []exchange.ClusterResource{
				{Name: "EVS1 IP Address", Type: "IP Address", State: "Online"},
				{Name: "EVS1 System Attendant", Type: "Microsoft Exchange System Attendant", State: "Offline"},
			}},
		wire.OpDiscover: wire.DiscoverResult{Organization: "Contoso", Servers: []wire.DiscoveredServer{
			{Name: "EX01", FQDN: "ex01.contoso.local", Product: "2007", Roles: []string{"ClientAccess", "HubTransport"}, Site: "Default-First-Site-Name"},
			{Name: "FE01", FQDN: "fe01.contoso.local", Product: "2003", Roles: []string{"FrontEnd"}, Site: "First Routing Group"},
			{Name: "EX55", FQDN: "", Product: "5.5", Roles: []string{}, Site: ""},
		}},
	}
	f, calls := recordingFixture(t, func(op string) any { return answers[op] })
	ctx := testCtx(t)
	tg := f.target
	spec := JobSpec{ID: "install_service_pack-8.3.83.6", Action: exchange.ActionInstallServicePack, MediaPath: `\\files\media\E2007SP3`}
	cmsSpec := JobSpec{ID: "upgrade_cms-8.3.83.6", Action: exchange.ActionUpgradeCMS, MediaPath: `\\files\media\E2007SP3`, Group: "CMS1"}

	type call struct {
		name   string
		run    func() (any, error)
		op     string
		params map[string]any
	}
	for _, c := range []call{
		{"Lock", func() (any, error) { return f.client.Lock(ctx, tg, "apply-1", 90*time.Minute) },
			wire.OpLock, map[string]any{"Owner": "apply-1", "TTLSeconds": int64(5400), "Release": false, "TakeOver": "", "KeepServiceRecord": false}},
		{"Lock rounds a fraction of a second up", func() (any, error) { return f.client.Lock(ctx, tg, "apply-1", 1500*time.Millisecond) },
			wire.OpLock, map[string]any{"Owner": "apply-1", "TTLSeconds": int64(2), "Release": false, "TakeOver": "", "KeepServiceRecord": false}},
		{"Unlock", func() (any, error) { return nil, f.client.Unlock(ctx, tg, "apply-1") },
			wire.OpLock, map[string]any{"Owner": "apply-1", "TTLSeconds": int64(0), "Release": true, "TakeOver": "", "KeepServiceRecord": false}},
		{"Service", func() (any, error) { return f.client.Service(ctx, tg, "BackupExecRPCService", wire.ActionStop) },
			wire.OpService, map[string]any{"Name": "BackupExecRPCService", "Action": "stop"}},
		{"ExchangeServices", func() (any, error) { return f.client.ExchangeServices(ctx, tg) },
			wire.OpExchangeServices, map[string]any{}},
		{"RevocationCheck", func() (any, error) { return f.client.RevocationCheck(ctx, tg, false) },
			wire.OpRevocationCheck, map[string]any{"Enabled": false}},
		{"RemoteStreamingBackup", func() (any, error) { return f.client.RemoteStreamingBackup(ctx, tg, true) },
			wire.OpRemoteStreamingBackup, map[string]any{"Enabled": true}},
		{"Customizations", func() (any, error) { return f.client.Customizations(ctx, tg, wire.ActionSave, `D:\owa\logon.aspx`) },
			wire.OpCustomizations, map[string]any{"Action": "save", "LogonFile": `D:\owa\logon.aspx`}},
		{"JobStart", func() (any, error) { return f.client.JobStart(ctx, tg, spec) },
			wire.OpJobStart, map[string]any{"ID": spec.ID, "Action": spec.Action, "MediaPath": spec.MediaPath,
				"PackagePath": "", "PatchCode": "", "KB": "", "Language": "", "Group": ""}},
		{"JobStart of a cluster installer", func() (any, error) { return f.client.JobStart(ctx, tg, cmsSpec) },
			wire.OpJobStart, map[string]any{"ID": cmsSpec.ID, "Action": cmsSpec.Action, "MediaPath": cmsSpec.MediaPath,
				"PackagePath": "", "PatchCode": "", "KB": "", "Language": "", "Group": "CMS1"}},
		{"Cluster move", func() (any, error) { return f.client.Cluster(ctx, tg, wire.ClusterMoveGroup, "EVS1 Group", "NODE2") },
			wire.OpCluster, map[string]any{"Action": "move_group", "Group": "EVS1 Group", "Node": "NODE2"}},
		{"Cluster service", func() (any, error) { return f.client.Cluster(ctx, tg, wire.ClusterStopService, "", "") },
			wire.OpCluster, map[string]any{"Action": "stop_service", "Group": "", "Node": ""}},
		{"JobStatus", func() (any, error) { return f.client.JobStatus(ctx, tg, spec.ID) },
			wire.OpJobStatus, map[string]any{"ID": spec.ID}},
		{"Reboot", func() (any, error) { return f.client.Reboot(ctx, tg) },
			wire.OpReboot, map[string]any{}},
		{"Discover", func() (any, error) { return f.client.Discover(ctx, tg) },
			wire.OpDiscover, map[string]any{"Server": ""}},
	} {
		t.Run(c.name, func(t *testing.T) {
			*calls = nil
			got, err := c.run()
			if err != nil {
				t.Fatal(err)
			}
			if len(*calls) != 1 {
				t.Fatalf("%d operations sent, want 1", len(*calls))
			}
			s := (*calls)[0]
			if s.op != c.op {
				t.Errorf("operation %q, want %q", s.op, c.op)
			}
			if !reflect.DeepEqual(s.params, c.params) {
				t.Errorf("params %#v, want %#v", s.params, c.params)
			}
			if got == nil {
				return
			}
			// The result decodes into the wrapper's type unchanged.
			want, _ := json.Marshal(answers[c.op])
			have, _ := json.Marshal(got)
			if string(want) != string(have) {
				t.Errorf("result %s, want %s", have, want)
			}
		})
	}
}

func TestLockRefusesANonPositiveTTL(t *testing.T) {
	f, calls := recordingFixture(t, func(op string) any { return wire.LockResult{} })
	for _, ttl := range []time.Duration{0, -time.Second} {
		if _, err := f.client.Lock(testCtx(t), f.target, "apply-1", ttl); err == nil {
			t.Errorf("Lock with TTL %s succeeded", ttl)
		}
	}
	if len(*calls) != 0 {
		t.Errorf("%d operations sent for invalid TTLs", len(*calls))
	}
}

func TestOperationFaultsReachTheCaller(t *testing.T) {
	f := newFixture(t, scriptHandler(t, func(ctx context.Context, s wire.Script, cmd wsman.Command) wsman.Result {
		out, err := wire.EncodeFault(s.Operation, "not_found", "no job x on EX01")
		if err != nil {
			t.Fatal(err)
		}
		return wsman.Result{Stdout: []byte(out)}
	}), false, wsman.Options{}, nil)
	_, err := f.client.JobStatus(testCtx(t), f.target, "x")
	var fault *wire.Fault
	if !errors.As(err, &fault) || fault.Code != "not_found" {
		t.Fatalf("want a not_found fault, got %v", err)
	}
	if re := asError(t, err); re.Kind != KindFault || re.Operation != wire.OpJobStatus || re.MayHaveRun {
		t.Errorf("kind %s operation %s may-have-run %v", re.Kind, re.Operation, re.MayHaveRun)
	}
}

// Discover's faults are final answers: returned once, as the fault, not retried.
func TestDiscoverFaultsReachTheCaller(t *testing.T) {
	for _, code := range []string{"unavailable", "not_found"} {
		var commands atomic.Int32
		f := newFixture(t, scriptHandler(t, func(ctx context.Context, s wire.Script, cmd wsman.Command) wsman.Result {
			commands.Add(1)
			out, err := wire.EncodeFault(s.Operation, code, "cannot read Active Directory from EX01: name the servers explicitly")
			if err != nil {
				t.Fatal(err)
			}
			return wsman.Result{Stdout: []byte(out)}
		}), false, wsman.Options{}, nil)
		_, err := f.client.Discover(testCtx(t), f.target)
		var fault *wire.Fault
		if !errors.As(err, &fault) || fault.Code != code {
			t.Fatalf("want a %s fault, got %v", code, err)
		}
		if re := asError(t, err); re.Kind != KindFault || re.Operation != wire.OpDiscover {
			t.Errorf("%s: kind %s operation %s", code, re.Kind, re.Operation)
		}
		if n := commands.Load(); n != 1 {
			t.Errorf("%s: discover ran %d times, want once", code, n)
		}
	}
}

// Cluster's faults reach the caller as the script wrote them, once: a refusal is final.
func TestClusterFaultsReachTheCaller(t *testing.T) {
	for _, code := range []string{"not_clustered", "not_found", "refused", "timeout", "unavailable"} {
		var commands atomic.Int32
		f := newFixture(t, scriptHandler(t, func(ctx context.Context, s wire.Script, cmd wsman.Command) wsman.Result {
			commands.Add(1)
			out, err := wire.EncodeFault(s.Operation, code, "group EVS1 failed on NODE2 while waiting until it is online")
			if err != nil {
				t.Fatal(err)
			}
			return wsman.Result{Stdout: []byte(out)}
		}), false, wsman.Options{}, nil)
		_, err := f.client.Cluster(testCtx(t), f.target, wire.ClusterOnlineGroup, "EVS1", "")
		var fault *wire.Fault
		if !errors.As(err, &fault) || fault.Code != code {
			t.Fatalf("want a %s fault, got %v", code, err)
		}
		if re := asError(t, err); re.Kind != KindFault || re.Operation != wire.OpCluster {
			t.Errorf("%s: kind %s operation %s", code, re.Kind, re.Operation)
		}
		if n := commands.Load(); n != 1 {
			t.Errorf("%s: cluster ran %d times, want once", code, n)
		}
	}
}

// failAfterStart answers like a server whose connection drops once the command is accepted:
// on the first n commands the next request fails (503).
func failAfterStart(t *testing.T, f **fixture, n int32, commands *atomic.Int32) wsman.Handler {
	return wsman.HandlerFunc(func(ctx context.Context, cmd wsman.Command) wsman.Result {
		k := commands.Add(1)
		if k <= n {
			// The server accepted the command; the next request (sending the script, or a
			// Receive) fails. The client may already be waiting in a Receive when this
			// handler runs: answer only once the failure was served (that Receive times out
			// and is retried into it), or the command would end cleanly with no output.
			srv := (*f).srv
			before := srv.Stats().InjectedFailures
			srv.FailNext(1, http.StatusServiceUnavailable)
			_, _ = io.ReadAll(cmd.Stdin)
			for deadline := time.Now().Add(30 * time.Second); srv.Stats().InjectedFailures == before && time.Now().Before(deadline); {
				select {
				case <-ctx.Done():
					return wsman.Result{ExitCode: 1}
				case <-time.After(5 * time.Millisecond):
				}
			}
			return wsman.Result{ExitCode: 1}
		}
		stdin, _ := io.ReadAll(cmd.Stdin)
		text, err := wire.Unpack(cmd.CommandLine, stdin)
		if err != nil {
			t.Errorf("unpack: %v", err)
			return wsman.Result{ExitCode: 1}
		}
		s, _ := wire.Parse(text)
		var v any = wire.RebootResult{BootTime: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		if s.Operation == wire.OpJobStatus {
			v = exchange.Job{ID: "j", State: exchange.JobRunning}
		}
		return result(t, s.Operation, v)
	})
}

// A reboot is never sent twice: a transient failure after the server accepted the command
// is returned (MayHaveRun) instead of retried. A read-only operation in the same situation
// is retried.
func TestRebootIsNotRetriedOnceStarted(t *testing.T) {
	var f *fixture
	var commands atomic.Int32
	f = newFixture(t, failAfterStart(t, &f, 1, &commands), false, wsman.Options{}, nil)

	_, err := f.client.Reboot(testCtx(t), f.target)
	if err == nil {
		t.Fatal("Reboot succeeded although its only attempt failed after it started")
	}
	re := asError(t, err)
	if !re.MayHaveRun || re.Kind != KindServer || re.Operation != wire.OpReboot {
		t.Fatalf("kind %s may-have-run %v: %v", re.Kind, re.MayHaveRun, err)
	}
	if n := commands.Load(); n != 1 {
		t.Fatalf("the reboot command ran %d times, want once", n)
	}
	if st := f.srv.Stats(); st.CommandsStarted != 1 {
		t.Fatalf("%d commands started, want 1", st.CommandsStarted)
	}
	for _, want := range []string{"not retried", "may have run"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q: %v", want, err)
		}
	}

	// The same failure on job_status: retried on a new shell, and it succeeds.
	var g *fixture
	var gcommands atomic.Int32
	g = newFixture(t, failAfterStart(t, &g, 1, &gcommands), false, wsman.Options{}, nil)
	if _, err := g.client.JobStatus(testCtx(t), g.target, "j"); err != nil {
		t.Fatalf("job_status after one failure: %v", err)
	}
	if n := gcommands.Load(); n != 2 {
		t.Fatalf("job_status ran %d times, want 2 (retried)", n)
	}
}

// A failure before the command started (nothing ran) is retried for a reboot too.
func TestRebootIsRetriedBeforeItStarts(t *testing.T) {
	var commands atomic.Int32
	f := newFixture(t, scriptHandler(t, func(ctx context.Context, s wire.Script, cmd wsman.Command) wsman.Result {
		commands.Add(1)
		return result(t, s.Operation, wire.RebootResult{BootTime: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	}), false, wsman.Options{}, nil)
	f.srv.FailNext(2, http.StatusServiceUnavailable) // the shell's creation fails twice
	res, err := f.client.Reboot(testCtx(t), f.target)
	if err != nil {
		t.Fatalf("Reboot after failures before it started: %v", err)
	}
	if !res.BootTime.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("boot time %s", res.BootTime)
	}
	if n := commands.Load(); n != 1 {
		t.Fatalf("the reboot command ran %d times, want once", n)
	}
	if n := f.srv.Stats().InjectedFailures; n != 2 {
		t.Fatalf("%d injected failures seen, want 2", n)
	}
}

// Every operation of wire/ops.go that the policy names exists, and only OpReboot is in it
// today: adding an operation there is a decision, made by editing this test too.
func TestNotRetriedAfterStartPolicy(t *testing.T) {
	want := map[string]bool{wire.OpReboot: true}
	if !reflect.DeepEqual(notRetriedAfterStart, want) {
		t.Fatalf("notRetriedAfterStart = %v, want %v", notRetriedAfterStart, want)
	}
}
