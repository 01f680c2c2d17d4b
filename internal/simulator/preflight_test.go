package simulator

import (
	"reflect"
	"testing"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
)

// The preflight, through the real client and scripts: what is there is found, what is not
// is named, an .msp named for the other architecture is refused, a check whose job runs is
// skipped, and nothing on the server changes.
func TestPreflightChecks(t *testing.T) {
	n := newNetRig(t)
	ex01, fe01 := n.target("EX01"), n.target("FE01")
	x86 := `\\files\exchange\Exchange2007-KB981407-x86-EN.msp`
	if err := n.sim.RegisterPackage(x86, Package{Kind: PackageUpdateRollup, ServicePack: 1, UpdateRollup: 10, KB: "KB981407"}); err != nil {
		t.Fatal(err)
	}
	n.sim.Host("EX01").SetPathMissing(`D:\OWA\logon.aspx`, true)
	ru10 := remote.JobSpec{ID: "install_update_rollup-8.1.436.0", Action: exchange.ActionInstallUpdateRollup, PackagePath: `\\files\exchange\SP1-RU10.msp`}
	if _, err := n.client.JobStart(n.ctx, ex01, ru10); err != nil {
		t.Fatal(err)
	}
	before := n.sim.Host("EX01").State()

	checks := []exchange.PreflightCheck{
		{JobID: "install_service_pack-8.3.83.6", Action: exchange.ActionInstallServicePack, MediaPath: `D:\Exchange2007SP3`},
		{JobID: "install_service_pack-8.3.83.6", Action: exchange.ActionInstallServicePack, MediaPath: `D:\Exchange2007SP3-typo`},
		{JobID: "install_update_rollup-x", Action: exchange.ActionInstallUpdateRollup, PackagePath: x86},
		{JobID: ru10.ID, Action: exchange.ActionInstallUpdateRollup, PackagePath: ru10.PackagePath},
		{Action: exchange.PreflightFile, PackagePath: `D:\OWA\logon.aspx`},
		{Action: exchange.PreflightFile, PackagePath: `D:\OWA\new-logon.aspx`},
	}
	text, err := wire.PreflightChecks(checks)
	if err != nil {
		t.Fatal(err)
	}
	res, err := remote.Call(n.ctx, n.client, ex01, wire.PreflightRequest{Checks: text})
	if err != nil {
		t.Fatal(err)
	}
	want := []wire.PreflightItem{
		{Found: []string{`D:\Exchange2007SP3\Setup.com`}},
		{Found: []string{}, Problem: `package not found: D:\Exchange2007SP3-typo\Setup.com`},
		{Found: []string{x86}, Problem: "the package is named for x86, and Exchange 2007 on EX01 runs on x64: use the x64 package (its installer refuses the other one)"},
		{Found: []string{}, Skipped: "job install_update_rollup-8.1.436.0 exists (running): the apply attaches to it and starts no installer"},
		{Found: []string{}, Problem: `D:\OWA\logon.aspx cannot be read from EX01: Could not find file 'D:\OWA\logon.aspx'.`},
		{Found: []string{`D:\OWA\new-logon.aspx`}},
	}
	if !reflect.DeepEqual(res.Items, want) {
		t.Errorf("items:\n got  %+v\n want %+v", res.Items, want)
	}
	if after := n.sim.Host("EX01").State(); !reflect.DeepEqual(after, before) {
		t.Errorf("the preflight changed EX01:\n before %+v\n after  %+v", before, after)
	}

	// Exchange 2003: update.exe from the media's i386 folder; media are not compared.
	text, _ = wire.PreflightChecks([]exchange.PreflightCheck{{JobID: "install_service_pack-6.5.7638", Action: exchange.ActionInstallServicePack, MediaPath: `\\files\exchange2003\SP2-media`}})
	res, err = remote.Call(n.ctx, n.client, fe01, wire.PreflightRequest{Checks: text})
	if err != nil {
		t.Fatal(err)
	}
	if want := []wire.PreflightItem{{Found: []string{`\\files\exchange2003\SP2-media\i386\update.exe`}}}; !reflect.DeepEqual(res.Items, want) {
		t.Errorf("FE01 items %+v, want %+v", res.Items, want)
	}

	// A check that cannot be right is refused as the script refuses it.
	if _, err := remote.Call(n.ctx, n.client, ex01, wire.PreflightRequest{Checks: "x\tinstall_service_pack\tD:\\a"}); !isFault(err, "invalid") {
		t.Errorf("a check of three fields: %v, want the fault invalid", err)
	}
}
