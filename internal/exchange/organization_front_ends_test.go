package exchange

import (
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
	if s, _ := o.Steps(); s[0].Params()["front_ends"] != "FE1, FE2" {
		t.Errorf("take_front_end_offline params: %v", s[0].Params())
	}
	if !slices.ContainsFunc(o.Warnings, func(w string) bool { return strings.Contains(w, "FE1, FE2 are taken to be load-balanced together") }) {
		t.Errorf("no warning that the group was assumed: %q", o.Warnings)
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
