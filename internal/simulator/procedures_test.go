package simulator

import (
	"testing"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
)

func (r *rig) owaCheck(server string) wire.OWACheckResult {
	r.t.Helper()
	var res wire.OWACheckResult
	r.ok(server, wire.OpOWACheck, &res)
	return res
}

func (r *rig) customizations(server, action, logonFile string) []string {
	r.t.Helper()
	var res wire.CustomizationsResult
	r.ok(server, wire.OpCustomizations, &res, wire.Param{Name: "Action", Value: action}, wire.Param{Name: "LogonFile", Value: logonFile})
	return res.Items
}

func (r *rig) installSP3(server string) {
	r.t.Helper()
	id := "install_service_pack-8.3.83.6"
	r.startJob(server, job(id, exchange.ActionInstallServicePack, `MediaPath=d:\exchange2007sp3\`))
	r.clock.Advance(time.Minute)
	if j := r.status(server, id); j.State != exchange.JobSucceeded {
		r.t.Fatalf("the SP did not finish: %+v", j)
	}
}

// Seed 000: an update does not replace a customised Logon.aspx left in place, and OWA then
// shows a blank page; moved aside, the update writes a new page and OWA answers.
func TestOWALogonPageAcrossAnUpdate(t *testing.T) {
	t.Run("left in place", func(t *testing.T) {
		r := newRig(t, Options{})
		if res := r.owaCheck("EX01"); res.Status != 200 || !res.LogonForm {
			t.Fatalf("before the update OWA must answer with its logon form: %+v", res)
		}
		r.installSP3("EX01")
		if res := r.owaCheck("EX01"); res.Status != 200 || res.LogonForm {
			t.Errorf("a customised page left in place must render blank after the update: %+v", res)
		}
	})
	t.Run("moved aside, the update's page kept", func(t *testing.T) {
		r := newRig(t, Options{})
		if got := r.customizations("EX01", wire.ActionSave, ""); len(got) != 1 {
			t.Fatalf("save did %q", got)
		}
		if res := r.owaCheck("EX01"); res.Status != 404 {
			t.Errorf("with the page moved aside OWA has no logon page: %+v", res)
		}
		r.installSP3("EX01")
		if got := r.customizations("EX01", wire.ActionRestore, ""); len(got) != 1 || got[0] != "owa_logon" {
			t.Errorf("restore did %q, want the saved page kept aside", got)
		}
		if res := r.owaCheck("EX01"); !res.LogonForm || r.host("EX01").Facts().Leftovers.SavedCustomizations {
			t.Errorf("the update's page must answer and nothing be left over: %+v", res)
		}
	})
	t.Run("a page made for the new build", func(t *testing.T) {
		r := newRig(t, Options{})
		r.customizations("EX01", wire.ActionSave, "")
		r.installSP3("EX01")
		r.host("EX01").SetPathMissing(`D:\owa\missing.aspx`, true)
		if f := r.fault("EX01", wire.OpCustomizations, wire.Param{Name: "Action", Value: "restore"}, wire.Param{Name: "LogonFile", Value: `D:\owa\missing.aspx`}); f == nil || f.Code != "not_found" {
			t.Errorf("a logon page that cannot be read: %+v", f)
		}
		if got := r.customizations("EX01", wire.ActionRestore, `D:\owa\logon-sp3.aspx`); len(got) != 2 {
			t.Errorf("restore did %q, want the user's page in place and the saved one kept aside", got)
		}
		if res := r.owaCheck("EX01"); !res.LogonForm || !r.host("EX01").Facts().OWALogonCustomized {
			t.Errorf("the user's page must be live and answer: %+v", res)
		}
	})
	t.Run("interrupted before the update", func(t *testing.T) {
		// No update wrote a page: restore puts the saved one back, as it is this build's.
		r := newRig(t, Options{})
		r.customizations("EX01", wire.ActionSave, "")
		r.customizations("EX01", wire.ActionRestore, "")
		if res := r.owaCheck("EX01"); !res.LogonForm || !r.host("EX01").Facts().OWALogonCustomized {
			t.Errorf("the customised page must be back and answer: %+v", res)
		}
	})
}
