package exchange

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// now is the time every test plans at.
var now = time.Date(2024, 5, 2, 6, 0, 0, 0, time.UTC)

func ago(d time.Duration) *time.Time {
	t := now.Add(-d)
	return &t
}

const day = 24 * time.Hour

// server is a healthy, non-clustered server at build: prerequisites met, fresh backups,
// internet access, nothing pending. Tests change what they are about with mods.
func server(product, build string, mods ...func(*Facts)) Facts {
	f := Facts{
		Server:  "EX01",
		FQDN:    "ex01.corp.example",
		Product: product,
		Build:   build,
		OS:      OSFacts{Caption: "Microsoft Windows Server 2003 R2 Enterprise x64 Edition", Version: "5.2.3790", ServicePack: 2},
		Prerequisites: PrerequisiteFacts{DotNet20ServicePack: 1, WindowsInstaller: "4.5.6001.22159",
			TimeZoneUpdate931836: true, FQDNSet: true, LocalAdministrator: true},
		Roles: []string{"Mailbox"},
		Backups: BackupFacts{
			Databases: []DatabaseBackup{
				{Name: "Mailbox Database", LastFull: ago(10 * time.Hour)},
				{Name: "Public Folder Database", LastFull: ago(20 * time.Hour)},
			},
			DatabasesRead:     true,
			SystemState:       ago(2 * day),
			SystemStateSource: SystemStateFromNTBackupLog,
		},
		Services:        []ServiceFacts{{Name: "MSExchangeIS", State: "Running", StartMode: "Auto"}},
		RevocationCheck: true,
		InternetAccess:  true,
	}
	for _, m := range mods {
		m(&f)
	}
	return f
}

// options are the provider's defaults with backup limits of 1 day (databases) and 7 days
// (system state), and a domain controller's system state from the user's backup system.
func options(mods ...func(*Options)) Options {
	o := Options{
		Backup:                    BackupPolicy{MaxDatabaseAge: day, MaxSystemStateAge: 7 * day, DomainControllerBackupTime: ago(day)},
		RevocationCheck:           RevocationAuto,
		PreserveOWACustomizations: true,
		Now:                       now,
	}
	for _, m := range mods {
		m(&o)
	}
	return o
}

func spRequest(sp int, mods ...func(*ServicePackRequest)) ServicePackRequest {
	r := ServicePackRequest{Server: "EX01", ServicePack: sp, MediaPath: `D:\E2007SP3`, Options: options()}
	for _, m := range mods {
		m(&r)
	}
	return r
}

func ruRequest(rollup int, mods ...func(*UpdateRollupRequest)) UpdateRollupRequest {
	r := UpdateRollupRequest{Server: "EX01", ServicePack: -1, Rollup: rollup, PackagePath: `\\files\exchange\ru.msp`, Options: options()}
	for _, m := range mods {
		m(&r)
	}
	return r
}

// mustPlan(t)(PlanX(...)) is the plan, failing the test on a refusal.
func mustPlan(t *testing.T) func(Plan, error) Plan {
	return func(p Plan, err error) Plan {
		t.Helper()
		if err != nil {
			t.Fatalf("unexpected refusal:\n%v", err)
		}
		return p
	}
}

func wantActions(t *testing.T, p Plan, want ...string) {
	t.Helper()
	if got := p.Actions(); !reflect.DeepEqual(got, want) {
		t.Fatalf("actions:\n got  %v\n want %v\nsteps:%s", got, want, stepList(p))
	}
}

func stepList(p Plan) string {
	var b strings.Builder
	for i, s := range p.Steps {
		fmt.Fprintf(&b, "\n  %d. %s: %s", i+1, s.Action(), s.Description)
	}
	return b.String()
}

// step returns the nth step with action (0-based among those with that action).
func step(t *testing.T, p Plan, action string, nth int) Step {
	t.Helper()
	for _, s := range p.Steps {
		if s.Action() == action {
			if nth == 0 {
				return s
			}
			nth--
		}
	}
	t.Fatalf("no %s step #%d in%s", action, nth, stepList(p))
	return Step{}
}

func wantContains(t *testing.T, what, s string, fragments ...string) {
	t.Helper()
	for _, frag := range fragments {
		if !strings.Contains(s, frag) {
			t.Errorf("%s %q does not contain %q", what, s, frag)
		}
	}
}

func wantWarning(t *testing.T, p Plan, fragments ...string) {
	t.Helper()
	for _, w := range p.Warnings {
		ok := true
		for _, frag := range fragments {
			ok = ok && strings.Contains(w, frag)
		}
		if ok {
			return
		}
	}
	t.Errorf("no warning contains %q; warnings:\n  %s", fragments, strings.Join(p.Warnings, "\n  "))
}

func refusals(t *testing.T, err error) Refusals {
	t.Helper()
	var rs Refusals
	if !errors.As(err, &rs) {
		t.Fatalf("error %v (%T) is not Refusals", err, err)
	}
	return rs
}

func TestPlanServicePack2007FullProcedure(t *testing.T) {
	f := server("2007", "8.0.685.24", func(f *Facts) {
		f.Roles = []string{"Mailbox", "UnifiedMessaging"}
		f.PendingReboot = []string{"PendingFileRenameOperations"}
		f.UpdateRollups = []InstalledUpdate{{KB: "KB940006", DisplayName: "Update Rollup 4 for Exchange Server 2007 (KB940006)", PatchCode: "{RU4}"}}
		f.InterimUpdates = []InstalledUpdate{{KB: "KB111111", DisplayName: "Interim Update for Exchange Server 2007 (KB111111)", PatchCode: "{IU1}"}}
		f.UMLanguagePacks = []string{"de-DE"}
		f.ThirdPartyServices = []ServiceFacts{
			{Name: "BackupExecAgentAccelerator", State: "Running", StartMode: "Auto"},
			{Name: "ScanMail", State: "Running", StartMode: "Auto"},
			{Name: "SNMP", State: "Stopped", StartMode: "Manual"},
		}
		f.InternetAccess = false
		f.OWALogonCustomized = true
		rsb := true
		f.RemoteStreamingBackup = &rsb
	})
	r := spRequest(3, func(r *ServicePackRequest) {
		r.RemoveInterimUpdates = []string{"KB111111"}
		r.UMLanguagePackPath = `D:\E2007SP3\UM`
	})
	p := mustPlan(t)(PlanServicePack(f, r, DefaultCatalog()))

	wantActions(t, p,
		ActionPreflight,                // 0. media, UM folder: before anything changes, the reboot too
		ActionReboot,                   // 1. pending reboot first
		ActionVerifyBackups,            // 2.
		ActionSaveCustomizations,       // 3.
		ActionRemoveInterimUpdate,      // 4.
		ActionRemoveUMLanguagePack,     // 5.
		ActionStopService,              // 6. BackupExec
		ActionStopService,              // 6. ScanMail (SNMP is not running)
		ActionDisableRevocationCheck,   // 7.
		ActionInstallServicePack,       // 8.
		ActionReboot,                   // 9.
		ActionStartExchangeServices,    // 10.
		ActionRestoreCustomizations,    // 11.
		ActionAddUMLanguagePack,        // 12.
		ActionEnableRevocationCheck,    // 13.
		ActionStartService,             // 14. ScanMail
		ActionStartService,             // 14. BackupExec
		ActionSetRemoteStreamingBackup, // 15.
		ActionVerifyBuild,              // 16.
	)
	for _, s := range p.Steps {
		if s.Server != "EX01" {
			t.Errorf("step %s on server %q", s.Action(), s.Server)
		}
		if s.Reboot != (s.Action() == ActionReboot) {
			t.Errorf("step %s: Reboot = %v", s.Action(), s.Reboot)
		}
		downtime := map[string]bool{ActionReboot: true, ActionRemoveInterimUpdate: true, ActionRemoveUMLanguagePack: true,
			ActionInstallServicePack: true, ActionAddUMLanguagePack: true}[s.Action()]
		if s.Downtime != downtime {
			t.Errorf("step %s: Downtime = %v, want %v", s.Action(), s.Downtime, downtime)
		}
	}

	// The preflight checks the media and the UM folder before anything, the pending
	// reboot included; it changes nothing.
	pf := p.Steps[0]
	if want := map[string]string{"media_path": `D:\E2007SP3`, "um_language_pack_path": `D:\E2007SP3\UM`}; !reflect.DeepEqual(pf.Params(), want) {
		t.Errorf("preflight params %v, want %v", pf.Params(), want)
	}
	if k, _ := pf.Kind.(Preflight); len(k.Checks) != 3 || k.Checks[0].Action != ActionRemoveUMLanguagePack ||
		k.Checks[1].Action != ActionInstallServicePack || k.Checks[1].JobID != "install_service_pack-8.3.83.6" || k.Checks[2].Action != ActionAddUMLanguagePack {
		t.Errorf("preflight checks %+v: want the UM removal, the service pack and the UM addition, by their job ids", pf.Kind)
	}
	wantContains(t, "preflight", pf.Description, `media_path D:\E2007SP3`, "before anything changes", "stops the apply with nothing changed")
	first := p.Steps[1]
	wantContains(t, "first reboot", first.Description, "reboot first: a reboot is pending (PendingFileRenameOperations)")
	if first.Params()["when"] != "always" {
		t.Errorf("first reboot params %v", first.Params())
	}
	wantContains(t, "verify_backups", step(t, p, ActionVerifyBackups, 0).Description,
		"younger than 1d", "younger than 7d", "oldest database backup Public Folder Database", "newest Mailbox Database", "system state at 2024-04-30 06:00 UTC")
	wantContains(t, "save_customizations", step(t, p, ActionSaveCustomizations, 0).Description, "Logon.aspx aside")
	iu := step(t, p, ActionRemoveInterimUpdate, 0)
	if iu.Params()["kb"] != "KB111111" || iu.Params()["patch_code"] != "{IU1}" {
		t.Errorf("remove_interim_update params %v", iu.Params())
	}
	um := step(t, p, ActionRemoveUMLanguagePack, 0)
	wantContains(t, "remove_um_language_pack", um.Description, `Setup.com /RemoveUmLanguagePack:de-DE /s:D:\E2007SP3\UM`)
	if um.Params()["language"] != "de-DE" || um.Params()["path"] != `D:\E2007SP3\UM` {
		t.Errorf("remove_um_language_pack params %v", um.Params())
	}
	if s := step(t, p, ActionStopService, 0); s.Params()["service"] != "BackupExecAgentAccelerator" {
		t.Errorf("first stop_service %v", s.Params())
	}
	if s := step(t, p, ActionStartService, 0); s.Params()["service"] != "ScanMail" {
		t.Errorf("first start_service %v: services start in reverse order", s.Params())
	}
	wantContains(t, "disable_revocation_check", step(t, p, ActionDisableRevocationCheck, 0).Description, "no internet access", "minutes per file")
	sp := step(t, p, ActionInstallServicePack, 0)
	wantContains(t, "install_service_pack", sp.Description, `Setup.com /mode:upgrade from D:\E2007SP3 (Exchange 2007 SP3, 8.3.83.6)`)
	if want := map[string]string{"service_pack": "3", "media_path": `D:\E2007SP3`, "build": "8.3.83.6"}; !reflect.DeepEqual(sp.Params(), want) {
		t.Errorf("install_service_pack params %v, want %v", sp.Params(), want)
	}
	if JobID(sp) != "install_service_pack-8.3.83.6" {
		t.Errorf("JobID = %s", JobID(sp))
	}
	if s := step(t, p, ActionReboot, 1); s.Params()["when"] != "always" {
		t.Errorf("reboot after the SP: %v", s.Params())
	}
	wantContains(t, "start_exchange_services", step(t, p, ActionStartExchangeServices, 0).Description, "Disabled back to Automatic")
	wantContains(t, "add_um_language_pack", step(t, p, ActionAddUMLanguagePack, 0).Description, `Setup.com /AddUmLanguagePack:de-DE /s:D:\E2007SP3\UM`)
	wantContains(t, "set_remote_streaming_backup", step(t, p, ActionSetRemoteStreamingBackup, 0).Description, "Enable Remote Streaming Backup = 1")
	if s := step(t, p, ActionVerifyBuild, 0); s.Params()["build"] != "8.3.83.6" {
		t.Errorf("verify_build params %v", s.Params())
	}

	wantWarning(t, p, "rollup level starts again from zero", "Update Rollup 23 (8.3.517.0)")
	wantWarning(t, p, "Exchange Trusted Subsystem")
	wantWarning(t, p, "Exchange 2003 server", "SP2")
	wantWarning(t, p, "globalcfg.xml")
	for _, w := range p.Warnings {
		if strings.Contains(w, "PrepareAD") || strings.Contains(w, "new full backup") {
			t.Errorf("warning %q does not apply to Exchange 2007 SP3", w)
		}
	}

	if p.Target.Level != (Level{Product: "2007", ServicePack: 3}) || p.Target.Build.String() != "8.3.83.6" {
		t.Errorf("Target = %v %v", p.Target, p.Target.Build)
	}
	a := p.After
	if a.Build != "8.3.83.6" || len(a.UpdateRollups) != 0 || len(a.InterimUpdates) != 0 || len(a.PendingReboot) != 0 || a.Setup.Running {
		t.Errorf("After = build %s, rollups %v, interim %v, pending %v, running %v", a.Build, a.UpdateRollups, a.InterimUpdates, a.PendingReboot, a.Setup.Running)
	}
	if !reflect.DeepEqual(a.UMLanguagePacks, f.UMLanguagePacks) || !reflect.DeepEqual(a.ThirdPartyServices, f.ThirdPartyServices) {
		t.Errorf("After changed UM packs or services")
	}
	if len(f.InterimUpdates) != 1 || f.Build != "8.0.685.24" {
		t.Errorf("the planner changed its input facts")
	}

	// The projected facts plan the newest rollup next, as the provider does when an
	// update rollup references the service pack.
	ru := mustPlan(t)(PlanUpdateRollup(p.After, ruRequest(0, func(r *UpdateRollupRequest) { r.Latest = true; r.ServicePack = 3 }), DefaultCatalog()))
	if s := step(t, ru, ActionInstallUpdateRollup, 0); s.Params()["rollup"] != "23" {
		t.Errorf("rollup after the SP: %v", s.Params())
	}
}

func TestPlanServicePackSP1Warnings(t *testing.T) {
	p := mustPlan(t)(PlanServicePack(server("2007", "8.0.813.0"), spRequest(1), DefaultCatalog()))
	wantWarning(t, p, "PrepareAD", "PrepareDomain", "split administration")
	wantWarning(t, p, "Update Rollup 10 (8.1.436.0)")
	for _, w := range p.Warnings {
		if strings.Contains(w, "Trusted Subsystem") {
			t.Errorf("SP1 warns %q", w)
		}
	}
}

func TestPlanServicePack2003(t *testing.T) {
	f := server("2003", "6.5.7226", func(f *Facts) {
		f.Roles = []string{"BackEnd"}
		f.InterimUpdates = []InstalledUpdate{{KB: "KB898060", DisplayName: "Hotfix for Exchange Server 2003 (KB898060)"}}
		f.ThirdPartyServices = []ServiceFacts{{Name: "SAVFMSESrv", State: "Running"}}
		f.InternetAccess = false // the CRL wait is an Exchange 2007 setup problem
		f.Prerequisites = PrerequisiteFacts{DotNet20ServicePack: -1, LocalAdministrator: true}
	})
	p := mustPlan(t)(PlanServicePack(f, spRequest(2, func(r *ServicePackRequest) { r.MediaPath = `E:\E2K3SP2` }), DefaultCatalog()))
	wantActions(t, p, ActionPreflight, ActionVerifyBackups, ActionStopService, ActionInstallServicePack, ActionReboot,
		ActionStartExchangeServices, ActionStartService, ActionVerifyBuild)
	wantContains(t, "install_service_pack", step(t, p, ActionInstallServicePack, 0).Description,
		`service pack installer (update.exe) from E:\E2K3SP2 (Exchange 2003 SP2, 6.5.7638)`)
	if s := step(t, p, ActionVerifyBuild, 0); s.Params()["build"] != "6.5.7638" {
		t.Errorf("verify_build %v", s.Params())
	}
	wantWarning(t, p, "take a new full backup after the service pack", "cannot be restored")
	wantWarning(t, p, "Active Directory Connector", `ADC\I386`)
	wantWarning(t, p, "hotfix KB898060")
	for _, w := range p.Warnings {
		if strings.Contains(w, "rollup") {
			t.Errorf("2003 warns about rollups: %q", w)
		}
	}
	if len(p.After.InterimUpdates) != 1 || p.After.Build != "6.5.7638" {
		t.Errorf("After: %+v", p.After)
	}
}

func TestPlanServicePack55(t *testing.T) {
	f := server("5.5", "5.5.2650")
	p := mustPlan(t)(PlanServicePack(f, spRequest(4), DefaultCatalog()))
	wantWarning(t, p, "Performance Optimizer")
	wantWarning(t, p, "new full backup")
}

func TestPlanUpdateRollupInstall(t *testing.T) {
	for _, tc := range []struct {
		name      string
		facts     Facts
		req       UpdateRollupRequest
		actions   []string
		params    map[string]string
		desc      []string
		warnings  [][]string
		afterRUs  int
		targetLvl Level
	}{
		{
			name: "SP3 RU5 to latest",
			facts: server("2007", "8.3.213.1", func(f *Facts) {
				f.UpdateRollups = []InstalledUpdate{{KB: "KB2503296", DisplayName: "Update Rollup 5 for Exchange Server 2007 Service Pack 3 (KB2503296)"}}
			}),
			req: ruRequest(0, func(r *UpdateRollupRequest) {
				r.Latest = true
				r.PackagePath = `\\files\e2007\SP3RU23.msp`
			}),
			actions:  []string{ActionPreflight, ActionVerifyBackups, ActionInstallUpdateRollup, ActionReboot, ActionStartExchangeServices, ActionVerifyBuild},
			params:   map[string]string{"rollup": "23", "package_path": `\\files\e2007\SP3RU23.msp`, "build": "8.3.517.0", "kb": "KB4011325"},
			desc:     []string{`install Update Rollup 23 for Exchange 2007 SP3 (KB4011325) from \\files\e2007\SP3RU23.msp, silently`},
			afterRUs: 2, targetLvl: Level{Product: "2007", ServicePack: 3, UpdateRollup: 23},
		},
		{
			// RTM RU6: no public build table states its KB.
			name:     "RTM RU6, a rollup whose KB the catalog does not know",
			facts:    server("2007", "8.0.685.24"),
			req:      ruRequest(6, func(r *UpdateRollupRequest) { r.ServicePack = 0 }),
			actions:  []string{ActionPreflight, ActionVerifyBackups, ActionInstallUpdateRollup, ActionReboot, ActionStartExchangeServices, ActionVerifyBuild},
			params:   map[string]string{"rollup": "6", "package_path": `\\files\exchange\ru.msp`, "build": "8.0.783.2", "kb": ""},
			desc:     []string{"install Update Rollup 6 for Exchange 2007 RTM from"},
			warnings: [][]string{{"Update Rollup 6 is not the newest rollup for RTM", "Update Rollup 7 (8.0.813.0)"}},
			afterRUs: 1, targetLvl: Level{Product: "2007", ServicePack: 0, UpdateRollup: 6},
		},
		{
			name:     "re-release 8-v3",
			facts:    server("2007", "8.3.264.0"),
			req:      ruRequest(8, func(r *UpdateRollupRequest) { r.ReRelease = 3 }),
			actions:  []string{ActionPreflight, ActionVerifyBackups, ActionInstallUpdateRollup, ActionReboot, ActionStartExchangeServices, ActionVerifyBuild},
			params:   map[string]string{"rollup": "8-v3", "package_path": `\\files\exchange\ru.msp`, "build": "8.3.279.6", "kb": "KB2778154"},
			desc:     []string{"Update Rollup 8 (re-release v3) for Exchange 2007 SP3"},
			afterRUs: 1, targetLvl: Level{Product: "2007", ServicePack: 3, UpdateRollup: 8, ReRelease: 3},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustPlan(t)(PlanUpdateRollup(tc.facts, tc.req, DefaultCatalog()))
			wantActions(t, p, tc.actions...)
			s := step(t, p, ActionInstallUpdateRollup, 0)
			if !reflect.DeepEqual(s.Params(), tc.params) {
				t.Errorf("params %v, want %v", s.Params(), tc.params)
			}
			wantContains(t, "install_update_rollup", s.Description, tc.desc...)
			if r := step(t, p, ActionReboot, 0); r.Params()["when"] != "if_required" {
				t.Errorf("reboot %v", r.Params())
			}
			wantContains(t, "reboot", step(t, p, ActionReboot, 0).Description, "reboot if the installer asks for it")
			for _, w := range tc.warnings {
				wantWarning(t, p, w...)
			}
			if p.Target.Level != tc.targetLvl || p.After.Build != p.Target.Build.String() || len(p.After.UpdateRollups) != tc.afterRUs {
				t.Errorf("Target %v, After build %s rollups %v", p.Target, p.After.Build, p.After.UpdateRollups)
			}
			last := p.After.UpdateRollups[len(p.After.UpdateRollups)-1]
			if got, _ := (&planning{cat: DefaultCatalog()}).installedRollupLevel(last); got != tc.targetLvl {
				t.Errorf("After's new rollup entry %+v reads as %v", last, got)
			}
		})
	}
}

func TestPlanUpdateRollupLowering(t *testing.T) {
	installed := []InstalledUpdate{
		{KB: "KB2000021", DisplayName: "Update Rollup 21 for Exchange Server 2007 Service Pack 3 (KB2000021)", PatchCode: "{P21}"},
		{KB: "KB2000023", DisplayName: "Update Rollup 23 for Exchange Server 2007 Service Pack 3 (KB2000023)", PatchCode: "{P23}"},
		{KB: "KB2000022", DisplayName: "Update Rollup 22 for Exchange Server 2007 Service Pack 3 (KB2000022)", PatchCode: "{P22}"},
	}
	for _, tc := range []struct {
		name      string
		installed []InstalledUpdate
		rollup    int
		actions   []string
		uninstall []map[string]string
		install   string // rollup param of the install, "" for none
		afterRUs  []string
	}{
		{
			name: "down to a rollup still installed", installed: installed, rollup: 21,
			actions: []string{ActionVerifyBackups, ActionUninstallUpdateRollup, ActionUninstallUpdateRollup, ActionReboot, ActionStartExchangeServices, ActionVerifyBuild},
			uninstall: []map[string]string{
				{"kb": "KB2000023", "patch_code": "{P23}", "build": "8.3.502.0"},
				{"kb": "KB2000022", "patch_code": "{P22}", "build": "8.3.485.1"},
			},
			afterRUs: []string{"KB2000021"},
		},
		{
			name: "down to a rollup not installed", installed: installed[1:2], rollup: 5,
			actions: []string{ActionPreflight, ActionVerifyBackups, ActionUninstallUpdateRollup, ActionInstallUpdateRollup, ActionReboot, ActionStartExchangeServices, ActionVerifyBuild},
			uninstall: []map[string]string{
				{"kb": "KB2000023", "patch_code": "{P23}", "build": "8.3.83.6"},
			},
			install:  "5",
			afterRUs: []string{"KB2602324"}, // the catalog's KB of SP3 RU5
		},
		{
			name: "every rollup removed (rollup 0, as on destroy)", installed: installed, rollup: 0,
			actions: []string{ActionVerifyBackups, ActionUninstallUpdateRollup, ActionUninstallUpdateRollup, ActionUninstallUpdateRollup, ActionReboot, ActionStartExchangeServices, ActionVerifyBuild},
			uninstall: []map[string]string{
				{"kb": "KB2000023", "patch_code": "{P23}", "build": "8.3.502.0"},
				{"kb": "KB2000022", "patch_code": "{P22}", "build": "8.3.485.1"},
				{"kb": "KB2000021", "patch_code": "{P21}", "build": "8.3.83.6"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := server("2007", "8.3.517.0", func(f *Facts) { f.UpdateRollups = tc.installed })
			p := mustPlan(t)(PlanUpdateRollup(f, ruRequest(tc.rollup), DefaultCatalog()))
			wantActions(t, p, tc.actions...)
			for i, want := range tc.uninstall {
				s := step(t, p, ActionUninstallUpdateRollup, i)
				if !reflect.DeepEqual(s.Params(), want) {
					t.Errorf("uninstall #%d params %v, want %v", i, s.Params(), want)
				}
			}
			wantContains(t, "first uninstall", step(t, p, ActionUninstallUpdateRollup, 0).Description,
				"uninstall Update Rollup 23 for Exchange 2007 SP3 (KB2000023)", "the server returns to")
			if tc.install != "" {
				if s := step(t, p, ActionInstallUpdateRollup, 0); s.Params()["rollup"] != tc.install {
					t.Errorf("install %v", s.Params())
				}
			}
			var kbs []string
			for _, u := range p.After.UpdateRollups {
				kbs = append(kbs, u.KB)
			}
			if !reflect.DeepEqual(kbs, tc.afterRUs) {
				t.Errorf("After rollups %v, want %v", kbs, tc.afterRUs)
			}
			if want := step(t, p, ActionVerifyBuild, 0).Params()["build"]; p.After.Build != want {
				t.Errorf("After build %s, verify_build %s", p.After.Build, want)
			}
		})
	}
}

// hasRefusal reports whether rs holds a refusal on field whose problem and action
// together contain every fragment.
func hasRefusal(rs Refusals, field Field, fragments ...string) bool {
	for _, r := range rs {
		if r.Field != field {
			continue
		}
		// Case-insensitive: an action starts a sentence ("Add ...").
		text := strings.ToLower(r.Problem + " | " + r.Action)
		ok := true
		for _, frag := range fragments {
			ok = ok && strings.Contains(text, strings.ToLower(frag))
		}
		if ok {
			return true
		}
	}
	return false
}

func TestRefusals(t *testing.T) {
	sp3 := func(f Facts) (Plan, error) { return PlanServicePack(f, spRequest(3), DefaultCatalog()) }
	ru := func(mods ...func(*UpdateRollupRequest)) func(Facts) (Plan, error) {
		return func(f Facts) (Plan, error) { return PlanUpdateRollup(f, ruRequest(23, mods...), DefaultCatalog()) }
	}
	spWith := func(sp int, mods ...func(*ServicePackRequest)) func(Facts) (Plan, error) {
		return func(f Facts) (Plan, error) { return PlanServicePack(f, spRequest(sp, mods...), DefaultCatalog()) }
	}
	rtm := "8.0.685.24"
	for _, tc := range []struct {
		name      string
		facts     Facts
		plan      func(Facts) (Plan, error)
		attribute Field
		fragments []string
	}{
		{"SP downgrade", server("2007", "8.3.517.0"), spWith(2), FieldServicePack,
			[]string{"below the live level Exchange 2007 SP3 Update Rollup 23", "cannot be uninstalled", "service_pack = 3", "restoring the databases from backup"}},
		{"SP the catalog does not know", server("2007", rtm), spWith(4), FieldServicePack,
			[]string{"no SP4", "RTM, SP1, SP2, SP3"}},
		{"rollup on Exchange 2003", server("2003", "6.5.7638"), ru(), FieldRollup,
			[]string{"Exchange 2003", "interim updates", "exchange_interim_update"}},
		{"rollup for a higher SP than the server runs", server("2007", "8.2.176.2"), ru(func(r *UpdateRollupRequest) { r.ServicePack = 3 }), FieldServicePack,
			[]string{"for Exchange 2007 SP3", "runs SP2", "must be installed first", "exchange_service_pack"}},
		{"rollup for a lower SP than the server runs", server("2007", "8.3.83.6"), ru(func(r *UpdateRollupRequest) { r.ServicePack = 1; r.Rollup = 9 }), FieldServicePack,
			[]string{"for Exchange 2007 SP1", "runs SP3", "Update Rollup 23 (8.3.517.0)"}},
		{"rollup the catalog does not have", server("2007", "8.2.176.2"), ru(func(r *UpdateRollupRequest) { r.Rollup = 9 }), FieldRollup,
			[]string{"SP2 has no Update Rollup 9", "1, 2, 3, 4, 5"}},
		{"live build not in the catalog", server("2007", "8.3.300.1"), ru(), "",
			[]string{"8.3.300.1 is not in the catalog", "nearest known release below it is Exchange 2007 SP3 Update Rollup 10, 8.3.298.3", "cannot be told"}},
		{"KB contradicting the catalog", server("2007", "8.0.744.0"), ru(func(r *UpdateRollupRequest) { r.ServicePack = 0; r.Rollup = 7; r.KB = "KB1111" }), FieldKB,
			[]string{"KB953469"}},
		{"setup watermark", server("2007", rtm, func(f *Facts) {
			f.Setup.Watermarks = []SetupWatermark{{Role: "MailboxRole", Action: "BuildToBuildUpgrade", Watermark: "Microsoft.Exchange.Management.Deployment.InstallMsiComponent"}}
		}), sp3, FieldClearSetupWatermark, []string{"MailboxRole", `Action = "BuildToBuildUpgrade"`, "Watermark = ", "refuses to start again while they exist", "Make sure no Exchange setup runs",
			`export the key HKLM\SOFTWARE\Microsoft\Exchange\v8.0\MailboxRole to a file`, "delete its Action and Watermark values", "then plan again, and the plan runs setup"}},
		{"setup running that is not ours", server("2007", rtm, func(f *Facts) { f.Setup.Running = true }), sp3, "",
			[]string{"did not start is running", "wait for it"}},
		{"stale CMS key", server("2007", rtm, func(f *Facts) { f.Setup.StaleCMSKey = true }), sp3, "",
			[]string{"/upgradeCMS was forgotten"}},
		{"clustered server", server("2007", rtm, func(f *Facts) {
			f.Cluster = &ClusterFacts{Name: "CMS01", Type: "ccr", Nodes: []string{"EX01", "EX02"}, ActiveNode: "EX02"}
		}), sp3, "", []string{"passive node of cluster CMS01", "exchange_cluster_upgrade's job"}},
		{"interim update not allowed", server("2007", rtm, func(f *Facts) {
			f.InterimUpdates = []InstalledUpdate{{KB: "KB222222", DisplayName: "Interim Update for Exchange Server 2007 (KB222222)"}}
		}), sp3, FieldRemoveInterimUpdates, []string{"KB222222", "must be removed before Exchange 2007 SP3", `add "KB222222" to remove_interim_updates`, "replacement interim update"}},
		{"interim update blocks a rollup too", server("2007", "8.3.213.1", func(f *Facts) {
			f.InterimUpdates = []InstalledUpdate{{KB: "KB222222"}}
		}), ru(), FieldRemoveInterimUpdates, []string{"KB222222", "Update Rollup 23"}},
		{"Windows Installer below 4.5 for SP2 and later", server("2007", "8.1.240.6", func(f *Facts) { f.Prerequisites.WindowsInstaller = "3.1.4000.2435" }), sp3, "",
			[]string{"3.1.4000.2435", "Windows Installer 4.5"}},
		{".NET 2.0 without SP1", server("2007", rtm, func(f *Facts) { f.Prerequisites.DotNet20ServicePack = 0 }), sp3, "",
			[]string{".NET Framework 2.0 SP1"}},
		{"Windows Server 2003 SP1", server("2007", rtm, func(f *Facts) { f.OS.ServicePack = 1 }), sp3, "",
			[]string{"Windows Server 2003 SP1", "install Windows Server 2003 SP2"}},
		{"time-zone update missing", server("2007", rtm, func(f *Facts) { f.Prerequisites.TimeZoneUpdate931836 = false }), sp3, "",
			[]string{"931836"}},
		{"FQDN not set", server("2007", rtm, func(f *Facts) { f.Prerequisites.FQDNSet = false }), sp3, "",
			[]string{"fully qualified domain name is not set", "primary DNS suffix"}},
		{"single-label domain", server("2007", rtm, func(f *Facts) { f.Prerequisites.SingleLabelDomain = true }), sp3, "",
			[]string{"single-label DNS name"}},
		{"not a local administrator", server("2003", "6.5.7226", func(f *Facts) { f.Prerequisites.LocalAdministrator = false }), spWith(2), "",
			[]string{"not a local administrator", "local Administrators group"}},
		{"database never backed up", server("2007", rtm, func(f *Facts) { f.Backups.Databases[1].LastFull = nil }), sp3, FieldBackup,
			[]string{`database "Public Folder Database" has never had a full backup`, "take a full backup"}},
		{"database backup too old", server("2007", rtm, func(f *Facts) { f.Backups.Databases[0].LastFull = ago(3*day + 4*time.Hour) }), sp3, FieldBackup,
			[]string{`the last full backup of database "Mailbox Database" is 3d 4h old (2024-04-29 02:00 UTC, read from the server: Get-MailboxDatabase -Status, LastFullBackup), older than the 1d allowed`}},
		{"no system-state backup", server("2007", rtm, func(f *Facts) { f.Backups.SystemState = nil }), sp3, FieldBackup,
			[]string{"no system-state backup"}},
		{"system state too old", server("2007", rtm, func(f *Facts) { f.Backups.SystemState = ago(9 * day) }), sp3, FieldBackup,
			[]string{"system-state backup is 9d old", "older than the 7d allowed"}},
		{"media path missing", server("2007", rtm), spWith(3, func(r *ServicePackRequest) { r.MediaPath = "" }), FieldMediaPath,
			[]string{"media_path is not set", "Exchange 2007 SP3"}},
		{"package path missing", server("2007", "8.3.83.6"), ru(func(r *UpdateRollupRequest) { r.PackagePath = "" }), FieldPackagePath,
			[]string{"package_path is not set", "Update Rollup 23"}},
		{"interim update package path missing", server("2007", "8.3.83.6"), func(f Facts) (Plan, error) {
			return PlanInterimUpdate(f, InterimUpdateRequest{KB: "KB333333", Present: true, Options: options()}, DefaultCatalog())
		}, FieldPackagePath, []string{"package_path is not set", "interim update KB333333"}},
		{"UM language packs without a path", server("2007", rtm, func(f *Facts) { f.UMLanguagePacks = []string{"de-DE", "fr-FR"} }), sp3, FieldUMLanguagePackPath,
			[]string{"de-DE, fr-FR", "um_language_pack_path"}},
		{"unknown service to stop", server("2007", rtm, func(f *Facts) {
			f.ThirdPartyServices = []ServiceFacts{{Name: "BackupExecAgentAccelerator", State: "Running"}}
		}), spWith(3, func(r *ServicePackRequest) { r.StopServices = []string{"NoSuchService"} }), FieldStopServices,
			[]string{`"NoSuchService"`, "BackupExecAgentAccelerator"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tc.plan(tc.facts)
			if err == nil {
				t.Fatalf("planned instead of refusing:%s", stepList(p))
			}
			rs := refusals(t, err)
			if !hasRefusal(rs, tc.attribute, tc.fragments...) {
				t.Errorf("no refusal on %q containing %q in:\n%v", tc.attribute, tc.fragments, err)
			}
			for _, r := range rs {
				if r.Server != "EX01" || r.Problem == "" || r.Action == "" {
					t.Errorf("incomplete refusal %+v", r)
				}
			}
			if !p.Empty() {
				t.Errorf("a refused plan has steps")
			}
		})
	}
}

func TestRefusalsAreCollected(t *testing.T) {
	f := server("2007", "8.1.240.6", func(f *Facts) {
		f.Setup.Watermarks = []SetupWatermark{{Role: "HubTransportRole", Action: SetupActionUpgrade, Watermark: "x"}}
		f.Backups.Databases[0].LastFull = ago(2 * day)
		f.Backups.SystemState = nil
		f.InterimUpdates = []InstalledUpdate{{KB: "KB444444"}}
		f.Prerequisites.WindowsInstaller = "3.1"
	})
	_, err := PlanServicePack(f, spRequest(3, func(r *ServicePackRequest) { r.MediaPath = "" }), DefaultCatalog())
	rs := refusals(t, err)
	var attrs []Field
	for _, r := range rs {
		attrs = append(attrs, r.Field)
	}
	for _, want := range []struct {
		attr Field
		frag string
	}{
		{FieldClearSetupWatermark, "HubTransportRole"},
		{"", "Windows Installer 4.5"},
		{FieldRemoveInterimUpdates, "KB444444"},
		{FieldBackup, "Mailbox Database"},
		{FieldBackup, "no system-state backup"},
		{FieldMediaPath, "media_path is not set"},
	} {
		if !hasRefusal(rs, want.attr, want.frag) {
			t.Errorf("missing refusal %q on %q; got attributes %q:\n%v", want.frag, want.attr, attrs, err)
		}
	}
	if len(rs) != 6 {
		t.Errorf("%d refusals, want 6:\n%v", len(rs), err)
	}
	if !strings.Contains(err.Error(), "server EX01: ") || strings.Count(err.Error(), "\n") != 5 {
		t.Errorf("Error() does not list every refusal on its own line:\n%v", err)
	}
}

func TestWaivedBackup(t *testing.T) {
	f := server("2007", "8.3.83.6", func(f *Facts) {
		f.Backups.Databases[0].LastFull = nil
		f.Backups.SystemState = nil
	})
	r := ruRequest(23, func(r *UpdateRollupRequest) { r.Backup.WaiverReason = "backup agent broken, approved in CHG-1234" })
	p := mustPlan(t)(PlanUpdateRollup(f, r, DefaultCatalog()))
	s := step(t, p, ActionVerifyBackups, 0)
	if s.Description != "backup check waived: backup agent broken, approved in CHG-1234" {
		t.Errorf("verify_backups: %q", s.Description)
	}
	if s.Params()["waiver_reason"] != "backup agent broken, approved in CHG-1234" {
		t.Errorf("verify_backups params %v", s.Params())
	}
	wantWarning(t, p, "waived", "backup agent broken, approved in CHG-1234")
}

func TestNoBackupLimits(t *testing.T) {
	f := server("2007", "8.3.83.6", func(f *Facts) { f.Backups = BackupFacts{} })
	r := ruRequest(23, func(r *UpdateRollupRequest) { r.Backup = BackupPolicy{} })
	p := mustPlan(t)(PlanUpdateRollup(f, r, DefaultCatalog()))
	wantContains(t, "verify_backups", step(t, p, ActionVerifyBackups, 0).Description, "not checked")
	wantWarning(t, p, "no maximum backup age")
}

func TestAttachToRunningJob(t *testing.T) {
	started := time.Date(2024, 5, 2, 5, 12, 0, 0, time.UTC)
	f := server("2007", "8.2.176.2", func(f *Facts) {
		// While our setup runs, its process, watermark and pending renames are expected.
		f.Setup.Running = true
		f.Setup.Watermarks = []SetupWatermark{{Role: "MailboxRole", Action: "BuildToBuildUpgrade", Watermark: "x"}}
		f.PendingReboot = []string{"PendingFileRenameOperations"}
		f.Backups.SystemState = nil // too late to matter: the install runs
		f.Jobs = []Job{{ID: "install_service_pack-8.3.83.6", Action: ActionInstallServicePack, State: JobRunning,
			Started: started, LogPath: `C:\ExchangeSetupLogs\ExchangeSetup.log`}}
	})
	p := mustPlan(t)(PlanServicePack(f, spRequest(3), DefaultCatalog()))
	wantActions(t, p, ActionInstallServicePack, ActionReboot, ActionStartExchangeServices, ActionVerifyBuild)
	s := step(t, p, ActionInstallServicePack, 0)
	wantContains(t, "install_service_pack", s.Description,
		"attach to the running Setup.com /mode:upgrade", "started at 2024-05-02 05:12 UTC", "job install_service_pack-8.3.83.6", "instead of starting it a second time")
	if JobID(s) != f.Jobs[0].ID {
		t.Errorf("JobID %s", JobID(s))
	}
	if s.Params()["build"] != "8.3.83.6" {
		t.Errorf("params %v", s.Params())
	}

	// A finished job is attached to as well; a failed one is planned again, with a warning.
	f.Setup = SetupFacts{}
	f.PendingReboot = nil
	f.Backups.SystemState = ago(day)
	f.Jobs[0].State = JobSucceeded
	p = mustPlan(t)(PlanServicePack(f, spRequest(3), DefaultCatalog()))
	wantContains(t, "install_service_pack", step(t, p, ActionInstallServicePack, 0).Description, "attach to the finished Setup.com /mode:upgrade", "not started again")

	f.Jobs[0].State = JobFailed
	f.Jobs[0].ExitCode = 1603
	f.Jobs[0].Error = "FileInUse: STORE.EXE"
	p = mustPlan(t)(PlanServicePack(f, spRequest(3), DefaultCatalog()))
	wantContains(t, "install_service_pack", step(t, p, ActionInstallServicePack, 0).Description, "run Setup.com /mode:upgrade")
	wantWarning(t, p, "exit code 1603", "FileInUse: STORE.EXE", `log C:\ExchangeSetupLogs\ExchangeSetup.log`, "runs it again")
}

func TestLockWarning(t *testing.T) {
	f := server("2007", "8.3.83.6", func(f *Facts) {
		f.Lock = &Lock{Owner: "terraform-provider-exchange@ci-7", Acquired: now.Add(-time.Hour), Expires: now.Add(time.Hour)}
	})
	p := mustPlan(t)(PlanUpdateRollup(f, ruRequest(23), DefaultCatalog()))
	wantWarning(t, p, "terraform-provider-exchange@ci-7", "until 2024-05-02 07:00 UTC")

	f.Lock.Expires = now.Add(-time.Minute)
	p = mustPlan(t)(PlanUpdateRollup(f, ruRequest(23), DefaultCatalog()))
	for _, w := range p.Warnings {
		if strings.Contains(w, "lock") {
			t.Errorf("expired lock warned: %q", w)
		}
	}
}

func TestEqualLevelIsEmpty(t *testing.T) {
	// Everything that would refuse a change: nothing will be done, so nothing is refused.
	broken := func(f *Facts) {
		f.Backups = BackupFacts{Databases: []DatabaseBackup{{Name: "Mailbox Database"}}}
		f.Setup.Watermarks = []SetupWatermark{{Role: "MailboxRole", Watermark: "x"}}
		f.InterimUpdates = []InstalledUpdate{{KB: "KB555555"}}
		f.Prerequisites = PrerequisiteFacts{}
		f.Cluster = &ClusterFacts{Name: "CMS01", Type: "ccr"}
	}
	f := server("2007", "8.3.517.0", broken)
	// A watermark at the service pack's build is setup left to finish, not nothing to do
	// (TestWatermarkAtTargetBuild).
	noWatermark := f
	noWatermark.Setup.Watermarks = nil
	for name, plan := range map[string]func() (Plan, error){
		"service pack": func() (Plan, error) {
			return PlanServicePack(noWatermark, spRequest(3, func(r *ServicePackRequest) { r.MediaPath = "" }), DefaultCatalog())
		},
		"update rollup": func() (Plan, error) {
			return PlanUpdateRollup(f, ruRequest(23, func(r *UpdateRollupRequest) { r.PackagePath = "" }), DefaultCatalog())
		},
		"latest rollup": func() (Plan, error) {
			return PlanUpdateRollup(f, ruRequest(0, func(r *UpdateRollupRequest) { r.Latest = true }), DefaultCatalog())
		},
		"interim update present": func() (Plan, error) {
			return PlanInterimUpdate(f, InterimUpdateRequest{KB: "kb555555", Present: true, Options: options()}, DefaultCatalog())
		},
		"interim update absent": func() (Plan, error) {
			return PlanInterimUpdate(f, InterimUpdateRequest{KB: "KB666666", Options: options()}, DefaultCatalog())
		},
	} {
		t.Run(name, func(t *testing.T) {
			p, err := plan()
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !p.Empty() || p.Server != "EX01" || p.After.Build != f.Build {
				t.Errorf("plan %+v", p)
			}
		})
	}
}

func TestDowngradeRefusedWhateverElse(t *testing.T) {
	for name, f := range map[string]Facts{
		"healthy": server("2007", "8.3.517.0"),
		"broken otherwise": server("2007", "8.3.517.0", func(f *Facts) {
			f.Backups = BackupFacts{}
			f.Setup.Watermarks = []SetupWatermark{{Role: "MailboxRole", Watermark: "x"}}
			f.InterimUpdates = []InstalledUpdate{{KB: "KB555555"}}
		}),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := PlanServicePack(f, spRequest(2), DefaultCatalog())
			rs := refusals(t, err)
			if len(rs) != 1 || !hasRefusal(rs, FieldServicePack, "cannot be uninstalled") {
				t.Errorf("want only the downgrade refusal, got:\n%v", err)
			}
		})
	}
	// 2003: the live SP comes from the nearest lower release when a hotfix raised the build.
	_, err := PlanServicePack(server("2003", "6.5.7654.4"), spRequest(1), DefaultCatalog())
	if rs := refusals(t, err); !hasRefusal(rs, FieldServicePack, "Exchange 2003 SP2 or a later hotfix build") {
		t.Errorf("2003 downgrade: %v", err)
	}
}

func TestPlanInterimUpdate(t *testing.T) {
	f := server("2007", "8.3.213.1", func(f *Facts) {
		f.InterimUpdates = []InstalledUpdate{{KB: "KB777777", DisplayName: "Interim Update for Exchange Server 2007 (KB777777)", PatchCode: "{IU7}"}}
		f.ThirdPartyServices = []ServiceFacts{{Name: "ScanMail", State: "Running"}}
		f.InternetAccess = false
	})
	p := mustPlan(t)(PlanInterimUpdate(f, InterimUpdateRequest{KB: "KB888888", Present: true, PackagePath: `\\files\iu\KB888888.msp`, Options: options()}, DefaultCatalog()))
	wantActions(t, p, ActionPreflight, ActionVerifyBackups, ActionStopService, ActionDisableRevocationCheck, ActionInstallInterimUpdate, ActionReboot,
		ActionStartExchangeServices, ActionEnableRevocationCheck, ActionStartService)
	s := step(t, p, ActionInstallInterimUpdate, 0)
	if want := map[string]string{"kb": "KB888888", "package_path": `\\files\iu\KB888888.msp`}; !reflect.DeepEqual(s.Params(), want) {
		t.Errorf("params %v", s.Params())
	}
	wantContains(t, "install_interim_update", s.Description, `install interim update KB888888 from \\files\iu\KB888888.msp`)
	wantWarning(t, p, "one exact build", "Exchange 2007 SP3 Update Rollup 5")
	if len(p.After.InterimUpdates) != 2 || p.After.InterimUpdates[1].KB != "KB888888" {
		t.Errorf("After interim updates %v", p.After.InterimUpdates)
	}

	p = mustPlan(t)(PlanInterimUpdate(f, InterimUpdateRequest{KB: "777777", Options: options()}, DefaultCatalog()))
	wantActions(t, p, ActionVerifyBackups, ActionStopService, ActionRemoveInterimUpdate, ActionReboot, ActionStartExchangeServices, ActionStartService)
	if s := step(t, p, ActionRemoveInterimUpdate, 0); s.Params()["kb"] != "KB777777" || s.Params()["patch_code"] != "{IU7}" || JobID(s) != "remove_interim_update-KB777777" {
		t.Errorf("remove params %v", s.Params())
	}
	if len(p.After.InterimUpdates) != 0 {
		t.Errorf("After interim updates %v", p.After.InterimUpdates)
	}

	// A rollup's KB is not an interim update.
	f.UpdateRollups = []InstalledUpdate{{KB: "KB2503296", DisplayName: "Update Rollup 5 for Exchange Server 2007 Service Pack 3 (KB2503296)"}}
	_, err := PlanInterimUpdate(f, InterimUpdateRequest{KB: "KB2503296", Options: options()}, DefaultCatalog())
	if !hasRefusal(refusals(t, err), FieldKB, "exchange_update_rollup") {
		t.Errorf("rollup KB as interim update: %v", err)
	}
}

func TestRevocationModes(t *testing.T) {
	for _, tc := range []struct {
		mode     string
		internet bool
		want     bool
	}{
		{RevocationAuto, false, true},
		{"", false, true},
		{RevocationAuto, true, false},
		{RevocationAlways, true, true},
		{RevocationNever, false, false},
	} {
		f := server("2007", "8.3.83.6", func(f *Facts) { f.InternetAccess = tc.internet })
		p := mustPlan(t)(PlanUpdateRollup(f, ruRequest(23, func(r *UpdateRollupRequest) { r.RevocationCheck = tc.mode }), DefaultCatalog()))
		got := false
		for _, a := range p.Actions() {
			got = got || a == ActionDisableRevocationCheck
		}
		if got != tc.want {
			t.Errorf("mode %q internet %v: disable step %v, want %v", tc.mode, tc.internet, got, tc.want)
		}
	}
	f := server("2007", "8.3.83.6")
	_, err := PlanUpdateRollup(f, ruRequest(23, func(r *UpdateRollupRequest) { r.RevocationCheck = "sometimes" }), DefaultCatalog())
	if rs := refusals(t, err); len(rs) != 1 || !hasRefusal(rs, FieldRevocationCheck, `"sometimes"`) {
		t.Errorf("invalid mode: %v", err)
	}
}

func TestExplicitStopServices(t *testing.T) {
	f := server("2007", "8.3.83.6", func(f *Facts) {
		f.ThirdPartyServices = []ServiceFacts{{Name: "ScanMail", State: "Running"}, {Name: "SNMP", State: "Running"}}
	})
	p := mustPlan(t)(PlanUpdateRollup(f, ruRequest(23, func(r *UpdateRollupRequest) { r.StopServices = []string{"snmp"} }), DefaultCatalog()))
	if s := step(t, p, ActionStopService, 0); s.Params()["service"] != "SNMP" {
		t.Errorf("stop %v", s.Params())
	}
	if n := strings.Count(strings.Join(p.Actions(), " "), ActionStopService); n != 1 {
		t.Errorf("%d stop steps", n)
	}
	p = mustPlan(t)(PlanUpdateRollup(f, ruRequest(23, func(r *UpdateRollupRequest) { r.StopServices = []string{} }), DefaultCatalog()))
	if strings.Contains(strings.Join(p.Actions(), " "), ActionStopService) {
		t.Errorf("an empty stop_services stops services: %v", p.Actions())
	}
}

func TestLiveLevel(t *testing.T) {
	cat := DefaultCatalog()
	for _, tc := range []struct {
		product, build string
		ok             bool
		level          Level
	}{
		{"2007", "8.1.393.1", true, Level{Product: "2007", ServicePack: 1, UpdateRollup: 9}},
		{"2007", "8.0.685.25", true, Level{Product: "2007"}},
		{"2003", "6.5.7638.2", true, Level{Product: "2003", ServicePack: 2}},
		{"2007", "8.1.395.0", false, Level{}},
		{"2003", "8.1.393.1", false, Level{}}, // a build of another product
		{"2007", "", false, Level{}},
	} {
		r, ok := LiveLevel(Facts{Product: tc.product, Build: tc.build}, cat)
		if ok != tc.ok || r.Level != tc.level {
			t.Errorf("LiveLevel(%s %s) = %v, %v", tc.product, tc.build, r.Level, ok)
		}
	}
}

// An apply interrupted mid-install leaves services stopped, customisations aside and the
// revocation check off; the server records it, and the next plan puts it all back — also
// when the install itself has finished meanwhile.
func TestLeftoversOfAnInterruptedApplyArePutBack(t *testing.T) {
	leftovers := func(f *Facts) {
		f.Leftovers = Leftovers{StoppedServices: []string{"BackupExecRPCService"}, SavedCustomizations: true, RevocationCheckOff: true}
	}
	// The service pack finished while nobody watched: only the clean-up is left.
	p := mustPlan(t)(PlanServicePack(server("2007", "8.3.83.6", leftovers), spRequest(3), DefaultCatalog()))
	wantActions(t, p, ActionRestoreCustomizations, ActionEnableRevocationCheck, ActionStartService)
	if s := step(t, p, ActionStartService, 0); s.Params()["service"] != "BackupExecRPCService" || !strings.Contains(s.Description, "interrupted") {
		t.Fatalf("start step: %+v", s)
	}

	// Still to install: the stopped service is not running now, so the plan's own stop list
	// lacks it, and it is started at the end all the same.
	p = mustPlan(t)(PlanServicePack(server("2007", "8.0.685.24", func(f *Facts) {
		f.Leftovers = Leftovers{StoppedServices: []string{"BackupExecRPCService"}}
	}), spRequest(3), DefaultCatalog()))
	if s := step(t, p, ActionStartService, 0); s.Params()["service"] != "BackupExecRPCService" {
		t.Fatalf("leftover service not started: %s", stepList(p))
	}
	if got := p.Actions(); got[len(got)-1] != ActionVerifyBuild {
		t.Fatalf("the build is still read back last: %v", got)
	}

	// Nothing left over and nothing to do: an empty plan.
	p = mustPlan(t)(PlanServicePack(server("2007", "8.3.83.6"), spRequest(3), DefaultCatalog()))
	if !p.Empty() {
		t.Fatalf("nothing to do, yet:%s", stepList(p))
	}
}

func TestRollupBeneath(t *testing.T) {
	rollup := func(ru, sp int) InstalledUpdate {
		return InstalledUpdate{DisplayName: rollupDisplayName(Level{Product: "2007", ServicePack: sp, UpdateRollup: ru}, "")}
	}
	// SP3 RU10 live, RU5 installed before it: destroying the RU10 resource returns to RU5.
	f := server("2007", "8.3.298.3", func(f *Facts) { f.UpdateRollups = []InstalledUpdate{rollup(5, 3), rollup(10, 3)} })
	if ru, rr, ok := RollupBeneath(f, nil); !ok || ru != 5 || rr != 0 {
		t.Fatalf("got %d-v%d %v, want 5", ru, rr, ok)
	}
	// Only the live rollup installed: back to the service pack itself.
	f = server("2007", "8.3.298.3", func(f *Facts) { f.UpdateRollups = []InstalledUpdate{rollup(10, 3)} })
	if ru, _, ok := RollupBeneath(f, nil); !ok || ru != 0 {
		t.Fatalf("got %d %v, want 0", ru, ok)
	}
	// A build between catalog entries: what is installed cannot be told.
	if _, _, ok := RollupBeneath(server("2007", "8.3.299.0"), nil); ok {
		t.Fatal("an inexact build must not be guessed")
	}
}

// The apply stopped after the service pack's installer finished (its job record is still
// on the server, and the UM language pack it removed is not back): the plan continues
// with the rest of the procedure instead of calling the server done.
func TestContinueAfterAnInstallThatFinishedUnwatched(t *testing.T) {
	done := func(id string) Job { return Job{ID: id, State: JobSucceeded, ExitCode: 3010} }
	f := server("2007", "8.3.83.6", func(f *Facts) {
		f.Roles = []string{"Mailbox", "UnifiedMessaging"}
		f.Jobs = []Job{done("remove_um_language_pack-de-DE"), done("install_service_pack-8.3.83.6")}
		f.Leftovers = Leftovers{StoppedServices: []string{"BackupExecRPCService"}, RevocationCheckOff: true}
		f.PendingReboot = []string{"PendingFileRenameOperations"}
	})
	p := mustPlan(t)(PlanServicePack(f, spRequest(3, func(r *ServicePackRequest) { r.UMLanguagePackPath = `D:\UM` }), DefaultCatalog()))
	wantActions(t, p, ActionReboot, ActionStartExchangeServices, ActionAddUMLanguagePack,
		ActionEnableRevocationCheck, ActionStartService, ActionVerifyBuild)
	if s := step(t, p, ActionAddUMLanguagePack, 0); s.Params()["language"] != "de-DE" || s.Params()["path"] != `D:\UM` {
		t.Fatalf("UM language pack step: %+v", s)
	}

	// Without the record (a finished apply cleared it) the same server needs nothing more.
	f.Jobs, f.Leftovers = nil, Leftovers{}
	if p := mustPlan(t)(PlanServicePack(f, spRequest(3), DefaultCatalog())); !p.Empty() {
		t.Fatalf("nothing left to do, yet:%s", stepList(p))
	}
}

// A server whose databases' backups could not be read (no management snap-in, or Exchange
// 2003) is not "a server without databases": the database age check cannot pass on it.
func TestUnreadBackupsAreNotAbsentBackups(t *testing.T) {
	f := server("2007", "8.1.240.6", func(f *Facts) { f.Backups.Databases, f.Backups.DatabasesRead = []DatabaseBackup{}, false })
	_, err := PlanServicePack(f, spRequest(3), DefaultCatalog())
	if err == nil || !strings.Contains(err.Error(), "could not be read") || !strings.Contains(err.Error(), "waiver_reason") {
		t.Fatalf("want a refusal that says the backups could not be read, got %v", err)
	}
	// With a written waiver the plan goes ahead, the reason shown.
	p := mustPlan(t)(PlanServicePack(f, spRequest(3, func(r *ServicePackRequest) {
		r.Backup.WaiverReason = "checked in the backup console, job 4711"
	}), DefaultCatalog()))
	if s := step(t, p, ActionVerifyBackups, 0); !strings.Contains(s.Description, "job 4711") {
		t.Fatalf("waiver not shown: %+v", s)
	}
}
