package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/benchfleet"
	"github.com/buildlevel/terraform-provider-exchange/internal/simulator"
)

// One `terraform plan` of a whole organisation costs each server one PowerShell process on
// one WinRM shell, in each of the four ways users plan it (issue 12, docs/performance.md):
// one probe. The servicing configuration discovers the organisation once, for all its
// resources' order checks, through one server, whose probe is read by that discovery in the
// same process: that server runs discover and no probe. Counts only: nothing here depends on the machine's speed
// (the time a plan takes is `make bench`'s business).
//
// One command is four WinRM HTTP requests (Command, one Send carrying the script and the end
// of input, Receive, Signal) on a shell: created for it (Create) or reused, and deleted
// (Delete) when the idle shell is reaped before the provider exits. So a server with k
// operations gets from 4k+1 to 6k requests, whatever the timing: at most 6 for one probe.
func TestPlanBudgetPerServer(t *testing.T) {
	const n = 40
	fleet := benchfleet.New(n, 32)
	f, err := fleet.SimulatorFleet()
	must(t, err)
	// Receive waits for the command to finish, however slow the machine is, so a command
	// always takes one Receive.
	sim, err := simulator.Start(f, simulator.Options{DisableHTTP: true, ReceiveTimeout: time.Minute})
	must(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	providerDir := buildProvider(t)

	// The node that runs a CMS answers to the CMS's name too: a discovered organisation
	// lists the CMS, which is probed to learn its nodes; that answer is the active node's
	// own facts, so the node is not probed again by its own name.
	if len(fleet.Clusters) < 2 {
		t.Fatalf("the test fleet should hold clusters: %v", fleet.Clusters)
	}

	for _, config := range benchfleet.Configurations {
		t.Run(config, func(t *testing.T) {
			text, err := fleet.Config(config, 16)
			must(t, err)
			w := newWorkspace(t, providerDir, sim, header,
				"EXCHANGE_USERNAME="+benchfleet.Username, "EXCHANGE_PASSWORD="+benchfleet.Password,
				"EXCHANGE_CA_CERTIFICATE="+string(sim.CACertPEM()))
			must(t, os.WriteFile(filepath.Join(w.dir, "main.tf"), []byte(text), 0o600))
			sim.ResetCounts()
			from := len(sim.Journal())
			out, err := w.run("plan", "-input=false", "-no-color", "-parallelism=16")
			if err != nil {
				t.Fatalf("terraform plan failed: %v\n%s", err, out)
			}
			// The warning every Exchange 2007 server's plan gives is shown once, not once per
			// server: Terraform shows the warnings of one summary once, counting the others,
			// and renders each one it shows with the configuration around it (a parse of the
			// whole file each: half of its CPU in a plan of 500 servers).
			if config == benchfleet.OrganizationUpgr || perServer(config) {
				if n := shownWarnings(out, `"Exchange Trusted Subsystem" group`); n != 1 {
					t.Errorf("the Exchange Trusted Subsystem warning is shown %d times, want once:\n%s", n, out)
				}
			}
			per := benchfleet.Measure(sim, fleet, from)
			discovers := 0
			for _, s := range fleet.Servers {
				discovers += per[s.Name].Operations["discover"]
			}
			wantDiscovers := 0
			if perServer(config) {
				wantDiscovers = 1 // every resource's order check shares one discovery
			}
			if discovers != wantDiscovers {
				t.Errorf("%d discover operations in one plan, want %d", discovers, wantDiscovers)
			}
			for _, s := range fleet.Servers {
				p := per[s.Name]
				wantProbes := 1
				if p.Operations["discover"] > 0 {
					wantProbes = 0 // the discovery probed it
				}
				ops := 0
				for kind, k := range p.Operations {
					ops += k
					if kind != "probe" && kind != "discover" {
						t.Errorf("%s: plan ran %d %s operations: a plan only reads", s.Name, k, kind)
					}
				}
				if got := p.Operations["probe"]; got != wantProbes {
					t.Errorf("%s: %d probes, want %d", s.Name, got, wantProbes)
				}
				if p.Processes != ops {
					t.Errorf("%s: %d PowerShell processes for %d operations", s.Name, p.Processes, ops)
				}
				if p.Processes != 1 {
					t.Errorf("%s: %d PowerShell processes in one plan, want 1 (operations %v)", s.Name, p.Processes, p.Operations)
				}
				if p.HTTPRequests > 6*ops || p.HTTPRequests < 4*ops+1 {
					t.Errorf("%s: %d WinRM HTTP requests for %d operations, want %d to %d", s.Name, p.HTTPRequests, ops, 4*ops+1, 6*ops)
				}
			}
			if t.Failed() {
				t.Logf("per server: %s", describe(per))
			}
		})
	}
}

// shownWarnings counts the warnings of a plan's output whose summary contains text.
func shownWarnings(out, text string) int {
	n := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "Warning: ") && strings.Contains(line, text) {
			n++
		}
	}
	return n
}

func describe(per map[string]*benchfleet.PerServer) string {
	var b strings.Builder
	for name, p := range per {
		fmt.Fprintf(&b, "\n  %s: ops %v, %d HTTP, %d processes", name, p.Operations, p.HTTPRequests, p.Processes)
	}
	return b.String()
}

// perServer reports whether config has a resource per server (the servicing ones).
func perServer(config string) bool {
	return config == benchfleet.ServicingWaves || config == benchfleet.ServicingGated
}

// An apply of a saved plan of the servicing configuration. The apply discovers the
// organisation once (for its order check), and every server runs at most two reads before
// the first step of its first resource: the probe that places the organisation in order
// (for the server discovered through, the discovery itself) and the read before acting,
// which is always a new one (applySteps: a read of moments ago would miss what another
// apply did since). Nothing but reads before the lock. Counts only.
func TestApplyBudgetPerServer(t *testing.T) {
	fleet, sim, w := benchApplyRig(t, 40, 33)
	text, err := fleet.Config(benchfleet.ServicingWaves, 16)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(w.dir, "main.tf"), []byte(text), 0o600))
	if out, err := w.run("plan", "-input=false", "-no-color", "-parallelism=16", "-out=tfplan"); err != nil {
		t.Fatalf("terraform plan failed: %v\n%s", err, out)
	}
	from := len(sim.Journal())
	if out, err := w.run("apply", "-input=false", "-no-color", "-parallelism=16", "tfplan"); err != nil {
		t.Fatalf("terraform apply failed: %v\n%s", err, out)
	}
	// Per server, the operations before its first lock (the reads of the apply before the
	// first step of its first resource).
	before := map[string][]string{}
	locked := map[string]bool{}
	var discovered []string
	for _, e := range sim.Journal()[from:] {
		if e.Operation == "discover" {
			discovered = append(discovered, e.Server)
		}
		if e.Operation == "lock" {
			locked[e.Server] = true
		}
		if !locked[e.Server] {
			before[e.Server] = append(before[e.Server], e.Operation)
		}
	}
	if len(discovered) != 1 {
		t.Fatalf("the apply discovered the organisation %d times (through %v), want once", len(discovered), discovered)
	}
	for _, s := range fleet.Servers {
		if !locked[s.Name] {
			t.Errorf("%s: the apply never took its lock (operations %v)", s.Name, before[s.Name])
			continue
		}
		ops := before[s.Name]
		for _, op := range ops {
			if op != "probe" && op != "discover" {
				t.Errorf("%s: %s before its first step: the apply only reads before it", s.Name, op)
			}
		}
		if len(ops) > 2 {
			t.Errorf("%s: %d reads before its first step, want at most 2 (operations %v)", s.Name, len(ops), ops)
		}
	}
}
