package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/reliability"
	"github.com/buildlevel/terraform-provider-exchange/internal/simulator"
	"github.com/buildlevel/terraform-provider-exchange/internal/simulator/simtest"
)

// Issue 11's fault scenarios on one server, EXS (Exchange 2007 SP1 to SP3, a backup agent
// to stop and restart), each through the real CLI with TF_LOG=trace: the journal, the host
// and Terraform's state are checked afterwards, and the password is looked for everywhere.

var (
	sharedProviderOnce sync.Once
	sharedProviderDir  string
	sharedProviderErr  error
)

// sharedProvider builds the provider once for every fault scenario of the test binary.
func sharedProvider(t *testing.T) string {
	t.Helper()
	sharedProviderOnce.Do(func() {
		dir, err := os.MkdirTemp("", "e2e-provider-") //nolint:usetesting // shared by every test of the binary: t.TempDir would go with the first
		if err != nil {
			sharedProviderErr = err
			return
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "terraform-provider-exchange"), ".")
		cmd.Dir = filepath.Join("..", "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			sharedProviderErr = fmt.Errorf("building the provider: %v\n%s", err, out)
		}
		sharedProviderDir = dir
	})
	if sharedProviderErr != nil {
		t.Fatal(sharedProviderErr)
	}
	return sharedProviderDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedProviderDir != "" {
		_ = os.RemoveAll(sharedProviderDir)
	}
	os.Exit(code)
}

// exsServicePack services EXS to SP3; TIMEOUT is replaced by the create timeout.
var exsServicePack = `
resource "exchange_service_pack" "exs" {
  server       = "EXS"
  address      = "127.0.32.1"
  service_pack = 3
  media_path   = "D:\\SP3"
  backup {
    max_system_state_age = "168h"
    domain_controller_backup_time = "` + evidenceTime + `"
    max_database_age     = "24h"
  }
  timeouts {
    create = "TIMEOUT"
  }
}
`

// faultRun is one scenario: the simulator, a workspace with TF_LOG=trace, and every
// output the CLI printed, all searched for the password when the test ends.
type faultRun struct {
	*workspace
	t       *testing.T
	sim     *simulator.Simulator
	pw      string
	trace   string
	outputs []string
}

// newFaultRun holds scenario id on the servicing fleet with simulator options o and the
// create timeout; extraEnv adds to the CLI's environment.
func newFaultRun(t *testing.T, id string, o simulator.Options, timeout string, extraEnv ...string) *faultRun {
	t.Helper()
	reliability.Held(t, id)
	if o.RebootDuration == 0 {
		o.RebootDuration = 300 * time.Millisecond
	}
	if o.InstallDuration == 0 {
		o.InstallDuration = time.Second
	}
	sim := startServicingFleetWith(t, password, o)
	trace := filepath.Join(t.TempDir(), "trace.log")
	config := servicingHeader + strings.Replace(exsServicePack, "TIMEOUT", timeout, 1)
	env := append([]string{"TF_VAR_password=" + password, "EXCHANGE_POLL_INTERVAL=100ms",
		"TF_LOG=trace", "TF_LOG_PATH=" + trace}, extraEnv...)
	r := &faultRun{workspace: newWorkspace(t, sharedProvider(t), sim, config, env...), t: t, sim: sim, pw: password, trace: trace}
	t.Cleanup(r.noLeak)
	return r
}

// apply runs terraform apply and keeps its output.
func (r *faultRun) apply() (string, error) {
	out, err := r.run("apply", "-auto-approve", "-input=false", "-no-color")
	r.outputs = append(r.outputs, out)
	return out, err
}

// mustApply applies and fails the test if the apply fails.
func (r *faultRun) mustApply(what string) string {
	r.t.Helper()
	out, err := r.apply()
	if err != nil {
		r.t.Fatalf("%s: %v\n%s", what, err, out)
	}
	return out
}

// noLeak looks for the password in the outputs, the trace log, the state and the journal.
func (r *faultRun) noLeak() {
	trace, _ := os.ReadFile(r.trace)
	if len(trace) < 1000 {
		r.t.Errorf("TF_LOG=trace wrote %d bytes: the password check would prove nothing", len(trace))
	}
	texts := map[string]string{"output": strings.Join(r.outputs, "\n"), "trace log": string(trace)}
	for _, f := range []string{"terraform.tfstate", "terraform.tfstate.backup"} {
		if b, err := os.ReadFile(filepath.Join(r.dir, f)); err == nil {
			texts[f] = string(b)
		}
	}
	j, _ := json.Marshal(r.sim.Journal())
	texts["journal"] = string(j)
	reliability.NoLeak(r.t, "LAB\\tester", r.pw, texts)
}

// setupRuns counts the SP3 setups started on EXS.
func (r *faultRun) setupRuns() int {
	return simtest.InstallerRuns(r.sim.Journal(), "EXS", `D:\SP3\Setup.com /mode:upgrade`)
}

// count is how many journal entries of EXS have operation op.
func (r *faultRun) count(op string) int {
	n := 0
	for _, e := range r.sim.Journal() {
		if e.Server == "EXS" && e.Operation == op {
			n++
		}
	}
	return n
}

// serviced checks the end of every scenario: setup ran once, EXS is at SP3 with no job, no
// lock and its backup agent running again, and Terraform's state says SP3.
func (r *faultRun) serviced() {
	r.t.Helper()
	if n := r.setupRuns(); n != 1 {
		r.t.Errorf("setup ran %d times on EXS; want once", n)
	}
	f := r.sim.Host("EXS").Facts()
	if f.Build != "8.3.83.6" || f.ThirdPartyServices[0].State != "Running" || len(f.Jobs) != 0 || f.Lock != nil ||
		len(f.Leftovers.StoppedServices) != 0 {
		r.t.Errorf("EXS after the scenario: build %s, %s %s, jobs %+v, lock %+v, leftovers %+v", f.Build,
			f.ThirdPartyServices[0].Name, f.ThirdPartyServices[0].State, f.Jobs, f.Lock, f.Leftovers)
	}
	out, err := r.run("state", "show", "-no-color", "exchange_service_pack.exs")
	if err != nil || !regexp.MustCompile(`live_service_pack\s+=\s+3\b`).MatchString(out) {
		r.t.Errorf("Terraform's state must say SP3: %v\n%s", err, out)
	}
	r.outputs = append(r.outputs, out)
	if out, err := r.run("plan", "-detailed-exitcode", "-input=false", "-no-color"); err != nil {
		r.t.Errorf("the plan after the scenario must be empty: %v\n%s", err, out)
	}
}

// stoppedRecorded checks, after an apply that stopped mid-install, that the backup agent it
// stopped is either running or recorded on the server for the next apply to restart.
func (r *faultRun) stoppedRecorded() {
	r.t.Helper()
	f := r.sim.Host("EXS").Facts()
	if f.ThirdPartyServices[0].State != "Running" && len(f.Leftovers.StoppedServices) == 0 {
		r.t.Errorf("the backup agent is stopped with no record of it on the server: %+v", f.Leftovers)
	}
}

func (r *faultRun) inject(f simulator.Fault) {
	r.t.Helper()
	must(r.t, r.sim.Host("EXS").InjectFault(f))
}

func TestFaultResetDuringProbe(t *testing.T) {
	r := newFaultRun(t, "reset during a probe", simulator.Options{}, "2m")
	// The first read of EXS is the discovery that carries its probe (discover.ps1).
	r.inject(simulator.Fault{Kind: simulator.FaultResetConnection, Operation: "discover"})
	out, err := r.run("plan", "-input=false", "-no-color")
	r.outputs = append(r.outputs, out)
	if err != nil || !strings.Contains(out, `"install_service_pack"`) {
		t.Fatalf("the plan must read EXS again and show the install: %v\n%s", err, out)
	}
	if got := r.sim.Endpoint("EXS").Stats().InjectedResets; got != 1 {
		t.Fatalf("%d connections reset, want 1", got)
	}
	if reads := r.count("probe") + r.count("discover"); reads < 2 || r.count("job_start") != 0 || r.count("service") != 0 {
		t.Fatalf("want EXS read again and nothing else: %d reads, %d job_start, %d service", reads, r.count("job_start"), r.count("service"))
	}
	r.mustApply("apply after the plan")
	r.serviced()
}

func TestFaultResetDuringInstall(t *testing.T) {
	r := newFaultRun(t, "reset during an install", simulator.Options{}, "2m")
	r.inject(simulator.Fault{Kind: simulator.FaultResetConnection, Operation: "job_start"})
	r.mustApply("an apply whose job_start answer is reset")
	if got := r.sim.Endpoint("EXS").Stats().InjectedResets; got != 1 {
		t.Fatalf("%d connections reset, want 1", got)
	}
	r.serviced()
}

func TestFault401MidRun(t *testing.T) {
	r := newFaultRun(t, "HTTP 401 mid-run", simulator.Options{InstallDuration: 3 * time.Second}, "2m", "EXCHANGE_TIMEOUT=5s")
	// Locked out from the moment setup started until the test unlocks the account.
	r.inject(simulator.Fault{Kind: simulator.FaultUnauthorized, Operation: "job_start", Count: 1 << 20})
	out, err := r.apply()
	if err == nil || !regexp.MustCompile(`(?s)EXS.*(401|credentials|rejected)`).MatchString(out) {
		t.Fatalf("the apply must fail naming EXS and the authentication error: %v\n%s", err, out)
	}
	if r.setupRuns() != 1 {
		t.Fatalf("setup started %d times before the 401", r.setupRuns())
	}
	r.stoppedRecorded()
	r.sim.Endpoint("EXS").FailNext(0, 0) // the account is unlocked
	out = r.mustApply("the apply after the account is unlocked")
	// Setup may have finished meanwhile: then the plan continues after it.
	if !strings.Contains(out, "attach to the running") && !strings.Contains(out, "finished while no apply watched") {
		t.Errorf("the second apply must attach to the running setup or continue after it:\n%s", out)
	}
	r.serviced()
}

func TestFaultShellQuota(t *testing.T) {
	r := newFaultRun(t, "MaxShellsPerUser quota fault", simulator.Options{}, "2m")
	r.inject(simulator.Fault{Kind: simulator.FaultShellQuota, Operation: "job_start", Count: 3})
	r.inject(simulator.Fault{Kind: simulator.FaultResetConnection, Operation: "job_status"}) // a new shell is needed
	r.mustApply("an apply refused shells over the quota")
	if got := r.sim.Endpoint("EXS").Stats().ShellQuotaFaults; got != 3 {
		t.Fatalf("%d shells refused over the quota, want 3", got)
	}
	r.serviced()
}

func TestFaultOperationTimeouts(t *testing.T) {
	r := newFaultRun(t, "operation timeout faults", simulator.Options{ReceiveTimeout: 50 * time.Millisecond,
		Latency: 150 * time.Millisecond}, "2m")
	r.mustApply("an apply through w:TimedOut answers")
	if got := r.sim.Endpoint("EXS").Stats().TimedOutReceives; got < 10 {
		t.Fatalf("only %d Receives timed out: the scenario did not happen", got)
	}
	r.serviced()
}

func TestFaultSlowerThanTimeout(t *testing.T) {
	r := newFaultRun(t, "a response slower than the timeout", simulator.Options{InstallDuration: 2 * time.Second}, "2m", "EXCHANGE_TIMEOUT=2s")
	r.inject(simulator.Fault{Kind: simulator.FaultSlowReply, Operation: "job_start", Delay: "4s"})
	out, err := r.apply()
	if err == nil || !regexp.MustCompile(`(?s)EXS.*(timed out|time budget|did not finish|deadline)`).MatchString(out) {
		t.Fatalf("the apply must fail naming EXS and the timeout: %v\n%s", err, out)
	}
	r.stoppedRecorded()
	r.mustApply("the apply after the slow answer")
	r.serviced()
}

func TestFaultRebootOverruns(t *testing.T) {
	r := newFaultRun(t, "a reboot longer than expected", simulator.Options{}, "2m")
	host := r.sim.Host("EXS")
	r.inject(simulator.Fault{Kind: simulator.FaultNoRebootReturn})
	done := make(chan struct{})
	go func() { // back after 5 s instead of the usual 0.3 s
		defer close(done)
		for deadline := time.Now().Add(time.Minute); host.Reachable() && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(5 * time.Second)
		host.PowerOn()
	}()
	r.mustApply("an apply whose reboot overruns")
	<-done
	if n := r.count("reboot"); n != 1 {
		t.Errorf("EXS was restarted %d times; want once", n)
	}
	r.serviced()
}

func TestFaultTwoHosts(t *testing.T) {
	r := newFaultRun(t, "two applies at once from two hosts", simulator.Options{}, "2m")
	host := r.sim.Host("EXS")
	const other = "terraform-provider-exchange@ci02 pid 4242 run 0a1b2c3d"
	expires := time.Now().UTC().Truncate(time.Second).Add(6 * time.Second)
	host.Update(func(s *simulator.State) {
		s.Lock = &exchange.Lock{Owner: other, Acquired: expires.Add(-time.Minute), Expires: expires}
	})
	out, err := r.apply()
	if err == nil || !strings.Contains(strings.Join(strings.Fields(out), " "), "another apply ("+other+") holds the servicing lock") ||
		!strings.Contains(out, "ci02") {
		t.Fatalf("the apply must be refused naming the other host's apply: %v\n%s", err, out)
	}
	if n := r.count("service") + r.count("job_start") + r.count("reboot"); n != 0 {
		t.Fatalf("the refused apply changed EXS (%d operations)", n)
	}
	if l := host.State().Lock; l == nil || l.Owner != other || !l.Expires.Equal(expires) {
		t.Fatalf("the refused apply touched the other host's lock: %+v", l)
	}
	time.Sleep(time.Until(expires) + time.Second)
	r.mustApply("the apply once the other host's lock expired")
	r.serviced()
}

// interruptDuringSetup starts an apply, sends Ctrl-C to it (SIGINT to its process group, as
// a terminal does) once setup has started on EXS, and returns its output; the apply must fail.
func (r *faultRun) interruptDuringSetup() string {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.tf, "apply", "-auto-approve", "-input=false", "-no-color")
	var out strings.Builder
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = r.dir, r.env, &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	must(r.t, cmd.Start())
	for deadline := time.Now().Add(time.Minute); r.setupRuns() == 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if r.setupRuns() != 1 {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		r.t.Fatalf("setup never started:\n%s", out.String())
	}
	must(r.t, syscall.Kill(-cmd.Process.Pid, syscall.SIGINT))
	err := cmd.Wait()
	r.outputs = append(r.outputs, out.String())
	if err == nil {
		r.t.Fatalf("an interrupted apply must fail:\n%s", out.String())
	}
	return out.String()
}

func TestFaultSIGINTMidInstall(t *testing.T) {
	r := newFaultRun(t, "SIGINT of Terraform mid-install, then apply again", simulator.Options{InstallDuration: 4 * time.Second}, "2m")
	out := r.interruptDuringSetup()
	if !regexp.MustCompile(`(?is)EXS.*(stopped|interrupt|cancel)`).MatchString(out) {
		t.Errorf("the interrupted apply must say where it stopped:\n%s", out)
	}
	if f := r.sim.Host("EXS").Facts(); len(f.Jobs) != 1 || f.Jobs[0].State != exchange.JobRunning {
		t.Fatalf("setup must still run on EXS: %+v", f.Jobs)
	}
	r.stoppedRecorded()
	second := r.mustApply("the apply after Ctrl-C")
	if !strings.Contains(second, "attach to the running") {
		t.Errorf("the plan must say it attaches to the running setup:\n%s", second)
	}
	r.serviced()
}

// Ctrl-C during setup, and setup finishes before anyone applies again: setup leaves
// MSExchangeTransport Disabled, as a silent service pack install does. The next apply puts
// it back as it was before the first apply (Automatic, running) by the services record the
// interrupted apply kept when it released its lock; a record taken anew by the next apply
// would have said Disabled, and Disabled it would have stayed: Hub Transport down.
func TestFaultSetupFinishesAfterInterrupt(t *testing.T) {
	r := newFaultRun(t, "SIGINT of Terraform mid-install, then apply again", simulator.Options{InstallDuration: 2 * time.Second}, "2m")
	before := exchangeServices(r.sim.Host("EXS").Facts())
	if before["MSExchangeTransport"] != "Running" {
		t.Fatalf("EXS must run MSExchangeTransport before the apply: %v", before)
	}
	r.interruptDuringSetup()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if f := r.sim.Host("EXS").Facts(); len(f.Jobs) == 1 && f.Jobs[0].State != exchange.JobRunning {
			break
		}
	}
	f := r.sim.Host("EXS").Facts()
	if len(f.Jobs) != 1 || f.Jobs[0].State != exchange.JobSucceeded || f.Lock != nil {
		t.Fatalf("setup must have finished with no apply watching and no lock held: jobs %+v, lock %+v", f.Jobs, f.Lock)
	}
	if got := exchangeServices(f)["MSExchangeTransport"]; got != "Stopped/Disabled" {
		t.Fatalf("setup must have left MSExchangeTransport Disabled (the scenario), got %s", got)
	}
	second := r.mustApply("the apply after setup finished")
	if !strings.Contains(second, "finished while no apply watched") {
		t.Errorf("the plan must continue after the finished setup:\n%s", second)
	}
	if after := exchangeServices(r.sim.Host("EXS").Facts()); !maps.Equal(after, before) {
		t.Errorf("the Exchange services after the apply differ from before it:\nbefore %v\nafter  %v", before, after)
	}
	r.serviced()
}

// exchangeServices are f's Exchange services as "Running", or "State/StartMode" when not
// running or Disabled.
func exchangeServices(f exchange.Facts) map[string]string {
	out := map[string]string{}
	for _, s := range f.Services {
		v := s.State
		if s.State != "Running" || s.StartMode == "Disabled" {
			v = s.State + "/" + s.StartMode
		}
		out[s.Name] = v
	}
	return out
}

func TestFaultSimulatorRestarted(t *testing.T) {
	r := newFaultRun(t, "the simulator restarted mid-apply", simulator.Options{InstallDuration: 3 * time.Second}, "2m")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for deadline := time.Now().Add(time.Minute); r.setupRuns() == 0 && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		r.sim.Bounce(2 * time.Second)
	}()
	out, err := r.apply()
	<-done
	if err != nil {
		// A restart the client could not ride out: the next apply must attach.
		r.stoppedRecorded()
		out = r.mustApply("the apply after the simulator restarted")
	}
	bounced := false
	for _, e := range r.sim.Journal() {
		bounced = bounced || (e.Server == "EXS" && e.Operation == "system" && strings.Contains(e.Detail, "restarted with the simulator"))
	}
	if !bounced {
		t.Fatalf("the simulator never restarted:\n%s", out)
	}
	r.serviced()
}

// Every step done, then the account is refused for the lock's release only (locked out at
// that moment): the apply succeeds with the warning that it could not clean up after itself,
// naming EXS and its lock, and says until when the lock holds; the lock is left on the
// server, the job records are cleared, and the next plan has nothing to do.
func TestFaultCleanUpRefusedIsAWarning(t *testing.T) {
	r := newFaultRun(t, "the clean-up after the last step refused", simulator.Options{}, "2m")
	r.inject(simulator.Fault{Kind: simulator.FaultRefuseOperation, Operation: "lock", Params: map[string]any{"Release": true}})
	out := r.mustApply("an apply whose lock release is refused")
	if !strings.Contains(out, "Apply finished, but could not clean up after itself") ||
		!regexp.MustCompile(`(?s)server EXS: every step is done, but its servicing lock could not be released.*expires by itself within`).MatchString(out) {
		t.Errorf("the apply must warn that EXS's lock was left:\n%s", out)
	}
	f := r.sim.Host("EXS").Facts()
	if f.Build != "8.3.83.6" || f.Lock == nil || len(f.Jobs) != 0 {
		t.Errorf("EXS after the apply: build %s, lock %+v (want it left), jobs %+v (want none)", f.Build, f.Lock, f.Jobs)
	}
	if out, err := r.run("plan", "-detailed-exitcode", "-input=false", "-no-color"); err != nil {
		t.Errorf("the plan after the apply must be empty: %v\n%s", err, out)
	}
}
