package provider

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/simulator"
)

// Two Exchange 2007 SP1 servers whose Mailbox setup was interrupted: WM07 as setup left it,
// WM08 also with the export an earlier, interrupted apply made.
func watermarkFleet() string {
	server := func(name, addr string) string {
		return fmt.Sprintf(`{"name": %q, "address": %q, "product": "2007", "build": "8.1.240.6", "roles": ["Mailbox"],
     "setup_watermark": "Mailbox", "last_full_backup": %q, "last_system_state_backup": %q}`, name, addr, hoursAgo(1), hoursAgo(1))
	}
	return fmt.Sprintf(`{%s,
  "packages": {"D:\\SP3": {"kind": "service_pack", "product": "2007", "service_pack": 3}},
  "servers": [%s, %s],
  "clusters": []
}`, credentialsJSON(), server("WM07", "127.0.53.1"), server("WM08", "127.0.53.2"))
}

func watermarkSP(name, server, addr, extra string) string {
	return fmt.Sprintf(`
resource "exchange_service_pack" %q {
  server       = %q
  address      = %q
  service_pack = 3
  media_path   = "D:\\SP3"
%s%s
}
`, name, server, addr, extra, freshBackups)
}

const clearWatermark = `  clear_setup_watermark = {
    reason = "SP3 setup broke off when the UPS failed, CHG-77"
  }
`

// Refused at plan without clear_setup_watermark, naming the key and the attribute; with it
// the plan shows check, export, removal, then setup, and the apply runs them in that order
// and reaches SP3. On WM08 the export of an interrupted earlier apply is kept, not made again.
func TestAccServicePackClearsSetupWatermark(t *testing.T) {
	sim := startSimulatorWith(t, watermarkFleet(), fastServicing)
	mark := sim.Host("WM08").Facts().Setup.Watermarks[0]
	earlier := `C:\WINDOWS\Temp\ExchangeProvider\setup_keys\` + exchange.SetupKeyExportFile(mark)
	sim.Host("WM08").Update(func(s *simulator.State) {
		s.SetupKeyExports = []simulator.SetupKeyExport{{File: earlier, Key: exchange.SetupKey("Mailbox"), Values: []string{"Action = " + mark.Action}}}
	})
	// The preflight (the media) comes before anything, the removal of the values too.
	steps := actions("preflight", "verify_backups", "check_no_setup_running", "export_setup_key", "remove_setup_watermark",
		"install_service_pack", "reboot", "start_exchange_services", "verify_build")
	config := providerConfig(sim, "") + watermarkSP("wm07", "WM07", "127.0.53.1", clearWatermark) + watermarkSP("wm08", "WM08", "127.0.53.2", clearWatermark)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config:   providerConfig(sim, "") + watermarkSP("wm07", "WM07", "127.0.53.1", ""),
				PlanOnly: true,
				ExpectError: saying("Server WM07: an interrupted Exchange setup left",
					`under HKLM\SOFTWARE\Microsoft\Exchange\v8.0\MailboxRole: setup refuses to start again while they exist`,
					"Make sure no Exchange setup runs", "delete its Action and Watermark values",
					`set clear_setup_watermark = { reason = "..." }`),
			},
			{
				Config:      providerConfig(sim, "") + watermarkSP("wm07", "WM07", "127.0.53.1", `  clear_setup_watermark = { reason = "" }`+"\n"),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)clear_setup_watermark.*reason.*at least 10`),
			},
			{
				PreConfig: func() { onlyReads(t, sim) },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue("exchange_service_pack.wm07", tfjsonpath.New("planned_steps"), steps),
					plancheck.ExpectKnownValue("exchange_service_pack.wm08", tfjsonpath.New("planned_steps"), steps),
					plancheck.ExpectKnownValue("exchange_service_pack.wm07",
						tfjsonpath.New("planned_steps").AtSliceIndex(3).AtMapKey("params").AtMapKey("file"),
						knownvalue.StringRegexp(regexp.MustCompile(`^%SystemRoot%\\Temp\\ExchangeProvider\\setup_keys\\MailboxRole-[0-9a-f]{8}\.reg$`))),
					plancheck.ExpectKnownValue("exchange_service_pack.wm07",
						tfjsonpath.New("planned_steps").AtSliceIndex(4).AtMapKey("params").AtMapKey("key"),
						knownvalue.StringExact(`HKLM\SOFTWARE\Microsoft\Exchange\v8.0\MailboxRole`)),
					plancheck.ExpectKnownValue("exchange_service_pack.wm07", tfjsonpath.New("warnings"),
						knownvalue.ListPartial(map[int]knownvalue.Check{0: knownvalue.StringRegexp(regexp.MustCompile(`clear_setup_watermark.*CHG-77`))})),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("exchange_service_pack.wm07", "live_service_pack", "3"),
					resource.TestCheckResourceAttr("exchange_service_pack.wm08", "live_service_pack", "3"),
					func(*terraform.State) error {
						for _, name := range []string{"WM07", "WM08"} {
							export := "setup_watermark export MailboxRole ok: reg.exe export"
							if name == "WM08" {
								export = "setup_watermark export MailboxRole ok: " + earlier + " exists: not exported again"
							}
							if err := inOrder(journal(sim, name), "setup_watermark check  ok", export,
								"setup_watermark remove MailboxRole ok: "+exchange.SetupKey("Mailbox")+": removed Action = ",
								`installer started D:\SP3\Setup.com /mode:upgrade`, "job_start install_service_pack ok", "reboot"); err != nil {
								return fmt.Errorf("%s: %w", name, err)
							}
							st := sim.Host(name).State()
							if len(st.SetupWatermarks) != 0 || len(st.SetupKeyExports) != 1 {
								return fmt.Errorf("%s: watermarks %+v, exports %+v", name, st.SetupWatermarks, st.SetupKeyExports)
							}
						}
						return nil
					},
				),
			},
			{
				// Nothing left to clear: the next plan is empty.
				Config:   config,
				PlanOnly: true,
			},
		},
	})
}

// The organisation resource takes the same opt-in for the servers whose service pack it
// plans: refused without it, the clearing steps before setup with it, applied to SP3.
func TestAccOrganizationClearsSetupWatermark(t *testing.T) {
	sim := startSimulatorWith(t, watermarkFleet(), fastServicing)
	org := func(extra string) string {
		return providerConfig(sim, "") + `
resource "exchange_organization_upgrade" "org" {
  servers = [{ server = "WM07", address = "127.0.53.1" }]
  targets = [{ product = "2007", service_pack = 3, media_path = "D:\\SP3" }]
` + extra + freshBackups + `
}
`
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config:      org(""),
				PlanOnly:    true,
				ExpectError: saying("Server WM07: an interrupted Exchange setup left", `v8.0\MailboxRole`, `set clear_setup_watermark = { reason = "..." }`),
			},
			{
				Config: org(clearWatermark),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("exchange_organization_upgrade.org", "live_builds.WM07", "8.3.83.6"),
					func(*terraform.State) error {
						return inOrder(journal(sim, "WM07"), "setup_watermark check  ok", "setup_watermark export MailboxRole ok: reg.exe export",
							"setup_watermark remove MailboxRole ok", `installer started D:\SP3\Setup.com /mode:upgrade`)
					},
				),
			},
		},
	})
}

// An interrupted SP3 setup already updated ExSetup.exe: WM07 reads as SP3, its target, with
// the Mailbox role's Action/Watermark still there. Refused without clear_setup_watermark
// (setup must be run again once the values are gone); with it, the values are cleared and
// SP3 setup runs again, which completes it; then nothing is left to do.
func TestAccServicePackWatermarkAtTargetBuild(t *testing.T) {
	sim := startSimulatorWith(t, strings.ReplaceAll(watermarkFleet(), `"8.1.240.6"`, `"8.3.83.6"`), fastServicing)
	config := providerConfig(sim, "") + watermarkSP("wm07", "WM07", "127.0.53.1", clearWatermark)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config:   providerConfig(sim, "") + watermarkSP("wm07", "WM07", "127.0.53.1", ""),
				PlanOnly: true,
				ExpectError: saying("Server WM07: an interrupted Exchange setup left", "delete its Action and Watermark values",
					"then run Setup.com /mode:upgrade from the service pack's media again yourself", `set clear_setup_watermark = { reason = "..." }`),
			},
			{
				PreConfig: func() { onlyReads(t, sim) },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue("exchange_service_pack.wm07", tfjsonpath.New("planned_steps"),
						actions("preflight", "verify_backups", "check_no_setup_running", "export_setup_key", "remove_setup_watermark",
							"install_service_pack", "reboot", "start_exchange_services", "verify_build")),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("exchange_service_pack.wm07", "live_service_pack", "3"),
					func(*terraform.State) error {
						if err := inOrder(journal(sim, "WM07"), "setup_watermark check  ok", "setup_watermark remove MailboxRole ok",
							`installer started D:\SP3\Setup.com /mode:upgrade`, "job_start install_service_pack ok", "reboot"); err != nil {
							return err
						}
						if st := sim.Host("WM07").State(); len(st.SetupWatermarks) != 0 || st.PartlyConfigured {
							return fmt.Errorf("setup did not complete: watermarks %+v, partly configured %v", st.SetupWatermarks, st.PartlyConfigured)
						}
						return nil
					},
				),
			},
			{Config: config, PlanOnly: true},
		},
	})
}

// lockOutAfterRemoval arms, the moment server's setup_watermark remove has run, HTTP 401
// for every later request to it (an account locked out mid-apply): the apply stops between
// remove_setup_watermark and setup, with the values gone and setup not started. It is a
// journal writer (simulator.Options.Journal), called as each entry is recorded and before
// the simulator uses up the faults armed for that operation.
type lockOutAfterRemoval struct {
	server string
	sim    atomic.Pointer[simulator.Simulator]
	armed  atomic.Bool
}

func (l *lockOutAfterRemoval) Write(line []byte) (int, error) {
	var e simulator.Entry
	if err := json.Unmarshal(line, &e); err == nil && e.Server == l.server && e.Operation == "setup_watermark" &&
		e.Params["Action"] == "remove" && l.sim.Load() != nil && !l.armed.Swap(true) {
		if err := l.sim.Load().Host(l.server).InjectFault(simulator.Fault{Kind: simulator.FaultUnauthorized, Operation: "setup_watermark", Count: 1 << 20}); err != nil {
			return 0, err
		}
	}
	return len(line), nil
}

// An apply that stopped after it removed the interrupted setup's values and before setup
// ran: WM07 reads as SP3 (its target) with no watermark, so it looks finished, but its
// roles are only partly configured. The record the removal left on the server makes the
// next plan run SP3 setup again (no clearing left to do), which completes it; then nothing
// is left.
func TestAccServicePackStoppedBetweenRemovalAndSetup(t *testing.T) {
	stop := &lockOutAfterRemoval{server: "WM07"}
	opts := fastServicing
	opts.Journal = stop
	sim := startSimulatorWith(t, strings.ReplaceAll(watermarkFleet(), `"8.1.240.6"`, `"8.3.83.6"`), opts)
	stop.sim.Store(sim)
	config := providerConfig(sim, "") + watermarkSP("wm07", "WM07", "127.0.53.1", clearWatermark)
	wm07 := sim.Host("WM07")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config:      config,
				ExpectError: regexp.MustCompile(`(?s)WM07.*(401|credentials|rejected)`),
			},
			{
				PreConfig: func() {
					st := wm07.State()
					if len(st.SetupWatermarks) != 0 || !st.PartlyConfigured || !slices.Equal(st.LeftoverWatermarksRemoved, []string{"MailboxRole"}) ||
						count(journal(sim, "WM07"), "installer started") != 0 {
						t.Fatalf("not stopped between the removal and setup: watermarks %+v, partly configured %v, record %q, journal:\n  %s",
							st.SetupWatermarks, st.PartlyConfigured, st.LeftoverWatermarksRemoved, strings.Join(journal(sim, "WM07"), "\n  "))
					}
					sim.Endpoint("WM07").FailNext(0, 0) // the account is unlocked
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue("exchange_service_pack.wm07", tfjsonpath.New("planned_steps"),
						actions("preflight", "verify_backups", "install_service_pack", "reboot", "start_exchange_services", "verify_build")),
					plancheck.ExpectKnownValue("exchange_service_pack.wm07",
						tfjsonpath.New("planned_steps").AtSliceIndex(2).AtMapKey("description"),
						knownvalue.StringRegexp(regexp.MustCompile(`removed the interrupted setup's Action/Watermark values \(HKLM\\SOFTWARE\\Microsoft\\Exchange\\v8\.0\\MailboxRole\) and stopped before setup ran`))),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("exchange_service_pack.wm07", "live_service_pack", "3"),
					func(*terraform.State) error {
						if err := inOrder(journal(sim, "WM07"), "setup_watermark remove MailboxRole ok", `installer started D:\SP3\Setup.com /mode:upgrade`,
							"job_start install_service_pack ok", "reboot"); err != nil {
							return err
						}
						if st := wm07.State(); st.PartlyConfigured || len(st.LeftoverWatermarksRemoved) != 0 {
							return fmt.Errorf("setup did not complete: partly configured %v, record %q", st.PartlyConfigured, st.LeftoverWatermarksRemoved)
						}
						return nil
					},
				),
			},
			{Config: config, PlanOnly: true},
		},
	})
}
