package exchange

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Builds used by the cluster tests (b2003SP1, b2003SP2, b2000SP2 are in order_test.go).
const (
	b2007SP1    = "8.1.240.6"
	b2007SP2    = "8.2.176.2"
	b2007SP2RU3 = "8.2.247.2"
	b2007SP3    = "8.3.83.6"
	b2000SP3    = "6.0.6249"
	b55SP3      = "5.5.2650"
	b55SP4      = "5.5.2653"
)

// testCluster describes a cluster for the tests: its nodes are NODE1, NODE2, ... in order.
type testCluster struct {
	product, typ string
	// owners maps each clustered server (CMS/EVS) to the node that owns it; a node's facts
	// name the one it owns, else the first.
	owners [][2]string
	nodes  []string
}

func ccr() testCluster {
	return testCluster{product: "2007", typ: "ccr", owners: [][2]string{{"CMS1", "NODE1"}}, nodes: []string{"NODE1", "NODE2"}}
}

// facts are the healthy facts of every node at builds (one per node, in order).
func (tc testCluster) facts(builds ...string) []Facts {
	out := make([]Facts, len(tc.nodes))
	for i, name := range tc.nodes {
		group, owner := tc.owners[0][0], tc.owners[0][1]
		for _, o := range tc.owners {
			if o[1] == name {
				group, owner = o[0], o[1]
			}
		}
		f := server(tc.product, builds[i])
		f.Server, f.FQDN = name, strings.ToLower(name)+".corp.example"
		if tc.product != "2007" && tc.product != "2003" {
			f.OS = OSFacts{Caption: "Microsoft Windows 2000 Advanced Server", Version: "5.0.2195", ServicePack: 4}
		}
		f.Prerequisites.IISCompressionHotfix831464 = tc.product == "2003"
		f.Cluster = &ClusterFacts{Name: group, Type: tc.typ, Nodes: append([]string(nil), tc.nodes...),
			ActiveNode: owner, Active: owner == name, ClusterServiceRunning: true, GroupState: "Online"}
		out[i] = f
	}
	for i := range out { // a node reads its own build only
		out[i].Cluster.NodeBuilds = map[string]string{tc.nodes[i]: builds[i]}
	}
	return out
}

// on changes the facts of node name.
func on(nodes []Facts, name string, mods ...func(*Facts)) []Facts {
	for i := range nodes {
		if nodes[i].Server == name {
			for _, m := range mods {
				m(&nodes[i])
			}
			return nodes
		}
	}
	panic("no node " + name)
}

// everyNode changes the facts of every node.
func everyNode(nodes []Facts, mods ...func(*Facts)) []Facts {
	for i := range nodes {
		for _, m := range mods {
			m(&nodes[i])
		}
	}
	return nodes
}

func clusterRequest(sp int, mods ...func(*ClusterRequest)) ClusterRequest {
	r := ClusterRequest{ServicePack: sp, MediaPath: `D:\SP`, PackagePath: `\\files\exchange\ru.msp`, Options: options()}
	for _, m := range mods {
		m(&r)
	}
	return r
}

// pairs are the steps as "server action", with "group>to" for moves and failover tests.
func pairs(p ClusterPlan) []string {
	out := make([]string, len(p.Steps))
	for i, s := range p.Steps {
		out[i] = s.Server + " " + s.Action()
		if s.Action() == ActionMoveClusterGroup || s.Action() == ActionFailoverTest {
			out[i] += " " + s.Params()["group"] + ">" + s.Params()["to"]
		}
	}
	return out
}

// preflighted is a cluster plan's steps want (and its downtime windows) with the
// preflights it begins with: one for each node, in node order, that runs an installer
// reading the user's media or package (a service pack, a rollup, /upgradeCMS) whose job its
// facts do not show running or succeeded.
func preflighted(nodes []Facts, want []string, windows [][2]int) ([]string, [][2]int) {
	var pre []string
	for _, f := range nodes {
		for _, w := range want {
			server, action, _ := strings.Cut(w, " ")
			if server != f.Server || (action != ActionInstallServicePack && action != ActionInstallUpdateRollup && action != ActionUpgradeCMS) {
				continue
			}
			attached := false
			for _, j := range f.Jobs {
				// ClusterJobID: "<action>-<key>-<node>".
				attached = attached || strings.HasPrefix(j.ID, action+"-") && strings.HasSuffix(j.ID, "-"+strings.ToLower(f.Server)) &&
					(j.State == JobRunning || j.State == JobSucceeded)
			}
			if !attached {
				pre = append(pre, f.Server+" "+ActionPreflight)
				break
			}
		}
	}
	var shifted [][2]int
	for _, w := range windows {
		shifted = append(shifted, [2]int{w[0] + len(pre), w[1] + len(pre)})
	}
	return append(pre, want...), shifted
}

// leadingPreflights is the number of preflights p begins with, which must be want (one per
// node that installs), and that no other step is one.
func leadingPreflights(t *testing.T, p ClusterPlan, want int) int {
	t.Helper()
	n := 0
	for n < len(p.Steps) && p.Steps[n].Action() == ActionPreflight {
		n++
	}
	for _, s := range p.Steps[n:] {
		if s.Action() == ActionPreflight {
			t.Errorf("a preflight after a step that changes the cluster:%s", clusterStepList(p))
		}
	}
	if n != want {
		t.Errorf("the plan begins with %d preflights, want %d:%s", n, want, clusterStepList(p))
	}
	return n
}

func clusterStepList(p ClusterPlan) string {
	var b strings.Builder
	for i, s := range p.Steps {
		fmt.Fprintf(&b, "\n  %d. %s %s: %s", i+1, s.Server, s.Action(), s.Description)
	}
	return b.String()
}

// perNode is a node's service pack procedure on a healthy node: 2007 CCR, 2007 SCC, or
// the older products (reboot only if asked).
func perNode(node, kind string) []string {
	var a []string
	switch kind {
	case "ccr":
		a = []string{ActionVerifyBackups, ActionSetRemoteStreamingBackup, ActionStartFirewall, ActionInstallServicePack, ActionReboot,
			ActionRestoreFirewall, ActionStartExchangeServices, ActionSetRemoteStreamingBackup, ActionVerifyBuild}
	case "sp":
		a = []string{ActionVerifyBackups, ActionInstallServicePack, ActionReboot, ActionStartExchangeServices, ActionVerifyBuild}
	case "ru":
		a = []string{ActionVerifyBackups, ActionInstallUpdateRollup, ActionReboot, ActionStartExchangeServices, ActionVerifyBuild}
	}
	out := make([]string, len(a))
	for i, x := range a {
		out[i] = node + " " + x
	}
	return out
}

func seq(parts ...any) []string {
	var out []string
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			out = append(out, v)
		case []string:
			out = append(out, v...)
		}
	}
	return out
}

func TestPlanClusterSequences(t *testing.T) {
	evs2003 := testCluster{product: "2003", typ: "evs-active-passive", owners: [][2]string{{"EVS1", "NODE1"}}, nodes: []string{"NODE1", "NODE2"}}
	aa2003 := testCluster{product: "2003", typ: "evs-active-active", owners: [][2]string{{"EVS1", "NODE1"}, {"EVS2", "NODE2"}}, nodes: []string{"NODE1", "NODE2"}}
	aa2000 := testCluster{product: "2000", typ: "evs-active-active", owners: [][2]string{{"EVS1", "NODE1"}, {"EVS2", "NODE2"}}, nodes: []string{"NODE1", "NODE2"}}
	ap2000 := testCluster{product: "2000", typ: "evs-active-passive", owners: [][2]string{{"EVS1", "NODE1"}}, nodes: []string{"NODE1", "NODE2"}}
	c55 := testCluster{product: "5.5", typ: "cluster-5.5", owners: [][2]string{{"EXVS1", "NODE1"}}, nodes: []string{"NODE1", "NODE2"}}
	scc3 := testCluster{product: "2007", typ: "scc", owners: [][2]string{{"CMS1", "NODE1"}}, nodes: []string{"NODE1", "NODE2", "NODE3"}}

	spJob := func(node, build string, state string) func(*Facts) {
		return func(f *Facts) {
			id := ClusterJobID(Step{Kind: InstallServicePack{Build: MustParseBuild(build)}, Server: node})
			f.Jobs = append(f.Jobs, Job{ID: id, Action: ActionInstallServicePack, State: state, Started: now.Add(-2 * time.Hour)})
		}
	}
	// stopped: the node's cluster service is stopped, so its probe reads nothing of the
	// cluster (as probe.ps1 and the simulator report it) but its own build and events.
	stopped := func(f *Facts) {
		f.Cluster = &ClusterFacts{Nodes: []string{}, Resources: []ClusterResource{}, NodeBuilds: map[string]string{f.Server: f.Build}, Events: f.Cluster.Events}
	}
	group := func(owner, state string) func(*Facts) {
		return func(f *Facts) {
			f.Cluster.ActiveNode, f.Cluster.Active, f.Cluster.GroupState = owner, f.Server == owner, state
		}
	}

	tests := []struct {
		name    string
		nodes   []Facts
		req     ClusterRequest
		want    []string
		windows [][2]int
	}{
		{
			name:  "CCR SP1 to SP2 with an update rollup after",
			nodes: ccr().facts(b2007SP1, b2007SP1),
			req:   clusterRequest(2, func(r *ClusterRequest) { r.Rollup = 3 }),
			want: seq(
				"NODE1 move_cluster_group Cluster Group>NODE1",
				perNode("NODE2", "ccr"),
				"NODE1 stop_clustered_server",
				"NODE2 move_cluster_group CMS1>NODE2",
				"NODE2 upgrade_cms",
				"NODE2 start_clustered_server",
				"NODE2 move_cluster_group Cluster Group>NODE2",
				perNode("NODE1", "ccr"),
				// The rollup: NODE1 is passive now; then the CMS moves to it, then NODE2.
				perNode("NODE1", "ru"),
				"NODE1 move_cluster_group CMS1>NODE1",
				"NODE1 move_cluster_group Cluster Group>NODE1",
				perNode("NODE2", "ru"),
			),
			windows: [][2]int{{11, 14}, {30, 30}},
		},
		{
			name:  "SCC with three nodes: both passive nodes first",
			nodes: scc3.facts(b2007SP1, b2007SP1, b2007SP1),
			req:   clusterRequest(2),
			want: seq(
				"NODE1 move_cluster_group Cluster Group>NODE1",
				perNode("NODE2", "sp"),
				perNode("NODE3", "sp"),
				"NODE1 stop_clustered_server",
				"NODE2 move_cluster_group CMS1>NODE2",
				"NODE2 upgrade_cms",
				"NODE2 start_clustered_server",
				"NODE2 move_cluster_group Cluster Group>NODE2",
				perNode("NODE1", "sp"),
			),
			windows: [][2]int{{12, 15}},
		},
		{
			name:  "CCR update rollup alone: passive first, then the CMS moves",
			nodes: ccr().facts(b2007SP2, b2007SP2),
			req:   clusterRequest(2, func(r *ClusterRequest) { r.Rollup = 3 }),
			want: seq(
				"NODE1 move_cluster_group Cluster Group>NODE1",
				perNode("NODE2", "ru"),
				"NODE2 move_cluster_group CMS1>NODE2",
				"NODE2 move_cluster_group Cluster Group>NODE2",
				perNode("NODE1", "ru"),
			),
			windows: [][2]int{{7, 7}},
		},
		{
			name:  "2003 active/passive",
			nodes: evs2003.facts(b2003SP1, b2003SP1),
			req:   clusterRequest(2),
			want: seq(
				"NODE1 move_cluster_group Cluster Group>NODE1",
				"NODE2 stop_cluster_service",
				perNode("NODE2", "sp"),
				"NODE1 take_evs_resources_offline",
				"NODE2 start_cluster_service",
				"NODE2 move_cluster_group EVS1>NODE2",
				"NODE2 upgrade_evs_manually",
				"NODE2 bring_group_online",
				"NODE2 move_cluster_group Cluster Group>NODE2",
				"NODE1 stop_cluster_service",
				perNode("NODE1", "sp"),
				"NODE1 start_cluster_service",
				"NODE2 failover_test EVS1>NODE1",
			),
			windows: [][2]int{{8, 12}, {21, 21}},
		},
		{
			name:  "2003 active/active: every EVS to one node, upgrade the free node, all to it, the other",
			nodes: aa2003.facts(b2003SP1, b2003SP1),
			req:   clusterRequest(2),
			want: seq(
				"NODE2 move_cluster_group EVS1>NODE2",
				"NODE2 move_cluster_group Cluster Group>NODE2",
				"NODE1 stop_cluster_service",
				perNode("NODE1", "sp"),
				"NODE2 take_evs_resources_offline",
				"NODE1 start_cluster_service",
				"NODE1 move_cluster_group EVS1>NODE1",
				"NODE1 upgrade_evs_manually",
				"NODE1 bring_group_online",
				"NODE2 take_evs_resources_offline",
				"NODE1 move_cluster_group EVS2>NODE1",
				"NODE1 upgrade_evs_manually",
				"NODE1 bring_group_online",
				"NODE1 move_cluster_group Cluster Group>NODE1",
				"NODE2 stop_cluster_service",
				perNode("NODE2", "sp"),
				"NODE2 start_cluster_service",
				"NODE1 failover_test EVS1>NODE2",
				"NODE2 move_cluster_group EVS2>NODE2",
			),
			windows: [][2]int{{1, 1}, {9, 17}, {26, 27}},
		},
		{
			name:  "2000 active/active: plain moves, no EVS upgrade",
			nodes: aa2000.facts(b2000SP2, b2000SP2),
			req:   clusterRequest(3),
			want: seq(
				"NODE2 move_cluster_group EVS1>NODE2",
				"NODE2 move_cluster_group Cluster Group>NODE2",
				"NODE1 stop_cluster_service",
				perNode("NODE1", "sp"),
				"NODE1 start_cluster_service",
				"NODE1 move_cluster_group EVS1>NODE1",
				"NODE1 move_cluster_group EVS2>NODE1",
				"NODE1 move_cluster_group Cluster Group>NODE1",
				"NODE2 stop_cluster_service",
				perNode("NODE2", "sp"),
				"NODE2 start_cluster_service",
				"NODE2 move_cluster_group EVS2>NODE2",
			),
			windows: [][2]int{{1, 1}, {10, 11}, {20, 20}},
		},
		{
			name:  "2000 active/passive: passive first, move the groups to it, then the other",
			nodes: ap2000.facts(b2000SP2, b2000SP2),
			req:   clusterRequest(3),
			want: seq(
				"NODE1 move_cluster_group Cluster Group>NODE1",
				"NODE2 stop_cluster_service",
				perNode("NODE2", "sp"),
				"NODE2 start_cluster_service",
				"NODE2 move_cluster_group EVS1>NODE2",
				"NODE2 move_cluster_group Cluster Group>NODE2",
				"NODE1 stop_cluster_service",
				perNode("NODE1", "sp"),
				"NODE1 start_cluster_service",
			),
			windows: [][2]int{{9, 9}},
		},
		{
			name:  "5.5: the active node first with its group in place and its cluster service running, then the passive",
			nodes: c55.facts(b55SP3, b55SP3),
			req:   clusterRequest(4),
			want: seq(
				perNode("NODE1", "sp"),
				"NODE1 bring_group_online",
				"NODE1 move_cluster_group Cluster Group>NODE1",
				"NODE2 stop_cluster_service",
				perNode("NODE2", "sp"),
				"NODE2 start_cluster_service",
			),
			windows: [][2]int{{2, 6}},
		},
		{
			name: "resume 5.5: the active node's install runs, its services stopped by setup: attach, the group stays",
			nodes: on(everyNode(c55.facts(b55SP3, b55SP3), func(f *Facts) { f.Cluster.GroupState = "PartialOnline" }), "NODE1",
				spJob("NODE1", b55SP4, JobRunning), func(f *Facts) { f.Setup.Running = true }),
			req: clusterRequest(4),
			want: seq(
				perNode("NODE1", "sp")[1:],
				"NODE1 bring_group_online",
				"NODE1 move_cluster_group Cluster Group>NODE1",
				"NODE2 stop_cluster_service",
				perNode("NODE2", "sp"),
				"NODE2 start_cluster_service",
			),
			windows: [][2]int{{1, 5}},
		},

		// Resume.
		{
			name: "resume CCR: the passive node is upgraded (its install finished unwatched); the downtime is next",
			nodes: on(ccr().facts(b2007SP1, b2007SP2), "NODE2",
				spJob("NODE2", b2007SP2, JobSucceeded)),
			req: clusterRequest(2),
			want: seq(
				"NODE2 reboot", "NODE2 start_exchange_services", "NODE2 set_remote_streaming_backup", "NODE2 verify_build",
				"NODE1 stop_clustered_server",
				"NODE2 move_cluster_group CMS1>NODE2",
				"NODE2 upgrade_cms",
				"NODE2 start_clustered_server",
				"NODE2 move_cluster_group Cluster Group>NODE2",
				perNode("NODE1", "ccr"),
			),
			windows: [][2]int{{5, 8}},
		},
		{
			name: "resume CCR: the passive node's install finished unwatched with the firewall still started: it is put back",
			nodes: on(ccr().facts(b2007SP1, b2007SP2), "NODE2",
				spJob("NODE2", b2007SP2, JobSucceeded), func(f *Facts) { f.Leftovers.FirewallStarted = true }),
			req: clusterRequest(2),
			want: seq(
				"NODE2 reboot", "NODE2 restore_firewall", "NODE2 start_exchange_services", "NODE2 set_remote_streaming_backup", "NODE2 verify_build",
				"NODE1 stop_clustered_server",
				"NODE2 move_cluster_group CMS1>NODE2",
				"NODE2 upgrade_cms",
				"NODE2 start_clustered_server",
				"NODE2 move_cluster_group Cluster Group>NODE2",
				perNode("NODE1", "ccr"),
			),
			windows: [][2]int{{6, 9}},
		},
		{
			name:  "resume CCR: stopped inside the downtime, the CMS moved but not upgraded",
			nodes: everyNode(ccr().facts(b2007SP1, b2007SP2), group("NODE2", "Offline")),
			req:   clusterRequest(2),
			want: seq(
				"NODE2 upgrade_cms",
				"NODE2 start_clustered_server",
				"NODE2 move_cluster_group Cluster Group>NODE2",
				perNode("NODE1", "ccr"),
			),
			windows: [][2]int{{1, 2}},
		},
		{
			name:  "resume CCR: both nodes upgraded, the CMS not (its own build says so): only the CMS steps",
			nodes: everyNode(ccr().facts(b2007SP2, b2007SP2), func(f *Facts) { f.Cluster.NodeBuilds["CMS1"] = b2007SP1 }),
			req:   clusterRequest(2),
			want: seq(
				"NODE1 stop_clustered_server",
				"NODE1 upgrade_cms",
				"NODE1 start_clustered_server",
			),
			windows: [][2]int{{1, 3}},
		},
		{
			name:  "resume 2003: the passive node is upgraded, its cluster service still stopped",
			nodes: on(evs2003.facts(b2003SP1, b2003SP2), "NODE2", stopped),
			req:   clusterRequest(2),
			want: seq(
				"NODE1 take_evs_resources_offline",
				"NODE2 start_cluster_service",
				"NODE2 move_cluster_group EVS1>NODE2",
				"NODE2 upgrade_evs_manually",
				"NODE2 bring_group_online",
				"NODE2 move_cluster_group Cluster Group>NODE2",
				"NODE1 stop_cluster_service",
				perNode("NODE1", "sp"),
				"NODE1 start_cluster_service",
				"NODE2 failover_test EVS1>NODE1",
			),
			windows: [][2]int{{1, 5}, {14, 14}},
		},
		{
			name: "resume 2003: the passive node's install runs, its cluster service stopped: attach, not stop again",
			nodes: on(evs2003.facts(b2003SP1, b2003SP1), "NODE2", stopped, spJob("NODE2", "6.5.7638", JobRunning),
				func(f *Facts) { f.Setup.Running = true }),
			req: clusterRequest(2),
			want: seq(
				perNode("NODE2", "sp")[1:], // an install of ours runs: backups are not checked again
				"NODE1 take_evs_resources_offline",
				"NODE2 start_cluster_service",
				"NODE2 move_cluster_group EVS1>NODE2",
				"NODE2 upgrade_evs_manually",
				"NODE2 bring_group_online",
				"NODE2 move_cluster_group Cluster Group>NODE2",
				"NODE1 stop_cluster_service",
				perNode("NODE1", "sp"),
				"NODE1 start_cluster_service",
				"NODE2 failover_test EVS1>NODE1",
			),
			windows: [][2]int{{5, 9}, {18, 18}},
		},
		{
			name:  "resume 5.5: the active node is upgraded, failover still blocked",
			nodes: everyNode(c55.facts(b55SP4, b55SP3), func(f *Facts) { f.Cluster.FailoverBlocked = true }),
			req:   clusterRequest(4),
			want: seq(
				"NODE1 allow_failover",
				"NODE1 move_cluster_group Cluster Group>NODE1",
				"NODE2 stop_cluster_service",
				perNode("NODE2", "sp"),
				"NODE2 start_cluster_service",
			),
		},
		{
			name: "resume 5.5: the active node's install finished unwatched, its cluster service stopped, its group offline and blocked",
			nodes: on(everyNode(c55.facts(b55SP4, b55SP3), func(f *Facts) {
				f.Cluster.GroupState, f.Cluster.FailoverBlocked = "Offline", true
			}), "NODE1", stopped, spJob("NODE1", b55SP4, JobSucceeded)),
			req: clusterRequest(4),
			want: seq(
				"NODE1 reboot", "NODE1 start_exchange_services", "NODE1 verify_build",
				"NODE2 allow_failover",
				"NODE1 start_cluster_service",
				"NODE1 move_cluster_group Cluster Group>NODE1",
				"NODE2 stop_cluster_service",
				perNode("NODE2", "sp"),
				"NODE2 start_cluster_service",
			),
			windows: [][2]int{{1, 5}},
		},
		{
			name:  "2003: both nodes upgraded by hand, the EVS not (its own build says so): only the EVS upgrade",
			nodes: everyNode(evs2003.facts(b2003SP2, b2003SP2), func(f *Facts) { f.Cluster.NodeBuilds["EVS1"] = b2003SP1 }),
			req:   clusterRequest(2),
			want: seq(
				"NODE1 take_evs_resources_offline",
				"NODE1 upgrade_evs_manually",
				"NODE1 bring_group_online",
				"NODE1 failover_test EVS1>NODE2",
			),
			windows: [][2]int{{1, 4}},
		},
		{
			name:  "every node and the CMS at the target: nothing to do",
			nodes: ccr().facts(b2007SP2, b2007SP2),
			req:   clusterRequest(2),
		},
		{
			name: "every node at the target, an interrupted apply left a service stopped on one",
			nodes: on(evs2003.facts(b2003SP2, b2003SP2), "NODE2", func(f *Facts) {
				f.Leftovers.StoppedServices = []string{"BackupExecAgent"}
			}),
			req:  clusterRequest(2),
			want: []string{"NODE2 start_service"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := PlanCluster(tt.nodes, tt.req, nil)
			if err != nil {
				t.Fatalf("unexpected refusal:\n%v", err)
			}
			want, windows := preflighted(tt.nodes, tt.want, tt.windows)
			if got := pairs(p); !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Fatalf("steps:\n got  %s\n want %s\nplan:%s", strings.Join(got, "\n      "), strings.Join(want, "\n      "), clusterStepList(p))
			}
			if !reflect.DeepEqual(p.Windows, windows) && !(len(p.Windows) == 0 && len(windows) == 0) {
				t.Errorf("windows = %v, want %v%s", p.Windows, windows, clusterStepList(p))
			}
			assertClusterSafety(t, tt.nodes, p)
		})
	}
}

// assertClusterSafety replays a plan's cluster-service steps: no node's cluster service is
// stopped while another node's is, and every step names a node of the cluster.
func assertClusterSafety(t *testing.T, nodes []Facts, p ClusterPlan) {
	t.Helper()
	running := map[string]bool{}
	for _, f := range nodes {
		running[f.Server] = f.Cluster.ClusterServiceRunning
	}
	for i, s := range p.Steps {
		if _, ok := running[s.Server]; !ok {
			t.Errorf("step %d (%s) runs on %q, not a node", i+1, s.Action(), s.Server)
		}
		switch s.Action() {
		case ActionStopClusterService:
			for n, r := range running {
				if n != s.Server && !r {
					t.Errorf("step %d stops the cluster service on %s while it is stopped on %s%s", i+1, s.Server, n, clusterStepList(p))
				}
			}
			running[s.Server] = false
		case ActionStartClusterService:
			running[s.Server] = true
		}
		if s.Description == "" {
			t.Errorf("step %d has no description", i+1)
		}
	}
}

// A node at the target build whose setup key holds an interrupted service pack upgrade's
// values did not finish setup: the cluster plan does not take it for done (it planned only
// what finished() plans there) but refuses, naming the node, the key and that setup must be
// run again on it. A node whose install of ours still runs is attached to, as before.
func TestPlanClusterInterruptedSetupAtTheTarget(t *testing.T) {
	for _, node := range []string{"NODE1", "NODE2"} { // the active node, and the passive one
		nodes := on(ccr().facts(b2007SP3, b2007SP3), node, func(f *Facts) {
			f.Setup.Watermarks = []SetupWatermark{{Role: "Mailbox", Action: SetupActionUpgrade, Watermark: "InstallFiles"}}
		})
		_, err := PlanCluster(nodes, clusterRequest(3), nil)
		rs := refusals(t, err)
		if len(rs) != 1 || rs[0].Server != node || !hasRefusal(rs, "", `Action = "BuildToBuildUpgrade"`, `v8.0\MailboxRole`,
			"setup refuses to start again", "delete its action and watermark values",
			"run setup.com /mode:upgrade from the service pack's media again on "+strings.ToLower(node), "while it is a passive node", "sees nothing left to do") {
			t.Errorf("%s: want one refusal naming the node and the re-run, got:\n%v", node, err)
		}
	}
	// Another setup mode is refused by name on a node too.
	_, err := PlanCluster(on(ccr().facts(b2007SP3, b2007SP3), "NODE2", func(f *Facts) {
		f.Setup.Watermarks = []SetupWatermark{{Role: "Mailbox", Action: "Install"}}
	}), clusterRequest(3), nil)
	if rs := refusals(t, err); !hasRefusal(rs, "", `Action = "Install" is not the "BuildToBuildUpgrade"`) || rs[0].Server != "NODE2" {
		t.Errorf("install mode on NODE2: %v", err)
	}
	// The running setup's own watermark on a node at the target is expected.
	running := on(ccr().facts(b2007SP3, b2007SP3), "NODE2", func(f *Facts) {
		f.Setup.Running = true
		f.Setup.Watermarks = []SetupWatermark{{Role: "Mailbox", Action: SetupActionUpgrade, Watermark: "x"}}
		f.Jobs = []Job{{ID: "install_service_pack-8.3.83.6-node2", Action: ActionInstallServicePack, State: JobRunning, Started: now.Add(-time.Hour)}}
	})
	if _, err := PlanCluster(running, clusterRequest(3), nil); err != nil {
		t.Errorf("a node whose setup of ours runs: %v", err)
	}
	// Without the values, nodes at the target have nothing to do.
	if p, err := PlanCluster(ccr().facts(b2007SP3, b2007SP3), clusterRequest(3), nil); err != nil || !p.Empty() {
		t.Errorf("healthy nodes at SP3: %v %v", err, p.Actions())
	}
}

func TestPlanClusterDetails(t *testing.T) {
	t.Run("CCR steps carry their parameters, job attach and descriptions", func(t *testing.T) {
		nodes := on(ccr().facts(b2007SP1, b2007SP1), "NODE2", func(f *Facts) {
			f.Jobs = []Job{{ID: "install_service_pack-8.2.176.2-node2", Action: ActionInstallServicePack, State: JobRunning, Started: now.Add(-time.Hour)}}
			// The running setup's own process and watermark are expected.
			f.Setup.Running = true
			f.Setup.Watermarks = []SetupWatermark{{Role: "Mailbox", Action: "BuildToBuildUpgrade", Watermark: "x"}}
		})
		p, err := PlanCluster(nodes, clusterRequest(2, func(r *ClusterRequest) {
			r.Cluster = "CMS1"
			r.NodeMediaPaths = map[string]string{"node2": `E:\SP2`}
		}), nil)
		if err != nil {
			t.Fatal(err)
		}
		if p.Cluster != "CMS1" || p.Type != "ccr" || p.Target.Build.String() != b2007SP2 {
			t.Errorf("plan = %s %s target %v", p.Cluster, p.Type, p.Target)
		}
		var install, upgrade, move Step
		for _, s := range p.Steps {
			switch {
			case s.Action() == ActionInstallServicePack && s.Server == "NODE2":
				install = s
			case s.Action() == ActionUpgradeCMS:
				upgrade = s
			case s.Action() == ActionMoveClusterGroup && s.Params()["group"] == "CMS1":
				move = s
			}
		}
		wantContains(t, "NODE2 install", install.Description, "attach to the running", "job install_service_pack-8.2.176.2-node2", "passive node NODE2")
		if install.Params()["media_path"] != `E:\SP2` {
			t.Errorf("NODE2 media_path = %q, want the node's own", install.Params()["media_path"])
		}
		if !reflect.DeepEqual(upgrade.Params(), map[string]string{"group": "CMS1", "media_path": `E:\SP2`, "build": b2007SP2}) || upgrade.Server != "NODE2" {
			t.Errorf("upgrade_cms = %s %v", upgrade.Server, upgrade.Params())
		}
		wantContains(t, "upgrade_cms", upgrade.Description, "Setup.com /upgradeCMS", "NODE2")
		if move.Params()["to"] != "NODE2" || move.Server != "NODE2" || !move.Downtime {
			t.Errorf("CMS move = %+v", move)
		}
		for _, s := range p.Steps {
			if s.Action() == ActionReboot && s.Params()["when"] != "always" {
				t.Errorf("2007 service pack reboot on %s is %q, want always", s.Server, s.Params()["when"])
			}
		}
		found := false
		for _, w := range p.Warnings {
			found = found || strings.Contains(w, "set update_rollup on this resource")
		}
		if !found {
			t.Errorf("no rollup advice in %q", p.Warnings)
		}
		for _, w := range p.Warnings {
			if strings.Contains(w, "exchange_update_rollup resource") {
				t.Errorf("single-server advice in a cluster plan: %q", w)
			}
		}
	})

	t.Run("an /upgradeCMS that finished while no apply watched is attached to", func(t *testing.T) {
		nodes := everyNode(ccr().facts(b2007SP1, b2007SP2), func(f *Facts) {
			f.Cluster.ActiveNode, f.Cluster.Active, f.Cluster.GroupState = "NODE2", f.Server == "NODE2", "Offline"
		})
		nodes = on(nodes, "NODE2", func(f *Facts) {
			f.Jobs = []Job{{ID: "upgrade_cms-8.2.176.2-cms1-node2", Action: ActionUpgradeCMS, State: JobSucceeded, Started: now.Add(-time.Hour)}}
		})
		p, err := PlanCluster(nodes, clusterRequest(2), nil)
		if err != nil {
			t.Fatal(err)
		}
		// NODE1's preflight (its service pack is to come); NODE2's /upgradeCMS is attached
		// to and reads nothing.
		if p.Steps[0].Server != "NODE1" || p.Steps[0].Action() != ActionPreflight ||
			p.Steps[1].Action() != ActionUpgradeCMS || p.Steps[2].Action() != ActionStartClusteredServer {
			t.Fatalf("plan does not start with NODE1's preflight and the rest of the downtime:%s", clusterStepList(p))
		}
		wantContains(t, "upgrade_cms", p.Steps[1].Description, "attach to the finished", "it is not started again")
	})

	t.Run("2003 nodes reboot only if asked, leave cluster resources to the cluster, warn about backups", func(t *testing.T) {
		p, err := PlanCluster(testCluster{product: "2003", typ: "evs-active-passive", owners: [][2]string{{"EVS1", "NODE1"}}, nodes: []string{"NODE1", "NODE2"}}.facts(b2003SP1, b2003SP1), clusterRequest(2), nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range p.Steps {
			if s.Action() == ActionReboot && s.Params()["when"] != "if_required" {
				t.Errorf("reboot on %s is %q, want if_required", s.Server, s.Params()["when"])
			}
			if s.Action() == ActionStartExchangeServices && s.Params()["cluster_node"] != "true" {
				t.Errorf("start_exchange_services on %s without cluster_node", s.Server)
			}
			if s.Action() == ActionFailoverTest {
				wantContains(t, "failover test", s.Description, "can fail back to NODE1 only now that it has the same service pack (SP2)")
			}
		}
		backup := 0
		for _, w := range p.Warnings {
			if strings.Contains(w, "take a new full backup after the service pack") {
				backup++
				if strings.HasPrefix(w, "node") {
					t.Errorf("a warning every node gives names nodes: %q", w)
				}
			}
		}
		if backup != 1 {
			t.Errorf("%d backup warnings in %q, want 1", backup, p.Warnings)
		}
	})

	t.Run("5.5 descriptions say how the active-first rule is reconciled", func(t *testing.T) {
		p, err := PlanCluster(testCluster{product: "5.5", typ: "cluster-5.5", owners: [][2]string{{"EXVS1", "NODE1"}}, nodes: []string{"NODE1", "NODE2"}}.facts(b55SP3, b55SP3), clusterRequest(4), nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range p.Steps {
			if s.Action() == ActionBlockFailover || s.Server == "NODE1" && s.Action() == ActionStopClusterService {
				t.Errorf("the active node's group would move or be blocked: %s %s", s.Server, s.Action())
			}
		}
		n := leadingPreflights(t, p, 2)
		wantContains(t, "install_service_pack", p.Steps[n+1].Description, "active node NODE1, first, with EXVS1 in place and the cluster service running",
			"setup stops the Exchange services and starts them again", "an outage for users")
		wantContains(t, "start_exchange_services", p.Steps[n+3].Description, "not started here", "come online through the cluster")
		wantContains(t, "bring_group_online", p.Steps[n+5].Description, "downtime ends", "EXVS1 online on NODE1")
	})
}

func TestPlanClusterRefusals(t *testing.T) {
	evs2003 := testCluster{product: "2003", typ: "evs-active-passive", owners: [][2]string{{"EVS1", "NODE1"}}, nodes: []string{"NODE1", "NODE2"}}
	tests := []struct {
		name      string
		nodes     []Facts
		req       ClusterRequest
		server    string
		attribute Field
		fragments []string
	}{
		{
			name:      "a node's facts are missing",
			nodes:     ccr().facts(b2007SP1, b2007SP1)[:1],
			req:       clusterRequest(2),
			server:    "CMS1",
			fragments: []string{"nodes of cms1 are node1, node2", "no facts were read from node2", "make node2 reachable"},
		},
		{
			name:      "the active node is above the target",
			nodes:     ccr().facts(b2007SP3, b2007SP1),
			req:       clusterRequest(2),
			server:    "NODE1",
			attribute: FieldServicePack,
			fragments: []string{"the active node runs exchange 2007 sp3 (8.3.83.6), above the target exchange 2007 sp2", "set service_pack = 3"},
		},
		{
			// Moved from the acceptance tests, which cannot reach a 5.5 node (Windows 2000:
			// no WinRM).
			name:      "5.5: the active node is above the target",
			nodes:     testCluster{product: "5.5", typ: "cluster-5.5", owners: [][2]string{{"EXVS1", "NODE1"}}, nodes: []string{"NODE1", "NODE2"}}.facts(b55SP4, b55SP3),
			req:       clusterRequest(3),
			server:    "NODE1",
			attribute: FieldServicePack,
			fragments: []string{"the active node runs exchange 5.5 sp4 (5.5.2653), above the target exchange 5.5 sp3", "set service_pack = 4"},
		},
		{
			name:      "a passive node's service pack is above the target: a downgrade",
			nodes:     ccr().facts(b2007SP1, b2007SP3),
			req:       clusterRequest(2),
			server:    "NODE2",
			attribute: FieldServicePack,
			fragments: []string{"the node runs exchange 2007 sp3", "a service pack cannot be uninstalled"},
		},
		{
			name:      "the active node's rollup is above the target",
			nodes:     ccr().facts(b2007SP2RU3, b2007SP2),
			req:       clusterRequest(2, func(r *ClusterRequest) { r.Rollup = 1 }),
			server:    "NODE1",
			attribute: FieldRollup,
			fragments: []string{"the active node runs exchange 2007 sp2 update rollup 3", "above the target"},
		},
		{
			// On a node the plan runs setup on first: only /upgradeCMS runs there.
			name:      "a stale CMS key",
			nodes:     on(ccr().facts(b2007SP1, b2007SP1), "NODE2", func(f *Facts) { f.Setup.StaleCMSKey = true }),
			req:       clusterRequest(2),
			server:    "NODE2",
			fragments: []string{"/upgradecms was forgotten", "run setup.com /upgradecms on the node that owns the cms (node1"},
		},
		{
			// Event 1025 although Active Directory records the EVS at the node's level: the
			// one cause left is a node removed and re-added (KB 328839).
			name: "event 1025 on a node the upgraded EVS fails on",
			nodes: on(everyNode(evs2003.facts(b2003SP2, b2003SP2), evsGroup("EVS1", "NODE2", "Failed", "Version 6.5 (Build 7638.2: Service Pack 2)")),
				"NODE2", func(f *Facts) { f.Cluster.Events = []string{"1025"} }),
			req:    clusterRequest(2),
			server: "NODE2",
			fragments: []string{"event 1025", "yet active directory already records evs1 at sp2 (version 6.5 (build 7638.2: service pack 2))",
				"evs1 is failed there", "removed from the cluster and added again",
				"right-click the system attendant resource of evs1: if upgrade exchange virtual server is missing, run exchange 2003 setup on node2 and choose reinstall"},
		},
		{
			name:      "error c1037b44",
			nodes:     on(evs2003.facts(b2003SP1, b2003SP2), "NODE1", func(f *Facts) { f.Cluster.Events = []string{"C1037B44"} }),
			req:       clusterRequest(2),
			server:    "NODE1",
			fragments: []string{"c1037b44", "node not yet upgraded", "move the evs to an upgraded node"},
		},
		{
			name:      "hotfix 831464 missing on a Windows Server 2003 node",
			nodes:     on(evs2003.facts(b2003SP1, b2003SP1), "NODE2", func(f *Facts) { f.Prerequisites.IISCompressionHotfix831464 = false }),
			req:       clusterRequest(2),
			server:    "NODE2",
			fragments: []string{"831464", "install hotfix 831464 and reboot"},
		},
		{
			name: "an interrupted setup on a node",
			nodes: on(ccr().facts(b2007SP1, b2007SP1), "NODE2", func(f *Facts) {
				f.Setup.Watermarks = []SetupWatermark{{Role: "Mailbox", Action: "BuildToBuildUpgrade", Watermark: "x"}}
			}),
			req:       clusterRequest(2),
			server:    "NODE2",
			fragments: []string{"watermark", "setup refuses to start again"},
		},
		{
			name:      "a setup the provider did not start runs on a node",
			nodes:     on(ccr().facts(b2007SP1, b2007SP1), "NODE1", func(f *Facts) { f.Setup.Running = true }),
			req:       clusterRequest(2),
			server:    "NODE1",
			fragments: []string{"did not start is running now"},
		},
		{
			name:      "a prerequisite is missing on a node",
			nodes:     on(ccr().facts(b2007SP1, b2007SP1), "NODE1", func(f *Facts) { f.Prerequisites.DotNet20ServicePack = -1 }),
			req:       clusterRequest(2),
			server:    "NODE1",
			fragments: []string{".net framework 2.0 is not installed"},
		},
		{
			name:      "a node's backups are too old",
			nodes:     on(ccr().facts(b2007SP1, b2007SP1), "NODE2", func(f *Facts) { f.Backups.SystemState = ago(30 * day) }),
			req:       clusterRequest(2),
			server:    "NODE2",
			attribute: FieldBackup,
			fragments: []string{"system-state backup is 30d old"},
		},
		{
			name: "a passive node claims to own the CMS",
			nodes: on(ccr().facts(b2007SP1, b2007SP1), "NODE2", func(f *Facts) {
				f.Cluster.ActiveNode = "NODE2"
			}),
			req:       clusterRequest(2),
			server:    "NODE2",
			fragments: []string{"passive node", "contradict"},
		},
		{
			name:      "the nodes disagree on the owner",
			nodes:     on(ccr().facts(b2007SP1, b2007SP1), "NODE2", func(f *Facts) { f.Cluster.ActiveNode, f.Cluster.Active = "NODE2", true }),
			req:       clusterRequest(2),
			server:    "CMS1",
			fragments: []string{"disagree on which node owns cms1"},
		},
		{
			name:      "the EVS is offline: stopping a cluster service would leave it nowhere to run",
			nodes:     everyNode(evs2003.facts(b2003SP1, b2003SP1), func(f *Facts) { f.Cluster.GroupState = "Offline" }),
			req:       clusterRequest(2),
			server:    "NODE2",
			fragments: []string{"stop the cluster service on node2 while evs1 is offline on node1"},
		},
		{
			name:      "media_path missing",
			nodes:     ccr().facts(b2007SP1, b2007SP1),
			req:       clusterRequest(2, func(r *ClusterRequest) { r.MediaPath = "" }),
			server:    "NODE2",
			attribute: FieldMediaPath,
			fragments: []string{"media_path is not set"},
		},
		{
			name:      "node_media_paths names a server that is not a node",
			nodes:     ccr().facts(b2007SP1, b2007SP1),
			req:       clusterRequest(2, func(r *ClusterRequest) { r.NodeMediaPaths = map[string]string{"NODE9": `E:\SP`} }),
			server:    "CMS1",
			attribute: FieldNodeMediaPaths,
			fragments: []string{`"node9"`, "not a node of cms1"},
		},
		{
			name: "the cluster service is stopped on every node",
			nodes: everyNode(ccr().facts(b2007SP1, b2007SP1), func(f *Facts) {
				f.Cluster = &ClusterFacts{NodeBuilds: map[string]string{f.Server: f.Build}}
			}),
			req:       clusterRequest(2),
			server:    "the cluster",
			fragments: []string{"stopped on every node", "start the cluster service"},
		},
		{
			name:      "an update rollup on Exchange 2003",
			nodes:     evs2003.facts(b2003SP1, b2003SP1),
			req:       clusterRequest(2, func(r *ClusterRequest) { r.Rollup = 1 }),
			server:    "EVS1",
			attribute: FieldRollup,
			fragments: []string{"no update rollups"},
		},
		{
			name:      "a node that is not clustered",
			nodes:     on(ccr().facts(b2007SP1, b2007SP1), "NODE2", func(f *Facts) { f.Cluster = nil }),
			req:       clusterRequest(2),
			server:    "NODE2",
			fragments: []string{"not a node of a cluster"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := PlanCluster(tt.nodes, tt.req, nil)
			var rs Refusals
			if !errors.As(err, &rs) {
				t.Fatalf("err = %v, want Refusals; plan:%s", err, clusterStepList(p))
			}
			if len(p.Steps) != 0 {
				t.Errorf("a refused plan has steps:%s", clusterStepList(p))
			}
			for _, r := range rs {
				if strings.EqualFold(r.Server, tt.server) && hasRefusal(Refusals{r}, tt.attribute, tt.fragments...) {
					return
				}
			}
			t.Errorf("no refusal on %s (attribute %q) with %q in:\n%v", tt.server, tt.attribute, tt.fragments, err)
		})
	}
}

func TestPlanClusterRefusalsAreCollected(t *testing.T) {
	nodes := on(ccr().facts(b2007SP1, b2007SP1), "NODE1", func(f *Facts) {
		f.Backups.SystemState = nil
		f.Setup.StaleCMSKey = true
	})
	nodes = on(nodes, "NODE2", func(f *Facts) {
		f.Prerequisites.TimeZoneUpdate931836 = false
		f.InterimUpdates = []InstalledUpdate{{KB: "KB123456", DisplayName: "Interim Update for Exchange Server 2007 (KB123456)"}}
	})
	_, err := PlanCluster(nodes, clusterRequest(2), nil)
	var rs Refusals
	if !errors.As(err, &rs) {
		t.Fatalf("err = %v, want Refusals", err)
	}
	want := []struct {
		server    string
		attribute Field
		fragment  string
	}{
		{"NODE1", "", "/upgradecms was forgotten"},
		{"NODE1", FieldBackup, "no system-state backup"},
		{"NODE2", "", "931836"},
		{"NODE2", FieldRemoveInterimUpdates, "kb123456"},
	}
	for _, w := range want {
		found := false
		for _, r := range rs {
			found = found || r.Server == w.server && hasRefusal(Refusals{r}, w.attribute, w.fragment)
		}
		if !found {
			t.Errorf("no refusal on %s with %q in:\n%v", w.server, w.fragment, err)
		}
	}
	seen := map[Refusal]bool{}
	for _, r := range rs {
		if seen[r] {
			t.Errorf("refusal twice: %v", r)
		}
		seen[r] = true
	}
}

func TestPlanClusterActiveActiveWithOneKnownEVS(t *testing.T) {
	// Both EVSs run on NODE1 and both nodes' facts name EVS1 only: EVS2 is unknown.
	tc := testCluster{product: "2003", typ: "evs-active-active", owners: [][2]string{{"EVS1", "NODE1"}}, nodes: []string{"NODE1", "NODE2"}}
	p, err := PlanCluster(tc.facts(b2003SP1, b2003SP1), clusterRequest(2), nil)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, w := range p.Warnings {
		found = found || strings.Contains(w, "name one Exchange Virtual Server only (EVS1, on NODE1)")
	}
	if !found {
		t.Errorf("no warning about the unknown EVS in %q", p.Warnings)
	}
}

func TestClusterJobID(t *testing.T) {
	s := Step{Kind: UpgradeCMS{Group: "CMS1", Build: MustParseBuild(b2007SP3)}, Server: "Node1"}
	if got := ClusterJobID(s); got != "upgrade_cms-8.3.83.6-cms1-node1" {
		t.Errorf("ClusterJobID = %q", got)
	}
	i := Step{Kind: InstallServicePack{Build: MustParseBuild(b2003SP2)}, Server: "NODE1"}
	if got := ClusterJobID(i); got != "install_service_pack-6.5.7638.2-node1" {
		t.Errorf("ClusterJobID of an install = %q", got)
	}
	s.Server = ""
	if got := ClusterJobID(s); got != "upgrade_cms-8.3.83.6" {
		t.Errorf("ClusterJobID without a server = %q", got)
	}
}

// evsGroup makes a node's facts list one EVS with its owner, state and the version Active
// Directory records for it (ClusterGroupFacts.ADVersion), as the probe reads them.
func evsGroup(name, owner, state, adVersion string) func(*Facts) {
	return func(f *Facts) {
		if f.Cluster.Name == "" {
			return // cluster service stopped: nothing of the cluster is read
		}
		f.Cluster.Name, f.Cluster.ActiveNode, f.Cluster.Active, f.Cluster.GroupState = name, owner, strings.EqualFold(owner, f.Server), state
		f.Cluster.Groups = []ClusterGroupFacts{{Name: name, Owner: owner, State: state, ADVersion: adVersion, PreferredOwners: []string{}}}
	}
}

// listGroups makes every node's facts list every EVS (ClusterFacts.Groups) as the probe does
// now: owner, state, resources, failover block, and each EVS's preferred owner.
func listGroups(evs ...[3]string) func(*Facts) {
	return func(f *Facts) {
		if f.Cluster.Name == "" {
			return // cluster service stopped: nothing of the cluster is read
		}
		f.Cluster.Groups = nil
		for _, e := range evs { // name, owner, preferred owner
			g := ClusterGroupFacts{Name: e[0], Owner: e[1], State: "Online", PreferredOwners: []string{e[2]}}
			f.Cluster.Groups = append(f.Cluster.Groups, g)
			if strings.EqualFold(e[1], f.Server) {
				f.Cluster.Name, f.Cluster.ActiveNode, f.Cluster.Active = e[0], e[1], true
			}
		}
		if !f.Cluster.Active {
			f.Cluster.Name, f.Cluster.ActiveNode = evs[0][0], evs[0][1]
		}
	}
}

func TestPlanClusterActiveActiveListingEveryEVS(t *testing.T) {
	aa := testCluster{product: "2003", typ: "evs-active-active", owners: [][2]string{{"EVS1", "NODE1"}, {"EVS2", "NODE2"}}, nodes: []string{"NODE1", "NODE2"}}
	stopped := func(f *Facts) {
		f.Cluster = &ClusterFacts{Nodes: []string{}, Resources: []ClusterResource{}, NodeBuilds: map[string]string{f.Server: f.Build}}
	}
	tests := []struct {
		name  string
		nodes []Facts
		want  []string
	}{
		{
			// An apply stopped after NODE1's install: both EVSs wait on NODE2, NODE1's
			// cluster service is stopped. NODE2 names both (it could name one only before):
			// both are upgraded onto NODE1, NODE2 follows, and EVS2 goes home to NODE2.
			name: "resume with both EVSs on one node",
			nodes: on(on(aa.facts(b2003SP2, b2003SP1), "NODE1", stopped), "NODE2",
				listGroups([3]string{"EVS1", "NODE2", "NODE1"}, [3]string{"EVS2", "NODE2", "NODE2"})),
			want: seq(
				"NODE2 take_evs_resources_offline",
				"NODE1 start_cluster_service",
				"NODE1 move_cluster_group EVS1>NODE1",
				"NODE1 upgrade_evs_manually",
				"NODE1 bring_group_online",
				"NODE2 take_evs_resources_offline",
				"NODE1 move_cluster_group EVS2>NODE1",
				"NODE1 upgrade_evs_manually",
				"NODE1 bring_group_online",
				"NODE1 move_cluster_group Cluster Group>NODE1",
				"NODE2 stop_cluster_service",
				perNode("NODE2", "sp"),
				"NODE2 start_cluster_service",
				"NODE1 failover_test EVS1>NODE2",
				"NODE2 move_cluster_group EVS2>NODE2",
			),
		},
		{
			// Stopped after EVS1 was upgraded on NODE1: EVS2 still runs on NODE2 (SP1).
			name: "resume between the EVSs",
			nodes: everyNode(aa.facts(b2003SP2, b2003SP1),
				listGroups([3]string{"EVS1", "NODE1", "NODE1"}, [3]string{"EVS2", "NODE2", "NODE2"})),
			want: seq(
				"NODE2 take_evs_resources_offline",
				"NODE1 move_cluster_group EVS2>NODE1",
				"NODE1 upgrade_evs_manually",
				"NODE1 bring_group_online",
				"NODE1 move_cluster_group Cluster Group>NODE1",
				"NODE2 stop_cluster_service",
				perNode("NODE2", "sp"),
				"NODE2 start_cluster_service",
				"NODE1 failover_test EVS1>NODE2",
				"NODE2 move_cluster_group EVS2>NODE2",
			),
		},
	}
	t.Run("healthy: the same plan as from facts naming one EVS per node", func(t *testing.T) {
		one, err := PlanCluster(aa.facts(b2003SP1, b2003SP1), clusterRequest(2), nil)
		if err != nil {
			t.Fatal(err)
		}
		all, err := PlanCluster(everyNode(aa.facts(b2003SP1, b2003SP1),
			listGroups([3]string{"EVS1", "NODE1", "NODE1"}, [3]string{"EVS2", "NODE2", "NODE2"})), clusterRequest(2), nil)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(pairs(one), pairs(all)) || !reflect.DeepEqual(one.Windows, all.Windows) {
			t.Errorf("listing every EVS changed the plan:\n one %q %v\n all %q %v", pairs(one), one.Windows, pairs(all), all.Windows)
		}
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := PlanCluster(tt.nodes, clusterRequest(2), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := pairs(p), func() []string { w, _ := preflighted(tt.nodes, tt.want, nil); return w }(); !reflect.DeepEqual(got, want) {
				t.Errorf("steps:\n got  %q\n want %q%s", got, want, clusterStepList(p))
			}
			for _, w := range p.Warnings {
				if strings.Contains(w, "one Exchange Virtual Server only") {
					t.Errorf("warns of an unknown EVS although every EVS is listed: %s", w)
				}
			}
			assertClusterSafety(t, tt.nodes, p)
		})
	}
}

func TestPlanClusterGroupListRefusals(t *testing.T) {
	aa := testCluster{product: "2003", typ: "evs-active-active", owners: [][2]string{{"EVS1", "NODE1"}, {"EVS2", "NODE2"}}, nodes: []string{"NODE1", "NODE2"}}
	nodes := everyNode(aa.facts(b2003SP1, b2003SP1), listGroups([3]string{"EVS1", "NODE1", "NODE1"}, [3]string{"EVS2", "NODE2", "NODE2"}))
	nodes = on(nodes, "NODE2", func(f *Facts) { f.Cluster.Groups = f.Cluster.Groups[:1] })
	_, err := PlanCluster(nodes, clusterRequest(2), nil)
	if err == nil || !strings.Contains(err.Error(), `the node reports clustered server "EVS1", NODE1 reports clustered servers "EVS1", "EVS2"`) {
		t.Errorf("nodes listing different EVSs: err = %v", err)
	}

	cms := ccr().facts(b2007SP1, b2007SP1)
	cms = everyNode(cms, func(f *Facts) {
		f.Cluster.Groups = []ClusterGroupFacts{{Name: "CMS1", Owner: "NODE1", State: "Online"}, {Name: "CMS2", Owner: "NODE2", State: "Online"}}
	})
	_, err = PlanCluster(cms, clusterRequest(3), nil)
	if err == nil || !strings.Contains(err.Error(), `but a ccr cluster runs one`) {
		t.Errorf("a CCR with two CMSs: err = %v", err)
	}
}

// A node at the target with its service pack's job record left runs the CMS now (an
// apply's last clean-up failed after the CMS moved to it): the plan finishes the install
// there (a reboot only if one is pending) and warns that such a reboot stops the apply
// instead of restarting the node that runs CMS1.
func TestClusterResumeWarnsOfARebootOnTheNodeThatRunsTheCMS(t *testing.T) {
	spJob := func(f *Facts) {
		f.Jobs = []Job{{ID: ClusterJobID(Step{Kind: InstallServicePack{Build: MustParseBuild(b2007SP2)}, Server: "NODE2"}),
			Action: ActionInstallServicePack, State: JobSucceeded, Started: time.Now().Add(-2 * time.Hour)}}
	}
	tc := testCluster{product: "2007", typ: "ccr", owners: [][2]string{{"CMS1", "NODE2"}}, nodes: []string{"NODE1", "NODE2"}}
	nodes := on(tc.facts(b2007SP2, b2007SP2), "NODE2", spJob)
	p, err := PlanCluster(nodes, clusterRequest(2), DefaultCatalog())
	if err != nil {
		t.Fatal(err)
	}
	if got := pairs(p); len(got) == 0 || got[0] != "NODE2 reboot" {
		t.Fatalf("steps %v, want NODE2's install finished first", got)
	}
	found := false
	for _, w := range p.Warnings {
		found = found || strings.Contains(w, "NODE2 runs CMS1 now") && strings.Contains(w, "move CMS1 to another node first")
	}
	if !found {
		t.Errorf("no warning that NODE2 runs CMS1: %q", p.Warnings)
	}
	// The same resume with CMS1 on NODE1: no such warning.
	nodes = on(ccr().facts(b2007SP2, b2007SP2), "NODE2", spJob)
	if p, err = PlanCluster(nodes, clusterRequest(2), DefaultCatalog()); err != nil {
		t.Fatal(err)
	}
	for _, w := range p.Warnings {
		if strings.Contains(w, "runs CMS1 now") {
			t.Errorf("NODE2 is passive, yet: %q", w)
		}
	}
}
