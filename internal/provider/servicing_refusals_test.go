package provider

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// One server per refusal; every one has fresh backups unless the case is about backups.
func refusalFleet() string {
	fresh := fmt.Sprintf(`"last_full_backup": %q, "last_system_state_backup": %q`, hoursAgo(1), hoursAgo(1))
	server := func(name, addr, build, extra string) string {
		return fmt.Sprintf(`{"name": %q, "address": %q, "product": "2007", "build": %q, "roles": ["Mailbox"], %s%s}`,
			name, addr, build, fresh, extra)
	}
	servers := []string{
		server("SP3SRV", "127.0.52.1", "8.3.83.6", ""),
		server("SP1SRV", "127.0.52.2", "8.1.393.1", ""),
		server("WMSRV", "127.0.52.3", "8.1.240.6", `, "setup_watermark": "Mailbox"`),
		server("RUNSRV", "127.0.52.4", "8.1.240.6", `, "setup_running": true`),
		server("IUSRV", "127.0.52.5", "8.1.240.6", `, "interim_updates": ["KB400004"]`),
		server("WISRV", "127.0.52.6", "8.1.240.6", `, "prerequisites": {"windows_installer": "3.1.4000.2435"}`),
		fmt.Sprintf(`{"name": "OLDBK", "address": "127.0.52.7", "product": "2007", "build": "8.1.240.6", "roles": ["Mailbox"],
		  "last_full_backup": %q, "last_system_state_backup": %q}`, hoursAgo(72), hoursAgo(1)),
		`{"name": "E3SP2", "address": "127.0.52.8", "product": "2003", "build": "6.5.7638.2", "roles": ["BackEnd"],` + fresh + `}`,
	}
	return fmt.Sprintf(`{%s, "servers": [%s], "clusters": []}`, credentialsJSON(), strings.Join(servers, ",\n"))
}

var freshBackups = `
  backup {
    max_database_age     = "24h"
    max_system_state_age = "168h"
    domain_controller_backup_time = "` + evidenceTime + `"
  }`

func sp(server, addr string, level int, extra string) string {
	return fmt.Sprintf(`
resource "exchange_service_pack" "x" {
  server       = %q
  address      = %q
  service_pack = %d
  media_path   = "D:\\SP"
%s%s
}
`, server, addr, level, extra, freshBackups)
}

// Each refusal of the servicing issue, at plan time, naming the server, the reason and
// what to do; nothing is done on any server.
func TestAccServicingRefusals(t *testing.T) {
	sim := startSimulatorWith(t, refusalFleet(), fastServicing)
	cfg := func(body string) string { return providerConfig(sim, "") + body }
	refused := func(body, pattern string) resource.TestStep {
		return resource.TestStep{Config: cfg(body), PlanOnly: true, ExpectError: regexp.MustCompile(pattern)}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			refused(sp("SP3SRV", "127.0.52.1", 1, ""),
				`(?si)Server SP3SRV: service_pack = 1 asks for Exchange 2007 SP1, below the live level.*cannot\s+be\s+uninstalled`),
			refused(sp("E3SP2", "127.0.52.8", 1, ""),
				`(?si)Server E3SP2: service_pack = 1 asks for Exchange 2003 SP1.*cannot\s+be\s+uninstalled`),
			refused(`
resource "exchange_update_rollup" "x" {
  server       = "SP1SRV"
  address      = "127.0.52.2"
  rollup       = "5"
  service_pack = 3
  package_path = "D:\\RU5.msp"`+freshBackups+`
}`, `(?si)Server SP1SRV: the rollup is for Exchange 2007 SP3, but the server runs SP1`),
			refused(sp("WMSRV", "127.0.52.3", 3, ""),
				`(?si)Server WMSRV: an interrupted Exchange setup left .*v8\.0\\MailboxRole: setup refuses to start again while they exist.*Make sure no Exchange setup runs.*export the key.*delete its Action and Watermark values`),
			refused(sp("RUNSRV", "127.0.52.4", 3, ""),
				`(?si)Server RUNSRV: an Exchange setup or installer that this provider did not\s+start is running now`),
			refused(sp("IUSRV", "127.0.52.5", 3, ""),
				`(?si)Server IUSRV: interim update.*KB400004.*not in\s+remove_interim_updates.*add "KB400004" to remove_interim_updates`),
			refused(sp("WISRV", "127.0.52.6", 3, ""),
				`(?si)Server WISRV: Windows Installer \(msi\.dll\) is 3\.1\.4000\.2435.*needs\s+Windows\s+Installer\s+4\.5`),
			refused(sp("OLDBK", "127.0.52.7", 3, ""),
				`(?si)Server OLDBK: the last full backup of database.*older than the 1d\s+allowed`),
			// A service pack and a rollup for the same server, the rollup not ordered after it.
			refused(sp("SP1SRV", "127.0.52.2", 3, "")+`
resource "exchange_update_rollup" "y" {
  server       = "SP1SRV"
  address      = "127.0.52.2"
  rollup       = "latest"
  package_path = "D:\\RU.msp"`+freshBackups+`
}`, `(?si)(planned before this service pack|planned for this server in the same apply).*service_pack\s*=\s*exchange_service_pack\.<name>\.service_pack`),
			{
				// A waived backup check plans, with the waiver shown and kept.
				Config: cfg(`
resource "exchange_service_pack" "x" {
  server       = "OLDBK"
  address      = "127.0.52.7"
  service_pack = 3
  media_path   = "D:\\SP"
  backup {
    waiver_reason = "backup agent migration, CHG-42, restore tested on 2026-11-01"
  }
}`),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPreRefresh: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue("exchange_service_pack.x", tfjsonpath.New("planned_steps").AtSliceIndex(1).AtMapKey("description"),
						knownvalue.StringRegexp(regexp.MustCompile(`waived.*CHG-42`))),
				}},
			},
		},
	})
	onlyReads(t, sim)
}
