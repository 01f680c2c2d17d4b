package provider

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/buildlevel/terraform-provider-exchange/internal/simulator"
)

// readsOf lists, from the journal entry from on, what server did: "<op> <outcome>", with
// the Server parameter a discover sent ("discover(Server=CAS1) ok").
func readsOf(sim *simulator.Simulator, from int, server string) []string {
	var out []string
	for _, e := range sim.Journal()[from:] {
		if e.Server != server {
			continue
		}
		op := e.Operation
		if op == "discover" {
			op = fmt.Sprintf("discover(Server=%v)", e.Params["Server"])
		}
		out = append(out, op+" "+e.Outcome)
	}
	return out
}

// repeats reports whether got is want once per Terraform command the test ran (each
// command is a provider process of its own, a run with its own discovery and probes).
func repeats(got, want []string) bool {
	if len(got) == 0 || len(got)%len(want) != 0 {
		return false
	}
	for i := 0; i < len(got); i += len(want) {
		if !slices.Equal(got[i:i+len(want)], want) {
			return false
		}
	}
	return true
}

// servicePackMBX1 plans MBX1 to SP3, its backup waived.
const servicePackMBX1 = `
resource "exchange_service_pack" "mbx1" {
  server       = "MBX1"
  service_pack = 3
  media_path   = "D:\\E2007SP3"
  backup {
    waiver_reason = "lab, CHG-7"
  }
}
`

// The server discovery goes through is probed by that discovery, in its PowerShell process
// (issue 12): the organisation data source's discover_through server and the first
// servicing resource's server run discover and no probe of their own; every other server
// one probe.
func TestAccDiscoveryProbesTheServerItGoesThrough(t *testing.T) {
	sim := startSimulator(t, orgFleet())
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: orgProvider(sim) + `
data "exchange_organization" "org" {
  discover_through = { server = "CAS1" }
  targets = [
    { product = "2003", service_pack = 2 },
    { product = "2007", service_pack = 3 },
  ]
}
`,
			Check: resource.TestCheckResourceAttr("data.exchange_organization.org", "waves.#", "7"),
		}},
	})
	if got, want := readsOf(sim, 0, "CAS1"), []string{"discover(Server=CAS1) ok"}; !repeats(got, want) {
		t.Errorf("CAS1 ran %q, want %q per command", got, want)
	}
	for _, s := range orgServers[1:] {
		if got, want := readsOf(sim, 0, s.name), []string{"probe ok"}; !repeats(got, want) {
			t.Errorf("%s ran %q, want %q per command", s.name, got, want)
		}
	}

	// A servicing resource's order check discovers through its own server: the plan of
	// MBX1 (refused: the Client Access and Hub servers come first) reads MBX1 once.
	from := len(sim.Journal())
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config:      orgProvider(sim) + servicePackMBX1,
			PlanOnly:    true,
			ExpectError: regexp.MustCompile(`Server MBX1 must wait`),
		}},
	})
	if got, want := readsOf(sim, from, "MBX1"), []string{"discover(Server=MBX1) ok"}; !repeats(got, want) {
		t.Errorf("MBX1 ran %q, want %q per command", got, want)
	}
}

// A discovery that fails leaves the server's facts to a probe of its own: the plan goes on,
// with the order across servers unchecked (a warning), as before discovery read the probe.
func TestAccDiscoveryThatFailsLeavesTheProbe(t *testing.T) {
	fleet := strings.Replace(orgFleet(), `"name": "MBX1",`, `"name": "MBX1", "ad_unreachable": true,`, 1)
	if fleet == orgFleet() {
		t.Fatal("the fleet has no MBX1 entry to mark")
	}
	sim := startSimulator(t, fleet)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config:             orgProvider(sim) + servicePackMBX1,
			PlanOnly:           true,
			ExpectNonEmptyPlan: true,
		}},
	})
	if got, want := readsOf(sim, 0, "MBX1"), []string{"discover(Server=MBX1) fault:unavailable", "probe ok"}; !repeats(got, want) {
		t.Errorf("MBX1 ran %q, want %q per command", got, want)
	}
}
