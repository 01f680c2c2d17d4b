package exchange

import (
	"reflect"
	"testing"
)

// The preflight's params name each path by its attribute; a second path under one attribute
// is not lost, and a check the executor cannot run is a planner bug.
func TestPreflightParamsAndCheck(t *testing.T) {
	k := Preflight{Checks: []PreflightCheck{
		{JobID: "install_service_pack-8.3.83.6", Action: ActionInstallServicePack, MediaPath: `D:\SP3`},
		{JobID: "upgrade_cms-8.3.83.6-cms1-node2", Action: ActionUpgradeCMS, MediaPath: `D:\SP3`},
		{JobID: "upgrade_cms-8.3.83.6-cms2-node2", Action: ActionUpgradeCMS, MediaPath: `E:\SP3`},
		{JobID: "install_update_rollup-8.3.517.0", Action: ActionInstallUpdateRollup, PackagePath: `D:\RU23.msp`},
		{Action: PreflightFile, PackagePath: `D:\OWA\logon.aspx`},
	}}
	want := map[string]string{"media_path": `D:\SP3`, "media_path (2)": `E:\SP3`, "package_path": `D:\RU23.msp`, "owa_logon_file": `D:\OWA\logon.aspx`}
	if got := k.Params(); !reflect.DeepEqual(got, want) {
		t.Errorf("params %v, want %v", got, want)
	}
	if err := k.Check(); err != nil {
		t.Errorf("check: %v", err)
	}
	for _, bad := range []Preflight{{}, {Checks: []PreflightCheck{{Action: ActionInstallServicePack, MediaPath: `D:\SP3`}}}} {
		if bad.Check() == nil {
			t.Errorf("%+v passes Check", bad)
		}
	}
}

// Steps that read nothing of the user's (removals by patch code) get no preflight.
func TestPreflightOnlyForWhatIsRead(t *testing.T) {
	steps := []Step{{Kind: RemoveInterimUpdate{KB: "KB1", PatchCode: "{X}"}}, {Kind: Reboot{When: RebootIfRequired}}}
	if got := withPreflight("EX01", Facts{Server: "EX01"}, steps, JobID); !reflect.DeepEqual(got, steps) {
		t.Errorf("a removal got a preflight: %v", got)
	}
}
