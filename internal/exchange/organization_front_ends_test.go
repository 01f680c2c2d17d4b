package exchange

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// frontEnd is a healthy Exchange 2003 front-end at build, serving (W3SVC running).
func frontEnd(name, build string, mods ...func(*Facts)) Facts {
	return server("2003", build, append([]func(*Facts){func(f *Facts) {
		f.Server, f.Roles = name, []string{"FrontEnd"}
		f.Services = []ServiceFacts{{Name: "W3SVC", State: "Running", StartMode: "Auto"}}
		f.InternetAccess = false
		f.Prerequisites = PrerequisiteFacts{DotNet20ServicePack: -1, LocalAdministrator: true}
	}}, mods...)...)
}

func offlineLeftover(f *Facts) {
	f.Leftovers.FrontEndOffline = true
	f.Services = []ServiceFacts{{Name: "W3SVC", State: "Stopped", StartMode: "Disabled"}}
}

// planFrontEnds orders and plans facts towards Exchange 2003 SP2.
func planFrontEnds(t *testing.T, facts []Facts, groups [][]string) (OrganizationPlan, error) {
	t.Helper()
	ordering, err := Order(facts, []Target{{Product: "2003", ServicePack: 2}}, DefaultCatalog())
	if err != nil {
		t.Fatal(err)
	}
	return PlanOrganization(facts, ordering, OrganizationRequest{
		Targets: []OrganizationTarget{{Target: Target{Product: "2003", ServicePack: 2}, MediaPath: `E:\E2K3SP2`}},
		Options: options(), LoadBalancedFrontEnds: groups}, DefaultCatalog())
}

// planned lists "wave action server" of every step, and whether each is downtime.
func planned(o OrganizationPlan) (steps []string, down []bool) {
	all, waves := o.Steps()
	for i, s := range all {
		steps = append(steps, strings.Join([]string{string(rune('0' + waves[i])), s.Action(), s.Server}, " "))
		down = append(down, s.Downtime)
	}
	return steps, down
}

func TestPlanOrganizationLoadBalancedFrontEndsOneWindow(t *testing.T) {
	facts := []Facts{frontEnd("FE1", "6.5.7226"), frontEnd("FE2", "6.5.7226"),
		server("2003", "6.5.7226", func(f *Facts) { f.Server, f.Roles = "BE1", []string{"BackEnd"} })}
	o, err := planFrontEnds(t, facts, nil)
	if err != nil {
		t.Fatal(err)
	}
	steps, down := planned(o)
	// The read-only checks come first (TestPlanOrganizationFrontEndChecksBeforeWindow).
	checks := slices.IndexFunc(steps, func(s string) bool { return strings.Contains(s, "take_front_end_offline") })
	if checks < 0 {
		t.Fatalf("no front-end taken offline:\n%s", strings.Join(steps, "\n"))
	}
	steps, down = steps[checks:], down[checks:]
	window := 0
	for window < len(steps) && strings.HasPrefix(steps[window], "1 ") {
		window++
	}
	if window < 6 || !slices.Equal(steps[:2], []string{"1 take_front_end_offline FE1", "1 take_front_end_offline FE2"}) ||
		!slices.Equal(steps[window-2:window], []string{"1 bring_front_end_online FE1", "1 bring_front_end_online FE2"}) {
		t.Fatalf("wave 1 is not offline, upgrades, online:\n%s", strings.Join(steps, "\n"))
	}
	for _, fe := range []string{"FE1", "FE2"} {
		if !slices.Contains(steps[2:window-2], "1 install_service_pack "+fe) {
			t.Errorf("%s is not upgraded inside the window:\n%s", fe, strings.Join(steps, "\n"))
		}
	}
	if i := slices.Index(down[:window], false); i >= 0 {
		t.Errorf("step %d (%s) of the front-ends' window is not downtime", i+1, steps[i])
	}
	if !slices.Contains(steps[window:], "2 install_service_pack BE1") || slices.ContainsFunc(steps[window:], func(s string) bool { return strings.Contains(s, "front_end") }) {
		t.Errorf("the back-end wave is not after the front-ends' window, as before:\n%s", strings.Join(steps, "\n"))
	}
	if s, _ := o.Steps(); s[checks].Params()["front_ends"] != "FE1, FE2" {
		t.Errorf("take_front_end_offline params: %v", s[checks].Params())
	}
	if !slices.ContainsFunc(o.Warnings, func(w Warning) bool {
		return strings.Contains(w.Text, "FE1, FE2 are taken to be load-balanced together")
	}) {
		t.Errorf("no warning that the group was assumed: %q", o.Warnings)
	}
}

// Every front-end's read-only checks (verify_backups) run before the first front-end is
// taken offline, out of the window: a check that fails at apply then stops the apply before
// the group's outage.
// FE2 has a reboot pending, which its plan starts with: its check still comes first.
func TestPlanOrganizationFrontEndChecksBeforeWindow(t *testing.T) {
	pending := func(f *Facts) { f.PendingReboot = []string{"PendingFileRenameOperations"} }
	o, err := planFrontEnds(t, []Facts{frontEnd("FE1", "6.5.7226"), frontEnd("FE2", "6.5.7226", pending)}, [][]string{{"FE1", "FE2"}})
	if err != nil {
		t.Fatal(err)
	}
	steps, down := planned(o)
	want := []string{"1 preflight FE1", "1 verify_backups FE1", "1 preflight FE2", "1 verify_backups FE2", "1 take_front_end_offline FE1", "1 take_front_end_offline FE2"}
	if len(steps) < len(want) || !slices.Equal(steps[:len(want)], want) {
		t.Fatalf("the group does not begin with every front-end's checks, then every front-end offline:\n%s", strings.Join(steps, "\n"))
	}
	if slices.Contains(down[:4], true) {
		t.Errorf("a check before the window is marked downtime: %v", down[:4])
	}
	if slices.ContainsFunc(steps[4:], func(s string) bool { return strings.Contains(s, "verify_backups") || strings.Contains(s, "preflight") }) {
		t.Errorf("a check runs again inside the window:\n%s", strings.Join(steps, "\n"))
	}
	if !slices.Contains(steps, "1 reboot FE2") || slices.Index(steps, "1 reboot FE2") < len(want) {
		t.Errorf("FE2's pending reboot is not inside the window:\n%s", strings.Join(steps, "\n"))
	}
}

// load_balanced_front_ends = []: no front-end is load-balanced; each is upgraded on its own.
func TestPlanOrganizationFrontEndsNotLoadBalanced(t *testing.T) {
	o, err := planFrontEnds(t, []Facts{frontEnd("FE1", "6.5.7226"), frontEnd("FE2", "6.5.7226")}, [][]string{})
	if err != nil {
		t.Fatal(err)
	}
	steps, _ := planned(o)
	if slices.ContainsFunc(steps, func(s string) bool { return strings.Contains(s, "front_end") }) || len(o.Units) != 2 {
		t.Errorf("front-ends not load-balanced are taken offline:\n%s", strings.Join(steps, "\n"))
	}
}

// After an interrupted apply: FE1 is upgraded and offline, FE2 offline and not upgraded.
// FE2 is not taken offline again; both come back after FE2's upgrade. Once both are
// upgraded, a front-end still offline comes back (before the waves).
func TestPlanOrganizationFrontEndsResume(t *testing.T) {
	o, err := planFrontEnds(t, []Facts{frontEnd("FE1", "6.5.7638", offlineLeftover), frontEnd("FE2", "6.5.7226", offlineLeftover)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	steps, _ := planned(o)
	if steps[0] == "1 take_front_end_offline FE2" || slices.ContainsFunc(steps, func(s string) bool { return strings.Contains(s, "FE1") && !strings.Contains(s, "online") }) ||
		!slices.Equal(steps[len(steps)-2:], []string{"1 bring_front_end_online FE1", "1 bring_front_end_online FE2"}) {
		t.Errorf("resume:\n%s", strings.Join(steps, "\n"))
	}
	o, err = planFrontEnds(t, []Facts{frontEnd("FE1", "6.5.7638", offlineLeftover), frontEnd("FE2", "6.5.7638")}, [][]string{})
	if err != nil {
		t.Fatal(err)
	}
	if steps, _ = planned(o); !slices.Equal(steps, []string{"0 bring_front_end_online FE1"}) {
		t.Errorf("a front-end left offline, not in any group, all upgraded:\n%s", strings.Join(steps, "\n"))
	}
}

// A front-end left offline in a group where every front-end is at its target: its
// bring_front_end_online is in a recovery wave that the plan's waves show, before the others.
func TestPlanOrganizationFrontEndRecoveryWave(t *testing.T) {
	facts := []Facts{frontEnd("FE1", "6.5.7638", offlineLeftover), frontEnd("FE2", "6.5.7638"),
		server("2003", "6.5.7226", func(f *Facts) { f.Server, f.Roles = "BE1", []string{"BackEnd"} })}
	o, err := planFrontEnds(t, facts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if steps, _ := planned(o); len(steps) == 0 || steps[0] != "0 bring_front_end_online FE1" {
		t.Fatalf("FE1 is not brought back first:\n%s", strings.Join(steps, "\n"))
	}
	var got []string
	for _, w := range o.Waves() {
		got = append(got, fmt.Sprintf("%d %s: %s", w.Index, strings.Join(w.Servers, ","), w.Name))
	}
	if len(got) != 2 || got[0] != "0 FE1: recovery: front-ends an interrupted apply left offline" || !strings.Contains(got[1], " BE1: ") {
		t.Errorf("waves:\n%s", strings.Join(got, "\n"))
	}
	if w := o.Waves(); len(w) > 0 && !strings.Contains(w[0].Reason, "every front-end of its group is at its target") {
		t.Errorf("the recovery wave's reason: %q", w[0].Reason)
	}
}

func TestPlanOrganizationFrontEndGroupsRefused(t *testing.T) {
	facts := []Facts{frontEnd("FE1", "6.5.7226"), frontEnd("FE2", "6.5.7226"),
		server("2003", "6.5.7226", func(f *Facts) { f.Server, f.Roles = "BE1", []string{"BackEnd"} })}
	_, err := planFrontEnds(t, facts, [][]string{{"FE1", "BE1"}, {"FE2", "FE9", "fe1"}})
	rs, _ := err.(Refusals)
	var got []string
	for _, r := range rs {
		got = append(got, r.Server+": "+r.Problem)
		if r.Field != FieldLoadBalancedFrontEnds {
			t.Errorf("refusal %q names field %q", r.Problem, r.Field)
		}
	}
	for _, want := range []string{"BE1: load_balanced_front_ends group 1 names BE1, which is not a non-clustered Exchange 2003 front-end",
		"FE9: load_balanced_front_ends group 2 names FE9, which is not among the organisation's servers", "FE1: FE1 is in load_balanced_front_ends groups 1 and 2"} {
		if !slices.ContainsFunc(got, func(g string) bool { return strings.HasPrefix(g, want) }) {
			t.Errorf("no refusal %q in:\n%s", want, strings.Join(got, "\n"))
		}
	}
}

// A single-server resource on a front-end an organisation upgrade left offline refuses,
// whether the front-end is below its target or at it: it cannot know the group, and
// bringing one member back alone lets clients meet front-ends at different service packs.
// The organisation plan of the same front-end still upgrades it and brings it back.
func TestPlanServicePackRefusesFrontEndLeftOffline(t *testing.T) {
	for _, build := range []string{"6.5.7226", "6.5.7638"} {
		_, err := PlanServicePack(frontEnd("FE1", build, offlineLeftover), ServicePackRequest{Server: "FE1", ServicePack: 2, MediaPath: `E:\E2K3SP2`, Options: options()}, DefaultCatalog())
		if err == nil {
			t.Errorf("build %s: a front-end left offline is planned by a single-server resource", build)
			continue
		}
		for _, want := range []string{"server FE1: ", "exchange_organization_upgrade took it out of service", "KB 328839",
			"Apply the exchange_organization_upgrade that took FE1 offline"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("build %s: the refusal lacks %q:\n%v", build, want, err)
			}
		}
	}
	_, err := PlanInterimUpdate(frontEnd("FE1", "6.5.7638", offlineLeftover), InterimUpdateRequest{Server: "FE1", KB: "KB123456", Options: options()}, DefaultCatalog())
	if err == nil || !strings.Contains(err.Error(), "exchange_organization_upgrade took it out of service") {
		t.Errorf("exchange_interim_update on a front-end left offline: %v", err)
	}
}

// Under a maintenance window, each load-balanced group is named as one block of downtime
// that must fit one window; a recovery-only unit (nothing to upgrade) is not.
func TestFrontEndWindowWarnings(t *testing.T) {
	o, err := planFrontEnds(t, []Facts{frontEnd("FE1", "6.5.7226"), frontEnd("FE2", "6.5.7226")}, [][]string{{"FE1", "FE2"}})
	if err != nil {
		t.Fatal(err)
	}
	ws := o.FrontEndWindowWarnings()
	if len(ws) != 1 {
		t.Fatalf("warnings %q, want one for the group", ws)
	}
	for _, want := range []string{"load-balanced front-ends FE1, FE2", "one block of downtime", "from the first take_front_end_offline to the last bring_front_end_online",
		"stays out of service until the next window", "does not estimate"} {
		if !strings.Contains(ws[0], want) {
			t.Errorf("the warning lacks %q: %s", want, ws[0])
		}
	}
	o, err = planFrontEnds(t, []Facts{frontEnd("FE1", "6.5.7638", offlineLeftover), frontEnd("FE2", "6.5.7638")}, [][]string{{"FE1", "FE2"}})
	if err != nil {
		t.Fatal(err)
	}
	if ws := o.FrontEndWindowWarnings(); len(ws) != 0 {
		t.Errorf("a recovery wave warns: %q", ws)
	}
}
