package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/simulator"
)

// A server that changed between `terraform plan -out` and `terraform apply PLAN` is refused
// with the provider's "changed since the plan" error (nothing done), not with Terraform's
// "Provider produced inconsistent final plan" (the bug report a provider must never cause).
func TestSavedPlanOfChangedServerIsRefused(t *testing.T) {
	providerDir := buildProvider(t)
	sim := startServicingFleet(t, 300*time.Millisecond)
	config := exrRollup10
	w := newWorkspace(t, providerDir, sim, config, "TF_VAR_password="+password, "EXCHANGE_POLL_INTERVAL=100ms")
	if out, err := w.run("apply", "-auto-approve", "-input=false", "-no-color"); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	sim.Host("EXR").SetBuild(exchange.MustParseBuild("8.3.213.1")) // RU10 uninstalled by hand (RU5)
	if out, err := w.run("plan", "-out=tfplan", "-input=false", "-no-color"); err != nil || !strings.Contains(out, "(KB2788321)") {
		t.Fatalf("plan -out must plan to install RU10 again: %v\n%s", err, out)
	}
	// Before the window, someone put RU10 back by hand: the reviewed steps are not what the
	// apply would run now (nothing).
	sim.Host("EXR").SetBuild(exchange.MustParseBuild("8.3.298.3"))
	planned := len(sim.Journal())
	out, err := w.run("apply", "-input=false", "-no-color", "tfplan")
	if err == nil {
		t.Fatalf("applying a saved plan of a changed server must fail:\n%s", out)
	}
	if strings.Contains(out, "inconsistent final plan") || !strings.Contains(out, "Server EXR changed since the plan") ||
		!strings.Contains(out, "Run terraform plan again") {
		t.Fatalf("want the provider's \"Server EXR changed since the plan\" error, got:\n%s", out)
	}
	for _, e := range sim.Journal()[planned:] {
		if e.Operation != "probe" && e.Operation != "discover" {
			t.Errorf("the refused apply ran %s on %s: it may only read the server", e.Operation, e.Server)
		}
	}
}

// The facts the refresh records for the next plan leave out what changes on its own: a new
// system-state backup and a reboot of an unchanged server are no drift (the drift check
// `plan -refresh-only -detailed-exitcode` exits 0), and the normal plan has nothing to do.
func TestRefreshOfUntouchedServerIsNoDrift(t *testing.T) {
	providerDir := buildProvider(t)
	sim := startServicingFleet(t, 300*time.Millisecond)
	w := newWorkspace(t, providerDir, sim, exrRollup10, "TF_VAR_password="+password, "EXCHANGE_POLL_INTERVAL=100ms")
	if out, err := w.run("apply", "-auto-approve", "-input=false", "-no-color"); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	sim.Host("EXR").Update(func(s *simulator.State) {
		now := time.Now().UTC().Truncate(time.Second)
		s.SystemStateBackup = &now
		s.BootTime = now.Add(-time.Minute)
	})
	if out, err := w.run("plan", "-refresh-only", "-detailed-exitcode", "-input=false", "-no-color"); err != nil {
		t.Fatalf("plan -refresh-only -detailed-exitcode after a backup and a reboot: want exit 0, got %v\n%s", err, out)
	}
	if out, err := w.run("plan", "-detailed-exitcode", "-input=false", "-no-color"); err != nil {
		t.Fatalf("plan -detailed-exitcode after a backup and a reboot: want exit 0, got %v\n%s", err, out)
	}
}
