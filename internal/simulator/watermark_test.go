package simulator

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
)

func watermarkReq(action, key, file string) []wire.Param {
	return wire.Params(wire.SetupWatermarkRequest{Action: action, Key: key, File: file})
}

// Setup refuses while the values exist; export records the key's values in a file (once),
// remove deletes only that key's values, and then setup starts. Every action refuses while a
// setup runs.
func TestSetupWatermarkExportThenRemoveLetsSetupRun(t *testing.T) {
	r := newRig(t, Options{})
	ex01 := r.host("EX01")
	ex01.Update(func(s *State) {
		s.SetupWatermarks = []exchange.SetupWatermark{
			{Role: "HubTransport", Action: "BuildToBuildUpgrade", Watermark: "InstallFiles"},
			{Role: "ClientAccess", Action: "BuildToBuildUpgrade"},
		}
	})
	sp := job("install_service_pack-8.3.83.6", exchange.ActionInstallServicePack, `MediaPath=D:\Exchange2007SP3`)
	if f := r.fault("EX01", wire.OpJobStart, sp...); f.Code != "watermark" {
		t.Fatalf("setup with a watermark: %v", f)
	}

	ex01.Update(func(s *State) { s.SetupRunning = true })
	for _, req := range [][]wire.Param{watermarkReq("check", "", ""), watermarkReq("export", "HubTransportRole", "HubTransportRole-00000000.reg"), watermarkReq("remove", "HubTransportRole", "")} {
		if f := r.fault("EX01", wire.OpSetupWatermark, req...); f.Code != "setup_running" {
			t.Errorf("%v while setup runs: %v", req, f)
		}
	}
	ex01.Update(func(s *State) { s.SetupRunning = false })
	if got := ex01.State(); len(got.SetupWatermarks) != 2 || len(got.SetupKeyExports) != 0 {
		t.Fatalf("a refused action changed the host: %+v", got)
	}

	var res wire.SetupWatermarkResult
	r.ok("EX01", wire.OpSetupWatermark, &res, watermarkReq("check", "", "")...)
	r.ok("EX01", wire.OpSetupWatermark, &res, watermarkReq("export", "HubTransportRole", "HubTransportRole-0a1b2c3d.reg")...)
	const file = `C:\WINDOWS\Temp\ExchangeProvider\setup_keys\HubTransportRole-0a1b2c3d.reg`
	if !res.Exported || res.File != file || res.Key != `HKLM\SOFTWARE\Microsoft\Exchange\v8.0\HubTransportRole` {
		t.Errorf("export: %+v", res)
	}
	r.ok("EX01", wire.OpSetupWatermark, &res, watermarkReq("export", "HubTransportRole", "HubTransportRole-0a1b2c3d.reg")...)
	if res.Exported {
		t.Errorf("exported again over the existing file: %+v", res)
	}
	want := []SetupKeyExport{{File: file, Key: `HKLM\SOFTWARE\Microsoft\Exchange\v8.0\HubTransportRole`,
		Values: []string{"Action = BuildToBuildUpgrade", "Watermark = InstallFiles"}}}
	if got := ex01.State().SetupKeyExports; !slices.EqualFunc(got, want, func(a, b SetupKeyExport) bool {
		return a.File == b.File && a.Key == b.Key && slices.Equal(a.Values, b.Values)
	}) {
		t.Errorf("exports %+v, want %+v", got, want)
	}
	if f := r.fault("EX01", wire.OpSetupWatermark, watermarkReq("export", "UnifiedMessagingRole", "UnifiedMessagingRole-0a1b2c3d.reg")...); f.Code != "not_found" {
		t.Errorf("export of a key the server lacks: %v", f)
	}
	if f := r.fault("EX01", wire.OpSetupWatermark, watermarkReq("export", `..\Run`, "x.reg")...); f.Code != "invalid" {
		t.Errorf("export of a path: %v", f)
	}

	r.ok("EX01", wire.OpSetupWatermark, &res, watermarkReq("remove", "HubTransportRole", "")...)
	if !slices.Equal(res.Removed, []string{"Action = BuildToBuildUpgrade", "Watermark = InstallFiles"}) {
		t.Errorf("removed %q", res.Removed)
	}
	r.ok("EX01", wire.OpSetupWatermark, &res, watermarkReq("remove", "HubTransportRole", "")...)
	if len(res.Removed) != 0 {
		t.Errorf("a second removal removed %q", res.Removed)
	}
	if got := ex01.Facts().Setup.Watermarks; len(got) != 1 || got[0].Role != "ClientAccess" {
		t.Fatalf("the other key's values must stay: %+v", got)
	}
	if f := r.fault("EX01", wire.OpJobStart, sp...); f.Code != "watermark" {
		t.Fatalf("setup with the other key's watermark: %v", f)
	}
	r.ok("EX01", wire.OpSetupWatermark, &res, watermarkReq("remove", "ClientAccessRole", "")...)
	if j := r.startJob("EX01", sp); j.State != exchange.JobRunning {
		t.Errorf("setup after the removal: %+v", j)
	}
}

// A setup that broke off after copying SP3's files: the build reads as SP3 already. SP3
// setup is refused on a server that finished SP3 ("not newer"), but runs again on one
// whose roles it did not finish configuring, once the watermark is gone, and completes it.
func TestSetupRunsAgainOnAPartlyConfiguredServer(t *testing.T) {
	r := newRig(t, Options{})
	ex01 := r.host("EX01")
	ex01.SetBuild(exchange.MustParseBuild("8.3.83.6"))
	sp := job("install_service_pack-8.3.83.6", exchange.ActionInstallServicePack, `MediaPath=D:\Exchange2007SP3`)
	if f := r.fault("EX01", wire.OpJobStart, sp...); f.Code != "refused" || !strings.Contains(f.Message, "not newer") {
		t.Fatalf("SP3 setup on a server that finished SP3: %v", f)
	}
	ex01.Update(func(s *State) {
		s.SetupWatermarks = []exchange.SetupWatermark{{Role: "Mailbox", Action: "BuildToBuildUpgrade", Watermark: "InstallFiles"}}
		s.PartlyConfigured = true
	})
	if f := r.fault("EX01", wire.OpJobStart, sp...); f.Code != "watermark" {
		t.Fatalf("setup with the watermark: %v", f)
	}
	var res wire.SetupWatermarkResult
	r.ok("EX01", wire.OpSetupWatermark, &res, watermarkReq("remove", "MailboxRole", "")...)
	if !ex01.State().PartlyConfigured {
		t.Fatal("removing the watermark finished the configuration")
	}
	r.installSP3("EX01")
	if st := ex01.State(); st.PartlyConfigured || st.Build.String() != "8.3.83.6" {
		t.Errorf("after SP3 setup ran again: partly configured %v, build %s", st.PartlyConfigured, st.Build)
	}
}

// remove records the key in the provider's leftovers before it deletes the values (a
// removal with nothing to delete records nothing); the probe reports the record until
// job_clear, which leaves it while a job still runs.
func TestSetupWatermarkRemovalIsRecordedUntilJobClear(t *testing.T) {
	r := newRig(t, Options{})
	ex01 := r.host("EX01")
	ex01.SetBuild(exchange.MustParseBuild("8.3.83.6"))
	ex01.Update(func(s *State) {
		s.SetupWatermarks = []exchange.SetupWatermark{{Role: "Mailbox", Action: "BuildToBuildUpgrade", Watermark: "InstallFiles"}}
		s.PartlyConfigured = true
	})
	var res wire.SetupWatermarkResult
	r.ok("EX01", wire.OpSetupWatermark, &res, watermarkReq("remove", "HubTransportRole", "")...)
	if got := ex01.Facts().Leftovers.SetupWatermarksRemoved; len(got) != 0 {
		t.Fatalf("a removal of nothing recorded %q", got)
	}
	r.ok("EX01", wire.OpSetupWatermark, &res, watermarkReq("remove", "MailboxRole", "")...)
	r.ok("EX01", wire.OpSetupWatermark, &res, watermarkReq("remove", "MailboxRole", "")...)
	f := ex01.Facts()
	if got := f.Leftovers.SetupWatermarksRemoved; !slices.Equal(got, []string{"MailboxRole"}) || len(f.Setup.Watermarks) != 0 {
		t.Fatalf("after the removal: record %q, watermarks %+v", got, f.Setup.Watermarks)
	}
	sp := job("install_service_pack-8.3.83.6", exchange.ActionInstallServicePack, `MediaPath=D:\Exchange2007SP3`)
	r.startJob("EX01", sp)
	var cleared wire.JobClearResult
	r.ok("EX01", wire.OpJobClear, &cleared)
	if got := ex01.Facts().Leftovers.SetupWatermarksRemoved; len(got) != 1 {
		t.Fatalf("job_clear while setup runs forgot the record: %q", got)
	}
	r.clock.Advance(time.Minute)
	r.ok("EX01", wire.OpJobClear, &cleared)
	if got := ex01.Facts().Leftovers.SetupWatermarksRemoved; len(got) != 0 || !slices.Equal(cleared.Cleared, []string{"install_service_pack-8.3.83.6"}) {
		t.Errorf("after setup and job_clear: record %q, cleared %q", got, cleared.Cleared)
	}
}
