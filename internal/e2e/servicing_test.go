package e2e

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/simulator"
)

func startServicingFleet(t *testing.T, install time.Duration) *simulator.Simulator {
	t.Helper()
	return startServicingFleetWith(t, password, simulator.Options{InstallDuration: install, RebootDuration: 300 * time.Millisecond})
}

// startServicingFleetWith starts EXS (Exchange 2007 SP1, to go to SP3) and EXR with the
// fleet password pw and the simulator options o.
func startServicingFleetWith(t *testing.T, pw string, o simulator.Options) *simulator.Simulator {
	t.Helper()
	fleet := fmt.Sprintf(`{
  "credentials": {"username": "LAB\\tester", "password": %q},
  "winrm": {"basic": true},
  "packages": {
    "D:\\SP3":      {"kind": "service_pack", "product": "2007", "service_pack": 3},
    "D:\\RU10.msp": {"kind": "update_rollup", "service_pack": 3, "update_rollup": 10}
  },
  "servers": [
    {"name": "EXS", "address": "127.0.32.1", "product": "2007", "build": "8.1.393.1", "roles": ["HubTransport"],
     "third_party_services": ["BackupExecAgentAccelerator"], "last_system_state_backup": %q},
    {"name": "EXR", "address": "127.0.32.2", "product": "2007", "build": "8.3.213.1", "roles": ["ClientAccess"],
     "last_system_state_backup": %q}
  ],
  "clusters": []
}`, pw, time.Now().UTC().Add(-time.Hour).Format(time.RFC3339), time.Now().UTC().Add(-time.Hour).Format(time.RFC3339))
	f, err := simulator.ParseFleet(strings.NewReader(fleet))
	must(t, err)
	sim, err := simulator.Start(f, o)
	must(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	return sim
}

var servicingHeader = header + `
locals {
  backup = {
    max_system_state_age = "168h"
    domain_controller_backup_time = "` + evidenceTime + `"
  }
}
`

// `terraform plan -refresh-only` is the drift report: a rollup uninstalled by hand shows as
// a change made outside Terraform, and the normal plan shows the steps to put it back.
func TestRefreshOnlyReportsDrift(t *testing.T) {
	providerDir := buildProvider(t)
	sim := startServicingFleet(t, 300*time.Millisecond)
	config := servicingHeader + `
resource "exchange_update_rollup" "exr" {
  server       = "EXR"
  address      = "127.0.32.2"
  rollup       = "10"
  package_path = "D:\\RU10.msp"
  backup {
    max_system_state_age = "168h"
    domain_controller_backup_time = "` + evidenceTime + `"
    waiver_reason        = "Client Access server: no databases"
  }
}
`
	w := newWorkspace(t, providerDir, sim, config, "TF_VAR_password="+password, "EXCHANGE_POLL_INTERVAL=100ms")
	if out, err := w.run("apply", "-auto-approve", "-input=false", "-no-color"); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	// -detailed-exitcode, as a scheduled drift check runs it: 0 without drift, 2 with.
	if out, err := w.run("plan", "-refresh-only", "-detailed-exitcode", "-input=false", "-no-color"); err != nil {
		t.Fatalf("plan -refresh-only -detailed-exitcode before any drift: %v\n%s", err, out)
	}
	sim.Host("EXR").SetBuild(exchange.MustParseBuild("8.3.213.1")) // RU10 uninstalled by hand
	if out, err := w.run("plan", "-refresh-only", "-detailed-exitcode", "-input=false", "-no-color"); exitCode(err) != 2 {
		t.Fatalf("plan -refresh-only -detailed-exitcode with drift: want exit status 2, got %v\n%s", err, out)
	}

	out, err := w.run("plan", "-refresh-only", "-input=false", "-no-color")
	if err != nil {
		t.Fatalf("plan -refresh-only: %v\n%s", err, out)
	}
	// Terraform and OpenTofu each name themselves in this line.
	if !strings.Contains(out, "changed outside of Terraform") && !strings.Contains(out, "changed outside of OpenTofu") {
		t.Errorf("the drift report lacks \"changed outside of Terraform\" (or OpenTofu):\n%s", out)
	}
	for _, want := range []string{`live_rollup`, `"10" -> "5"`, `live_build`} {
		if !strings.Contains(out, want) {
			t.Errorf("the drift report lacks %q:\n%s", want, out)
		}
	}
	out, err = w.run("plan", "-input=false", "-no-color")
	if err != nil {
		t.Fatalf("plan: %v\n%s", err, out)
	}
	if !strings.Contains(out, "install Update Rollup 10 for Exchange 2007 SP3 (KB2788321) from D:\\RU10.msp") || !strings.Contains(out, "1 to change") {
		t.Errorf("the plan must show the steps that put the rollup back:\n%s", out)
	}
}

// An apply killed mid-install (terraform and the provider process, as a crash or an
// operator's kill -9 would) leaves setup running on the server. Run again, the apply
// attaches to that setup instead of starting it a second time, and finishes the procedure.
func TestKilledApplyResumes(t *testing.T) {
	r := newFaultRun(t, "SIGKILL of Terraform mid-install, then apply again", simulator.Options{InstallDuration: 4 * time.Second}, "2m")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.tf, "apply", "-auto-approve", "-input=false", "-no-color")
	cmd.Dir, cmd.Env = r.dir, r.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the provider is in this group too
	must(t, cmd.Start())
	deadline := time.Now().Add(time.Minute)
	for r.setupRuns() == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if r.setupRuns() != 1 {
		t.Fatalf("setup never started: %v", r.sim.Journal())
	}
	must(t, syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL))
	_ = cmd.Wait()
	if job := r.sim.Host("EXS").Facts().Jobs; len(job) != 1 || job[0].State != exchange.JobRunning {
		t.Fatalf("the killed apply's setup must still run on the server: %+v", job)
	}
	r.stoppedRecorded()

	out := r.mustApply("the second apply")
	if !strings.Contains(out, "attach to the running") {
		t.Errorf("the plan must say it attaches to the running setup:\n%s", out)
	}
	r.serviced()
}

// exitCode is the exit status of a finished command, 0 when err is nil, -1 when it did not run.
func exitCode(err error) int {
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.ExitCode()
	}
	return -1
}
