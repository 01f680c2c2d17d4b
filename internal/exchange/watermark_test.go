package exchange

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

const clearReason = "SP3 setup broke off on 2024-05-01 (power loss), CHG-77"

func interrupted(f *Facts) {
	f.Setup.Watermarks = []SetupWatermark{{Role: "Mailbox", Action: "BuildToBuildUpgrade", Watermark: "InstallFiles"}}
}

func actionsOf(p Plan) []string {
	var out []string
	for _, s := range p.Steps {
		out = append(out, s.Action())
	}
	return out
}

// Without the opt-in the service pack plan is refused on clear_setup_watermark, naming the
// role's key and what to do; running setup again is not the advice (it refuses).
func TestWatermarkRefusedWithoutOptIn(t *testing.T) {
	_, err := PlanServicePack(server("2007", "8.1.240.6", interrupted), spRequest(3), DefaultCatalog())
	rs := refusals(t, err)
	if !hasRefusal(rs, FieldClearSetupWatermark, `HKLM\SOFTWARE\Microsoft\Exchange\v8.0\MailboxRole`,
		`Action = "BuildToBuildUpgrade"`, "setup refuses to start again while they exist",
		"make sure no exchange setup runs", "export the key", "delete its action and watermark values",
		`clear_setup_watermark = { reason = "..." }`) {
		t.Fatalf("no clear_setup_watermark refusal with the advice in:\n%v", err)
	}
	for _, r := range rs {
		if strings.Contains(strings.ToLower(r.Problem+r.Action), "until the values are gone") || strings.Contains(r.Problem+r.Action, "[004]") {
			t.Errorf("refusal gives the old advice or cites a file: %v", r)
		}
	}
}

// With the opt-in, the plan checks no setup runs, exports each role key to a file named in
// the plan, removes only Action and Watermark, and then runs setup.
func TestWatermarkClearedWithOptIn(t *testing.T) {
	f := server("2007", "8.1.240.6", func(f *Facts) {
		f.Roles = []string{"ClientAccess", "Mailbox"}
		f.Setup.Watermarks = []SetupWatermark{
			{Role: "ClientAccess", Action: "BuildToBuildUpgrade", Watermark: "InstallFiles"},
			{Role: "Mailbox", Action: "BuildToBuildUpgrade"},
		}
	})
	p, err := PlanServicePack(f, spRequest(3, func(r *ServicePackRequest) { r.ClearSetupWatermarkReason = clearReason }), DefaultCatalog())
	if err != nil {
		t.Fatal(err)
	}
	got := actionsOf(p)
	// The preflight (the media) before the removal too.
	want := []string{ActionPreflight, ActionVerifyBackups, ActionCheckNoSetupRunning,
		ActionExportSetupKey, ActionRemoveSetupWatermark, ActionExportSetupKey, ActionRemoveSetupWatermark}
	if !slices.Equal(got[:len(want)], want) {
		t.Fatalf("steps start %q, want %q:%s", got, want, stepList(p))
	}
	if i, j := slices.Index(got, ActionRemoveSetupWatermark), slices.Index(got, ActionInstallServicePack); i < 0 || j < i {
		t.Fatalf("setup does not run after the removal:%s", stepList(p))
	}
	file := regexp.MustCompile(`^%SystemRoot%\\Temp\\ExchangeProvider\\setup_keys\\ClientAccessRole-[0-9a-f]{8}\.reg$`)
	if ps := p.Steps[3].Params(); ps["key"] != `HKLM\SOFTWARE\Microsoft\Exchange\v8.0\ClientAccessRole` || !file.MatchString(ps["file"]) {
		t.Errorf("export params %v", ps)
	}
	if !strings.Contains(p.Steps[3].Description, "reg.exe export") || !strings.Contains(p.Steps[3].Description, p.Steps[3].Params()["file"]) {
		t.Errorf("the export step does not say where the key goes: %q", p.Steps[3].Description)
	}
	if ps := p.Steps[6].Params(); ps["key"] != `HKLM\SOFTWARE\Microsoft\Exchange\v8.0\MailboxRole` || ps["values"] != "Action, Watermark" {
		t.Errorf("removal params %v", ps)
	}
	if !slices.ContainsFunc(p.Warnings, func(w string) bool { return strings.Contains(w, clearReason) }) {
		t.Errorf("no warning with the reason in %q", p.Warnings)
	}
	// Another watermark gets another file: an export of an earlier one is not taken for it.
	p2, err := PlanServicePack(server("2007", "8.1.240.6", func(f *Facts) {
		f.Roles = []string{"ClientAccess", "Mailbox"}
		f.Setup.Watermarks = []SetupWatermark{{Role: "ClientAccess", Action: "BuildToBuildUpgrade", Watermark: "ConfigureRole"}}
	}), spRequest(3, func(r *ServicePackRequest) { r.ClearSetupWatermarkReason = clearReason }), DefaultCatalog())
	if err != nil {
		t.Fatal(err)
	}
	if a, b := p.Steps[3].Params()["file"], p2.Steps[3].Params()["file"]; a == b {
		t.Errorf("two different watermarks export to the same file %s", a)
	}
}

// While a setup job of ours runs its watermark is its own: the opt-in plans no clearing.
func TestWatermarkOfOurRunningJobIsNotCleared(t *testing.T) {
	f := server("2007", "8.1.240.6", interrupted, func(f *Facts) {
		f.Setup.Running = true
		f.Jobs = []Job{{ID: JobID(Step{Kind: InstallServicePack{Build: MustParseBuild("8.3.83.6")}}), Action: ActionInstallServicePack, State: JobRunning, Started: now}}
	})
	p, err := PlanServicePack(f, spRequest(3, func(r *ServicePackRequest) { r.ClearSetupWatermarkReason = clearReason }), DefaultCatalog())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range actionsOf(p) {
		if a == ActionCheckNoSetupRunning || a == ActionExportSetupKey || a == ActionRemoveSetupWatermark {
			t.Fatalf("clears the watermark of its own running setup:%s", stepList(p))
		}
	}
}

// A rollup does not run setup: its resource offers no opt-in, and the refusal says so.
func TestWatermarkRefusesRollupWithoutOptIn(t *testing.T) {
	_, err := PlanUpdateRollup(server("2007", "8.3.83.6", interrupted), ruRequest(23, func(r *UpdateRollupRequest) { r.ClearSetupWatermarkReason = clearReason }), DefaultCatalog())
	rs := refusals(t, err)
	if !hasRefusal(rs, "", `v8.0\MailboxRole`, "exchange_service_pack", "clear_setup_watermark") {
		t.Fatalf("no refusal in:\n%v", err)
	}
}

// An interrupted Exchange 2007 SP3 setup that already updated ExSetup.exe: the build reads
// as SP3, the target, and the Action/Watermark values are still there. The plan does not
// take the server for done: without the opt-in it refuses, saying that setup must be run
// again by hand once the values are gone (a plan then sees nothing left to do); with it,
// the plan clears the values and runs SP3 setup again, which completes the upgrade.
func TestWatermarkAtTargetBuild(t *testing.T) {
	f := server("2007", "8.3.83.6", interrupted)
	_, err := PlanServicePack(f, spRequest(3), DefaultCatalog())
	rs := refusals(t, err)
	if !hasRefusal(rs, FieldClearSetupWatermark, `HKLM\SOFTWARE\Microsoft\Exchange\v8.0\MailboxRole`, `Action = "BuildToBuildUpgrade"`,
		"make sure no exchange setup runs", "export the key", "run setup.com /mode:upgrade from the service pack's media again",
		`clear_setup_watermark = { reason = "..." }`) {
		t.Fatalf("no clear_setup_watermark refusal at the target build in:\n%v", err)
	}
	p, err := PlanServicePack(f, spRequest(3, func(r *ServicePackRequest) { r.ClearSetupWatermarkReason = clearReason }), DefaultCatalog())
	if err != nil {
		t.Fatal(err)
	}
	got := actionsOf(p)
	for _, want := range [][]string{{ActionVerifyBackups, ActionCheckNoSetupRunning, ActionExportSetupKey, ActionRemoveSetupWatermark},
		{ActionInstallServicePack}, {ActionVerifyBuild}} {
		i := slices.Index(got, want[0])
		if i < 0 || !slices.Equal(got[i:i+len(want)], want) {
			t.Fatalf("steps %q lack %q:%s", got, want, stepList(p))
		}
	}
	if slices.Index(got, ActionRemoveSetupWatermark) > slices.Index(got, ActionInstallServicePack) {
		t.Errorf("setup runs before the values are removed:%s", stepList(p))
	}
	for _, s := range p.Steps {
		if s.Action() == ActionInstallServicePack && (s.Params()["build"] != "8.3.83.6" || !strings.Contains(s.Description, "again")) {
			t.Errorf("install_service_pack is not SP3 setup run again: %v %q", s.Params(), s.Description)
		}
	}
	// Without a watermark the server at its target has nothing to do, as before.
	if p, err := PlanServicePack(server("2007", "8.3.83.6"), spRequest(3), DefaultCatalog()); err != nil || !p.Empty() {
		t.Errorf("a server at SP3 without a watermark: %v %q", err, actionsOf(p))
	}
}

// Only an interrupted service pack upgrade (Action = BuildToBuildUpgrade, in any case) is
// cleared and its setup run again. Another Action value, or none, is a setup in a mode the
// provider does not know how to finish: refused by name, on the server, with the opt-in too,
// and nothing is planned (no clearing, no setup).
func TestWatermarkOfAnotherSetupModeIsRefused(t *testing.T) {
	optIn := spRequest(3, func(r *ServicePackRequest) { r.ClearSetupWatermarkReason = clearReason })
	for _, tc := range []struct {
		name string
		mark SetupWatermark
		says []string
	}{
		{"role install", SetupWatermark{Role: "Mailbox", Action: "Install", Watermark: "InstallFiles"},
			[]string{`Action = "Install" is not the "BuildToBuildUpgrade" an interrupted service pack upgrade (Setup.com /mode:upgrade) leaves`}},
		{"uninstall", SetupWatermark{Role: "Mailbox", Action: "Uninstall"},
			[]string{`Action = "Uninstall" is not the "BuildToBuildUpgrade"`}},
		{"no action", SetupWatermark{Role: "Mailbox", Watermark: "InstallFiles"},
			[]string{"there is no Action value, so which setup was interrupted cannot be told"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, build := range []string{"8.1.240.6", "8.3.83.6"} { // below the target, and at it
				f := server("2007", build, func(f *Facts) { f.Setup.Watermarks = []SetupWatermark{tc.mark} })
				for _, req := range []ServicePackRequest{spRequest(3), optIn} {
					p, err := PlanServicePack(f, req, DefaultCatalog())
					rs := refusals(t, err)
					if !hasRefusal(rs, "", append(tc.says, `v8.0\MailboxRole`, "C:\\ExchangeSetupLogs", "run setup again in the mode that was interrupted",
						`clear_setup_watermark clears only the values an interrupted service pack upgrade (Action = "BuildToBuildUpgrade") leaves`)...) {
						t.Fatalf("%s: no refusal by name in:\n%v", build, err)
					}
					if hasRefusal(rs, FieldClearSetupWatermark) || len(p.Steps) > 0 {
						t.Errorf("%s: offers the opt-in or plans steps: %v %q", build, err, actionsOf(p))
					}
				}
			}
			// A rollup's plan refuses it the same way, without pointing at exchange_service_pack.
			_, err := PlanUpdateRollup(server("2007", "8.3.83.6", func(f *Facts) { f.Setup.Watermarks = []SetupWatermark{tc.mark} }), ruRequest(23), DefaultCatalog())
			if rs := refusals(t, err); !hasRefusal(rs, "", tc.says...) || hasRefusal(rs, "", "exchange_service_pack with clear_setup_watermark") {
				t.Errorf("rollup: %v", err)
			}
		})
	}
	// The case of the value does not matter: setup's own message spells it buildToBuildUpgrade.
	f := server("2007", "8.1.240.6", func(f *Facts) {
		f.Setup.Watermarks = []SetupWatermark{{Role: "Mailbox", Action: "buildToBuildUpgrade", Watermark: "InstallFiles"}}
	})
	if p, err := PlanServicePack(f, optIn, DefaultCatalog()); err != nil || !slices.Contains(actionsOf(p), ActionRemoveSetupWatermark) {
		t.Errorf("buildToBuildUpgrade is not cleared: %v %q", err, actionsOf(p))
	}
}

// planOrg2007 orders and plans servers towards Exchange 2007 SP3 with opts.
func planOrg2007(t *testing.T, servers []Facts, opts Options) (OrganizationPlan, error) {
	t.Helper()
	target := Target{Product: "2007", ServicePack: 3}
	ordering, err := Order(servers, []Target{target}, DefaultCatalog())
	if err != nil {
		t.Fatal(err)
	}
	return PlanOrganization(servers, ordering, OrganizationRequest{
		Targets: []OrganizationTarget{{Target: target, MediaPath: `D:\E2007SP3`}}, Options: opts}, DefaultCatalog())
}

// An organisation upgrade does not take a server at its target build for done while its
// setup key says setup was interrupted: MBX2 (SP3's build, the Mailbox role's watermark) is
// refused by name without clear_setup_watermark, and with it gets the single-server plan:
// the values cleared, SP3 setup run again, in its wave.
func TestOrganizationPlansAnInterruptedSetupAtTheTarget(t *testing.T) {
	healthy := func(name string) Facts {
		return server("2007", "8.3.83.6", func(f *Facts) { f.Server = name })
	}
	servers := []Facts{healthy("MBX1"), server("2007", "8.3.83.6", interrupted, func(f *Facts) { f.Server = "MBX2" })}
	_, err := planOrg2007(t, servers, options())
	rs := refusals(t, err)
	if !hasRefusal(rs, FieldClearSetupWatermark, `v8.0\MailboxRole`, "run setup.com /mode:upgrade from the service pack's media again") || rs[0].Server != "MBX2" {
		t.Fatalf("no refusal naming MBX2's interrupted setup in:\n%v", err)
	}
	o, err := planOrg2007(t, servers, options(func(o *Options) { o.ClearSetupWatermarkReason = clearReason }))
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Units) != 1 || o.Units[0].Server != "MBX2" {
		t.Fatalf("units %+v: want MBX2's only", o.Units)
	}
	steps, _ := planned(o)
	for _, want := range []string{"1 check_no_setup_running MBX2", "1 export_setup_key MBX2", "1 remove_setup_watermark MBX2", "1 install_service_pack MBX2", "1 verify_build MBX2"} {
		if !slices.Contains(steps, want) {
			t.Fatalf("no %q in:\n%s", want, strings.Join(steps, "\n"))
		}
	}
	if w := o.Waves(); len(w) != 1 || !slices.Equal(w[0].Servers, []string{"MBX2"}) {
		t.Errorf("waves %+v", w)
	}
}

// removedRecord is what remove_setup_watermark leaves on the server until an apply runs its
// whole plan: the keys whose values it removed.
func removedRecord(f *Facts) { f.Leftovers.SetupWatermarksRemoved = []string{"MailboxRole"} }

// An apply that removed the values and stopped before setup ran leaves a server that reads
// as SP3 with no watermark: only the record says setup did not finish. The next plan runs
// SP3 setup again (no opt-in needed: the values are gone), naming the record; once that
// setup's job succeeded, the plan continues after it instead. Plans that do not run setup
// are refused while the record is there.
func TestRemovedWatermarkRecordRunsSetupAgain(t *testing.T) {
	f := server("2007", "8.3.83.6", removedRecord)
	p, err := PlanServicePack(f, spRequest(3), DefaultCatalog())
	if err != nil {
		t.Fatal(err)
	}
	wantActions(t, p, ActionPreflight, ActionVerifyBackups, ActionInstallServicePack, ActionReboot, ActionStartExchangeServices, ActionVerifyBuild)
	wantContains(t, "install", step(t, p, ActionInstallServicePack, 0).Description, "run again",
		`removed the interrupted setup's Action/Watermark values (HKLM\SOFTWARE\Microsoft\Exchange\v8.0\MailboxRole)`, "stopped before setup ran")
	wantWarning(t, p, "an earlier apply removed the Action/Watermark values", "setup has not finished")
	if len(p.After.Leftovers.SetupWatermarksRemoved) != 0 {
		t.Errorf("the plan's after-facts keep the record: %+v", p.After.Leftovers)
	}
	// Below the target the plan runs setup anyway: nothing is refused.
	if _, err := PlanServicePack(server("2007", "8.1.240.6", removedRecord), spRequest(3), DefaultCatalog()); err != nil {
		t.Errorf("below the target: %v", err)
	}

	// Setup ran again and succeeded, then the apply stopped: continue after it.
	done := server("2007", "8.3.83.6", removedRecord, func(f *Facts) {
		f.Jobs = []Job{{ID: "install_service_pack-8.3.83.6", Action: ActionInstallServicePack, State: JobSucceeded, Started: now.Add(-time.Hour)}}
	})
	p, err = PlanServicePack(done, spRequest(3), DefaultCatalog())
	if err != nil {
		t.Fatal(err)
	}
	wantActions(t, p, ActionReboot, ActionStartExchangeServices, ActionVerifyBuild)

	// A rollup's plan, or an interim update's, does not run setup: refused, naming the key.
	for name, plan := range map[string]func() (Plan, error){
		"rollup": func() (Plan, error) { return PlanUpdateRollup(f, ruRequest(23), DefaultCatalog()) },
		"interim update": func() (Plan, error) {
			return PlanInterimUpdate(f, InterimUpdateRequest{KB: "KB555555", Present: true, PackagePath: `\\files\iu.msp`, Options: options()}, DefaultCatalog())
		},
	} {
		_, err := plan()
		if rs := refusals(t, err); !hasRefusal(rs, "", `v8.0\MailboxRole`, "stopped before it ran setup again", "apply the exchange_service_pack") {
			t.Errorf("%s: %v", name, err)
		}
	}

	// An organisation upgrade puts the server in its wave and runs setup again there.
	o, err := planOrg2007(t, []Facts{server("2007", "8.3.83.6", removedRecord, func(f *Facts) { f.Server = "MBX2" })}, options())
	if err != nil {
		t.Fatal(err)
	}
	if steps, _ := planned(o); !slices.Contains(steps, "1 install_service_pack MBX2") {
		t.Errorf("organisation steps:\n%s", strings.Join(steps, "\n"))
	}

	// A cluster plan does not run setup on a node at the target: refused by name.
	_, err = PlanCluster(on(ccr().facts(b2007SP3, b2007SP3), "NODE2", removedRecord), clusterRequest(3), nil)
	if rs := refusals(t, err); !hasRefusal(rs, "", `v8.0\MailboxRole`, "stopped before it ran setup again") || rs[0].Server != "NODE2" {
		t.Errorf("cluster: %v", err)
	}
}
