package provider

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/buildlevel/terraform-provider-exchange/internal/simulator"
)

// Procedures of issue 9 (items 5, 7, 8, 9) against a simulator that answers as a real server.

// proceduresFleet: a 2007 SP3 RU5 hub server running a backup agent the probe's list knows
// and a virus scanner it does not ("Service Packs für Exchange 2007" stops BackupExec and ScanMail).
func proceduresFleet() string {
	return fmt.Sprintf(`{%s,
  "packages": {"D:\\RU10.msp": {"kind": "update_rollup", "service_pack": 3, "update_rollup": 10}},
  "servers": [
    {"name": "HUB71", "address": "127.0.171.1", "product": "2007", "build": "8.3.213.1", "roles": ["HubTransport"],
     "third_party_services": ["BackupExecAgentAccelerator", "ScanMail_Master"],
     "last_system_state_backup": %q}
  ],
  "clusters": []
}`, credentialsJSON(), hoursAgo(2))
}

func hubRollup(stop string) string {
	return fmt.Sprintf(`
resource "exchange_update_rollup" "hub71" {
  server        = "HUB71"
  address       = "127.0.171.1"
  rollup        = "10"
  package_path  = "D:\\RU10.msp"
  stop_services = %s
  backup {
    max_system_state_age = "168h"
    waiver_reason        = "hub server: no databases"
  }
}
`, stop)
}

// A service the user names in stop_services is stopped and started again when it exists on
// the server, whether or not the probe's list of third-party services knows it; one that
// does not exist is refused at plan time, by name.
func TestAccStopServicesNamesAnyService(t *testing.T) {
	t.Parallel() // its servers' addresses are no other parallel test's
	sim := startSimulatorWith(t, proceduresFleet(), fastServicing)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config:      providerConfig(sim, "") + hubRollup(`["ScanMail_Mastr"]`),
			ExpectError: regexp.MustCompile(`stop_services names "ScanMail_Mastr", which is not a service on the\s+server`),
		}, {
			Config: providerConfig(sim, "") + hubRollup(`["ScanMail_Master", "BackupExecAgentAccelerator"]`),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectKnownValue("exchange_update_rollup.hub71", tfjsonpath.New("planned_steps").AtSliceIndex(1).AtMapKey("params"),
					knownvalue.MapPartial(map[string]knownvalue.Check{"service": knownvalue.StringExact("ScanMail_Master")})),
			}},
			Check: testCheckJournalOrder(serverJournal(sim, "HUB71"),
				"service stop ScanMail_Master",
				"service stop BackupExecAgentAccelerator",
				`installer started C:\WINDOWS\System32\msiexec.exe /update D:\RU10.msp`,
				"service start BackupExecAgentAccelerator",
				"service start ScanMail_Master",
			),
		}},
	})
}

func owaFleet() string {
	return fmt.Sprintf(`{%s,
  "packages": {"D:\\RU10.msp": {"kind": "update_rollup", "service_pack": 3, "update_rollup": 10}},
  "servers": [
    {"name": "CAS71", "address": "127.0.171.2", "product": "2007", "build": "8.3.213.1", "roles": ["ClientAccess"],
     "owa_customized": true, "last_system_state_backup": %q},
    {"name": "CAS72", "address": "127.0.171.3", "product": "2007", "build": "8.3.213.1", "roles": ["ClientAccess"],
     "owa_customized": true, "last_system_state_backup": %q}
  ],
  "clusters": []
}`, credentialsJSON(), hoursAgo(2), hoursAgo(2))
}

func casRollup(name, address, extra string) string {
	return fmt.Sprintf(`
resource "exchange_update_rollup" %[1]q {
  server       = %[1]q
  address      = %[2]q
  rollup       = "10"
  package_path = "D:\\RU10.msp"
  %[3]s
  backup {
    max_system_state_age = "168h"
    waiver_reason        = "Client Access server: no databases"
  }
}
`, name, address, extra)
}

// Seed 000: the customised Logon.aspx is moved aside, the update's new page is kept (or a
// page the user re-customised for the new build put in its place), and OWA is asked for its
// logon page afterwards. Before, the restore copied the old page over the new one: the
// simulator (like a real server) then renders a blank page, and nothing checked OWA.
func TestAccOWALogonPageAroundAnUpdate(t *testing.T) {
	sim := startSimulatorWith(t, owaFleet(), fastServicing)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: providerConfig(sim, "") +
				casRollup("CAS71", "127.0.171.2", `owa_logon_file = "D:\\owa\\logon-ru10.aspx"`) +
				casRollup("CAS72", "127.0.171.3", ""),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectKnownValue("exchange_update_rollup.CAS71", tfjsonpath.New("planned_steps"), actions(
					"verify_backups", "save_customizations", "install_update_rollup", "reboot",
					"start_exchange_services", "restore_customizations", "verify_owa", "verify_build")),
				plancheck.ExpectKnownValue("exchange_update_rollup.CAS71", tfjsonpath.New("planned_steps").AtSliceIndex(5),
					knownvalue.ObjectPartial(map[string]knownvalue.Check{
						"description": knownvalue.StringRegexp(regexp.MustCompile(`^put D:\\owa\\logon-ru10\.aspx in place as OWA Logon\.aspx \(the page the update wrote is kept as %SystemRoot%\\Temp\\ExchangeProvider\\customizations\\owa_logon\\setup\\logon\.aspx\)`)),
						"params":      knownvalue.MapExact(map[string]knownvalue.Check{"owa_logon_file": knownvalue.StringExact(`D:\owa\logon-ru10.aspx`)}),
					})),
				plancheck.ExpectKnownValue("exchange_update_rollup.CAS72", tfjsonpath.New("planned_steps").AtSliceIndex(5).AtMapKey("description"),
					knownvalue.StringRegexp(regexp.MustCompile(`^keep the OWA Logon\.aspx the update wrote`))),
				plancheck.ExpectKnownValue("exchange_update_rollup.CAS72", tfjsonpath.New("warnings"),
					anyMatching(`moved aside and not put back`)),
			}},
			Check: func(*terraform.State) error {
				for _, server := range []string{"CAS71", "CAS72"} {
					if err := inOrder(journal(sim, server), "customizations save", "installer started", "reboot",
						"customizations restore", "owa_check"); err != nil {
						return fmt.Errorf("%s: %w", server, err)
					}
					if st := sim.Host(server).State(); st.OWALogonStale || st.OWALogonAbsent || st.OWALogonSaved {
						return fmt.Errorf("%s: OWA's page is stale %v, absent %v, saved %v", server, st.OWALogonStale, st.OWALogonAbsent, st.OWALogonSaved)
					}
				}
				if !sim.Host("CAS71").State().OWALogonCustomized || sim.Host("CAS72").State().OWALogonCustomized {
					return fmt.Errorf("CAS71 must run the user's page, CAS72 the update's")
				}
				return nil
			},
		}},
	})
}

// A customised Logon.aspx left in place (preserve_owa_customizations = false) is not
// replaced by the update, and OWA renders a blank page: verify_owa stops the apply there.
func TestAccVerifyOWASeesTheBlankPage(t *testing.T) {
	sim := startSimulatorWith(t, owaFleet(), fastServicing)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config:      providerConfig(sim, "") + casRollup("CAS71", "127.0.171.2", `preserve_owa_customizations = false`),
			ExpectError: regexp.MustCompile(`(?s)OWA did not answer\s+https://localhost/owa/auth/logon\.aspx\s+with its logon\s+page \(HTTP 200\s+without\s+a\s+logon\s+form.*the\s+blank\s+page`),
		}, {
			// The next apply, at the level, checks OWA again (and fails again: nothing changed).
			Config:      providerConfig(sim, "") + casRollup("CAS71", "127.0.171.2", `preserve_owa_customizations = false`),
			ExpectError: regexp.MustCompile(`(?s)step \d of \d \(verify_owa.*the\s+blank\s+page`),
		}},
	})
}

// Seed 004's notes on Exchange 2007 SP1 and KB 328839, from what the probe reads: Forefront
// (refused unless attested), a receive connector named like the domain and an xcopy running
// (refused, every reason at once); then, fixed, the plan warns of the display templates SP1
// deletes and names the diagnostic-logging levels the install resets ("Changes to Exchange 2007 SP2 setup").
func TestAccServicePackPreChecksOfTheSeeds(t *testing.T) {
	t.Parallel() // its servers' addresses are no other parallel test's
	sim := startSimulatorWith(t, fmt.Sprintf(`{%s,
  "packages": {"D:\\SP3": {"kind": "service_pack", "product": "2007", "service_pack": 3}},
  "servers": [
    {"name": "HUB73", "address": "127.0.171.4", "product": "2007", "build": "8.0.685.24", "roles": ["HubTransport"],
     "forefront_version": "10.0.645.0", "receive_connectors": ["Default HUB73", "contoso.local"],
     "diagnostic_logging": {"MSExchangeTransport\\SmtpReceive": "High"}, "running_processes": ["xcopy.exe"],
     "last_system_state_backup": %q}
  ],
  "clusters": []
}`, credentialsJSON(), hoursAgo(2)), fastServicing)
	config := func(extra string) string {
		return providerConfig(sim, "") + fmt.Sprintf(`
resource "exchange_service_pack" "hub73" {
  server       = "HUB73"
  address      = "127.0.171.4"
  service_pack = 3
  media_path   = "D:\\SP3"
  %s
  backup {
    max_system_state_age = "168h"
    waiver_reason        = "hub server: no databases"
  }
}
`, extra)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config:      config(""),
			ExpectError: regexp.MustCompile(`(?s)"xcopy.exe" is running on the server now.*receive connector "contoso.local" is named like the domain.*Forefront Security for Exchange Server is installed \(Microsoft Forefront Security for Exchange Server 10\.0\.645\.0\).*forefront_compatible`),
		}, {
			PreConfig: func() {
				sim.Host("HUB73").Update(func(s *simulator.State) {
					s.Procedure.InstallerProcesses = []string{}
					s.Procedure.ReceiveConnectors = []string{"Default HUB73", "Internet"}
				})
			},
			Config: config(`forefront_compatible = "FSE SP1 10.1, release notes checked"`),
			ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectKnownValue("exchange_service_pack.hub73", tfjsonpath.New("warnings"), anyMatching(`MSExchangeTransport\\SmtpReceive = High`)),
			}},
			Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr("exchange_service_pack.hub73", "live_service_pack", "3"),
				func(s *terraform.State) error {
					warnings := s.RootModule().Resources["exchange_service_pack.hub73"].Primary.Attributes
					all := ""
					for k, v := range warnings {
						if strings.HasPrefix(k, "warnings.") {
							all += v + "\n"
						}
					}
					for _, want := range []string{"deletes the address and display templates", "forefront_compatible says: FSE SP1 10.1"} {
						if !strings.Contains(all, want) {
							return fmt.Errorf("warnings lack %q:\n%s", want, all)
						}
					}
					return nil
				},
			),
		}},
	})
}

// someElement checks that a list of strings holds one matching re, wherever it is.
type someElement struct{ re *regexp.Regexp }

func (c someElement) CheckValue(v any) error {
	list, _ := v.([]any)
	for _, e := range list {
		if s, ok := e.(string); ok && c.re.MatchString(s) {
			return nil
		}
	}
	return fmt.Errorf("no element matches %s: %v", c.re, v)
}

func (c someElement) String() string { return "some element matching " + c.re.String() }

func anyMatching(expr string) knownvalue.Check { return someElement{regexp.MustCompile(expr)} }

// warningsContain checks that one of a resource's warnings in state contains want.
func warningsContain(address, want string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		rs, ok := s.RootModule().Resources[address]
		if !ok {
			return fmt.Errorf("%s is not in state", address)
		}
		var all []string
		for k, v := range rs.Primary.Attributes {
			if strings.HasPrefix(k, "warnings.") && k != "warnings.#" {
				if strings.Contains(v, want) {
					return nil
				}
				all = append(all, v)
			}
		}
		return fmt.Errorf("no warning of %s contains %q:\n%s", address, want, strings.Join(all, "\n"))
	}
}
