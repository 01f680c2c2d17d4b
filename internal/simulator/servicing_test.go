package simulator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/scripts"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
	"github.com/buildlevel/terraform-provider-exchange/internal/simulator/wsman"
)

func init() {
	// Stand-ins for the scripts of operations whose real script has not landed yet in
	// internal/remote/scripts. scriptBody prefers an embedded script, so once the real one
	// exists the tests run it instead.
	testScripts = map[string]string{}
	for op := range operations {
		testScripts[op] = "# test stand-in for " + op + ".ps1\nWrite-Result $ExOperation @{}\n"
	}
}

var rigStart = time.Date(2024, 5, 2, 6, 0, 0, 0, time.UTC)

// testPackages are the packages the servicing tests install, by path.
var testPackages = map[string]Package{
	`D:\Exchange2007SP3`:             {Kind: PackageServicePack, ServicePack: 3},
	`D:\Exchange2007SP1`:             {Kind: PackageServicePack, ServicePack: 1},
	`\\files\exchange\SP1-RU10.msp`:  {Kind: PackageUpdateRollup, ServicePack: 1, UpdateRollup: 10, KB: "KB981407"},
	`\\files\exchange\SP3-RU5.msp`:   {Kind: PackageUpdateRollup, ServicePack: 3, UpdateRollup: 5, KB: "KB2602324"},
	`\\files\exchange\KB970543.msp`:  {Kind: PackageInterimUpdate, ServicePack: 1, UpdateRollup: 9, KB: "KB970543"},
	`\\files\exchange\KB971234.msp`:  {Kind: PackageInterimUpdate, ServicePack: 1, UpdateRollup: 8, KB: "KB971234"},
	`\\files\exchange\UM\SP3`:        {Kind: PackageUMLanguagePack, ServicePack: 3},
	`\\files\exchange\UM\SP1\de-DE`:  {Kind: PackageUMLanguagePack, ServicePack: 1, Language: "de-DE"},
	`\\files\exchange2003\SP2-media`: {Kind: PackageServicePack, Product: "2003", ServicePack: 2},
}

// rig is the fixture fleet on a manual clock, driven through each host's Handler: the
// operations are dispatched exactly as over the network, minus the network.
type rig struct {
	t     *testing.T
	sim   *Simulator
	clock *ManualClock
	seq   int
}

func newRig(t *testing.T, o Options) *rig {
	t.Helper()
	clock := NewManualClock(rigStart)
	o.Clock = clock
	if o.Packages == nil {
		o.Packages = testPackages
	}
	o.DisableHTTPS = true
	return &rig{t: t, sim: startFixture(t, o), clock: clock}
}

func (r *rig) host(name string) *Host { return r.sim.Host(name) }

// makePassive makes the other node of node's cluster own all its groups, as if they had
// been moved there: an Exchange 2007 service pack or rollup goes only to a passive node.
func makePassive(sim *Simulator, node string) {
	lc := sim.Host(node).Cluster()
	other := ""
	for _, n := range lc.State().Nodes {
		if !strings.EqualFold(n, node) {
			other = n
			break
		}
	}
	lc.Update(func(s *ClusterState) {
		for i := range s.Groups {
			s.Groups[i].Owner = other
		}
		s.ClusterGroupOwner = other
	})
}

// run dispatches op on server; a fault comes back as *wire.Fault, a rejection fails the test.
func (r *rig) run(server, op string, out any, params ...wire.Param) error {
	r.t.Helper()
	body, ok := scriptBody(op)
	if !ok {
		r.t.Fatalf("no script for %s", op)
	}
	text, err := wire.Script{Operation: op, Params: params, Prelude: scripts.Prelude(), Body: body}.Render()
	if err != nil {
		r.t.Fatal(err)
	}
	r.seq++
	h := &Handler{host: r.host(server), journal: r.sim.journal, password: testPassword}
	res := h.Run(context.Background(), wsman.Command{User: "admin", CommandID: fmt.Sprintf("CMD-%d", r.seq),
		CommandLine: wire.CommandLine, Stdin: bytes.NewReader(wire.Pack(text))})
	if res.ExitCode != 0 {
		r.t.Fatalf("%s on %s: exit %d: %s", op, server, res.ExitCode, res.Stderr)
	}
	return wire.DecodeResult(string(res.Stdout), op, out)
}

func (r *rig) ok(server, op string, out any, params ...wire.Param) {
	r.t.Helper()
	if err := r.run(server, op, out, params...); err != nil {
		r.t.Fatalf("%s on %s: %v", op, server, err)
	}
}

func (r *rig) fault(server, op string, params ...wire.Param) *wire.Fault {
	r.t.Helper()
	err := r.run(server, op, nil, params...)
	var f *wire.Fault
	if !errors.As(err, &f) {
		r.t.Fatalf("%s on %s: %v, want a fault", op, server, err)
	}
	return f
}

// job is the parameters of a job_start: id, action, then name=value pairs.
func job(id, action string, kv ...string) []wire.Param {
	values := map[string]string{}
	for _, s := range kv {
		k, v, _ := strings.Cut(s, "=")
		values[k] = v
	}
	ps := []wire.Param{{Name: "ID", Value: id}, {Name: "Action", Value: action}}
	for _, k := range []string{"MediaPath", "PackagePath", "PatchCode", "KB", "Language", "Group"} {
		ps = append(ps, wire.Param{Name: k, Value: values[k]})
	}
	return ps
}

func (r *rig) startJob(server string, params []wire.Param) exchange.Job {
	r.t.Helper()
	var j exchange.Job
	r.ok(server, wire.OpJobStart, &j, params...)
	return j
}

func (r *rig) status(server, id string) exchange.Job {
	r.t.Helper()
	var j exchange.Job
	r.ok(server, wire.OpJobStatus, &j, wire.Param{Name: "ID", Value: id})
	return j
}

// installerEvents lists the installer journal entries of server as "<Action> <Detail>".
func (r *rig) installerEvents(server string) []string {
	var out []string
	for _, e := range r.sim.Journal() {
		if e.Server == server && e.Operation == "installer" {
			out = append(out, fmt.Sprint(e.Params["Action"], " ", e.Detail))
		}
	}
	return out
}

func countSuffix(list []string, suffix string) int {
	n := 0
	for _, s := range list {
		if strings.HasSuffix(s, suffix) {
			n++
		}
	}
	return n
}

func service(f exchange.Facts, name string) exchange.ServiceFacts {
	for _, s := range append(slices.Clone(f.Services), f.ThirdPartyServices...) {
		if s.Name == name {
			return s
		}
	}
	return exchange.ServiceFacts{}
}

func TestEveryOperationOfTheContractIsModelled(t *testing.T) {
	for _, op := range []string{wire.OpProbe, wire.OpLock, wire.OpService, wire.OpExchangeServices, wire.OpRevocationCheck,
		wire.OpRemoteStreamingBackup, wire.OpFrontEnd, wire.OpCustomizations, wire.OpJobStart, wire.OpJobStatus, wire.OpJobClear, wire.OpReboot, wire.OpDiscover, wire.OpCluster} {
		if _, ok := operations[op]; !ok {
			t.Errorf("operation %s of wire/ops.go is not modelled", op)
		}
	}
	for _, op := range scripts.Operations() {
		if _, ok := operations[op]; !ok {
			t.Errorf("script %s.ps1 exists but the simulator does not model it", op)
		}
	}
}

func TestRollupsAreDerivedFromTheBuild(t *testing.T) {
	cases := []struct {
		build string
		want  []string // display names
	}{
		{"8.1.393.1", []string{"Update Rollup 9 for Exchange Server 2007 Service Pack 1 (KB970162)"}},
		{"8.1.395.0", []string{"Update Rollup 9 for Exchange Server 2007 Service Pack 1 (KB970162)"}}, // an interim build on RU9
		{"8.0.813.0", []string{"Update Rollup 7 for Exchange Server 2007 (KB953469)"}},
		{"8.3.279.6", []string{"Update Rollup 8-v3 for Exchange Server 2007 Service Pack 3 (KB2778154)"}},
		{"8.0.783.2", []string{"Update Rollup 6 for Exchange Server 2007"}}, // no source states its KB
		{"8.3.83.6", nil},
		{"8.0.685.25", nil},
	}
	for _, tc := range cases {
		var got []string
		for _, u := range RollupsFor("2007", exchange.MustParseBuild(tc.build)) {
			got = append(got, u.DisplayName)
			if !strings.HasPrefix(u.PatchCode, "{") || len(u.PatchCode) != 38 || u.PatchCode != strings.ToUpper(u.PatchCode) {
				t.Errorf("%s: patch code %q is not an upper-case braced GUID", tc.build, u.PatchCode)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: rollups %q, want %q", tc.build, got, tc.want)
		}
	}
	if RollupPatchCode(exchange.Level{Product: "2007", ServicePack: 1, UpdateRollup: 9}) == RollupPatchCode(exchange.Level{Product: "2007", ServicePack: 1, UpdateRollup: 10}) {
		t.Error("two rollups share a patch code")
	}
	if len(RollupsFor("2003", exchange.MustParseBuild("6.5.7638.2"))) != 0 {
		t.Error("Exchange 2003 has no rollups")
	}
}

func TestServicePackInstall(t *testing.T) {
	r := newRig(t, Options{})
	ex01 := r.host("EX01")

	var lock wire.LockResult
	r.ok("EX01", wire.OpLock, &lock, wire.Param{Name: "Owner", Value: "apply-1"}, wire.Param{Name: "TTLSeconds", Value: 7200}, wire.Param{Name: "Release", Value: false}, wire.Param{Name: "TakeOver", Value: ""}, wire.Param{Name: "KeepServiceRecord", Value: false})
	var saved wire.CustomizationsResult
	r.ok("EX01", wire.OpCustomizations, &saved, wire.Param{Name: "Action", Value: "save"}, wire.Param{Name: "LogonFile", Value: ""})
	if !slices.Equal(saved.Items, []string{"owa_logon"}) || ex01.Facts().OWALogonCustomized {
		t.Fatalf("save: items %q, customised %v; want owa_logon moved aside", saved.Items, ex01.Facts().OWALogonCustomized)
	}

	id := "install_service_pack-8.3.83.6"
	j := r.startJob("EX01", job(id, exchange.ActionInstallServicePack, `MediaPath=d:\exchange2007sp3\`))
	if j.ID != id || j.State != exchange.JobRunning || !j.Started.Equal(rigStart) || j.Finished != nil || j.LogPath == "" {
		t.Fatalf("job_start = %+v", j)
	}
	f := ex01.Facts()
	if !f.Setup.Running || len(f.Jobs) != 1 || f.Jobs[0].State != exchange.JobRunning {
		t.Errorf("while installing: setup running %v, jobs %+v", f.Setup.Running, f.Jobs)
	}
	for _, s := range f.Services {
		if s.State != "Stopped" {
			t.Errorf("while installing: %s is %s, want Stopped", s.Name, s.State)
		}
	}
	if svc := service(f, "SNMP"); svc.State != "Running" {
		t.Errorf("the SP stopped the third-party service SNMP: %+v", svc)
	}

	r.clock.Advance(time.Second)
	if got := r.status("EX01", id); got.State != exchange.JobRunning {
		t.Fatalf("after 1s of 2: %+v", got)
	}
	r.clock.Advance(time.Second)
	got := r.status("EX01", id)
	if got.State != exchange.JobSucceeded || got.ExitCode != 3010 || !got.RebootRequired || got.Finished == nil ||
		!got.Finished.Equal(rigStart.Add(2*time.Second)) || got.Error != "" {
		t.Fatalf("after 2s: %+v", got)
	}

	f = ex01.Facts()
	switch {
	case f.Build != "8.3.83.6":
		t.Errorf("build %s, want 8.3.83.6 (SP3)", f.Build)
	case len(f.UpdateRollups) != 0:
		t.Errorf("rollups %+v, want none after an SP", f.UpdateRollups)
	case f.Setup.Running:
		t.Error("setup still running")
	case !slices.Equal(f.PendingReboot, []string{"PendingFileRenameOperations"}):
		t.Errorf("pending reboot %q", f.PendingReboot)
	case f.OWALogonCustomized:
		t.Error("OWA customised after the SP wrote a new logon page")
	}
	for _, s := range f.Services {
		want := exchange.ServiceFacts{Name: s.Name, State: "Running", StartMode: "Auto"}
		if s.Name == "MSExchangeTransport" {
			want = exchange.ServiceFacts{Name: s.Name, State: "Stopped", StartMode: "Disabled"}
		}
		if s != want {
			t.Errorf("after the SP: %+v, want %+v", s, want)
		}
	}

	var fix wire.ExchangeServicesResult
	r.ok("EX01", wire.OpExchangeServices, &fix)
	if !slices.Equal(fix.Enabled, []string{"MSExchangeTransport"}) || !slices.Equal(fix.Started, []string{"MSExchangeTransport"}) || len(fix.Failed) != 0 {
		t.Errorf("exchange_services = %+v", fix)
	}
	if s := service(ex01.Facts(), "MSExchangeTransport"); s.State != "Running" || s.StartMode != "Auto" {
		t.Errorf("after exchange_services: %+v", s)
	}
	var restored wire.CustomizationsResult
	// The update wrote a new page: restore keeps it and drops the saved copy ("How to install the latest Service Pack or Update Rollup for Exchange 2007").
	r.ok("EX01", wire.OpCustomizations, &restored, wire.Param{Name: "Action", Value: "restore"}, wire.Param{Name: "LogonFile", Value: ""})
	if !slices.Equal(restored.Items, []string{"owa_logon"}) || ex01.Facts().OWALogonCustomized || ex01.State().OWALogonStale {
		t.Errorf("restore: items %q, customised %v, stale %v", restored.Items, ex01.Facts().OWALogonCustomized, ex01.State().OWALogonStale)
	}
	r.ok("EX01", wire.OpCustomizations, &restored, wire.Param{Name: "Action", Value: "restore"}, wire.Param{Name: "LogonFile", Value: ""})
	if len(restored.Items) != 0 {
		t.Errorf("a second restore did %q, want nothing", restored.Items)
	}

	want := []string{
		`install_service_pack d:\exchange2007sp3\Setup.com /mode:upgrade started`,
		`install_service_pack d:\exchange2007sp3\Setup.com /mode:upgrade finished exit 3010`,
	}
	if ev := r.installerEvents("EX01"); !slices.Equal(ev, want) {
		t.Errorf("installer events %q, want %q", ev, want)
	}
}

func TestJobStartTwiceAttaches(t *testing.T) {
	r := newRig(t, Options{})
	id := "install_update_rollup-8.1.436.0"
	params := job(id, exchange.ActionInstallUpdateRollup, `PackagePath=\\FILES\Exchange\SP1-RU10.msp`)
	first := r.startJob("EX01", params)
	second := r.startJob("EX01", params)
	if first.State != exchange.JobRunning || second.State != exchange.JobRunning || !second.Started.Equal(first.Started) {
		t.Errorf("first %+v, second %+v", first, second)
	}
	r.clock.Advance(time.Second) // a rollup takes half of InstallDuration
	third := r.startJob("EX01", params)
	if third.State != exchange.JobSucceeded || third.ExitCode != 3010 {
		t.Errorf("after it finished: %+v", third)
	}

	ev := r.installerEvents("EX01")
	if n := countSuffix(ev, " started"); n != 1 {
		t.Errorf("installer started %d times: %q", n, ev)
	}
	var outcomes []string
	for _, e := range r.sim.Journal() {
		if e.Operation == wire.OpJobStart {
			outcomes = append(outcomes, e.Outcome)
		}
	}
	if !slices.Equal(outcomes, []string{"ok", "attached", "attached"}) {
		t.Errorf("job_start outcomes %q", outcomes)
	}

	f := r.host("EX01").Facts()
	var names []string
	for _, u := range f.UpdateRollups {
		names = append(names, u.DisplayName)
	}
	if f.Build != "8.1.436.0" || !slices.Equal(names, []string{
		"Update Rollup 9 for Exchange Server 2007 Service Pack 1 (KB970162)",
		"Update Rollup 10 for Exchange Server 2007 Service Pack 1 (KB981407)"}) {
		t.Errorf("after RU10: build %s, rollups %q", f.Build, names)
	}
	if s := service(f, "MSExchangeTransport"); s.StartMode != "Disabled" {
		t.Errorf("the RU did not leave MSExchangeTransport disabled: %+v", s)
	}
}

func TestJobStartRefusals(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, server string
		before       func(r *rig)
		params       []wire.Param
		code, msg    string
	}{
		{"rollup for another SP", "EX01", nil,
			job("install_update_rollup-8.3.213.1", exchange.ActionInstallUpdateRollup, `PackagePath=\\files\exchange\SP3-RU5.msp`),
			"refused", "this update rollup is for Exchange 2007 SP3; the server runs SP1"},
		{"interim update blocks a service pack", "EX02", nil,
			job("install_service_pack-8.3.83.6", exchange.ActionInstallServicePack, `MediaPath=D:\Exchange2007SP3`),
			"refused", "interim update KB970543 must be removed first: it blocks the installation of Exchange 2007 SP3"},
		{"interim update blocks a rollup", "EX02", nil,
			job("install_update_rollup-8.1.436.0", exchange.ActionInstallUpdateRollup, `PackagePath=\\files\exchange\SP1-RU10.msp`),
			"refused", "interim update KB970543 must be removed first: it blocks the installation of Exchange 2007 SP1 Update Rollup 10"},
		{"service pack not newer", "EX01", nil,
			job("install_service_pack-8.1.240.6", exchange.ActionInstallServicePack, `MediaPath=D:\Exchange2007SP1`),
			"refused", "the server already runs Exchange 2007 SP1; SP1 is not newer (a service pack cannot be uninstalled)"},
		{"rollup already below the build", "EX01", func(r *rig) { r.host("EX01").SetBuild(exchange.MustParseBuild("8.1.436.0")) },
			job("install_update_rollup-8.1.436.0", exchange.ActionInstallUpdateRollup, `PackagePath=\\files\exchange\SP1-RU10.msp`),
			"refused", "Update Rollup 10 for Exchange Server 2007 Service Pack 1 (KB981407) is already installed"},
		{"unknown path", "EX01", nil,
			job("install_service_pack-8.3.83.6", exchange.ActionInstallServicePack, `MediaPath=E:\SP3`),
			"refused", `package not found: E:\SP3\Setup.com`},
		{"path missing on the host", "EX01", func(r *rig) { r.host("EX01").SetPathMissing(`D:\EXCHANGE2007SP3\`, true) },
			job("install_service_pack-8.3.83.6", exchange.ActionInstallServicePack, `MediaPath=D:\Exchange2007SP3`),
			"refused", `package not found: D:\Exchange2007SP3\Setup.com`},
		{"a rollup is not setup media", "EX01", nil,
			job("install_service_pack-8.3.83.6", exchange.ActionInstallServicePack, `MediaPath=\\files\exchange\SP3-RU5.msp`),
			"refused", `\\files\exchange\SP3-RU5.msp holds a update_rollup, not a service_pack`},
		{"media of another product", "EX01", nil,
			job("install_service_pack-6.5.7638", exchange.ActionInstallServicePack, `MediaPath=\\files\exchange2003\SP2-media`),
			"refused", `\\files\exchange2003\SP2-media is for Exchange 2003; the server runs Exchange 2007`},
		{"UM language packs block a service pack", "EX04", nil,
			job("install_service_pack-8.3.83.6", exchange.ActionInstallServicePack, `MediaPath=D:\Exchange2007SP3`),
			"refused", "UM language packs de-DE must be removed first (Setup.com /RemoveUmLanguagePack)"},
		{"pending reboot", "EX01", func(r *rig) {
			r.host("EX01").Update(func(s *State) { s.PendingReboot = []string{"PendingFileRenameOperations"} })
		}, job("install_service_pack-8.3.83.6", exchange.ActionInstallServicePack, `MediaPath=D:\Exchange2007SP3`),
			"refused", "a restart from a previous installation is pending: restart the server first"},
		{"watermark", "EX01", func(r *rig) {
			r.host("EX01").Update(func(s *State) {
				s.SetupWatermarks = []exchange.SetupWatermark{{Role: "HubTransport", Action: "BuildToBuildUpgrade", Watermark: "InstallFiles"}}
			})
		}, job("install_update_rollup-8.1.436.0", exchange.ActionInstallUpdateRollup, `PackagePath=\\files\exchange\SP1-RU10.msp`),
			"watermark", `HKLM\SOFTWARE\Microsoft\Exchange\v8.0\HubTransportRole holds Action = BuildToBuildUpgrade, Watermark = InstallFiles: an Exchange setup was interrupted, and setup refuses to start while they exist`},
		{"a stale CMS key stops every setup but /upgradeCMS", "EX01", func(r *rig) {
			r.host("EX01").Update(func(s *State) { s.StaleCMSKey = true })
		}, job("install_update_rollup-8.1.436.0", exchange.ActionInstallUpdateRollup, `PackagePath=\\files\exchange\SP1-RU10.msp`),
			"watermark", `HKLM\SOFTWARE\Microsoft\Exchange\v8.0\ClusteredMailboxServer holds Action = Install, Watermark = ClusteredMailboxServer: a clustered mailbox server setup did not finish; run Setup.com /upgradeCMS on the node that owns the CMS first`},
		{"setup process running", "EX01", func(r *rig) { r.host("EX01").Update(func(s *State) { s.SetupRunning = true }) },
			job("install_update_rollup-8.1.436.0", exchange.ActionInstallUpdateRollup, `PackagePath=\\files\exchange\SP1-RU10.msp`),
			"setup_running", "a setup process is running: ExSetup (process id 4242)"},
		{"another job running", "EX01", func(r *rig) {
			r.startJob("EX01", job("install_update_rollup-8.1.436.0", exchange.ActionInstallUpdateRollup, `PackagePath=\\files\exchange\SP1-RU10.msp`))
		}, job("install_service_pack-8.3.83.6", exchange.ActionInstallServicePack, `MediaPath=D:\Exchange2007SP3`),
			"setup_running", "job install_update_rollup-8.1.436.0 (install_update_rollup) is still running"},
		{"interim update for another build", "EX01", nil,
			job("install_interim_update-KB971234", exchange.ActionInstallInterimUpdate, `PackagePath=\\files\exchange\KB971234.msp`),
			"refused", "interim update KB971234 is for Exchange 2007 SP1 Update Rollup 8; the server runs Exchange 2007 SP1 Update Rollup 9"},
		{"removing an interim update not installed", "EX01", nil,
			job("remove_interim_update-KB970543", exchange.ActionRemoveInterimUpdate, "KB=KB970543", "PatchCode="+InterimUpdatePatchCode("KB970543")),
			"refused", "interim update KB970543 is not installed"},
		{"removing by KB alone", "EX02", nil,
			job("remove_interim_update-KB970543", exchange.ActionRemoveInterimUpdate, "KB=KB970543"),
			"refused", "no Windows Installer patch code for KB970543: only Exchange 2007 updates (.msp) can be removed by the provider; remove this one by hand"},
		{"removing a hotfix of Exchange 2003", "FE01", nil,
			job("remove_interim_update-KB924334", exchange.ActionRemoveInterimUpdate, "KB=KB924334", "PatchCode="+InterimUpdatePatchCode("KB924334")),
			"refused", "removing an update by patch code needs Exchange Server 2007 (no ExSetup.exe under MsiInstallPath)"},
		{"a package that is not an .msp", "EX01", func(r *rig) {
			if err := r.sim.RegisterPackage(`\\files\exchange\SP1-RU10.zip`, Package{Kind: PackageUpdateRollup, ServicePack: 1, UpdateRollup: 10}); err != nil {
				t.Fatal(err)
			}
		}, job("install_update_rollup-8.1.436.0", exchange.ActionInstallUpdateRollup, `PackagePath=\\files\exchange\SP1-RU10.zip`),
			"refused", `package \\files\exchange\SP1-RU10.zip is neither an .msp nor an .exe`},
		{"a bad patch code", "EX02", nil,
			job("remove_interim_update-KB970543", exchange.ActionRemoveInterimUpdate, "PatchCode=970543"),
			"invalid", `"970543" is not a Windows Installer patch code ({GUID})`},
		{"a quote in a path", "EX01", nil,
			job("install_service_pack-8.3.83.6", exchange.ActionInstallServicePack, `MediaPath=D:\SP3" /other`),
			"invalid", `MediaPath "D:\SP3" /other" holds a double quote or a control character`},
		{"UM language pack of another SP", "EX04", func(r *rig) {
			r.host("EX04").Update(func(s *State) { s.UMLanguagePacks = nil })
		}, job("add_um_language_pack-de-DE", exchange.ActionAddUMLanguagePack, `MediaPath=D:\Exchange2007SP1`, `PackagePath=\\files\exchange\UM\SP3`, "Language=de-DE"),
			"refused", `the UM language packs at \\files\exchange\UM\SP3 are for Exchange 2007 SP3; the server runs SP1`},
		{"UM language pack without the role", "EX01", nil,
			job("add_um_language_pack-de-DE", exchange.ActionAddUMLanguagePack, `MediaPath=D:\Exchange2007SP1`, `PackagePath=\\files\exchange\UM\SP1\de-DE`, "Language=de-DE"),
			"refused", "EX01 has no Unified Messaging role: UM language packs cannot be added or removed"},
		{"UM language pack without media", "EX04", nil,
			job("remove_um_language_pack-de-DE", exchange.ActionRemoveUMLanguagePack, "Language=de-DE"),
			"refused", "no media path: UM language packs are added and removed with Setup.com from the Exchange media"},
		{"a bad job id", "EX01", nil,
			job("install service pack", exchange.ActionInstallServicePack, `MediaPath=D:\Exchange2007SP3`),
			"invalid", `"install service pack" is not a job id (letters, digits, dot, dash and underscore, at most 128)`},
		{"not an installing action", "EX01", nil, job("reboot-1", "reboot"),
			"invalid", `"reboot" is not an installing action (install_service_pack, install_update_rollup, install_interim_update, uninstall_update_rollup, remove_interim_update, remove_um_language_pack, add_um_language_pack, upgrade_cms)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, Options{})
			if tc.before != nil {
				tc.before(r)
			}
			before := r.host(tc.server).Facts()
			f := r.fault(tc.server, wire.OpJobStart, tc.params...)
			if f.Code != tc.code || f.Message != tc.msg {
				t.Errorf("fault %s: %s\nwant  %s: %s", f.Code, f.Message, tc.code, tc.msg)
			}
			after := r.host(tc.server).Facts()
			if after.Build != before.Build || len(after.Jobs) != len(before.Jobs) || countSuffix(r.installerEvents(tc.server), " started") != len(before.Jobs) {
				t.Errorf("a refused job changed the host: %+v", after.Jobs)
			}
		})
	}
}

func TestWatermarkIsClearedByTheGoAPI(t *testing.T) {
	r := newRig(t, Options{})
	ex01 := r.host("EX01")
	ex01.Update(func(s *State) {
		s.SetupWatermarks = []exchange.SetupWatermark{{Role: "ClientAccess", Action: "x", Watermark: "y"}}
	})
	params := job("install_service_pack-8.3.83.6", exchange.ActionInstallServicePack, `MediaPath=D:\Exchange2007SP3`)
	if f := r.fault("EX01", wire.OpJobStart, params...); f.Code != "watermark" {
		t.Fatalf("fault %v", f)
	}
	ex01.ClearWatermark()
	if j := r.startJob("EX01", params); j.State != exchange.JobRunning {
		t.Errorf("after ClearWatermark: %+v", j)
	}
}

func TestFileInUseFailsTheNextJobAndChangesNothing(t *testing.T) {
	r := newRig(t, Options{})
	ex01 := r.host("EX01")
	if err := ex01.InjectFault(Fault{Kind: FaultFileInUse}); err != nil {
		t.Fatal(err)
	}
	before := ex01.Facts()
	id := "install_update_rollup-8.1.436.0"
	r.startJob("EX01", job(id, exchange.ActionInstallUpdateRollup, `PackagePath=\\files\exchange\SP1-RU10.msp`))
	r.clock.Advance(time.Second)
	got := r.status("EX01", id)
	if got.State != exchange.JobFailed || got.ExitCode != 1603 || got.Error != "FileInUse: STORE.EXE" || got.RebootRequired {
		t.Errorf("job = %+v", got)
	}
	after := ex01.Facts()
	if after.Build != before.Build || len(after.UpdateRollups) != len(before.UpdateRollups) || !slices.Equal(after.Services, before.Services) ||
		len(after.PendingReboot) != 0 || after.Setup.Running {
		t.Errorf("a failed install changed the host: %+v", after)
	}
	if len(ex01.Faults()) != 0 {
		t.Errorf("the fault is still armed: %+v", ex01.Faults())
	}
	msiexec := `C:\WINDOWS\System32\msiexec.exe /update \\files\exchange\SP1-RU10.msp /quiet /norestart /l*v ` +
		`C:\WINDOWS\Temp\ExchangeProvider\jobs\install_update_rollup-8.1.436.0-20240502060000.log`
	if ev := r.installerEvents("EX01"); len(ev) != 2 || ev[1] != "install_update_rollup "+msiexec+" finished exit 1603: FileInUse: STORE.EXE" {
		t.Errorf("installer events %q", ev)
	}
	// The step again, under the same id: a failed job runs again (job_start.ps1), and
	// this time it succeeds.
	r.clock.Advance(time.Second)
	if j := r.startJob("EX01", job(id, exchange.ActionInstallUpdateRollup, `PackagePath=\\files\exchange\SP1-RU10.msp`)); j.State != exchange.JobRunning ||
		!j.Started.Equal(rigStart.Add(2*time.Second)) || j.Error != "" {
		t.Errorf("the failed job again: %+v", j)
	}
	r.clock.Advance(time.Second)
	if got := r.status("EX01", id); got.State != exchange.JobSucceeded || ex01.Facts().Build != "8.1.436.0" || len(ex01.Facts().Jobs) != 1 {
		t.Errorf("retry: %+v, build %s, jobs %+v", got, ex01.Facts().Build, ex01.Facts().Jobs)
	}
	if n := countSuffix(r.installerEvents("EX01"), " started"); n != 2 {
		t.Errorf("installer started %d times, want 2", n)
	}
}

func TestSetupAbortLeavesAWatermark(t *testing.T) {
	r := newRig(t, Options{})
	ex01 := r.host("EX01")
	// Armed on a rollup first: setup_abort waits for a service pack.
	if err := ex01.InjectFault(Fault{Kind: FaultSetupAbort}); err != nil {
		t.Fatal(err)
	}
	r.startJob("EX01", job("install_update_rollup-8.1.436.0", exchange.ActionInstallUpdateRollup, `PackagePath=\\files\exchange\SP1-RU10.msp`))
	r.clock.Advance(time.Second)
	if got := r.status("EX01", "install_update_rollup-8.1.436.0"); got.State != exchange.JobSucceeded {
		t.Fatalf("the rollup: %+v", got)
	}
	ex01.Update(func(s *State) { s.PendingReboot = nil })

	id := "install_service_pack-8.3.83.6"
	params := job(id, exchange.ActionInstallServicePack, `MediaPath=D:\Exchange2007SP3`)
	r.startJob("EX01", params)
	r.clock.Advance(2 * time.Second)
	got := r.status("EX01", id)
	if got.State != exchange.JobFailed || got.ExitCode != 1603 || got.Error != "the installer exited with code 1603" {
		t.Errorf("job = %+v", got)
	}
	f := ex01.Facts()
	if len(f.Setup.Watermarks) != 1 || f.Setup.Watermarks[0].Role != "ClientAccess" || f.Build != "8.1.436.0" || f.Setup.Running {
		t.Fatalf("after the abort: watermarks %+v, build %s, running %v", f.Setup.Watermarks, f.Build, f.Setup.Running)
	}
	// Setup now refuses, also under a new id, until the watermark is cleared.
	if fl := r.fault("EX01", wire.OpJobStart, job(id+"-2", exchange.ActionInstallServicePack, `MediaPath=D:\Exchange2007SP3`)...); fl.Code != "watermark" {
		t.Errorf("after the abort: %+v", fl)
	}
	ex01.ClearWatermark()
	r.startJob("EX01", job(id+"-2", exchange.ActionInstallServicePack, `MediaPath=D:\Exchange2007SP3`))
	r.clock.Advance(2 * time.Second)
	if ex01.Facts().Build != "8.3.83.6" {
		t.Errorf("the SP after clearing: build %s", ex01.Facts().Build)
	}
}

func TestRollupUninstallAndInterimUpdates(t *testing.T) {
	r := newRig(t, Options{})
	ex02 := r.host("EX02")
	makePassive(r.sim, "EX02")

	r.startJob("EX02", job("remove_interim_update-KB970543", exchange.ActionRemoveInterimUpdate, "KB=KB970543",
		"PatchCode="+strings.ToLower(InterimUpdatePatchCode("KB970543"))))
	r.clock.Advance(500 * time.Millisecond) // a quarter of InstallDuration
	if f := ex02.Facts(); len(f.InterimUpdates) != 0 {
		t.Fatalf("interim updates %+v after the removal", f.InterimUpdates)
	}
	r.startJob("EX02", job("install_update_rollup-8.1.436.0", exchange.ActionInstallUpdateRollup, `PackagePath=\\files\exchange\SP1-RU10.msp`))
	r.clock.Advance(time.Second)
	f := ex02.Facts()
	if f.Build != "8.1.436.0" || len(f.UpdateRollups) != 2 {
		t.Fatalf("after RU10: build %s, rollups %+v", f.Build, f.UpdateRollups)
	}
	ru10 := f.UpdateRollups[1]
	r.startJob("EX02", job("uninstall_update_rollup-KB981407", exchange.ActionUninstallUpdateRollup, "PatchCode="+strings.ToLower(ru10.PatchCode)))
	r.clock.Advance(time.Second)
	f = ex02.Facts()
	if f.Build != "8.1.393.1" || len(f.UpdateRollups) != 1 || f.UpdateRollups[0].DisplayName != "Update Rollup 9 for Exchange Server 2007 Service Pack 1 (KB970162)" {
		t.Fatalf("after uninstalling RU10: build %s, rollups %+v", f.Build, f.UpdateRollups)
	}
	if got := r.status("EX02", "uninstall_update_rollup-KB981407"); got.ExitCode != 0 || got.State != exchange.JobSucceeded {
		t.Errorf("uninstall job %+v", got)
	}
	r.startJob("EX02", job("install_interim_update-KB970543", exchange.ActionInstallInterimUpdate, `PackagePath=\\files\exchange\KB970543.msp`))
	r.clock.Advance(500 * time.Millisecond)
	f = ex02.Facts()
	if len(f.InterimUpdates) != 1 || f.InterimUpdates[0].KB != "KB970543" || f.InterimUpdates[0].PatchCode != InterimUpdatePatchCode("KB970543") {
		t.Errorf("interim updates %+v", f.InterimUpdates)
	}
	// The last rollup goes too: the build is the SP's own.
	r.startJob("EX02", job("uninstall_update_rollup-RU9", exchange.ActionUninstallUpdateRollup, "PatchCode="+f.UpdateRollups[0].PatchCode))
	r.clock.Advance(time.Second)
	if f := ex02.Facts(); f.Build != "8.1.240.6" || len(f.UpdateRollups) != 0 {
		t.Errorf("without rollups: build %s, rollups %+v", f.Build, f.UpdateRollups)
	}
	if fl := r.fault("EX02", wire.OpJobStart, job("uninstall_update_rollup-x", exchange.ActionUninstallUpdateRollup, "PatchCode="+ru10.PatchCode)...); fl.Code != "refused" ||
		fl.Message != "update rollup "+ru10.PatchCode+" is not installed" {
		t.Errorf("uninstalling a rollup not installed: %+v", fl)
	}
}

func TestUMLanguagePacksAroundAServicePack(t *testing.T) {
	r := newRig(t, Options{})
	ex04 := r.host("EX04")
	r.startJob("EX04", job("remove_um_language_pack-de-DE", exchange.ActionRemoveUMLanguagePack, `MediaPath=D:\Exchange2007SP1`, "Language=de-de"))
	r.clock.Advance(500 * time.Millisecond)
	if f := ex04.Facts(); len(f.UMLanguagePacks) != 0 {
		t.Fatalf("UM language packs %q", f.UMLanguagePacks)
	}
	r.startJob("EX04", job("install_service_pack-8.3.83.6", exchange.ActionInstallServicePack, `MediaPath=D:\Exchange2007SP3`))
	r.clock.Advance(2 * time.Second)
	r.startJob("EX04", job("add_um_language_pack-de-DE", exchange.ActionAddUMLanguagePack, `MediaPath=D:\Exchange2007SP3`, `PackagePath=\\files\exchange\UM\SP3`, "Language=de-DE"))
	r.clock.Advance(500 * time.Millisecond)
	f := ex04.Facts()
	if f.Build != "8.3.83.6" || !slices.Equal(f.UMLanguagePacks, []string{"de-DE"}) {
		t.Errorf("build %s, UM language packs %q", f.Build, f.UMLanguagePacks)
	}
	want := []string{
		`remove_um_language_pack D:\Exchange2007SP1\Setup.com /RemoveUmLanguagePack:de-de started`,
		`remove_um_language_pack D:\Exchange2007SP1\Setup.com /RemoveUmLanguagePack:de-de finished exit 0`,
		`install_service_pack D:\Exchange2007SP3\Setup.com /mode:upgrade started`,
		`install_service_pack D:\Exchange2007SP3\Setup.com /mode:upgrade finished exit 3010`,
		`add_um_language_pack D:\Exchange2007SP3\Setup.com /AddUmLanguagePack:de-DE /s:\\files\exchange\UM\SP3 started`,
		`add_um_language_pack D:\Exchange2007SP3\Setup.com /AddUmLanguagePack:de-DE /s:\\files\exchange\UM\SP3 finished exit 0`,
	}
	if ev := r.installerEvents("EX04"); !slices.Equal(ev, want) {
		t.Errorf("installer events:\n%q\nwant\n%q", ev, want)
	}
}

func TestServicePackResetsRemoteStreamingBackup(t *testing.T) {
	r := newRig(t, Options{DisabledAfterInstall: []string{}})
	ex02 := r.host("EX02")
	makePassive(r.sim, "EX02")
	ex02.Update(func(s *State) { s.InterimUpdates = nil })
	r.startJob("EX02", job("install_service_pack-8.3.83.6", exchange.ActionInstallServicePack, `MediaPath=D:\Exchange2007SP3`))
	r.clock.Advance(2 * time.Second)
	f := ex02.Facts()
	if f.RemoteStreamingBackup == nil || *f.RemoteStreamingBackup {
		t.Errorf("remote streaming backup %v after the SP, want false", f.RemoteStreamingBackup)
	}
	for _, s := range f.Services {
		if s.State != "Running" || s.StartMode != "Auto" {
			t.Errorf("DisabledAfterInstall empty, yet %+v", s)
		}
	}
	var set wire.SettingResult
	r.ok("EX02", wire.OpRemoteStreamingBackup, &set, wire.Param{Name: "Enabled", Value: true})
	if set.Before || !set.After || !*ex02.Facts().RemoteStreamingBackup {
		t.Errorf("remote_streaming_backup = %+v", set)
	}
}

func TestLockSemantics(t *testing.T) {
	r := newRig(t, Options{})
	lock := func(owner string, ttl int, release bool) wire.LockResult {
		t.Helper()
		var res wire.LockResult
		r.ok("EX01", wire.OpLock, &res, wire.Param{Name: "Owner", Value: owner}, wire.Param{Name: "TTLSeconds", Value: ttl}, wire.Param{Name: "Release", Value: release}, wire.Param{Name: "TakeOver", Value: ""}, wire.Param{Name: "KeepServiceRecord", Value: false})
		return res
	}
	ex01 := r.host("EX01")

	if got := lock("apply-A", 60, false); !got.Held || got.Owner != "apply-A" || !got.Expires.Equal(rigStart.Add(time.Minute)) {
		t.Fatalf("take A: %+v", got)
	}
	if got := lock("apply-B", 60, false); got.Held || got.Owner != "apply-A" {
		t.Errorf("take B while A holds it: %+v", got)
	}
	r.clock.Advance(30 * time.Second)
	if got := lock("apply-A", 60, false); !got.Held || !got.Expires.Equal(rigStart.Add(90*time.Second)) {
		t.Errorf("renew A: %+v", got)
	}
	if l := ex01.Facts().Lock; l == nil || l.Owner != "apply-A" || !l.Acquired.Equal(rigStart) || !l.Expires.Equal(rigStart.Add(90*time.Second)) {
		t.Errorf("facts lock %+v", l)
	}
	if got := lock("apply-B", 0, true); got.Held || got.Owner != "apply-A" || ex01.Facts().Lock == nil {
		t.Errorf("B releasing A's lock: %+v", got)
	}
	r.clock.Advance(61 * time.Second)
	if l := ex01.Facts().Lock; l != nil {
		t.Errorf("an expired lock shows: %+v", l)
	}
	if got := lock("apply-B", 60, false); !got.Held || got.Owner != "apply-B" {
		t.Errorf("take B after A expired: %+v", got)
	}
	if got := lock("apply-B", 0, true); got.Held || got.Owner != "" || ex01.Facts().Lock != nil {
		t.Errorf("release B: %+v", got)
	}
	if got := lock("apply-B", 0, true); got.Held || got.Owner != "" {
		t.Errorf("release again: %+v", got)
	}
	for _, bad := range []struct {
		owner string
		ttl   int
		msg   string
	}{{" ", 60, "the lock owner must not be empty"}, {"apply-C", 0, "the lock TTL must be a positive number of seconds, got 0"}} {
		f := r.fault("EX01", wire.OpLock, wire.Param{Name: "Owner", Value: bad.owner}, wire.Param{Name: "TTLSeconds", Value: bad.ttl}, wire.Param{Name: "Release", Value: false}, wire.Param{Name: "TakeOver", Value: ""}, wire.Param{Name: "KeepServiceRecord", Value: false})
		if f.Code != "invalid" || f.Message != bad.msg {
			t.Errorf("owner %q ttl %d: %+v", bad.owner, bad.ttl, f)
		}
	}
	var details []string
	for _, e := range r.sim.Journal() {
		if e.Operation == wire.OpLock && e.Outcome == "ok" {
			details = append(details, e.Detail)
		}
	}
	if len(details) != 7 || details[0] != "taken" || details[2] != "renewed" || details[6] != "not held" {
		t.Errorf("lock journal details %q", details)
	}
}

// TakeOver takes a lock that is still exactly that owner's, as if it had expired; a lock
// another owner holds (say, an apply that took it over first) still refuses.
func TestLockTakeOver(t *testing.T) {
	r := newRig(t, Options{})
	lock := func(owner, takeOver string) wire.LockResult {
		t.Helper()
		var res wire.LockResult
		r.ok("EX01", wire.OpLock, &res, wire.Param{Name: "Owner", Value: owner}, wire.Param{Name: "TTLSeconds", Value: 60},
			wire.Param{Name: "Release", Value: false}, wire.Param{Name: "TakeOver", Value: takeOver}, wire.Param{Name: "KeepServiceRecord", Value: false})
		return res
	}
	ex01 := r.host("EX01")
	if got := lock("dead", ""); !got.Held {
		t.Fatalf("take: %+v", got)
	}
	record := ex01.State().LockServices
	r.clock.Advance(10 * time.Second)
	if got := lock("B", "someone-else"); got.Held || got.Owner != "dead" {
		t.Errorf("take-over naming another owner: %+v", got)
	}
	if got := lock("B", "dead"); !got.Held || got.Owner != "B" {
		t.Errorf("take-over of dead: %+v", got)
	}
	if l := ex01.State().Lock; l == nil || l.Owner != "B" || !l.Acquired.Equal(rigStart.Add(10*time.Second)) {
		t.Errorf("lock after the take-over: %+v", l)
	}
	if got := ex01.State().LockServices; len(got) == 0 || len(got) != len(record) {
		t.Errorf("the take-over dropped the services record: %v, was %v", got, record)
	}
	if got := lock("C", "dead"); got.Held || got.Owner != "B" {
		t.Errorf("a second take-over of dead, now B's: %+v", got)
	}
	var details []string
	for _, e := range r.sim.Journal() {
		if e.Operation == wire.OpLock {
			details = append(details, e.Detail)
		}
	}
	want := fmt.Sprintf("taken|not taken: held by dead until %s|taken over from dead|not taken: held by B until %s",
		rigStart.Add(time.Minute).Format(time.RFC3339), rigStart.Add(70*time.Second).Format(time.RFC3339))
	if strings.Join(details, "|") != want {
		t.Errorf("journal details %q", details)
	}
}

func TestServiceOperation(t *testing.T) {
	r := newRig(t, Options{})
	svc := func(name, action string) (wire.ServiceResult, error) {
		var res wire.ServiceResult
		err := r.run("EX02", wire.OpService, &res, wire.Param{Name: "Name", Value: name}, wire.Param{Name: "Action", Value: action})
		return res, err
	}
	for i, want := range []wire.ServiceResult{
		{Name: "BackupExecAgentAccelerator", Before: "Running", After: "Stopped", StartMode: "Auto"},
		{Name: "BackupExecAgentAccelerator", Before: "Stopped", After: "Stopped", StartMode: "Auto"},
	} {
		if got, err := svc("backupexecagentaccelerator", "stop"); err != nil || got != want {
			t.Errorf("stop #%d: %+v, %v", i+1, got, err)
		}
	}
	if got := service(r.host("EX02").Facts(), "BackupExecAgentAccelerator"); got.State != "Stopped" {
		t.Errorf("facts: %+v", got)
	}
	if got, err := svc("BackupExecAgentAccelerator", "start"); err != nil || got.After != "Running" {
		t.Errorf("start: %+v, %v", got, err)
	}
	r.host("EX02").Update(func(s *State) { s.Services[0].StartMode, s.Services[0].State = "Disabled", "Stopped" })
	var f *wire.Fault
	if _, err := svc("MSExchangeADTopology", "start"); !errors.As(err, &f) || f.Code != "failed" {
		t.Errorf("starting a disabled service: %v", err)
	}
	if _, err := svc("NoSuchService", "stop"); !errors.As(err, &f) || f.Code != "not_found" || f.Message != `no service named "NoSuchService" on EX02` {
		t.Errorf("unknown service: %v", err)
	}
	if _, err := svc("McShield", "restart"); !errors.As(err, &f) || f.Code != "invalid" {
		t.Errorf("bad action: %v", err)
	}
}

func TestExchangeServicesKeepsWhatTheLockRecorded(t *testing.T) {
	r := newRig(t, Options{})
	// EX55's MSExchangeMTA is Disabled in the fleet: an administrator's choice the lock
	// records, so the fix-up leaves it.
	var lock wire.LockResult
	r.ok("EX55", wire.OpLock, &lock, wire.Param{Name: "Owner", Value: "a"}, wire.Param{Name: "TTLSeconds", Value: 60}, wire.Param{Name: "Release", Value: false}, wire.Param{Name: "TakeOver", Value: ""}, wire.Param{Name: "KeepServiceRecord", Value: false})
	r.host("EX55").Update(func(s *State) { s.Services[0].State = "Stopped" })
	var res wire.ExchangeServicesResult
	r.ok("EX55", wire.OpExchangeServices, &res)
	if len(res.Enabled) != 0 || !slices.Equal(res.Started, []string{"MSExchangeIS"}) {
		t.Errorf("with the lock's record: %+v", res)
	}
	// Released keeping the record (an apply that stopped after changing the server): the
	// next lock finds it and takes no new one, so the fix-up still leaves MSExchangeMTA.
	r.ok("EX55", wire.OpLock, &lock, wire.Param{Name: "Owner", Value: "a"}, wire.Param{Name: "TTLSeconds", Value: 0}, wire.Param{Name: "Release", Value: true}, wire.Param{Name: "TakeOver", Value: ""}, wire.Param{Name: "KeepServiceRecord", Value: true})
	if r.host("EX55").Facts().Lock != nil {
		t.Error("released keeping the record, the lock is still held")
	}
	r.host("EX55").Update(func(s *State) { s.Services[0].State = "Stopped" })
	r.ok("EX55", wire.OpLock, &lock, wire.Param{Name: "Owner", Value: "b"}, wire.Param{Name: "TTLSeconds", Value: 60}, wire.Param{Name: "Release", Value: false}, wire.Param{Name: "TakeOver", Value: ""}, wire.Param{Name: "KeepServiceRecord", Value: false})
	r.ok("EX55", wire.OpExchangeServices, &res)
	if len(res.Enabled) != 0 || !slices.Equal(res.Started, []string{"MSExchangeIS"}) {
		t.Errorf("with the record kept from the first lock: %+v", res)
	}
	// Released: no record, so a Disabled service is enabled.
	r.ok("EX55", wire.OpLock, &lock, wire.Param{Name: "Owner", Value: "b"}, wire.Param{Name: "TTLSeconds", Value: 0}, wire.Param{Name: "Release", Value: true}, wire.Param{Name: "TakeOver", Value: ""}, wire.Param{Name: "KeepServiceRecord", Value: false})
	r.ok("EX55", wire.OpExchangeServices, &res)
	if !slices.Equal(res.Enabled, []string{"MSExchangeMTA"}) || !slices.Equal(res.Started, []string{"MSExchangeMTA"}) || len(res.Services) != 4 ||
		res.Services[0].Name != "MSExchangeDS" {
		t.Errorf("without a record: %+v", res)
	}
}

func TestSettingsOperations(t *testing.T) {
	r := newRig(t, Options{})
	var res wire.SettingResult
	r.ok("EX04", wire.OpRevocationCheck, &res, wire.Param{Name: "Enabled", Value: false})
	if !res.Before || res.After || r.host("EX04").Facts().RevocationCheck {
		t.Errorf("revocation check off: %+v", res)
	}
	if f := r.fault("EX01", wire.OpRemoteStreamingBackup, wire.Param{Name: "Enabled", Value: true}); f.Code != "not_found" {
		t.Errorf("remote streaming backup on a server without a store: %+v", f)
	}
	r.ok("EX03", wire.OpRemoteStreamingBackup, &res, wire.Param{Name: "Enabled", Value: true})
	if res.Before || !res.After || !*r.host("EX03").Facts().RemoteStreamingBackup {
		t.Errorf("remote streaming backup on: %+v", res)
	}
	// Off when absent stays absent.
	r.ok("EX55", wire.OpRemoteStreamingBackup, &res, wire.Param{Name: "Enabled", Value: false})
	if res.Before || res.After || r.host("EX55").Facts().RemoteStreamingBackup != nil {
		t.Errorf("off when absent: %+v", res)
	}
	if f := r.fault("EX01", wire.OpJobStatus, wire.Param{Name: "ID", Value: "install_service_pack-8.3.83.6"}); f.Code != "not_found" ||
		f.Message != "no job install_service_pack-8.3.83.6 on EX01" {
		t.Errorf("job_status of no job: %+v", f)
	}
}

func TestRestartInterruptsARunningJob(t *testing.T) {
	r := newRig(t, Options{})
	ex01 := r.host("EX01")
	boot := ex01.Facts().BootTime
	id := "install_service_pack-8.3.83.6"
	r.startJob("EX01", job(id, exchange.ActionInstallServicePack, `MediaPath=D:\Exchange2007SP3`))
	if f := r.fault("EX01", wire.OpReboot); f.Code != "setup_running" {
		t.Fatalf("reboot while installing: %+v", f)
	}
	r.clock.Advance(time.Second)
	ex01.Restart()
	if ex01.Reachable() {
		t.Error("reachable while restarting")
	}
	got, _ := ex01.Job(id)
	if got.State != exchange.JobFailed || got.ExitCode != -1 || !strings.HasPrefix(got.Error, "interrupted by reboot") {
		t.Errorf("job %+v", got)
	}
	r.clock.Advance(time.Second) // RebootDuration
	f := ex01.Facts()
	if !ex01.Reachable() || !f.BootTime.After(boot) || len(f.Setup.Watermarks) != 1 || f.Setup.Running || f.Build != "8.1.393.1" {
		t.Errorf("after the restart: reachable %v, boot %v (was %v), watermarks %+v, running %v, build %s",
			ex01.Reachable(), f.BootTime, boot, f.Setup.Watermarks, f.Setup.Running, f.Build)
	}
	r.clock.Advance(time.Minute)
	if got, _ := ex01.Job(id); got.State != exchange.JobFailed {
		t.Errorf("the interrupted job finished after all: %+v", got)
	}
}

func TestFaultsAndPackagesFromTheFleet(t *testing.T) {
	fleet, err := ParseFleet(strings.NewReader(`{
  "credentials": {"username": "admin", "password": "pw"},
  "packages": {
    "D:\\Exchange2007SP3": {"kind": "service_pack", "product": "2007", "service_pack": 3},
    "\\\\files\\SP3-RU5.msp": {"kind": "update_rollup", "service_pack": 3, "update_rollup": 5, "kb": "KB2602324"}
  },
  "servers": [
    {"name": "EX01", "address": "127.0.10.11", "product": "2007", "build": "8.1.393.1", "roles": ["HubTransport"],
     "faults": [{"kind": "file_in_use"}, {"kind": "drop_connection"}],
     "missing_paths": ["\\\\files\\SP3-RU5.msp"],
     "disabled_after_install": ["msexchangeedgesync"]}
  ]}`))
	if err != nil {
		t.Fatal(err)
	}
	s := fleet.Servers[0]
	if len(fleet.Packages) != 2 || fleet.Packages[`D:\Exchange2007SP3`].ServicePack != 3 ||
		!reflect.DeepEqual(s.Faults, []Fault{{Kind: "file_in_use"}, {Kind: "drop_connection", Count: 3}}) ||
		!slices.Equal(s.MissingPaths, []string{`\\files\SP3-RU5.msp`}) || !slices.Equal(s.DisabledAfterInstall, []string{"MSExchangeEdgeSync"}) {
		t.Fatalf("fleet %+v, server %+v", fleet.Packages, s)
	}

	sim, err := Start(fleet, Options{DisableHTTPS: true, Clock: NewManualClock(rigStart), InstallDuration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	r := &rig{t: t, sim: sim, clock: sim.Clock().(*ManualClock)}
	r.startJob("EX01", job("sp3", exchange.ActionInstallServicePack, `MediaPath=d:\exchange2007sp3`))
	r.clock.Advance(time.Second)
	if got := r.status("EX01", "sp3"); got.Error != "FileInUse: STORE.EXE" {
		t.Errorf("the fleet's file_in_use: %+v", got)
	}
	if n := sim.Endpoint("EX01").Stats().InjectedFailures; n != 0 {
		t.Errorf("drop_connection fired through the handler: %d", n)
	}
	r.startJob("EX01", job("sp3-again", exchange.ActionInstallServicePack, `MediaPath=d:\exchange2007sp3`))
	r.clock.Advance(time.Second)
	f := sim.Host("EX01").Facts()
	if f.Build != "8.3.83.6" || service(f, "MSExchangeEdgeSync").StartMode != "Disabled" || service(f, "MSExchangeTransport").StartMode != "Auto" {
		t.Errorf("after the SP: build %s, services %+v", f.Build, f.Services)
	}
	if fl := r.fault("EX01", wire.OpJobStart, job("ru5", exchange.ActionInstallUpdateRollup, `PackagePath=\\files\SP3-RU5.msp`)...); fl.Code != "refused" ||
		!strings.HasPrefix(fl.Message, "package not found") {
		t.Errorf("a missing path: %+v", fl)
	}
	sim.Host("EX01").SetPathMissing(`\\files\SP3-RU5.msp`, false)
	sim.Host("EX01").Update(func(s *State) { s.PendingReboot = nil })
	if j := r.startJob("EX01", job("ru5", exchange.ActionInstallUpdateRollup, `PackagePath=\\files\SP3-RU5.msp`)); j.State != exchange.JobRunning {
		t.Errorf("the path back: %+v", j)
	}
	if err := sim.RegisterPackage(`E:\bad.msp`, Package{Kind: PackageUpdateRollup, ServicePack: 3, UpdateRollup: 99}); err == nil ||
		!strings.Contains(err.Error(), "has no Update Rollup 99") {
		t.Errorf("registering a rollup that does not exist: %v", err)
	}
}

// refuse_operation needs the operation it refuses; params belong to it alone.
func TestRefuseOperationFaultIsChecked(t *testing.T) {
	for _, tc := range []struct {
		f    Fault
		want string
	}{
		{Fault{Kind: FaultRefuseOperation}, "fault refuse_operation needs operation"},
		{Fault{Kind: FaultUnauthorized, Operation: "probe", Params: map[string]any{"Release": true}}, "fault unauthorized takes no params"},
	} {
		if _, err := tc.f.normalize(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.f, err, tc.want)
		}
	}
	if f, err := (Fault{Kind: FaultRefuseOperation, Operation: "lock", Params: map[string]any{"Release": true}}).normalize(); err != nil || f.Count != 1 {
		t.Errorf("a lock release refused once: %+v, %v", f, err)
	}
}
