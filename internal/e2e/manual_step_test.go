package e2e

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/simulator"
)

// The manual step as a user meets it: an Exchange 2003 active/passive cluster upgrade
// stops at "Upgrade Exchange Virtual Server" with the instructions, the administrator does
// it (here `exchange-sim upgrade-evs` through the simulator's control endpoint, which
// refuses it while the virtual server has nothing to be upgraded to, as Exchange does), and
// the next apply reads the upgrade from Active Directory and continues to the target.
func TestManualStepThroughTheControl(t *testing.T) {
	providerDir, simBin := buildProvider(t), goBuild(t, "exchange-sim", "./cmd/exchange-sim")
	fleet := fmt.Sprintf(`{
  "credentials": {"username": "LAB\\tester", "password": %q},
  "winrm": {"basic": true},
  "packages": {"D:\\E2003SP2": {"kind": "service_pack", "product": "2003", "service_pack": 2}},
  "servers": [
    {"name": "EVSN1", "address": "127.0.33.1", "product": "2003", "build": "6.5.7226.6", "last_system_state_backup": %[2]q},
    {"name": "EVSN2", "address": "127.0.33.2", "product": "2003", "build": "6.5.7226.6", "last_system_state_backup": %[2]q}
  ],
  "clusters": [{"name": "EVS1", "type": "evs-active-passive", "nodes": ["EVSN1", "EVSN2"], "active": "EVSN1"}]
}`, password, evidenceTime)
	f, err := simulator.ParseFleet(strings.NewReader(fleet))
	must(t, err)
	sim, err := simulator.Start(f, simulator.Options{InstallDuration: 300 * time.Millisecond, RebootDuration: 200 * time.Millisecond,
		ControlAddr: "127.0.0.1:0"})
	must(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	upgradeEVS := func() (string, error) {
		out, err := exec.Command(simBin, "upgrade-evs", "-control", sim.ControlAddr(), "-evs", "EVS1").CombinedOutput()
		return string(out), err
	}

	config := header + `
resource "exchange_cluster_upgrade" "c" {
  cluster      = "EVS1"
  nodes        = [{ server = "EVSN1", address = "127.0.33.1" }, { server = "EVSN2", address = "127.0.33.2" }]
  service_pack = 2
  media_path   = "D:\\E2003SP2"
  backup {
    max_database_age              = "24h"
    max_system_state_age          = "168h"
    domain_controller_backup_time = "` + evidenceTime + `"
    database_backup_times         = { EVSN1 = "` + evidenceTime + `", EVSN2 = "` + evidenceTime + `" }
  }
}
`
	w := newWorkspace(t, providerDir, sim, config, "TF_VAR_password="+password, "EXCHANGE_POLL_INTERVAL=100ms")

	// Before any node is upgraded there is nothing to upgrade the virtual server to.
	if out, err := upgradeEVS(); exitCode(err) != 1 || !strings.Contains(out, "the version of Exchange on this computer does not match") ||
		!strings.Contains(out, "there is nothing to upgrade it to") {
		t.Fatalf("upgrade-evs before the service pack: %v\n%s", err, out)
	}

	out, err := w.run("apply", "-auto-approve", "-input=false", "-no-color")
	if err == nil {
		t.Fatalf("the first apply must stop at the manual step:\n%s", out)
	}
	for _, want := range []string{"stopped at a manual step", `"Upgrade Exchange Virtual Server" of EVS1 is a manual step`,
		"In Cluster Administrator on EVSN2", "the next plan sees the upgrade"} {
		if !strings.Contains(strings.Join(strings.Fields(out), " "), want) {
			t.Errorf("the stopped apply does not say %q:\n%s", want, out)
		}
	}

	out, err = upgradeEVS()
	if err != nil || !strings.Contains(out, "Cluster Administrator on EVSN2: Upgrade Exchange Virtual Server EVS1: Active Directory now records Version 6.5 (Build 7638: Service Pack 2)") {
		t.Fatalf("upgrade-evs after the stop: %v\n%s", err, out)
	}

	if out, err := w.run("apply", "-auto-approve", "-input=false", "-no-color"); err != nil {
		t.Fatalf("the apply after the manual step: %v\n%s", err, out)
	}
	var order []string
	for _, e := range sim.Journal() {
		switch {
		case e.Operation == "administrator":
			order = append(order, fmt.Sprintf("%s administrator %v %s", e.Server, e.Params["Action"], e.Outcome))
		case e.Operation == "cluster" && e.Params["Action"] == "online_group":
			order = append(order, e.Server+" online_group")
		case e.Operation == "job_start":
			order = append(order, e.Server+" job_start "+e.Outcome)
		}
	}
	want := "EVSN1 administrator upgrade_evs rejected|EVSN2 job_start ok|EVSN2 administrator upgrade_evs ok|EVSN2 online_group|EVSN1 job_start ok"
	if got := strings.Join(order, "|"); !strings.HasPrefix(got, want) {
		t.Errorf("journal order:\n got %s\nwant %s...", got, want)
	}
	for _, n := range []string{"EVSN1", "EVSN2"} {
		if b := sim.Host(n).Facts().Build; b != "6.5.7638" {
			t.Errorf("%s ends at %s, want 6.5.7638 (Exchange 2003 SP2)", n, b)
		}
	}
	if v := sim.Host("EVSN2").Facts().Cluster.Groups[0].ADVersion; v != "Version 6.5 (Build 7638: Service Pack 2)" {
		t.Errorf("EVS1 in Active Directory: %q", v)
	}
}
