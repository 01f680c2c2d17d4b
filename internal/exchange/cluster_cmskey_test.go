package exchange

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// A /upgradeCMS that broke off on NODE2 (which runs the target and owns the stopped CMS)
// leaves the CMS key there; job_start lets only upgrade_cms run on it, and that upgrade_cms
// completes it. So the plan runs it there first, then starts the CMS and upgrades NODE1.
func TestPlanClusterCompletesABrokenOffUpgradeCMS(t *testing.T) {
	nodes := everyNode(ccr().facts(b2007SP1, b2007SP2), func(f *Facts) {
		f.Cluster.ActiveNode, f.Cluster.Active, f.Cluster.GroupState = "NODE2", f.Server == "NODE2", "Offline"
	})
	nodes = on(nodes, "NODE2", func(f *Facts) {
		f.Setup.StaleCMSKey = true
		f.Jobs = []Job{{ID: "upgrade_cms-8.2.176.2-cms1-node2", Action: ActionUpgradeCMS, State: JobFailed, ExitCode: 1603, Started: now.Add(-time.Hour)}}
	})
	p, err := PlanCluster(nodes, clusterRequest(2), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := pairs(p)
	if len(got) < 3 || got[0] != "NODE2 "+ActionUpgradeCMS || got[1] != "NODE2 "+ActionStartClusteredServer {
		t.Fatalf("the plan does not start with the /upgradeCMS on NODE2:%s", clusterStepList(p))
	}
	if !slices.Contains(got, "NODE1 "+ActionInstallServicePack) {
		t.Errorf("NODE1 is not upgraded afterwards:%s", clusterStepList(p))
	}
	if !slices.ContainsFunc(p.Warnings, func(w string) bool { return strings.Contains(w, "CMS key") && strings.Contains(w, "upgrade_cms") }) {
		t.Errorf("no warning about the key in %q", p.Warnings)
	}
}

// The key on a node where the plan runs another setup first is still refused: setup
// refuses there until /upgradeCMS has run on it.
func TestPlanClusterRefusesTheCMSKeyWhereSetupRunsFirst(t *testing.T) {
	nodes := on(ccr().facts(b2007SP1, b2007SP1), "NODE2", func(f *Facts) { f.Setup.StaleCMSKey = true })
	_, err := PlanCluster(nodes, clusterRequest(2), nil)
	rs := refusals(t, err)
	found := false
	for _, r := range rs {
		found = found || r.Server == "NODE2" && hasRefusal(Refusals{r}, "", "/upgradecms was forgotten", "run setup.com /upgradecms on the node that owns the cms (node1")
	}
	if !found {
		t.Fatalf("no refusal on NODE2 in:\n%v", err)
	}
}
