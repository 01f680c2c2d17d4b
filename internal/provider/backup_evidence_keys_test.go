package provider

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// evidenceFleet is a Hub Transport server HUB5 (127.0.<net>.1) whose system-state backup
// leaves no record the probe reads (another backup product), and a Mailbox server MBX6
// (127.0.<net>.2) whose backups it reads, both at Exchange 2007 SP3, with Update Rollup 23
// at D:\RU23.msp.
func evidenceFleet(net int) string {
	return fmt.Sprintf(`{%s,
  "packages": {"D:\\RU23.msp": {"kind": "update_rollup", "service_pack": 3, "update_rollup": 23}},
  "servers": [
    {"name": "HUB5", "address": "127.0.%d.1", "product": "2007", "build": "8.3.83.6", "roles": ["HubTransport"]},
    {"name": "MBX6", "address": "127.0.%d.2", "product": "2007", "build": "8.3.83.6", "roles": ["Mailbox"],
     "last_full_backup": %q, "last_system_state_backup": %q}
  ],
  "clusters": []
}`, credentialsJSON(), net, net, hoursAgo(1), hoursAgo(1))
}

// hub5Rollup is an exchange_update_rollup of evidenceFleet's HUB5 to Update Rollup 23, its
// backup block the ages and evidence.
func hub5Rollup(net int, evidence string) string {
	return fmt.Sprintf(`
resource "exchange_update_rollup" "hub5" {
  server        = "HUB5"
  address       = "127.0.%d.1"
  rollup        = "23"
  package_path  = "D:\\RU23.msp"
  stop_services = []
  backup {
    max_database_age     = "24h"
    max_system_state_age = "168h"
    %s
  }
}
`, net, evidence)
}

// An evidence key that names no server of the organisation (a typo, a DNS name) is refused
// at plan, naming the attribute and the key and listing the servers it may name, beside the
// refusal for the evidence that is then missing. A key of another server of the
// organisation is not this plan's business: one map can serve every resource.
func TestAccBackupEvidenceKeysNameServers(t *testing.T) {
	sim := startSimulatorWith(t, evidenceFleet(78), fastServicing)
	cfg := func(evidence string) string {
		return providerConfig(sim, `addresses = { MBX6 = "127.0.78.2" }`) + hub5Rollup(78, evidence)
	}
	const (
		servers    = `servers\s+are:\s+HUB5,\s+MBX6\.\s+Correct\s+the\s+key\s+or\s+remove\s+it`
		unknownKey = `system_state_backup_times names "HUB55", which is no server of the organisation.*` + servers
		missing    = `Server HUB5: no system-state backup of HUB5 was found`
	)
	refused := func(evidence string, pattern string) resource.TestStep {
		return resource.TestStep{Config: cfg(evidence), PlanOnly: true, ExpectError: regexp.MustCompile(pattern)}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			refused(`system_state_backup_times = { HUB55 = "`+evidenceTime+`" }`,
				`(?s)(`+unknownKey+`.*`+missing+`|`+missing+`.*`+unknownKey+`)`),
			refused(`system_state_backup_times = { "hub5.corp.example" = "`+evidenceTime+`" }`,
				`(?s)system_state_backup_times names "hub5\.corp\.example", which is no server of the organisation.*not\s+by\s+its\s+DNS\s+name.*`+servers),
			refused(`system_state_backup_times = { HUB5 = "`+evidenceTime+`" }
    database_backup_times     = { "MBX7\\First Storage Group\\Mailbox Database" = "`+evidenceTime+`" }`,
				`(?s)database_backup_times names server "MBX7" \(in "MBX7\\\\First Storage Group\\\\Mailbox Database"\), which is no server of the organisation.*`+servers),
			{
				// Keys of MBX6, another server of the organisation, are not HUB5's business.
				Config: cfg(`system_state_backup_times = { HUB5 = "` + evidenceTime + `", MBX6 = "` + evidenceTime + `" }
    database_backup_times     = { "MBX6\\First Storage Group\\Mailbox Database" = "` + evidenceTime + `" }`),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
		},
	})
}

// The organisation upgrade covers every server: a key naming none of them is refused,
// listing them, before any server is touched.
func TestAccOrganizationBackupEvidenceKeyNamesAServer(t *testing.T) {
	sim := startSimulatorWith(t, orgFleet(), fastServicing)
	var pairs []string
	for _, s := range orgServers {
		pairs = append(pairs, fmt.Sprintf("%s = %q", s.name, s.addr))
	}
	config := providerConfig(sim, "addresses = {\n    "+strings.Join(pairs, "\n    ")+"\n  }") + `
resource "exchange_organization_upgrade" "org" {
  discover_through = { server = "CAS1" }` + orgTargets + `
  backup {
    max_database_age     = "24h"
    max_system_state_age = "168h"
    domain_controller_backup_time = "` + evidenceTime + `"
    database_backup_times = { BE1 = "` + evidenceTime + `", BE3 = "` + evidenceTime + `" }
  }
}
`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config:   config,
			PlanOnly: true,
			ExpectError: regexp.MustCompile(`(?s)database_backup_times names "BE3", which is no server of the organisation.*` +
				`servers\s+are:\s+BE1,\s+BE2,\s+CAS1,.*UM2\.\s+Correct`),
		}},
	})
	for _, s := range orgServers {
		for _, e := range journal(sim, s.name) {
			if e != "discover" && e != "probe" {
				t.Errorf("%s was touched by a refused plan: %s", s.name, strings.Join(journal(sim, s.name), ", "))
				break
			}
		}
	}
}
