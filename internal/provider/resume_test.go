package provider

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/buildlevel/terraform-provider-exchange/internal/simulator"
)

func resumeConfig(timeout string) string {
	return fmt.Sprintf(`
resource "exchange_service_pack" "hub" {
  server       = "HUB7"
  address      = "127.0.55.1"
  service_pack = 3
  media_path   = "D:\\SP3"
  backup {
    max_database_age     = "24h"
    max_system_state_age = "168h"
    domain_controller_backup_time = "`+evidenceTime+`"
  }
  timeouts {
    create = %q
  }
}
`, timeout)
}

// An apply stopped mid-install (here by its timeout; Ctrl-C or a killed process leave the
// server the same way) leaves the installer running on the server and the backup agent
// stopped. The next apply attaches to the running install instead of starting setup a
// second time, finishes the procedure, and starts the backup agent again.
func TestAccResumeAfterInterruptedInstall(t *testing.T) {
	fleet := fmt.Sprintf(`{%s,
  "packages": {"D:\\SP3": {"kind": "service_pack", "product": "2007", "service_pack": 3}},
  "servers": [
    {"name": "HUB7", "address": "127.0.55.1", "product": "2007", "build": "8.1.393.1", "roles": ["HubTransport"],
     "third_party_services": ["BackupExecAgentAccelerator"],
     "last_system_state_backup": %q}
  ],
  "clusters": []
}`, credentialsJSON(), hoursAgo(1))
	sim := startSimulatorWith(t, fleet, simulator.Options{InstallDuration: 5 * time.Second, RebootDuration: 300 * time.Millisecond})
	host := sim.Host("HUB7")
	setupRuns := func() int { return count(journal(sim, "HUB7"), `installer started D:\SP3\Setup.com /mode:upgrade`) }
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config:      providerConfig(sim, "") + resumeConfig("2s"),
				ExpectError: regexp.MustCompile(`(?si)Servicing server HUB7 stopped.*installer.*(still|may).*running`),
			},
			{
				PreConfig: func() {
					f := host.Facts()
					if setupRuns() != 1 || len(f.Jobs) != 1 || f.Jobs[0].State != "running" {
						t.Fatalf("after the interruption want one running setup; journal %v, jobs %+v", journal(sim, "HUB7"), f.Jobs)
					}
					if len(f.Leftovers.StoppedServices) != 1 {
						t.Fatalf("the server must record the stopped backup agent: %+v", f.Leftovers)
					}
				},
				Config: providerConfig(sim, "") + resumeConfig("2m"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue("exchange_service_pack.hub",
						tfjsonpath.New("planned_steps").AtSliceIndex(0).AtMapKey("description"),
						knownvalue.StringRegexp(regexp.MustCompile(`attach to the running`))),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("exchange_service_pack.hub", "live_service_pack", "3"),
					testCheckSetupRuns(sim, "HUB7", `D:\SP3\Setup.com /mode:upgrade`, 1),
					testCheckJournalOrder(serverJournal(sim, "HUB7"), "service stop BackupExecAgentAccelerator", "job_start install_service_pack ok",
						"job_start install_service_pack attached", "reboot", "exchange_services",
						"service start BackupExecAgentAccelerator"),
					func(*terraform.State) error {
						f := host.Facts()
						for _, s := range f.ThirdPartyServices {
							if s.State != "Running" {
								return fmt.Errorf("%s is %s after the resumed apply", s.Name, s.State)
							}
						}
						if len(f.Jobs) != 0 || !f.Leftovers.Empty() {
							return fmt.Errorf("a finished apply leaves no job records or leftovers: %+v %+v", f.Jobs, f.Leftovers)
						}
						return nil
					},
				),
			},
		},
	})
}

// An installer that fails (a file in use) stops the apply with the step, the exit code and
// the log, after starting the backup agent it had stopped; the next apply runs the install
// again (a new run: the failed job is not "attached" to) through dropped connections.
func TestAccFailedInstallIsReportedAndRetried(t *testing.T) {
	fleet := fmt.Sprintf(`{%s,
  "packages": {"D:\\RU23.msp": {"kind": "update_rollup", "service_pack": 3, "update_rollup": 23}},
  "servers": [
    {"name": "MBX9", "address": "127.0.55.2", "product": "2007", "build": "8.3.83.6", "roles": ["Mailbox"],
     "third_party_services": ["BackupExecAgentAccelerator"],
     "last_full_backup": %q, "last_system_state_backup": %q,
     "faults": [{"kind": "file_in_use"}]}
  ],
  "clusters": []
}`, credentialsJSON(), hoursAgo(1), hoursAgo(1))
	sim := startSimulatorWith(t, fleet, fastServicing)
	heldScenario(t, "an installer failure", sim)
	host := sim.Host("MBX9")
	config := providerConfig(sim, "") + `
resource "exchange_update_rollup" "mbx9" {
  server       = "MBX9"
  address      = "127.0.55.2"
  rollup       = "23"
  package_path = "D:\\RU23.msp"
  backup {
    max_database_age     = "24h"
    max_system_state_age = "168h"
    domain_controller_backup_time = "` + evidenceTime + `"
  }
}
`
	installs := func() int {
		return count(journal(sim, "MBX9"), `installer started C:\WINDOWS\System32\msiexec.exe /update D:\RU23.msp`)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config:      config,
				ExpectError: regexp.MustCompile(`(?s)step 3 of 7 \(install_update_rollup.*failed.*1603.*FileInUse:\s+STORE\.EXE.*log\s+C:\\WINDOWS\\Temp\\ExchangeProvider\\jobs.*Recovered:.*started\s+BackupExecAgentAccelerator.*Next:.*terraform apply`),
			},
			{
				PreConfig: func() {
					if n := installs(); n != 1 {
						t.Fatalf("want one failed install, got %d", n)
					}
					f := host.Facts()
					if f.ThirdPartyServices[0].State != "Running" || f.Build != "8.3.83.6" {
						t.Fatalf("after the failure: %s %s, build %s", f.ThirdPartyServices[0].Name, f.ThirdPartyServices[0].State, f.Build)
					}
					if err := host.InjectFault(simulator.Fault{Kind: simulator.FaultDropConnection, Count: 3}); err != nil {
						t.Fatal(err)
					}
				},
				Config: config,
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("exchange_update_rollup.mbx9", "live_rollup", "23"),
					noLeakInState,
					func(*terraform.State) error {
						if n := installs(); n != 2 {
							return fmt.Errorf("want the failed install run again once (2 runs), got %d", n)
						}
						return nil
					},
				),
			},
		},
	})
}
