package exchange

import (
	"reflect"
	"slices"
	"strings"
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

// An organisation upgrade checks every server's media and packages before its first wave
// changes anything: the plan begins with one preflight per server (a server's service pack
// and rollup checked in one step), in wave order, each with its server's wave; each server's
// own plan still begins with its preflight. A plan with one unit has no such phase.
func TestPlanOrganizationPreflightsBeforeTheFirstWave(t *testing.T) {
	named := func(name string, roles ...string) Facts {
		return server("2007", "8.2.176.2", func(f *Facts) { f.Server, f.Roles = name, roles })
	}
	servers := []Facts{named("MBX1", "Mailbox"), named("CAS1", "ClientAccess"), named("HUB1", "HubTransport")}
	target := Target{Product: "2007", ServicePack: 3, Latest: true}
	ordering, err := Order(servers, []Target{target}, DefaultCatalog())
	if err != nil {
		t.Fatal(err)
	}
	o, err := PlanOrganization(servers, ordering, OrganizationRequest{Targets: []OrganizationTarget{{Target: target,
		MediaPath: `D:\E2007SP3`, PackagePath: `\\files\ru23.msp`}}, Options: options()}, DefaultCatalog())
	if err != nil {
		t.Fatal(err)
	}
	steps, _ := planned(o)
	want := []string{"1 preflight CAS1", "2 preflight HUB1", "3 preflight MBX1", "1 preflight CAS1", "1 verify_backups CAS1"}
	if len(steps) < len(want) || !slices.Equal(steps[:len(want)], want) {
		t.Fatalf("the plan does not begin with every server's preflight:\n%s", strings.Join(steps, "\n"))
	}
	all, _ := o.Steps()
	pf := all[2]
	if got := pf.Params(); got["media_path"] != `D:\E2007SP3` || got["package_path"] != `\\files\ru23.msp` {
		t.Errorf("MBX1's preflight does not check both its service pack's media and its rollup's package: %v", got)
	}
	wantContains(t, "MBX1's preflight", pf.Description, "before wave 1 changes any server, for MBX1 of wave 3",
		`media_path D:\E2007SP3`, `package_path \\files\ru23.msp`, "checked again when MBX1 is serviced")
	if !(Plan{Steps: []Step{pf}}).ChecksOnly() {
		t.Error("the preflight phase is not a checks-only plan")
	}
	// One server: its own plan begins with its preflight, nothing is added.
	one, err := PlanOrganization(servers[:1], Ordering{Waves: []Wave{{Index: 1, Servers: []string{"MBX1"}}}},
		OrganizationRequest{Targets: []OrganizationTarget{{Target: target, MediaPath: `D:\E2007SP3`, PackagePath: `\\files\ru23.msp`}}, Options: options()}, DefaultCatalog())
	if err != nil {
		t.Fatal(err)
	}
	if steps, _ := planned(one); len(one.Preflight) != 0 || steps[0] != "1 preflight MBX1" || slices.Index(steps[1:], "1 preflight MBX1") < 0 {
		t.Errorf("one server:\n%s", strings.Join(steps, "\n"))
	}
}
