package exchange

import (
	"slices"
	"strings"
	"testing"
)

// The version Active Directory records for an Exchange 2003 EVS (its server object's
// serialNumber) tells whether "Upgrade Exchange Virtual Server" was done (KB 328839 step 11;
// the plan's manual step): the plan continues from what it says.
func TestPlanClusterEVSUpgradeReadFromAD(t *testing.T) {
	evs2003 := testCluster{product: "2003", typ: "evs-active-passive", owners: [][2]string{{"EVS1", "NODE1"}}, nodes: []string{"NODE1", "NODE2"}}
	const sp1, sp2 = "Version 6.5 (Build 7226.6: Service Pack 1)", "Version 6.5 (Build 7638.2: Service Pack 2)"
	tests := []struct {
		name      string
		adVersion string
		// upgrade: the plan upgrades EVS1 (the manual step); else it brings it online first.
		upgrade bool
	}{
		{"recorded at the target: the upgrade was done", sp2, false},
		{"recorded below the target: not upgraded yet", sp1, true},
		{"unread: not online on an upgraded node, so not taken as upgraded", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// An earlier apply moved EVS1, with only IP, disk and name online, to NODE2 (SP2).
			nodes := everyNode(evs2003.facts(b2003SP1, b2003SP2), evsGroup("EVS1", "NODE2", "PartialOnline", tt.adVersion))
			p, err := PlanCluster(nodes, clusterRequest(2), nil)
			if err != nil {
				t.Fatal(err)
			}
			got := pairs(p)
			upgrades := slices.Contains(got, "NODE2 "+ActionUpgradeEVSManually)
			if upgrades != tt.upgrade {
				t.Fatalf("upgrade of EVS1 planned: %v, want %v:%s", upgrades, tt.upgrade, clusterStepList(p))
			}
			online := slices.Index(got, "NODE2 "+ActionBringGroupOnline)
			stop := slices.Index(got, "NODE1 "+ActionStopClusterService)
			if online < 0 || stop < 0 || online > stop {
				t.Fatalf("EVS1 must come online on NODE2 before NODE1 is serviced:%s", clusterStepList(p))
			}
			if !tt.upgrade && online != 0 {
				t.Errorf("an EVS recorded upgraded comes online first, nothing before it:%s", clusterStepList(p))
			}
		})
	}
}

// Event 1025 on a node while Active Directory records the EVS below the node's level means
// the EVS was not upgraded yet: no refusal, a warning naming both causes of KB 328839, and
// the plan upgrades it.
func TestPlanClusterEvent1025BeforeTheUpgrade(t *testing.T) {
	evs2003 := testCluster{product: "2003", typ: "evs-active-passive", owners: [][2]string{{"EVS1", "NODE1"}}, nodes: []string{"NODE1", "NODE2"}}
	nodes := on(everyNode(evs2003.facts(b2003SP1, b2003SP2), evsGroup("EVS1", "NODE2", "Failed", "Version 6.5 (Build 7226.6: Service Pack 1)")),
		"NODE2", func(f *Facts) { f.Cluster.Events = []string{"1025"} })
	p, err := PlanCluster(nodes, clusterRequest(2), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(pairs(p), "NODE2 "+ActionUpgradeEVSManually) {
		t.Fatalf("EVS1 is not upgraded yet; the plan must upgrade it:%s", clusterStepList(p))
	}
	want := `node NODE2: event 1025 (MSExchangeCluster, "the Exchange virtual server must be upgraded before it can come online") was logged on the node since its last boot: an Exchange virtual server that was not upgraded tried to come online there. The plan's manual step "Upgrade Exchange Virtual Server" upgrades it; if Cluster Administrator does not offer that option, the node was removed from the cluster and added again, and Exchange must be reinstalled on it (setup, Reinstall) (KB 328839)`
	if !slices.Contains(p.Warnings, want) {
		t.Errorf("warnings:\n  %s\nwant:\n  %s", strings.Join(p.Warnings, "\n  "), want)
	}
}

func TestParseADVersion(t *testing.T) {
	for in, want := range map[string]string{
		"Version 6.5 (Build 7638.2: Service Pack 2)": "6.5.7638.2",
		"Version 6.5 (Build 6944.4)":                 "6.5.6944.4",
		"version 6.0 (build 6249: service pack 3)":   "6.0.6249",
	} {
		b, ok := ParseADVersion(in)
		if !ok || b.String() != want {
			t.Errorf("ParseADVersion(%q) = %v, %v; want %s", in, b, ok, want)
		}
		if got := FormatADVersion(MustParseBuild(want), 0); !strings.HasPrefix(got, "Version ") {
			t.Errorf("FormatADVersion(%s) = %q", want, got)
		}
	}
	for _, bad := range []string{"", "6.5.7638.2", "Version 6.5", "Version x.5 (Build 7638.2)"} {
		if b, ok := ParseADVersion(bad); ok {
			t.Errorf("ParseADVersion(%q) = %v, want false", bad, b)
		}
	}
	if got := FormatADVersion(MustParseBuild("6.5.7638.2"), 2); got != "Version 6.5 (Build 7638.2: Service Pack 2)" {
		t.Errorf("FormatADVersion = %q", got)
	}
}
