package provider

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

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
	t.Helper()
	f, err := simulator.ParseFleet(strings.NewReader(fleetJSON))
	if err != nil {
		t.Fatalf("test fleet: %v", err)
	}
	sim, err := simulator.Start(f, simulator.Options{})
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
  ca_certificate = <<-PEM
%s
  PEM
%s
}
`, testUser, testPassword, sim.HTTPSPort(), strings.TrimSpace(string(sim.CACertPEM())), extra)
}

func credentialsJSON() string {
	return fmt.Sprintf(`"credentials": {"username": %q, "password": %q}`, testUser, testPassword)
}
