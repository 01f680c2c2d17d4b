package servicing

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
)

// frontEndGroupPlan: FE1 and FE2 load-balanced, each "upgraded" by stopping a service.
func frontEndGroupPlan() exchange.OrganizationPlan {
	group := []string{"FE1", "FE2"}
	one := func(server string, k exchange.StepKind) exchange.Plan {
		return exchange.Plan{Server: server, Steps: []exchange.Step{{Kind: k, Server: server}}}
	}
	fg := &exchange.FrontEndGroup{Servers: group}
	for _, s := range group {
		fg.Offline = append(fg.Offline, one(s, exchange.TakeFrontEndOffline{FrontEnds: group}))
		fg.Members = append(fg.Members, exchange.OrganizationUnit{Wave: 1, Server: s, Plans: []exchange.Plan{one(s, exchange.StopService{Service: "VirusScan"})}})
		fg.Online = append(fg.Online, one(s, exchange.BringFrontEndOnline{FrontEnds: group}))
	}
	return exchange.OrganizationPlan{Units: []exchange.OrganizationUnit{{Wave: 1, Server: "load-balanced front-ends FE1, FE2", FrontEnds: fg}}}
}

func applyFrontEndGroup(t *testing.T, failOn string) ([]string, error) {
	f, clk := newFake(t)
	targets := map[string]remote.Target{"FE1": {Server: "FE1"}, "FE2": {Server: "FE2"}}
	f.targets = []remote.Target{targets["FE1"], targets["FE2"]}
	f.hook = func(_ context.Context, _ int, op string, _ map[string]any) error {
		if op == wire.OpService && f.cur == failOn {
			return &remote.Error{Server: failOn, Operation: op, Kind: remote.KindFault, Err: &wire.Fault{Code: "failed", Message: "Windows refused to stop service VirusScan"}}
		}
		return nil
	}
	var locked []string
	err := ApplyOrganization(context.Background(), f, frontEndGroupPlan(), OrganizationOptions{
		Parallelism: 1,
		Target:      func(s string) remote.Target { return targets[s] },
		Lock:        func(s string) func() { locked = append(locked, s); return func() {} },
		Options:     func(string) Options { return Options{Owner: "test", clock: clk} },
	})
	if !slices.Equal(locked, []string{"FE1", "FE2"}) {
		t.Errorf("locked %v, want both front-ends for the whole window", locked)
	}
	var calls []string
	for _, c := range f.callsOn() {
		if strings.Contains(c, "front_end") || strings.Contains(c, "service stop") {
			calls = append(calls, c)
		}
	}
	return calls, err
}

// Every front-end offline before any is upgraded, every one online after all are.
func TestApplyOrganizationFrontEndsOneWindow(t *testing.T) {
	calls, err := applyFrontEndGroup(t, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"FE1: front_end offline", "FE2: front_end offline", "FE1: service stop VirusScan", "FE2: service stop VirusScan",
		"FE1: front_end online", "FE2: front_end online"}
	if !slices.Equal(calls, want) {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(calls, "\n"), strings.Join(want, "\n"))
	}
}

// A front-end whose upgrade fails keeps the whole group offline: no client meets
// front-ends at different service packs; the error says so and what to do.
func TestApplyOrganizationFrontEndFailureKeepsGroupOffline(t *testing.T) {
	calls, err := applyFrontEndGroup(t, "FE2")
	if err == nil {
		t.Fatal("no error")
	}
	if slices.ContainsFunc(calls, func(c string) bool { return strings.Contains(c, "online") }) {
		t.Errorf("a front-end was brought back while FE2 failed:\n%s", strings.Join(calls, "\n"))
	}
	for _, want := range []string{"wave 1 failed.\nDone: none.\nFailed: FE1, FE2.", "upgrading the load-balanced front-ends FE1, FE2 stopped (upgraded: FE1; failed: FE2)",
		"none of them is brought back into service", "run terraform apply again", "server FE2: step 1 of 1 (stop_service) failed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
