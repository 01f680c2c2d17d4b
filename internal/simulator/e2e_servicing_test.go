package simulator

import (
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
	"github.com/buildlevel/terraform-provider-exchange/internal/simulator/wsman"
)

// netRig is the fixture fleet on a manual clock, over HTTP, driven by the provider's real
// client and the real scripts.
type netRig struct {
	t      *testing.T
	sim    *Simulator
	clock  *ManualClock
	client *remote.Client
	ctx    context.Context
}

func newNetRig(t *testing.T) *netRig {
	t.Helper()
	clock := NewManualClock(rigStart)
	sim := startFixture(t, Options{Clock: clock, Packages: testPackages})
	fleet := sim.Fleet()
	client, err := remote.New(remote.Config{Username: fleet.Credentials.Username, Password: fleet.Credentials.Password,
		HTTPS: false, Auth: remote.AuthNTLM, Port: sim.HTTPPort(), Timeout: 15 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return &netRig{t: t, sim: sim, clock: clock, client: client, ctx: ctx}
}

func (n *netRig) target(server string) remote.Target {
	return remote.Target{Server: server, Address: n.sim.Addr(server)}
}

// refused reports whether TCP connections to server's WinRM ports (HTTP and HTTPS) are
// refused now; it fails the test when only one of them is.
func (n *netRig) refused(server string) bool {
	var down []bool
	for _, port := range []int{n.sim.HTTPPort(), n.sim.HTTPSPort()} {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(n.sim.Addr(server), strconv.Itoa(port)), time.Second)
		if err == nil {
			c.Close()
		}
		down = append(down, err != nil)
	}
	if down[0] != down[1] {
		// Listeners close and open one after the other: look again.
		time.Sleep(20 * time.Millisecond)
		return n.refused(server)
	}
	return down[0]
}

// waitFor polls cond for up to five seconds of real time.
func (n *netRig) waitFor(what string, cond func() bool) {
	n.t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	n.t.Fatalf("timed out waiting for %s", what)
}

func (n *netRig) journal(server string) []string {
	var out []string
	for _, e := range n.sim.Journal() {
		if e.Server == server {
			out = append(out, e.Operation+" "+e.Outcome)
		}
	}
	return out
}

// TestEndToEndServicePack runs a whole service pack install the way the executor will,
// through the real client and scripts: lock, save customisations, install, watch the job,
// fix the services, reboot and wait for the new boot time, restore, unlock.
func TestEndToEndServicePack(t *testing.T) {
	t.Parallel()
	n := newNetRig(t)
	ex01 := n.target("EX01")
	c := n.client

	before, err := c.Probe(n.ctx, ex01)
	if err != nil {
		t.Fatal(err)
	}
	if len(before.UpdateRollups) != 1 || before.UpdateRollups[0].PatchCode == "" {
		t.Fatalf("rollups %+v", before.UpdateRollups)
	}
	if l, err := c.Lock(n.ctx, ex01, "apply-1", time.Hour); err != nil || !l.Held {
		t.Fatalf("lock: %+v, %v", l, err)
	}
	if res, err := c.Customizations(n.ctx, ex01, wire.ActionSave, ""); err != nil || !slices.Equal(res.Items, []string{"owa_logon"}) {
		t.Fatalf("save: %+v, %v", res, err)
	}
	spec := remote.JobSpec{ID: "install_service_pack-8.3.83.6", Action: exchange.ActionInstallServicePack, MediaPath: `D:\Exchange2007SP3`}
	j, err := c.JobStart(n.ctx, ex01, spec)
	if err != nil || j.State != exchange.JobRunning {
		t.Fatalf("job_start: %+v, %v", j, err)
	}
	if _, err := c.Reboot(n.ctx, ex01); !isFault(err, "setup_running") {
		t.Errorf("reboot during the install: %v", err)
	}
	if again, err := c.JobStart(n.ctx, ex01, spec); err != nil || again.State != exchange.JobRunning {
		t.Errorf("job_start again: %+v, %v", again, err)
	}
	n.clock.Advance(2 * time.Second)
	j, err = c.JobStatus(n.ctx, ex01, spec.ID)
	if err != nil || j.State != exchange.JobSucceeded || j.ExitCode != 3010 || !j.RebootRequired {
		t.Fatalf("job_status: %+v, %v", j, err)
	}
	fix, err := c.ExchangeServices(n.ctx, ex01)
	if err != nil || !slices.Equal(fix.Enabled, []string{"MSExchangeTransport"}) {
		t.Errorf("exchange_services: %+v, %v", fix, err)
	}

	res, err := c.Reboot(n.ctx, ex01)
	if err != nil || !res.BootTime.Equal(before.BootTime) {
		t.Fatalf("reboot: %+v, %v", res, err)
	}
	n.waitFor("EX01 to go down", func() bool { return n.refused("EX01") })
	if n.refused("EX02") {
		t.Error("EX02 went down with EX01")
	}
	n.clock.Advance(time.Second) // RebootDuration
	n.waitFor("EX01 to come back", func() bool { return !n.refused("EX01") })
	after, err := c.Probe(n.ctx, ex01)
	if err != nil {
		t.Fatalf("probe after the reboot: %v", err)
	}
	switch {
	case !after.BootTime.After(before.BootTime):
		t.Errorf("boot time %v, not after %v", after.BootTime, before.BootTime)
	case after.Build != "8.3.83.6" || len(after.UpdateRollups) != 0 || len(after.PendingReboot) != 0:
		t.Errorf("after: build %s, rollups %+v, pending reboot %q", after.Build, after.UpdateRollups, after.PendingReboot)
	case after.Lock == nil || after.Lock.Owner != "apply-1" || len(after.Jobs) != 1 || after.Jobs[0].State != exchange.JobSucceeded:
		t.Errorf("after: lock %+v, jobs %+v", after.Lock, after.Jobs)
	}
	if res, err := c.Customizations(n.ctx, ex01, wire.ActionRestore, ""); err != nil || !slices.Equal(res.Items, []string{"owa_logon"}) {
		t.Errorf("restore: %+v, %v", res, err)
	}
	if err := c.Unlock(n.ctx, ex01, "apply-1"); err != nil {
		t.Error(err)
	}

	want := []string{"probe ok", "lock ok", "customizations ok", "installer ok", "job_start ok", "reboot fault:setup_running",
		"job_start attached", "installer ok", "job_status ok", "exchange_services ok", "reboot ok", "system ok", "system ok",
		"probe ok", "customizations ok", "lock ok"}
	if got := n.journal("EX01"); !slices.Equal(got, want) {
		t.Errorf("journal:\n%q\nwant\n%q", got, want)
	}
}

// TestRebootWithoutReturn: the host never comes back until PowerOn.
func TestRebootWithoutReturn(t *testing.T) {
	t.Parallel()
	n := newNetRig(t)
	if err := n.sim.Host("EX03").InjectFault(Fault{Kind: FaultNoRebootReturn}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.client.Reboot(n.ctx, n.target("EX03")); err != nil {
		t.Fatal(err)
	}
	n.waitFor("EX03 to go down", func() bool { return n.refused("EX03") })
	n.clock.Advance(time.Hour)
	time.Sleep(50 * time.Millisecond)
	if !n.refused("EX03") || n.sim.Host("EX03").Reachable() {
		t.Fatal("EX03 came back despite no_reboot_return")
	}
	n.sim.Host("EX03").PowerOn()
	if _, err := n.client.Probe(n.ctx, n.target("EX03")); err != nil {
		t.Errorf("probe after PowerOn: %v", err)
	}
}

// TestDropConnectionWhileAJobRuns: requests to the host fail at transport level right
// after the job started; the client rides it out and the job finishes regardless.
func TestDropConnectionWhileAJobRuns(t *testing.T) {
	n := newNetRig(t)
	ex02 := n.target("EX02")
	host := n.sim.Host("EX02")
	makePassive(n.sim, "EX02")
	host.Update(func(s *State) { s.InterimUpdates = nil })
	if err := host.InjectFault(Fault{Kind: FaultDropConnection, Count: 2}); err != nil {
		t.Fatal(err)
	}
	spec := remote.JobSpec{ID: "install_update_rollup-8.1.436.0", Action: exchange.ActionInstallUpdateRollup, PackagePath: `\\files\exchange\SP1-RU10.msp`}
	if j, err := n.client.JobStart(n.ctx, ex02, spec); err != nil || j.ID != spec.ID {
		t.Fatalf("job_start: %+v, %v", j, err)
	}
	n.clock.Advance(time.Second)
	j, err := n.client.JobStatus(n.ctx, ex02, spec.ID)
	if err != nil || j.State != exchange.JobSucceeded {
		t.Fatalf("job_status: %+v, %v", j, err)
	}
	if got := n.sim.Endpoint("EX02").Stats().InjectedFailures; got != 2 {
		t.Errorf("%d requests failed, want 2", got)
	}
	started := 0
	for _, e := range n.sim.Journal() {
		if e.Operation == "installer" && e.Outcome == "ok" && e.Detail[len(e.Detail)-len(" started"):] == " started" {
			started++
		}
	}
	if started != 1 || host.Facts().Build != "8.1.436.0" {
		t.Errorf("installer started %d times, build %s", started, host.Facts().Build)
	}
}

func isFault(err error, code string) bool {
	var f *wire.Fault
	return errors.As(err, &f) && f.Code == code
}

// TestRequestFaults: reset_connection, unauthorized and shell_quota wait for their
// operation, then fail the host's next requests as the client sees them: a reset probe is
// retried and answered, a 401 is an authentication error, a refused shell is retried once
// the quota frees. slow_reply answers late: a client with a shorter budget times out,
// though the operation ran.
func TestRequestFaults(t *testing.T) {
	n := newNetRig(t)
	ex01 := n.target("EX01")
	host := n.sim.Host("EX01")
	stats := func() wsman.Stats { return n.sim.Endpoint("EX01").Stats() }
	probes := func() int {
		k := 0
		for _, e := range n.sim.Journal() {
			if e.Server == "EX01" && e.Operation == "probe" {
				k++
			}
		}
		return k
	}

	for _, f := range []Fault{{Kind: FaultResetConnection, Operation: "probe"}, {Kind: FaultShellQuota, Operation: "probe", Count: 2}} {
		if err := host.InjectFault(f); err != nil {
			t.Fatal(err)
		}
	}
	before, quota := probes(), stats().ShellQuotaFaults
	if _, err := n.client.Probe(n.ctx, ex01); err != nil {
		t.Fatalf("a probe whose answer was reset is retried: %v", err)
	}
	if got := stats(); got.InjectedResets != 1 || probes()-before != 2 {
		t.Errorf("want the probe's answer reset and the probe run again; resets %d, probes %d", got.InjectedResets, probes()-before)
	}
	// The retry needed a new shell: refused twice over the quota, then created.
	if got := stats().ShellQuotaFaults - quota; got != 2 {
		t.Errorf("want 2 shells refused over the quota, got %d", got)
	}
	if len(host.Faults()) != 0 {
		t.Errorf("faults left armed: %+v", host.Faults())
	}

	if err := host.InjectFault(Fault{Kind: FaultUnauthorized, Operation: "probe", Count: 1000}); err != nil {
		t.Fatal(err)
	}
	// The fault arms once the probe has run; on a loaded machine the probe's last Receive can
	// come after that and meet the 401 itself (the output is read after the command ran).
	if _, err := n.client.Probe(n.ctx, ex01); err != nil {
		if ae := (*remote.Error)(nil); !errors.As(err, &ae) || ae.Kind != remote.KindAuth {
			t.Fatalf("the probe that arms the 401: %v", err)
		}
	}
	_, err := n.client.Probe(n.ctx, ex01) // the next requests are refused
	var re *remote.Error
	if !errors.As(err, &re) || re.Kind != remote.KindAuth {
		t.Fatalf("want an authentication error after the probe ran, got %v", err)
	}
	n.sim.Endpoint("EX01").FailNext(0, 0) // the account is unlocked

	if err := host.InjectFault(Fault{Kind: FaultSlowReply, Operation: "probe", Delay: "3s"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(n.ctx, 500*time.Millisecond)
	defer cancel()
	before = probes()
	if _, err := n.client.Probe(ctx, ex01); err == nil {
		t.Fatal("a reply 3s late must miss a 500ms budget")
	}
	if probes()-before != 1 {
		t.Errorf("the slow probe ran %d times, want once", probes()-before)
	}

	for _, bad := range []struct {
		f    Fault
		want string
	}{
		{Fault{Kind: FaultResetConnection}, "fault reset_connection needs operation"},
		{Fault{Kind: FaultUnauthorized, Operation: "prob"}, `operation "prob" is not known`},
		{Fault{Kind: FaultSlowReply}, "fault slow_reply needs delay"},
		{Fault{Kind: FaultFileInUse, Operation: "probe"}, "fault file_in_use takes no operation"},
		{Fault{Kind: FaultShellQuota, Operation: "probe", Delay: "1s"}, "fault shell_quota takes no delay"},
	} {
		if err := host.InjectFault(bad.f); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%+v: want %q, got %v", bad.f, bad.want, err)
		}
	}
}
