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

// servicePackWith is spAndRollup's service pack alone, from media and with extra settings.
func servicePackWith(media, extra string) string {
	return fmt.Sprintf(`
resource "exchange_service_pack" "ex07" {
  server                 = "EX07"
  address                = "127.0.51.1"
  service_pack           = 3
  media_path             = %q
  um_language_pack_path  = "D:\\UM-SP3"
  remove_interim_updates = ["KB300001"]
  backup {
    max_database_age     = "24h"
    max_system_state_age = "168h"
    domain_controller_backup_time = "`+evidenceTime+`"
  }
%s
}
`, media, extra)
}

// changes are the journal entries of steps that change the server.
func changes(j []string) []string {
	var out []string
	for _, e := range j {
		for _, p := range []string{"installer started", "job_start", "service ", "revocation_check", "customizations", "reboot",
			"remote_streaming_backup", "exchange_services", "firewall"} {
			if strings.HasPrefix(e, p) {
				out = append(out, e)
				break
			}
		}
	}
	return out
}

// applyFailsAtPreflight plans config on rtmFleet (optionally changed by fleet), expects the
// plan to begin with the preflight and the apply to fail with an error matching want, and
// then that the server was not changed at all.
func applyFailsAtPreflight(t *testing.T, fleet func(string) string, config string, want string) {
	t.Helper()
	sim := startSimulatorWith(t, fleet(rtmFleet()), fastServicing)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: providerConfig(sim, "") + config,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectKnownValue("exchange_service_pack.ex07",
					tfjsonpath.New("planned_steps").AtSliceIndex(0).AtMapKey("action"), knownvalue.StringExact("preflight")),
				plancheck.ExpectKnownValue("exchange_service_pack.ex07",
					tfjsonpath.New("planned_steps").AtSliceIndex(1).AtMapKey("action"), knownvalue.StringExact("verify_backups")),
			}},
			// Terraform wraps the message: any space may be a line break.
			ExpectError: regexp.MustCompile(strings.ReplaceAll(want, " ", `\s+`)),
		}},
	})
	j := journal(sim, "EX07")
	if c := changes(j); len(c) > 0 {
		t.Errorf("the apply changed the server before it failed: %v\njournal:\n  %s", c, strings.Join(j, "\n  "))
	}
	if count(j, "preflight") != 1 {
		t.Errorf("want one preflight on the server, journal:\n  %s", strings.Join(j, "\n  "))
	}
	if b := sim.Host("EX07").State(); len(b.InterimUpdates) != 1 {
		t.Errorf("interim updates %v: the apply removed one", b.InterimUpdates)
	}
}

// A mistyped media path: before the preflight, the apply removed the interim update and the
// UM language pack and stopped the backup agent, and only then did Setup refuse the missing
// media. Now the apply fails at its first step, naming the attribute and the path, and
// nothing on the server changed.
func TestAccPreflightStopsMistypedMediaPath(t *testing.T) {
	applyFailsAtPreflight(t, func(f string) string { return f }, servicePackWith(`D:\SP3-typo`, ""),
		`(?s)step 1 of \d+ \(preflight: .*preflight on EX07 failed: media_path "D:\\SP3-typo" \(for install_service_pack\): package not found: D:\\SP3-typo\\Setup\.com.*Nothing on the server was changed`)
}

// An owa_logon_file the server cannot read stops the apply before the customisations are
// moved aside.
func TestAccPreflightStopsUnreadableLogonFile(t *testing.T) {
	missing := func(f string) string {
		return strings.Replace(f, `"owa_customized": true,`, `"owa_customized": true, "missing_paths": ["D:\\OWA\\logon.aspx"],`, 1)
	}
	applyFailsAtPreflight(t, missing, servicePackWith(`D:\SP3`, `  owa_logon_file = "D:\\OWA\\logon.aspx"`),
		`(?s)preflight on EX07 failed: owa_logon_file "D:\\OWA\\logon\.aspx": D:\\OWA\\logon\.aspx cannot be read from EX07`)
}

// Service pack media in another language than the installed Exchange is refused at the
// preflight (the simulator's media say their language as the media's ExSetup.exe does).
func TestAccPreflightRefusesMediaInAnotherLanguage(t *testing.T) {
	german := func(f string) string {
		return strings.Replace(f, `"packages": {`, `"packages": {
    "D:\\SP3-DE": {"kind": "service_pack", "product": "2007", "service_pack": 3, "setup_language": "German (Germany)"},`, 1)
	}
	applyFailsAtPreflight(t, german, servicePackWith(`D:\SP3-DE`, ""),
		`(?s)preflight on EX07 failed: media_path "D:\\SP3-DE" \(for install_service_pack\): the media is in German \(Germany\).*in English \(United States\).*use the service pack media in the server's language`)
}

// 32-bit media on the 64-bit Exchange 2007 is refused at the preflight.
func TestAccPreflightRefusesMediaOfAnotherArchitecture(t *testing.T) {
	x86 := func(f string) string {
		return strings.Replace(f, `"packages": {`, `"packages": {
    "D:\\SP3-x86": {"kind": "service_pack", "product": "2007", "service_pack": 3, "architecture": "x86"},`, 1)
	}
	applyFailsAtPreflight(t, x86, servicePackWith(`D:\SP3-x86`, ""),
		`(?s)preflight on EX07 failed: media_path "D:\\SP3-x86" \(for install_service_pack\): the media is for x86.*for x64.*use the x64 service pack media`)
}

// orgPreflightFleet: CAS1, HUB1 and MBX1 (waves 1 to 3) at Exchange 2007 SP2, each with a
// backup agent the plan stops; the SP3 media is missing on MBX1 only.
func orgPreflightFleet() string {
	server := func(name, addr, role, extra string) string {
		return fmt.Sprintf(`{"name": %q, "address": %q, "product": "2007", "build": "8.2.176.2", "roles": [%q],
     "third_party_services": ["BackupExecRPCService"], "last_full_backup": %q, "last_system_state_backup": %q%s}`,
			name, addr, role, hoursAgo(1), hoursAgo(1), extra)
	}
	return fmt.Sprintf(`{%s,
  "packages": {"D:\\E2007SP3": {"kind": "service_pack", "product": "2007", "service_pack": 3}},
  "servers": [%s, %s, %s],
  "clusters": []
}`, credentialsJSON(), server("CAS1", "127.0.54.1", "ClientAccess", ""), server("HUB1", "127.0.54.2", "HubTransport", ""),
		server("MBX1", "127.0.54.3", "Mailbox", `, "missing_paths": ["D:\\E2007SP3"]`))
}

// An organisation upgrade runs every server's preflight before wave 1 touches anything: the
// plan begins with them, in wave order; the media missing on the wave-3 server stops the
// apply before any server is changed (no service stopped, no setup started anywhere), and
// the error names the server, its wave and the path.
func TestAccOrganizationPreflightBeforeTheFirstWave(t *testing.T) {
	sim := startSimulatorWith(t, orgPreflightFleet(), fastServicing)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: providerConfig(sim, "") + `
resource "exchange_organization_upgrade" "org" {
  servers = [
    { server = "CAS1", address = "127.0.54.1" },
    { server = "HUB1", address = "127.0.54.2" },
    { server = "MBX1", address = "127.0.54.3" },
  ]
  targets = [{ product = "2007", service_pack = 3, media_path = "D:\\E2007SP3" }]
` + freshBackups + `
}
`,
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectKnownValue("exchange_organization_upgrade.org", tfjsonpath.New("planned_steps"),
					knownvalue.ListPartial(map[int]knownvalue.Check{
						0: knownvalue.ObjectPartial(map[string]knownvalue.Check{"action": knownvalue.StringExact("preflight"), "server": knownvalue.StringExact("CAS1"), "wave": knownvalue.Int64Exact(1)}),
						1: knownvalue.ObjectPartial(map[string]knownvalue.Check{"action": knownvalue.StringExact("preflight"), "server": knownvalue.StringExact("HUB1"), "wave": knownvalue.Int64Exact(2)}),
						2: knownvalue.ObjectPartial(map[string]knownvalue.Check{"action": knownvalue.StringExact("preflight"), "server": knownvalue.StringExact("MBX1"), "wave": knownvalue.Int64Exact(3),
							"description": knownvalue.StringRegexp(regexp.MustCompile(`^before wave 1 changes any server, for MBX1 of wave 3`))}),
						3: knownvalue.ObjectPartial(map[string]knownvalue.Check{"action": knownvalue.StringExact("preflight"), "server": knownvalue.StringExact("CAS1")}),
					})),
			}},
			ExpectError: saying("the preflight before the first wave failed on MBX1 (wave 3), so no wave was started: nothing was changed on any server",
				`media_path "D:\E2007SP3"`),
		}},
	})
	for _, s := range []string{"CAS1", "HUB1", "MBX1"} {
		j := journal(sim, s)
		if c := changes(j); len(c) > 0 {
			t.Errorf("%s was changed before the apply stopped: %v\njournal:\n  %s", s, c, strings.Join(j, "\n  "))
		}
		if count(j, "preflight") != 1 {
			t.Errorf("%s: want one preflight, journal:\n  %s", s, strings.Join(j, "\n  "))
		}
	}
}
