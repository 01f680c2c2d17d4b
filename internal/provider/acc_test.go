package provider

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/simulator"
)

// Acceptance tests serve the provider in-process and talk to the simulator over real
// WS-Management, HTTPS verified against the simulator's CA.
var testProviders = map[string]func() (tfprotov6.ProviderServer, error){
	"exchange": providerserver.NewProtocol6WithError(New("test")()),
}

const testUser, testPassword = `LAB\acc`, "acc-pw-'quoted'"

// startSimulator serves a fleet for one test and stops it when the test ends.
func startSimulator(t *testing.T, fleetJSON string) *simulator.Simulator {
	return startSimulatorWith(t, fleetJSON, simulator.Options{})
}

// fastServicing makes installs and reboots take a fraction of a second.
var fastServicing = simulator.Options{InstallDuration: 400 * time.Millisecond, RebootDuration: 300 * time.Millisecond}

func startSimulatorWith(t *testing.T, fleetJSON string, o simulator.Options) *simulator.Simulator {
	t.Helper()
	f, err := simulator.ParseFleet(strings.NewReader(fleetJSON))
	if err != nil {
		t.Fatalf("test fleet: %v", err)
	}
	sim, err := simulator.Start(f, o)
	if err != nil {
		t.Fatalf("starting the simulator: %v", err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	return sim
}

// providerConfig is the provider block a user would write for this simulator.
func providerConfig(sim *simulator.Simulator, extra string) string {
	return fmt.Sprintf(`
provider "exchange" {
  username       = %q
  password       = %q
  port           = %d
  timeout        = "20s"
  poll_interval  = "100ms"
  ca_certificate = <<-PEM
%s
  PEM
%s
}
`, testUser, testPassword, sim.HTTPSPort(), strings.TrimSpace(string(sim.CACertPEM())), extra)
}

func credentialsJSON() string {
	// The provider's tests connect over HTTPS with Basic, which the server must enable.
	return fmt.Sprintf(`"credentials": {"username": %q, "password": %q}, "winrm": {"basic": true}`, testUser, testPassword)
}

// hoursAgo is an RFC 3339 time for fleet files: backups relative to the test's run.
func hoursAgo(h int) string {
	return time.Now().UTC().Add(-time.Duration(h) * time.Hour).Format(time.RFC3339)
}

// journal is the simulator's journal in a compact form tests can read in order:
// "job_start install_service_pack", "installer started <command>", "service stop X", ...
func journal(sim *simulator.Simulator, server string) []string {
	var out []string
	for _, e := range sim.Journal() {
		if !strings.EqualFold(e.Server, server) {
			continue
		}
		switch e.Operation {
		case "probe", "job_status", "lock":
			continue // reads and bookkeeping: not the order of the procedure
		case "installer": // "<command> started" or "<command> finished exit N"
			if cmd, ok := strings.CutSuffix(e.Detail, " started"); ok {
				out = append(out, "installer started "+cmd)
			} else {
				out = append(out, "installer finished "+e.Detail)
			}
		case "job_start":
			out = append(out, fmt.Sprintf("job_start %v %s", e.Params["Action"], e.Outcome))
		case "service":
			out = append(out, fmt.Sprintf("service %v %v", e.Params["Action"], e.Params["Name"]))
		case "revocation_check", "remote_streaming_backup":
			out = append(out, fmt.Sprintf("%s %v", e.Operation, e.Params["Enabled"]))
		case "customizations":
			out = append(out, fmt.Sprintf("customizations %v", e.Params["Action"]))
		case "setup_watermark":
			out = append(out, fmt.Sprintf("setup_watermark %v %v %s: %s", e.Params["Action"], e.Params["Key"], e.Outcome, e.Detail))
		default:
			out = append(out, e.Operation)
		}
	}
	return out
}

// inOrder checks that want appears in got in this order (other entries may lie between).
func inOrder(got []string, want ...string) error {
	i := 0
	for _, g := range got {
		if i < len(want) && strings.HasPrefix(g, want[i]) {
			i++
		}
	}
	if i < len(want) {
		return fmt.Errorf("journal lacks %q (after %d of %d expected entries in order):\n  %s",
			want[i], i, len(want), strings.Join(got, "\n  "))
	}
	return nil
}

func count(got []string, prefix string) int {
	n := 0
	for _, g := range got {
		if strings.HasPrefix(g, prefix) {
			n++
		}
	}
	return n
}

func mustBuild(t *testing.T, s string) exchange.Build {
	t.Helper()
	b, err := exchange.ParseBuild(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
