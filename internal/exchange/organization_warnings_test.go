package exchange

import (
	"slices"
	"strings"
	"testing"
)

// A cluster's warnings are the organisation's too: an organisation upgrade whose target
// rollup is not the newest warns for the cluster as it does for a server on its own (the
// cluster unit's warnings were dropped: the organisation's warnings listed the server's
// only). A server's warning is given once, not once for its service pack and again for its
// rollup, and the upgrade, which installs the rollup itself, does not advise a rollup resource.
func TestPlanOrganizationKeepsClusterWarnings(t *testing.T) {
	nodes := ccr().facts(b2007SP2, b2007SP2)
	alone := server("2007", b2007SP2, func(f *Facts) { f.Server, f.Roles = "MBX1", []string{"Mailbox"} })
	servers := append(nodes, alone)
	target := Target{Product: "2007", ServicePack: 3, UpdateRollup: 22}
	ordering, err := Order(servers, []Target{target}, DefaultCatalog())
	if err != nil {
		t.Fatal(err)
	}
	o, err := PlanOrganization(servers, ordering, OrganizationRequest{Targets: []OrganizationTarget{{Target: target,
		MediaPath: `D:\E2007SP3`, PackagePath: `\\files\ru22.msp`}}, Options: options()}, DefaultCatalog())
	if err != nil {
		t.Fatal(err)
	}
	newest := func(server string) bool {
		return slices.ContainsFunc(o.Warnings, func(w Warning) bool {
			return strings.EqualFold(w.Server, server) && strings.Contains(w.Text, "is not the newest rollup")
		})
	}
	if !newest("MBX1") {
		t.Fatalf("the server on its own has no warning that Update Rollup 22 is not the newest: %q", o.WarningStrings())
	}
	if !newest("CMS1") {
		t.Errorf("the cluster CMS1 has no warning that Update Rollup 22 is not the newest: %q", o.WarningStrings())
	}
	listed := o.WarningStrings()
	for i, w := range listed {
		if slices.Contains(listed[:i], w) {
			t.Errorf("warning given twice: %q", w)
		}
		if strings.Contains(w, "exchange_update_rollup resource") {
			t.Errorf("the organisation upgrade installs the rollup itself, yet advises a rollup resource: %q", w)
		}
	}
}

// Without a rollup in the target, the warning after SP3 says how to add one in the
// organisation upgrade (its target's update_rollup), for the server and for the cluster,
// not through a single-server resource's attribute or another resource.
func TestPlanOrganizationRollupAdviceNamesTheTarget(t *testing.T) {
	servers := append(ccr().facts(b2007SP2, b2007SP2), server("2007", b2007SP2, func(f *Facts) { f.Server, f.Roles = "MBX1", []string{"Mailbox"} }))
	target := Target{Product: "2007", ServicePack: 3}
	ordering, err := Order(servers, []Target{target}, DefaultCatalog())
	if err != nil {
		t.Fatal(err)
	}
	o, err := PlanOrganization(servers, ordering, OrganizationRequest{Targets: []OrganizationTarget{{Target: target, MediaPath: `D:\E2007SP3`}},
		Options: options()}, DefaultCatalog())
	if err != nil {
		t.Fatal(err)
	}
	for _, server := range []string{"MBX1", "CMS1"} {
		if !slices.ContainsFunc(o.Warnings, func(w Warning) bool {
			return w.Server == server && strings.Contains(w.Text, "starts again from zero") &&
				strings.HasSuffix(w.Text, "set update_rollup in the Exchange 2007 target to install it after the service pack")
		}) {
			t.Errorf("%s: no advice to set the target's update_rollup: %q", server, o.WarningStrings())
		}
	}
}
