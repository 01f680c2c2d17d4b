package exchange

import (
	"reflect"
	"testing"
	"time"
)

// TestStepKindsKeepTheirParamsAndJobIDs pins what planned_steps shows and the job id of
// every step kind: a job id names a record on the server, so a changed one makes a resumed
// apply start an installer again instead of attaching to it.
func TestStepKindsKeepTheirParamsAndJobIDs(t *testing.T) {
	sp3 := MustParseBuild("8.3.83.6")
	for _, tc := range []struct {
		kind   StepKind
		params map[string]string
		job    string // JobID; "" for a kind that is no Installer
	}{
		{VerifyBackups{MaxDatabaseAge: 24 * time.Hour}, map[string]string{"max_database_age": "24h0m0s", "max_system_state_age": "0"}, ""},
		{VerifyBackups{WaiverReason: "CHG-1"}, map[string]string{"max_database_age": "0", "max_system_state_age": "0", "waiver_reason": "CHG-1"}, ""},
		{Reboot{When: RebootAlways}, map[string]string{"when": "always"}, ""},
		{Reboot{When: RebootIfRequired}, map[string]string{"when": "if_required"}, ""},
		{SaveCustomizations{}, nil, ""},
		{RestoreCustomizations{}, nil, ""},
		{StopService{Service: "SNMP"}, map[string]string{"service": "SNMP"}, ""},
		{StartService{Service: "SNMP"}, map[string]string{"service": "SNMP"}, ""},
		{DisableRevocationCheck{}, nil, ""},
		{EnableRevocationCheck{}, nil, ""},
		{SetRemoteStreamingBackup{}, map[string]string{"value": "1"}, ""},
		{StartExchangeServices{}, nil, ""},
		{StartExchangeServices{ClusterNode: true}, map[string]string{"cluster_node": "true"}, ""},
		{VerifyBuild{Build: sp3}, map[string]string{"build": "8.3.83.6"}, ""},
		{InstallServicePack{ServicePack: 3, MediaPath: `D:\SP3`, Build: sp3},
			map[string]string{"service_pack": "3", "media_path": `D:\SP3`, "build": "8.3.83.6"}, "install_service_pack-8.3.83.6"},
		{InstallUpdateRollup{Rollup: 8, ReRelease: 3, PackagePath: `D:\RU8.msp`, Build: MustParseBuild("8.1.393.1")},
			map[string]string{"rollup": "8-v3", "package_path": `D:\RU8.msp`, "build": "8.1.393.1", "kb": ""}, "install_update_rollup-8.1.393.1"},
		{UninstallUpdateRollup{KB: "KB123", PatchCode: "{P}", Build: MustParseBuild("8.1.240.6")},
			map[string]string{"kb": "KB123", "patch_code": "{P}", "build": "8.1.240.6"}, "uninstall_update_rollup-8.1.240.6"},
		{UninstallUpdateRollup{KB: "KB123", PatchCode: "{P}"}, map[string]string{"kb": "KB123", "patch_code": "{P}"}, "uninstall_update_rollup-KB123"},
		{InstallInterimUpdate{KB: "KB888888", PackagePath: `\\f\iu.msp`}, map[string]string{"kb": "KB888888", "package_path": `\\f\iu.msp`}, "install_interim_update-KB888888"},
		{RemoveInterimUpdate{KB: "KB777777", PatchCode: "{IU7}"}, map[string]string{"kb": "KB777777", "patch_code": "{IU7}"}, "remove_interim_update-KB777777"},
		{RemoveInterimUpdate{PatchCode: "{IU7}"}, map[string]string{"kb": "", "patch_code": "{IU7}"}, "remove_interim_update"},
		{RemoveUMLanguagePack{Language: "de-DE", Path: `D:\UM`}, map[string]string{"language": "de-DE", "path": `D:\UM`}, "remove_um_language_pack-de-DE"},
		{AddUMLanguagePack{Language: "de-DE", Path: `D:\UM`}, map[string]string{"language": "de-DE", "path": `D:\UM`}, "add_um_language_pack-de-DE"},
		{UpgradeCMS{Group: "CMS1", MediaPath: `E:\SP3`, Build: sp3},
			map[string]string{"group": "CMS1", "media_path": `E:\SP3`, "build": "8.3.83.6"}, "upgrade_cms-8.3.83.6"},
		{UpgradeEVSManually{Group: "EVS1", Build: MustParseBuild("6.5.7638")}, map[string]string{"group": "EVS1", "build": "6.5.7638", "manual": "true"}, ""},
		{MoveClusterGroup{Group: "CMS1", To: "NODE2"}, map[string]string{"group": "CMS1", "to": "NODE2"}, ""},
		{FailoverTest{Group: "CMS1", To: "NODE2"}, map[string]string{"group": "CMS1", "to": "NODE2"}, ""},
		{StopClusterService{}, nil, ""},
		{StartClusterService{}, nil, ""},
		{StopClusteredServer{Group: "CMS1"}, map[string]string{"group": "CMS1"}, ""},
		{StartClusteredServer{Group: "CMS1"}, map[string]string{"group": "CMS1"}, ""},
		{TakeEVSResourcesOffline{Group: "EVS1"}, map[string]string{"group": "EVS1"}, ""},
		{BringGroupOnline{Group: "EVS1"}, map[string]string{"group": "EVS1"}, ""},
		{BlockFailover{Group: "EX55"}, map[string]string{"group": "EX55"}, ""},
		{AllowFailover{Group: "EX55"}, map[string]string{"group": "EX55"}, ""},
	} {
		s := Step{Kind: tc.kind}
		if got := s.Params(); !reflect.DeepEqual(got, tc.params) {
			t.Errorf("%s params %v, want %v", s.Action(), got, tc.params)
		}
		if _, ok := tc.kind.(Installer); ok != (tc.job != "") {
			t.Errorf("%s: Installer = %v", s.Action(), ok)
		} else if ok && JobID(s) != tc.job {
			t.Errorf("%s: JobID %q, want %q", s.Action(), JobID(s), tc.job)
		}
		if err := tc.kind.Check(); err != nil {
			t.Errorf("%s: Check: %v", s.Action(), err)
		}
	}
}

// TestClusterJobIDNamesTheUpgradedServer: an upgrade_cms job id names the clustered
// server, other installs only the node.
func TestClusterJobIDNamesTheUpgradedServer(t *testing.T) {
	cms := Step{Kind: UpgradeCMS{Group: "CMS 2", MediaPath: `D:\SP3`, Build: MustParseBuild("8.3.83.6")}, Server: "Node1"}
	if got, want := ClusterJobID(cms), "upgrade_cms-8.3.83.6-cms_2-node1"; got != want {
		t.Errorf("ClusterJobID(upgrade_cms) = %q, want %q", got, want)
	}
	sp := Step{Kind: InstallServicePack{Build: MustParseBuild("6.5.7638")}, Server: "Node1"}
	if got, want := ClusterJobID(sp), "install_service_pack-6.5.7638-node1"; got != want {
		t.Errorf("ClusterJobID(install_service_pack) = %q, want %q", got, want)
	}
}
