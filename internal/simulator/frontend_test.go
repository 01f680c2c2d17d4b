package simulator

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
)

// A front-end taken offline stays offline through the services fix-up of its own apply (the
// lock recorded W3SVC Disabled) until online puts it back; the journal says when it served.
func TestFrontEndOfflineAndOnline(t *testing.T) {
	r := newRig(t, Options{})
	frontEnd := func(action string) wire.FrontEndResult {
		t.Helper()
		var res wire.FrontEndResult
		r.ok("FE01", wire.OpFrontEnd, &res, wire.Param{Name: "Action", Value: action})
		return res
	}
	if res := frontEnd(wire.ActionOffline); res.Before != "Running" || res.After != "Stopped" || res.StartMode != "Disabled" || res.RecordedStartMode != "Auto" {
		t.Errorf("offline: %+v", res)
	}
	if res := frontEnd(wire.ActionOffline); res.RecordedStartMode != "Auto" {
		t.Errorf("a second offline must keep the first record: %+v", res)
	}
	if !r.host("FE01").Facts().Leftovers.FrontEndOffline {
		t.Error("the probe does not report the front-end taken offline")
	}
	lock := func(release bool) {
		var res wire.LockResult
		r.ok("FE01", wire.OpLock, &res, wire.Param{Name: "Owner", Value: "a"}, wire.Param{Name: "TTLSeconds", Value: 60},
			wire.Param{Name: "Release", Value: release}, wire.Param{Name: "TakeOver", Value: ""}, wire.Param{Name: "KeepServiceRecord", Value: false})
	}
	lock(false)
	var fix wire.ExchangeServicesResult
	r.ok("FE01", wire.OpExchangeServices, &fix)
	if w3 := service(r.host("FE01").Facts(), "W3SVC"); w3.State != "Stopped" || w3.StartMode != "Disabled" {
		t.Errorf("exchange_services brought the offline front-end back: %+v", w3)
	}
	lock(true)
	if res := frontEnd(wire.ActionOnline); res.After != "Running" || res.StartMode != "Auto" || res.RecordedStartMode != "Auto" {
		t.Errorf("online: %+v", res)
	}
	if r.host("FE01").Facts().Leftovers.FrontEndOffline {
		t.Error("the record is still there after online")
	}
	if res := frontEnd(wire.ActionOnline); res.RecordedStartMode != "" || res.Before != "Running" {
		t.Errorf("a second online changed something: %+v", res)
	}
	var serving []string
	for _, e := range r.sim.Journal() {
		if e.Operation == operationServing {
			serving = append(serving, e.Server+" "+e.Detail)
		}
	}
	want := []string{"FE01 does not serve clients (W3SVC is not running); build 6.5.7638.2", "FE01 serves clients at build 6.5.7638.2 (W3SVC running)"}
	if !slices.Equal(serving, want) {
		t.Errorf("serving entries:\n%s\nwant:\n%s", strings.Join(serving, "\n"), strings.Join(want, "\n"))
	}
	var f *wire.Fault
	if err := r.run("FE01", wire.OpFrontEnd, nil, wire.Param{Name: "Action", Value: "drain"}); err == nil || !errors.As(err, &f) || f.Code != "invalid" {
		t.Errorf("bad action: %v", err)
	}
}
