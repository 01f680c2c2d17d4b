package e2e

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/reliability"
	"github.com/buildlevel/terraform-provider-exchange/internal/simulator"
)

// The seeded fault soak (`make soak`; a short one in `make test`): an organisation upgrade,
// a CCR cluster included, applied again and again under a random schedule of faults drawn
// from the seed, until every server reaches its target. After every apply the invariants
// are checked against the simulator's journal and the hosts' state.
var (
	soakRuns    = flag.Int("soak.runs", 2, "soak: how many runs (each a fresh organisation upgraded to its target)")
	soakSeed    = flag.Int64("soak.seed", 0, "soak: the seed of the fault schedule (0: the time)")
	soakTime    = flag.Duration("soak.time", 60*time.Second, "soak: no run starts after this much time")
	soakApplies = flag.Int("soak.applies", 6, "soak: applies per run at most (the last two without new faults)")
)

const soakFleet = `{
  "credentials": {"username": "LAB\\tester", "password": %q},
  "winrm": {"basic": true},
  "packages": {"D:\\SP3": {"kind": "service_pack", "product": "2007", "service_pack": 3}},
  "servers": [
    {"name": "CAS1", "address": "127.0.33.1", "product": "2007", "build": "8.1.393.1", "roles": ["ClientAccess"],
     "last_system_state_backup": %[2]q},
    {"name": "HUB1", "address": "127.0.33.2", "product": "2007", "build": "8.1.393.1", "roles": ["HubTransport"],
     "third_party_services": ["BackupExecAgentAccelerator"], "last_system_state_backup": %[2]q},
    {"name": "MBX1A", "address": "127.0.33.11", "product": "2007", "build": "8.1.393.1", "roles": ["Mailbox"],
     "third_party_services": ["BackupExecAgentAccelerator"], "last_full_backup": %[2]q, "last_system_state_backup": %[2]q},
    {"name": "MBX1B", "address": "127.0.33.12", "product": "2007", "build": "8.1.393.1", "roles": ["Mailbox"],
     "third_party_services": ["BackupExecAgentAccelerator"], "last_full_backup": %[2]q, "last_system_state_backup": %[2]q}
  ],
  "clusters": [{"name": "CMS1", "type": "ccr", "nodes": ["MBX1A", "MBX1B"], "active": "MBX1A"}]
}`

var soakConfig = servicingHeader + `
resource "exchange_organization_upgrade" "org" {
  servers = [
    { server = "CAS1", address = "127.0.33.1" },
    { server = "HUB1", address = "127.0.33.2" },
    { server = "MBX1A", address = "127.0.33.11" },
    { server = "MBX1B", address = "127.0.33.12" },
  ]
  targets = [{ product = "2007", service_pack = 3, media_path = "D:\\SP3" }]
  backup {
    max_database_age     = "24h"
    max_system_state_age = "168h"
    domain_controller_backup_time = "` + evidenceTime + `"
  }
  timeouts {
    create = "45s"
    update = "45s"
  }
}
`

const soakTarget = "8.3.83.6"

// soakStats are what a soak did.
type soakStats struct {
	runs, applies int
	faults        map[string]int
	violations    []string
}

func TestSoak(t *testing.T) {
	reliability.Held(t, "seeded fault soak")
	seed := *soakSeed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	repeat := fmt.Sprintf("go test ./internal/e2e -run 'TestSoak$' -soak.seed=%d -soak.runs=%d -soak.applies=%d -v", seed, *soakRuns, *soakApplies)
	st := &soakStats{faults: map[string]int{}}
	start := time.Now()
	for run := 0; run < *soakRuns && time.Since(start) < *soakTime; run++ {
		soakRun(t, rand.New(rand.NewSource(seed+int64(run))), run, st)
		st.runs++
		if len(st.violations) > 0 || t.Failed() {
			break
		}
	}
	var kinds []string
	total := 0
	for k, n := range st.faults {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
		total += n
	}
	slices.Sort(kinds)
	t.Logf("soak seed %d: %d runs, %d applies, %d faults injected (%s), %d invariant violations, %s",
		seed, st.runs, st.applies, total, strings.Join(kinds, ", "), len(st.violations), time.Since(start).Round(time.Second))
	for _, v := range st.violations {
		t.Errorf("invariant violated: %s", v)
	}
	if t.Failed() {
		t.Logf("repeat this soak exactly: %s", repeat)
	}
}

// soakRun upgrades a fresh organisation under faults until every server is at the target.
func soakRun(t *testing.T, rng *rand.Rand, run int, st *soakStats) {
	f, err := simulator.ParseFleet(strings.NewReader(fmt.Sprintf(soakFleet, password, time.Now().UTC().Add(-time.Hour).Format(time.RFC3339))))
	must(t, err)
	sim, err := simulator.Start(f, simulator.Options{InstallDuration: 600 * time.Millisecond, RebootDuration: 300 * time.Millisecond})
	must(t, err)
	defer sim.Close()
	initial := runningServices(sim)
	env := []string{"TF_VAR_password=" + password, "EXCHANGE_POLL_INTERVAL=100ms", "EXCHANGE_TIMEOUT=4s"}
	main := newWorkspace(t, sharedProvider(t), sim, soakConfig, env...)
	other := newWorkspace(t, sharedProvider(t), sim, soakConfig, env...) // a second operator
	var outputs []string
	violate := func(format string, args ...any) {
		st.violations = append(st.violations, fmt.Sprintf("run %d: ", run)+fmt.Sprintf(format, args...))
	}
	// A run that breaks an invariant leaves what it did for whoever debugs it: every apply's
	// output and the simulator's journal, in a folder named by the run.
	defer func() {
		if len(st.violations) == 0 {
			return
		}
		dir, err := os.MkdirTemp("", fmt.Sprintf("soak-run-%d-", run)) //nolint:usetesting // kept after the test ends: t.TempDir would remove what it is for
		if err != nil {
			return
		}
		j, _ := json.MarshalIndent(sim.Journal(), "", " ")
		_ = os.WriteFile(filepath.Join(dir, "journal.json"), j, 0o600)
		_ = os.WriteFile(filepath.Join(dir, "applies.txt"), []byte(strings.Join(outputs, "\n\n==== next apply ====\n\n")), 0o600)
		t.Logf("run %d: its applies' output and the simulator's journal are in %s", run, dir)
	}()
	deadline := time.Now().Add(3 * time.Minute)
	converged := false
	for i := 0; i < *soakApplies && time.Now().Before(deadline); i++ {
		faulty := i < *soakApplies-2
		var sched *schedule
		if faulty {
			sched = newSchedule(rng, sim)
		}
		if sched != nil {
			sched.other = other
		}
		out, err := soakApply(main, sched)
		st.applies++
		outputs = append(outputs, out)
		if sched != nil {
			outputs = append(outputs, sched.finish()...)
			for k, n := range sched.injected {
				st.faults[k] += n
			}
		}
		for _, v := range checkInvariants(sim, initial) {
			violate("after apply %d: %s", i+1, v)
		}
		// An apply that did every step but could not clean up after itself says so (a
		// warning naming the server: its job records or lock are left); like an operator,
		// the soak applies again before it checks that nothing is left.
		if err == nil && atTarget(sim) && !strings.Contains(out, "could not clean up after itself") {
			converged = true
			break
		}
		if !faulty && err != nil {
			t.Logf("run %d apply %d (no new faults) failed:\n%s", run, i+1, out)
		}
	}
	if !converged {
		violate("the organisation did not reach its target in %d applies; builds %v", *soakApplies, builds(sim))
		return
	}
	// At the target: nothing left stopped, locked or running, and the state agrees.
	for _, h := range sim.Hosts() {
		fct := h.Facts()
		if fct.Lock != nil || len(fct.Jobs) != 0 || !fct.Leftovers.Empty() {
			violate("%s at the end: lock %+v, jobs %+v, leftovers %+v", h.Name(), fct.Lock, fct.Jobs, fct.Leftovers)
		}
	}
	for _, name := range stillStopped(sim, initial) {
		violate("%s is stopped at the end", name)
	}
	if out, err := main.run("plan", "-detailed-exitcode", "-input=false", "-no-color"); err != nil {
		violate("the plan at the target is not empty (state and servers disagree): %v\n%s", err, out)
	}
	if err := stateAgrees(main, sim); err != nil {
		violate("%v", err)
	}
	j, _ := json.Marshal(sim.Journal())
	if leaks := reliability.Leaks("LAB\\tester", password, map[string]string{"output": strings.Join(outputs, "\n"), "journal": string(j)}); len(leaks) > 0 {
		violate("the password appears in the %s", strings.Join(leaks, ", "))
	}
}

// schedule is the faults of one apply, drawn from the run's random source.
type schedule struct {
	sim      *simulator.Simulator
	kill     time.Duration // > 0: kill Terraform this long after the apply started
	signal   syscall.Signal
	second   time.Duration // > 0: a second apply at once, from another workspace, started this late
	other    *workspace    // that workspace
	bounce   time.Duration
	injected map[string]int
	wg       sync.WaitGroup
	extra    []string
	mu       sync.Mutex
}

var soakOps = []string{"probe", "job_start", "job_status", "service", "lock", "exchange_services", "cluster"}

func newSchedule(rng *rand.Rand, sim *simulator.Simulator) *schedule {
	s := &schedule{sim: sim, injected: map[string]int{}}
	hosts := sim.Hosts()
	for n := 1 + rng.Intn(3); n > 0; n-- {
		h := hosts[rng.Intn(len(hosts))]
		op := soakOps[rng.Intn(len(soakOps))]
		var f simulator.Fault
		switch rng.Intn(9) {
		case 0:
			f = simulator.Fault{Kind: simulator.FaultResetConnection, Operation: op, Count: 1 + rng.Intn(2)}
		case 1:
			f = simulator.Fault{Kind: simulator.FaultUnauthorized, Operation: op, Count: 1 << 20} // locked out until the apply ends
		case 2:
			f = simulator.Fault{Kind: simulator.FaultShellQuota, Operation: op, Count: 1 + rng.Intn(3)}
		case 3:
			f = simulator.Fault{Kind: simulator.FaultSlowReply, Operation: op, Delay: "5s"}
		case 4:
			f = simulator.Fault{Kind: simulator.FaultNoRebootReturn} // powered on 2-5 s after it went down
			s.overrun(h, time.Duration(2000+rng.Intn(3000))*time.Millisecond)
		case 5:
			f = simulator.Fault{Kind: simulator.FaultFileInUse}
		case 6:
			s.kill = time.Duration(500+rng.Intn(6000)) * time.Millisecond
			s.signal = []syscall.Signal{syscall.SIGKILL, syscall.SIGINT}[rng.Intn(2)]
			s.injected["terraform "+s.signal.String()]++
			continue
		case 7:
			s.second = time.Duration(1+rng.Intn(3000)) * time.Millisecond
			s.injected["two applies at once"]++
			continue
		case 8:
			s.bounce = time.Duration(500+rng.Intn(4000)) * time.Millisecond
			s.injected["simulator restarted"]++
			continue
		}
		if err := h.InjectFault(f); err != nil {
			panic(err) // the schedule's faults are well-formed
		}
		s.injected[f.Kind]++
	}
	return s
}

// overrun powers h on `late` after it next goes down (while the apply runs).
func (s *schedule) overrun(h *simulator.Host, late time.Duration) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for end := time.Now().Add(50 * time.Second); h.Reachable(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(end) {
				return
			}
		}
		time.Sleep(late)
		h.PowerOn()
	}()
}

// finish disarms what is left once the apply ended: faults not used up, a lock-out, a
// server still down; it returns the second apply's output.
func (s *schedule) finish() []string {
	s.wg.Wait()
	for _, h := range s.sim.Hosts() {
		for _, f := range h.Faults() {
			s.injected[f.Kind]-- // armed but never used: not injected
		}
		h.ClearFaults()
		s.sim.Endpoint(h.Name()).FailNext(0, 0)
		s.sim.Endpoint(h.Name()).ResetNext(0)
		s.sim.Endpoint(h.Name()).RefuseShellsNext(0)
		if !h.Reachable() {
			h.PowerOn()
		}
	}
	for k, n := range s.injected {
		if n <= 0 {
			delete(s.injected, k)
		}
	}
	return s.extra
}

// soakApply runs one apply of w, with the schedule's kill, second apply and restart.
func soakApply(w *workspace, s *schedule) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.tf, "apply", "-auto-approve", "-input=false", "-no-color")
	var out strings.Builder
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = w.dir, w.env, &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	if s != nil {
		if s.kill > 0 {
			timer := time.AfterFunc(s.kill, func() { _ = syscall.Kill(-cmd.Process.Pid, s.signal) })
			defer timer.Stop()
		}
		if s.second > 0 {
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				time.Sleep(s.second)
				out, _ := s.other.run("apply", "-auto-approve", "-input=false", "-no-color")
				s.mu.Lock()
				s.extra = append(s.extra, out)
				s.mu.Unlock()
			}()
		}
		if s.bounce > 0 {
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				time.Sleep(s.bounce)
				s.sim.Bounce(time.Second)
			}()
		}
	}
	err := cmd.Wait()
	if s != nil && s.kill > 0 {
		// Whatever the provider was doing when Terraform died: wait until its process group
		// is gone, as an operator would before applying again.
		for end := time.Now().Add(10 * time.Second); syscall.Kill(-cmd.Process.Pid, 0) == nil && time.Now().Before(end); {
			time.Sleep(50 * time.Millisecond)
		}
	}
	return out.String(), err
}

// checkInvariants are the invariants after an apply, from the journal and the hosts.
func checkInvariants(sim *simulator.Simulator, initial map[string]bool) []string {
	var v []string
	journal := sim.Journal()
	v = append(v, installerRepeats(journal)...)
	// No two members of a group the procedure services one at a time down at once.
	for _, group := range oneAtATime(sim) {
		if a, b, at, ok := downTogether(journal, group); ok {
			v = append(v, fmt.Sprintf("%s and %s (%s) were down at once at %s", a, b, strings.Join(group, ", "), at.Format("15:04:05.000")))
		}
	}
	// Nothing an apply stopped is left stopped without a record the next apply restarts it by.
	for _, name := range stillStopped(sim, initial) {
		host, svc, _ := strings.Cut(name, " ")
		h := sim.Host(host)
		f, st := h.Facts(), h.State()
		busy := len(f.Jobs) > 0 && f.Jobs[0].State == "running"
		if !busy && h.Reachable() && !slices.Contains(f.Leftovers.StoppedServices, svc) && !recordedRunning(st, svc) {
			v = append(v, fmt.Sprintf("%s was stopped and is not recorded for restart", name))
		}
	}
	return v
}

// installerRepeats: no installer ran twice for one step. Each job id starts once on a
// server, and once more after each run of it that failed.
func installerRepeats(journal []simulator.Entry) []string {
	var v []string
	starts, failures := map[string]int{}, map[string]int{}
	for _, e := range journal {
		if e.Operation != "installer" {
			continue
		}
		key := e.Server + " " + fmt.Sprint(e.Params["ID"])
		switch {
		case strings.HasSuffix(e.Detail, " started"):
			starts[key]++
		case e.Outcome == "failed":
			failures[key]++
		}
	}
	for key, n := range starts {
		if n > 1+failures[key] {
			v = append(v, fmt.Sprintf("installer %s started %d times after %d failures", key, n, failures[key]))
		}
	}
	slices.Sort(v)
	return v
}

// oneAtATime are the groups of servers the procedure services one at a time: each cluster's
// nodes (exchange_cluster_upgrade upgrades node by node with the clustered server moved off
// the node being serviced). A load-balanced group serviced one at a time belongs here once a
// procedure declares one; the Exchange 2003 front-ends are serviced all at once (exchange.Order).
func oneAtATime(sim *simulator.Simulator) [][]string {
	var groups [][]string
	for _, c := range sim.Fleet().Clusters {
		groups = append(groups, c.Nodes)
	}
	return groups
}

// downTogether finds a moment two servers of group were down at once: a server is down
// from its installer's start to its end, and from "shutting down for a restart" to its
// boot.
func downTogether(journal []simulator.Entry, group []string) (a, b string, at time.Time, found bool) {
	down := map[string]int{}
	for _, e := range journal {
		if !slices.Contains(group, e.Server) {
			continue
		}
		switch {
		case e.Operation == "installer" && strings.HasSuffix(e.Detail, " started"),
			e.Operation == "system" && strings.HasPrefix(e.Detail, "shutting down"):
			down[e.Server]++
		case e.Operation == "installer",
			e.Operation == "system" && strings.HasPrefix(e.Detail, "started, boot time"):
			down[e.Server] = max(down[e.Server]-1, 0)
		}
		var now []string
		for _, s := range group {
			if down[s] > 0 {
				now = append(now, s)
			}
		}
		if len(now) > 1 {
			return now[0], now[1], e.Time, true
		}
	}
	return "", "", time.Time{}, false
}

// runningServices are "HOST service" of every third-party service running at the start,
// and the Exchange services of servers that are no cluster node (a node's clustered
// services follow the cluster, not the apply).
func runningServices(sim *simulator.Simulator) map[string]bool {
	out := map[string]bool{}
	for _, h := range sim.Hosts() {
		st := h.State()
		services := slices.Clone(st.WindowsServices)
		if h.Cluster() == nil {
			services = append(services, st.Services...)
		}
		for _, s := range services {
			if s.State == "Running" {
				out[h.Name()+" "+s.Name] = true
			}
		}
	}
	return out
}

// stillStopped lists the services of initial not running now.
func stillStopped(sim *simulator.Simulator, initial map[string]bool) []string {
	var out []string
	for name := range initial {
		host, svc, _ := strings.Cut(name, " ")
		st := sim.Host(host).State()
		for _, s := range append(slices.Clone(st.WindowsServices), st.Services...) {
			if s.Name == svc && s.State != "Running" {
				out = append(out, name)
			}
		}
	}
	slices.Sort(out)
	return out
}

// recordedRunning: the lock's record of the Exchange services says svc was running, so the
// next apply's start_exchange_services starts it again.
func recordedRunning(st simulator.State, svc string) bool {
	for _, s := range st.LockServices {
		if s.Name == svc && s.State == "Running" {
			return true
		}
	}
	return false
}

func atTarget(sim *simulator.Simulator) bool {
	for _, h := range sim.Hosts() {
		if h.Facts().Build != soakTarget {
			return false
		}
	}
	return true
}

func builds(sim *simulator.Simulator) map[string]string {
	out := map[string]string{}
	for _, h := range sim.Hosts() {
		out[h.Name()] = h.Facts().Build
	}
	return out
}

// stateAgrees compares the live builds in Terraform's state with the servers.
func stateAgrees(w *workspace, sim *simulator.Simulator) error {
	raw, err := os.ReadFile(filepath.Join(w.dir, "terraform.tfstate"))
	if err != nil {
		return fmt.Errorf("reading Terraform's state: %v", err)
	}
	var state struct {
		Resources []struct {
			Type      string `json:"type"`
			Instances []struct {
				Attributes struct {
					LiveBuilds map[string]string `json:"live_builds"`
				} `json:"attributes"`
			} `json:"instances"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(raw, &state); err != nil {
		return err
	}
	for _, r := range state.Resources {
		if r.Type != "exchange_organization_upgrade" || len(r.Instances) != 1 {
			continue
		}
		got := r.Instances[0].Attributes.LiveBuilds
		if want := builds(sim); fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("Terraform's state says %v, the servers run %v", got, want)
		}
		return nil
	}
	return fmt.Errorf("Terraform's state has no exchange_organization_upgrade")
}

// The soak's journal invariants catch what they promise to.
func TestSoakInvariantsBite(t *testing.T) {
	at := func(s int) time.Time { return time.Date(2026, 1, 1, 0, 0, s, 0, time.UTC) }
	e := func(s int, server, op, detail, outcome string) simulator.Entry {
		return simulator.Entry{Time: at(s), Server: server, Operation: op, Detail: detail, Outcome: outcome,
			Params: map[string]any{"ID": "install_service_pack-8.3.83.6"}}
	}
	twice := []simulator.Entry{e(1, "A", "installer", `D:\SP3\Setup.com started`, "ok"), e(2, "A", "installer", `D:\SP3\Setup.com started`, "ok")}
	if v := installerRepeats(twice); len(v) != 1 || !strings.Contains(v[0], "A install_service_pack-8.3.83.6 started 2 times") {
		t.Errorf("a setup started twice: %v", v)
	}
	retried := []simulator.Entry{twice[0], e(2, "A", "installer", "finished exit 1603", "failed"), e(3, "A", "installer", `D:\SP3\Setup.com started`, "ok")}
	if v := installerRepeats(retried); len(v) != 0 {
		t.Errorf("a setup run again after it failed is no repeat: %v", v)
	}
	overlap := []simulator.Entry{
		e(1, "A", "installer", `D:\SP3\Setup.com started`, "ok"),
		e(2, "A", "installer", "finished exit 0", "ok"),
		e(3, "A", "system", "shutting down for a restart", "ok"),
		e(4, "B", "installer", `D:\SP3\Setup.com started`, "ok"),
		e(5, "A", "system", "started, boot time 2026-01-01T00:00:05Z", "ok"),
	}
	if a, b, when, ok := downTogether(overlap, []string{"A", "B"}); !ok || a != "A" || b != "B" || !when.Equal(at(4)) {
		t.Errorf("A rebooting while B installs: %s %s %s %v", a, b, when, ok)
	}
	if _, _, _, ok := downTogether([]simulator.Entry{overlap[0], overlap[1], overlap[2], overlap[4], overlap[3]}, []string{"A", "B"}); ok {
		t.Error("B's install after A came back is not an overlap")
	}
}
