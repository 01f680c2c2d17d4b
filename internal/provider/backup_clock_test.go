package provider

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// Backup ages are measured against the provider's clock, the one the maintenance window
// uses, at plan and again at apply. HUB5's system state was backed up 72 hours before the
// test (by the wall clock), and 48 hours are allowed: with
// the clock 100 hours on, the plan refuses, naming the age by that clock; with the clock
// 71 hours back, the backups are an hour old, and both the plan and the apply's own plan
// pass (an apply measuring by the wall clock would refuse).
func TestAccBackupAgesUseTheProviderClock(t *testing.T) {
	base := time.Now()
	backedUp := base.Add(-72 * time.Hour).UTC().Format(time.RFC3339)
	fleet := fmt.Sprintf(`{%s,
  "packages": {"D:\\RU23.msp": {"kind": "update_rollup", "service_pack": 3, "update_rollup": 23}},
  "servers": [
    {"name": "HUB5", "address": "127.0.77.1", "product": "2007", "build": "8.3.83.6", "roles": ["HubTransport"],
     "last_system_state_backup": %q}
  ],
  "clusters": []
}`, credentialsJSON(), backedUp)
	sim := startSimulatorWith(t, fleet, fastServicing)
	cfg := providerConfig(sim, "") + `
resource "exchange_update_rollup" "hub5" {
  server       = "HUB5"
  address      = "127.0.77.1"
  rollup       = "23"
  package_path = "D:\\RU23.msp"
  stop_services = []
  backup {
    max_database_age     = "24h"
    max_system_state_age = "48h"
  }
}
`
	clock := &testClock{fn: func() time.Time { return base }}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: providersWithClock(clock),
		Steps: []resource.TestStep{
			{
				PreConfig:   func() { clock.set(func() time.Time { return base.Add(100 * time.Hour) }) },
				Config:      cfg,
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Server HUB5: the last system-state backup is 7d 4h old`),
			},
			{
				PreConfig: func() { clock.set(func() time.Time { return base.Add(-71 * time.Hour) }) },
				Config:    cfg,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("exchange_update_rollup.hub5", tfjsonpath.New("live_build"), knownvalue.StringExact("8.3.517.0")),
				},
			},
		},
	})
}
