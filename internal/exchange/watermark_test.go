package exchange

import (
	"regexp"
	"slices"
	"strings"
	"testing"
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
	want := []string{ActionVerifyBackups, ActionCheckNoSetupRunning,
		ActionExportSetupKey, ActionRemoveSetupWatermark, ActionExportSetupKey, ActionRemoveSetupWatermark}
	if !slices.Equal(got[:len(want)], want) {
		t.Fatalf("steps start %q, want %q:%s", got, want, stepList(p))
	}
	if i, j := slices.Index(got, ActionRemoveSetupWatermark), slices.Index(got, ActionInstallServicePack); i < 0 || j < i {
		t.Fatalf("setup does not run after the removal:%s", stepList(p))
	}
	file := regexp.MustCompile(`^%SystemRoot%\\Temp\\ExchangeProvider\\setup_keys\\ClientAccessRole-[0-9a-f]{8}\.reg$`)
	if ps := p.Steps[2].Params(); ps["key"] != `HKLM\SOFTWARE\Microsoft\Exchange\v8.0\ClientAccessRole` || !file.MatchString(ps["file"]) {
		t.Errorf("export params %v", ps)
	}
	if !strings.Contains(p.Steps[2].Description, "reg.exe export") || !strings.Contains(p.Steps[2].Description, p.Steps[2].Params()["file"]) {
		t.Errorf("the export step does not say where the key goes: %q", p.Steps[2].Description)
	}
	if ps := p.Steps[5].Params(); ps["key"] != `HKLM\SOFTWARE\Microsoft\Exchange\v8.0\MailboxRole` || ps["values"] != "Action, Watermark" {
		t.Errorf("removal params %v", ps)
	}
	if !slices.ContainsFunc(p.Warnings, func(w string) bool { return strings.Contains(w, clearReason) }) {
		t.Errorf("no warning with the reason in %q", p.Warnings)
	}
	// Another watermark gets another file: an export of an earlier one is not taken for it.
	p2, err := PlanServicePack(server("2007", "8.1.240.6", func(f *Facts) {
		f.Roles = []string{"ClientAccess", "Mailbox"}
		f.Setup.Watermarks = []SetupWatermark{{Role: "ClientAccess", Action: "Install", Watermark: "InstallFiles"}}
	}), spRequest(3, func(r *ServicePackRequest) { r.ClearSetupWatermarkReason = clearReason }), DefaultCatalog())
	if err != nil {
		t.Fatal(err)
	}
	if a, b := p.Steps[2].Params()["file"], p2.Steps[2].Params()["file"]; a == b {
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
