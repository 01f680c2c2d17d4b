package simulator

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
)

// clusterNet is testdata/clusters.json (a CCR, a 2003 and a 2000 EVS, a 5.5 cluster, a 2003
// and a 2000 active/active cluster) on a manual clock over HTTP, driven by the provider's
// real client and scripts.
type clusterNet struct {
	t      *testing.T
	sim    *Simulator
	clock  *ManualClock
	client *remote.Client
	ctx    context.Context
	seq    int
}

func newClusterNet(t *testing.T) *clusterNet {
	t.Helper()
	f, err := LoadFleet("testdata/clusters.json")
	if err != nil {
		t.Fatal(err)
	}
	clock := NewManualClock(rigStart)
	// The fleet's 2000 and 5.5 nodes run Windows 2000 (no WinRM): reached here as a future
	// management host would, to test the simulator's model of them.
	sim, err := Start(f, Options{Clock: clock, DisableHTTPS: true, modelOverWinRM: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := sim.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	client, err := remote.New(remote.Config{Username: f.Credentials.Username, Password: f.Credentials.Password,
		Auth: remote.AuthNTLM, Port: sim.HTTPPort(), Timeout: 15 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return &clusterNet{t: t, sim: sim, clock: clock, client: client, ctx: ctx}
}

func (n *clusterNet) target(server string) remote.Target {
	return remote.Target{Server: server, Address: n.sim.Addr(server)}
}

// do runs a cluster action on node that must succeed.
func (n *clusterNet) do(node, action, group, to string) wire.ClusterResult {
	n.t.Helper()
	res, err := n.client.Cluster(n.ctx, n.target(node), action, group, to)
	if err != nil {
		n.t.Fatalf("%s %s %s on %s: %v", action, group, to, node, err)
	}
	return res
}

// refused runs a cluster action on node that must fail with a fault of code whose message
// holds every one of want.
func (n *clusterNet) refused(node, action, group, to, code string, want ...string) *wire.Fault {
	n.t.Helper()
	_, err := n.client.Cluster(n.ctx, n.target(node), action, group, to)
	return n.fault(err, fmt.Sprintf("%s %s %s on %s", action, group, to, node), code, want...)
}

func (n *clusterNet) fault(err error, what, code string, want ...string) *wire.Fault {
	n.t.Helper()
	var f *wire.Fault
	if !errors.As(err, &f) || f.Code != code {
		n.t.Fatalf("%s: %v, want fault %s", what, err, code)
	}
	for _, w := range want {
		if !strings.Contains(f.Message, w) {
			n.t.Errorf("%s: fault message %q does not say %q", what, f.Message, w)
		}
	}
	return f
}

// install starts a job on node and lets it finish (it must succeed).
func (n *clusterNet) install(node string, spec remote.JobSpec) {
	n.t.Helper()
	if spec.ID == "" {
		n.seq++
		spec.ID = fmt.Sprintf("%s-%d", spec.Action, n.seq)
	}
	if _, err := n.client.JobStart(n.ctx, n.target(node), spec); err != nil {
		n.t.Fatalf("job_start %s on %s: %v", spec.Action, node, err)
	}
	n.clock.Advance(2 * time.Second) // InstallDuration: every job is done
	j, err := n.client.JobStatus(n.ctx, n.target(node), spec.ID)
	if err != nil || j.State != exchange.JobSucceeded {
		n.t.Fatalf("job %s on %s: %+v, %v", spec.ID, node, j, err)
	}
}

// upgradeEVS is the administrator's "Upgrade Exchange Virtual Server" in Cluster
// Administrator on node (the simulator's control); it must succeed.
func (n *clusterNet) upgradeEVS(node, evs string) {
	n.t.Helper()
	if err := n.sim.Cluster(evs).UpgradeVirtualServer(evs, node); err != nil {
		n.t.Fatalf("Upgrade Exchange Virtual Server %s on %s: %v", evs, node, err)
	}
}

// upgradeEVSRefused is the administrator's Upgrade Exchange Virtual Server, which must be
// refused with a message holding want.
func (n *clusterNet) upgradeEVSRefused(node, evs string, want ...string) string {
	n.t.Helper()
	err := n.sim.Cluster(evs).UpgradeVirtualServer(evs, node)
	if err == nil {
		n.t.Fatalf("Upgrade Exchange Virtual Server %s on %s succeeded, want a refusal", evs, node)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			n.t.Errorf("Upgrade Exchange Virtual Server %s on %s: %v\nwant it to say %q", evs, node, err, w)
		}
	}
	return err.Error()
}

// installRefused starts a job on node that must be refused with a message holding want.
func (n *clusterNet) installRefused(node string, spec remote.JobSpec, want ...string) {
	n.t.Helper()
	if spec.ID == "" {
		spec.ID = spec.Action + "-refused"
	}
	_, err := n.client.JobStart(n.ctx, n.target(node), spec)
	n.fault(err, fmt.Sprintf("job_start %s on %s", spec.Action, node), "refused", want...)
}

func (n *clusterNet) facts(node string) exchange.Facts {
	n.t.Helper()
	f, err := n.client.Probe(n.ctx, n.target(node))
	if err != nil {
		n.t.Fatalf("probe %s: %v", node, err)
	}
	return f
}

// cluster is the model of the cluster called name (any of its CMS/EVS names or its own).
func (n *clusterNet) cluster(name string) ClusterState { return n.sim.Cluster(name).State() }

// group is the model of the Exchange group (CMS/EVS) called name.
func (n *clusterNet) group(name string) ClusterGroupState {
	n.t.Helper()
	g := n.cluster(name).Group(name)
	if g == nil {
		n.t.Fatalf("no Exchange group %s", name)
	}
	return *g
}

func (n *clusterNet) wantGroup(name, owner, state string) {
	n.t.Helper()
	s := n.group(name)
	if !strings.EqualFold(s.Owner, owner) || s.GroupState() != state {
		n.t.Fatalf("%s: owner %s %s, want %s %s (resources %+v)", name, s.Owner, s.GroupState(), owner, state, s.Resources)
	}
}

var (
	sp3Media   = remote.JobSpec{Action: exchange.ActionInstallServicePack, MediaPath: `D:\Exchange2007SP3`}
	sp1RU10    = remote.JobSpec{Action: exchange.ActionInstallUpdateRollup, PackagePath: `\\files\exchange\SP1-RU10.msp`}
	sp2003     = remote.JobSpec{Action: exchange.ActionInstallServicePack, MediaPath: `\\files\exchange2003\SP2`}
	upgradeCMS = remote.JobSpec{Action: exchange.ActionUpgradeCMS, MediaPath: `D:\Exchange2007SP3`, Group: "CMS1"}
)

// TestCCRUpgradeSequence: an Exchange 2007 CCR goes to SP3 as "Service Packs für Exchange 2007" says — passive node,
// then the CMS stopped, moved, /upgradeCMS, started, then the old active node — and every
// step out of order is refused as Exchange refuses it.
func TestCCRUpgradeSequence(t *testing.T) {
	t.Parallel()
	n := newClusterNet(t)
	f := n.facts("MBX1A")
	if c := f.Cluster; c == nil || c.Name != "CMS1" || !c.Active || c.GroupState != StateOnline || len(c.Resources) != 4 ||
		!reflect.DeepEqual(c.NodeBuilds, map[string]string{"MBX1A": "8.1.393.1"}) {
		t.Fatalf("MBX1A cluster facts %+v", f.Cluster)
	}

	// The active node first: refused, an SP and a rollup go to a passive node only.
	n.installRefused("MBX1A", sp3Media, "MBX1A owns CMS1", "only on a passive node")
	n.installRefused("MBX1A", sp1RU10, "an update rollup goes only to a passive node")

	// 1. The passive node.
	n.install("MBX1B", sp3Media)
	if b := n.facts("MBX1B").Build; b != "8.3.83.6" {
		t.Fatalf("MBX1B build %s after SP3", b)
	}

	// 2. Out of order: /upgradeCMS where the CMS is not; a running CMS moved to the newer node.
	n.installRefused("MBX1B", upgradeCMS, "is owned by MBX1A, not by MBX1B", "move it here first")
	n.refused("MBX1A", wire.ClusterMoveGroup, "CMS1", "MBX1B", "refused", "Move-ClusteredMailboxServer CMS1 to MBX1B",
		"newer service pack", "Setup.com /upgradeCMS on MBX1B")
	n.wantGroup("CMS1", "MBX1A", StateOnline)
	// /upgradeCMS on the running CMS's own node, and on a node that is not upgraded.
	n.installRefused("MBX1A", upgradeCMS, "CMS1 is Online", "Stop-ClusteredMailboxServer first")

	// Downtime: stop the CMS; /upgradeCMS on the old node has nothing to upgrade.
	if res := n.do("MBX1A", wire.ClusterStopCMS, "CMS1", ""); res.GroupState != StateOffline || res.Owner != "MBX1A" {
		t.Fatalf("stop_cms: %+v", res)
	}
	n.installRefused("MBX1A", remote.JobSpec{Action: exchange.ActionUpgradeCMS, MediaPath: `D:\Exchange2007SP1`, Group: "CMS1"},
		"already upgraded for SP1", "nothing to do")
	n.installRefused("MBX1A", upgradeCMS, "are Exchange 2007 SP3; MBX1A runs SP1")

	// Move it stopped: allowed, it stays offline there.
	if res := n.do("MBX1A", wire.ClusterMoveGroup, "CMS1", "MBX1B"); res.Owner != "MBX1B" || res.GroupState != StateOffline {
		t.Fatalf("move_group of the stopped CMS: %+v", res)
	}
	// Started without /upgradeCMS: refused.
	n.refused("MBX1B", wire.ClusterStartCMS, "CMS1", "", "refused", "must be upgraded first", "Setup.com /upgradeCMS on MBX1B")

	// /upgradeCMS breaks off: the CMS key stays, the CMS does not start.
	if err := n.sim.Host("MBX1B").InjectFault(Fault{Kind: FaultUpgradeCMSAbort}); err != nil {
		t.Fatal(err)
	}
	spec := upgradeCMS
	spec.ID = "upgrade_cms-CMS1"
	if _, err := n.client.JobStart(n.ctx, n.target("MBX1B"), spec); err != nil {
		t.Fatal(err)
	}
	n.clock.Advance(2 * time.Second)
	if j, _ := n.client.JobStatus(n.ctx, n.target("MBX1B"), spec.ID); j.State != exchange.JobFailed || j.ExitCode != 1603 {
		t.Fatalf("aborted /upgradeCMS: %+v", j)
	}
	if f := n.facts("MBX1B"); !f.Setup.StaleCMSKey {
		t.Error("no stale CMS key after the aborted /upgradeCMS")
	}
	n.refused("MBX1B", wire.ClusterStartCMS, "CMS1", "", "refused", "/upgradeCMS on MBX1B did not finish")

	// Run again under the same id (the failed record is replaced): the CMS is upgraded.
	n.install("MBX1B", spec)
	if f := n.facts("MBX1B"); f.Setup.StaleCMSKey {
		t.Error("the stale CMS key is still there after /upgradeCMS succeeded")
	}
	if s := n.group("CMS1"); s.UpgradedBuild.String() != "8.3.83.6" {
		t.Errorf("CMS1 upgraded for %s", s.UpgradedBuild)
	}
	if res := n.do("MBX1B", wire.ClusterStartCMS, "CMS1", ""); res.GroupState != StateOnline || res.Owner != "MBX1B" {
		t.Fatalf("start_cms: %+v", res)
	}

	// 3. The old active node: the CMS cannot go back before it is upgraded.
	n.refused("MBX1B", wire.ClusterMoveGroup, "CMS1", "MBX1A", "refused", "the version on this computer does not match", "upgrade MBX1A first")
	n.install("MBX1A", sp3Media)
	if res := n.do("MBX1B", wire.ClusterMoveGroup, "CMS1", "MBX1A"); res.Owner != "MBX1A" || res.GroupState != StateOnline {
		t.Fatalf("move back: %+v", res)
	}
	f = n.facts("MBX1A")
	if !f.Cluster.Active || f.Cluster.GroupState != StateOnline || f.Build != "8.3.83.6" {
		t.Errorf("MBX1A at the end: build %s, cluster %+v", f.Build, f.Cluster)
	}

	// The journal has every cluster operation with its node and parameters.
	var ops []string
	for _, e := range n.sim.Journal() {
		if e.Operation == wire.OpCluster {
			ops = append(ops, fmt.Sprintf("%s %s %s %s %s", e.Server, e.Params["Action"], e.Params["Group"], e.Params["Node"], e.Outcome))
		}
	}
	want := []string{
		"MBX1A move_group CMS1 MBX1B fault:refused",
		"MBX1A stop_cms CMS1  ok",
		"MBX1A move_group CMS1 MBX1B ok",
		"MBX1B start_cms CMS1  fault:refused",
		"MBX1B start_cms CMS1  fault:refused",
		"MBX1B start_cms CMS1  ok",
		"MBX1B move_group CMS1 MBX1A fault:refused",
		"MBX1B move_group CMS1 MBX1A ok",
	}
	if !slices.Equal(ops, want) {
		t.Errorf("cluster journal:\n%q\nwant\n%q", ops, want)
	}
}

// TestExchange2003ActivePassiveSequence: KB 328839's steps for a two-node 2003 cluster, with
// the refusals on the way.
func TestExchange2003ActivePassiveSequence(t *testing.T) {
	t.Parallel()
	n := newClusterNet(t)
	if f := n.facts("EVSN2"); !f.Prerequisites.IISCompressionHotfix831464 || f.Cluster.Active || f.Cluster.ActiveNode != "EVSN1" {
		t.Fatalf("EVSN2: prerequisites %+v, cluster %+v", f.Prerequisites, f.Cluster)
	}

	// 3. Node 2: the SP needs the cluster service stopped.
	n.installRefused("EVSN2", sp2003, "the cluster service is running on EVSN2", "stop the cluster service on this node first")
	res := n.do("EVSN2", wire.ClusterStopService, "", "")
	if res.ClusterServiceRunning || res.Owner != "" || res.GroupState != "" || len(res.Resources) != 0 {
		t.Fatalf("stop_service: %+v", res)
	}
	if c := n.facts("EVSN2").Cluster; c == nil || c.ClusterServiceRunning || c.Name != "" || c.GroupState != "" {
		t.Fatalf("EVSN2 facts with its cluster service stopped: %+v", c)
	}
	// Nothing but the service can be managed from a node whose cluster service is stopped.
	n.refused("EVSN2", wire.ClusterOnlineGroup, "EVS1", "", "unavailable", "start it first")
	n.install("EVSN2", sp2003)
	n.wantGroup("EVS1", "EVSN1", StateOnline) // no downtime yet

	// 4. Every resource of the EVS offline but IP address, disk and network name.
	res = n.do("EVSN1", wire.ClusterOfflineEVSResources, "EVS1", "")
	if res.GroupState != StatePartialOnline {
		t.Fatalf("offline_evs_resources: %+v", res)
	}
	for _, r := range res.Resources {
		if online := r.State == StateOnline; online != (r.Type == "IP Address" || r.Type == "Physical Disk" || r.Type == "Network Name") {
			t.Errorf("after offline_evs_resources: %+v", r)
		}
	}
	// Upgrade EVS where the EVS is, on the node not upgraded: nothing to upgrade there.
	n.upgradeEVSRefused("EVSN1", "EVS1", "c1037b44", "the virtual server is on EVSN1, which runs SP1 (6.5.7226.6), the level it was upgraded for")

	// 5. Start the cluster service on node 2, move the EVS there: it moves as it is.
	if res := n.do("EVSN2", wire.ClusterStartService, "EVS1", ""); !res.ClusterServiceRunning || res.Owner != "EVSN1" {
		t.Fatalf("start_service: %+v", res)
	}
	n.upgradeEVSRefused("EVSN2", "EVS1", "c1037b44", "the virtual server is on EVSN1, which runs SP1 (6.5.7226.6), the level it was upgraded for")
	if res := n.do("EVSN1", wire.ClusterMoveGroup, "EVS1", "EVSN2"); res.Owner != "EVSN2" || res.GroupState != StatePartialOnline {
		t.Fatalf("move_group: %+v", res)
	}

	// MSDTC must be online for the upgrade.
	lc := n.sim.Cluster("EVS1")
	setMSDTC := func(state string) {
		lc.Update(func(s *ClusterState) {
			for i := range s.ClusterGroupResources {
				if s.ClusterGroupResources[i].Type == ResourceMSDTC {
					s.ClusterGroupResources[i].State = state
				}
			}
		})
	}
	setMSDTC(StateOffline)
	n.upgradeEVSRefused("EVSN2", "EVS1", "c1037b44", "no Distributed Transaction Coordinator (MSDTC) resource is online")
	setMSDTC(StateOnline)

	// 6. Upgrade Exchange Virtual Server (the administrator, in Cluster Administrator): Active
	// Directory records the new version; the resources stay offline; then bring it online.
	if v := n.facts("EVSN2").Cluster.Groups[0].ADVersion; v != "Version 6.5 (Build 7226.6: Service Pack 1)" {
		t.Errorf("EVS1's version in Active Directory before its upgrade: %q", v)
	}
	n.upgradeEVS("EVSN2", "EVS1")
	s := n.group("EVS1")
	if s.UpgradedBuild.String() != "6.5.7638" || s.Resources[3].Type != ResourceSystemAttendant || s.Resources[3].State != StateOffline {
		t.Fatalf("after Upgrade EVS: %+v", s)
	}
	for _, node := range []string{"EVSN1", "EVSN2"} {
		if v := n.facts(node).Cluster.Groups[0].ADVersion; v != "Version 6.5 (Build 7638: Service Pack 2)" {
			t.Errorf("EVS1's version in Active Directory after its upgrade, read on %s: %q", node, v)
		}
	}
	if res := n.do("EVSN2", wire.ClusterOnlineGroup, "EVS1", ""); res.GroupState != StateOnline {
		t.Fatalf("online_group: %+v", res)
	}
	// The EVS can no longer fail back to node 1.
	n.refused("EVSN2", wire.ClusterMoveGroup, "EVS1", "EVSN1", "refused", "c1037b44", "upgrade EVSN1 first")

	// 7. Node 1: stop the cluster service (the cluster group it owns moves to node 2), install, start.
	n.do("EVSN1", wire.ClusterStopService, "", "")
	if s := n.cluster("EVS1"); s.ClusterGroupOwner != "EVSN2" {
		t.Errorf("cluster group on %s after node 1's service stopped", s.ClusterGroupOwner)
	}
	n.install("EVSN1", sp2003)
	n.do("EVSN1", wire.ClusterStartService, "", "")

	// 8. Test failover both ways; every node reads its new build.
	n.do("EVSN2", wire.ClusterMoveGroup, "EVS1", "EVSN1")
	n.wantGroup("EVS1", "EVSN1", StateOnline)
	n.do("EVSN2", wire.ClusterMoveGroup, "EVS1", "EVSN2")
	n.wantGroup("EVS1", "EVSN2", StateOnline)
	for _, node := range []string{"EVSN1", "EVSN2"} {
		if f := n.facts(node); f.Build != "6.5.7638" || len(f.Cluster.Events) != 0 {
			t.Errorf("%s: build %s, events %q", node, f.Build, f.Cluster.Events)
		}
	}
}

// evsOnUpgradedNode puts EVS1 on EVSN2, upgraded to SP2, with only IP address, disk and name
// online, as steps 3-5 leave it.
func evsOnUpgradedNode(n *clusterNet) {
	n.t.Helper()
	n.do("EVSN2", wire.ClusterStopService, "", "")
	n.install("EVSN2", sp2003)
	n.do("EVSN2", wire.ClusterStartService, "", "")
	n.do("EVSN1", wire.ClusterOfflineEVSResources, "EVS1", "")
	n.do("EVSN1", wire.ClusterMoveGroup, "EVS1", "EVSN2")
}

func TestUpgradeEVSWithResourcesOnlineIsRefused(t *testing.T) {
	n := newClusterNet(t)
	evsOnUpgradedNode(n)
	lc := n.sim.Cluster("EVS1")
	setState := func(typ, state string) {
		lc.Update(func(s *ClusterState) {
			g := s.Group("EVS1")
			for i := range g.Resources {
				if g.Resources[i].Type == typ {
					g.Resources[i].State = state
				}
			}
		})
	}
	setState(ResourceSystemAttendant, StateOnline)
	f := n.upgradeEVSRefused("EVSN2", "EVS1", `the version of Exchange on this computer does not match the version of Exchange on server 'EVS1' (ID no: c1037b44)`,
		"its System Attendant resource Exchange System Attendant - EVS1 is Online, not offline")
	if strings.Contains(f, "resources other than") {
		t.Errorf("only the System Attendant is online, yet: %s", f)
	}
	setState(ResourceSystemAttendant, StateOffline)
	setState(ResourceInformationStore, StateOnline)
	n.upgradeEVSRefused("EVSN2", "EVS1", "c1037b44",
		"resources other than IP address, network name and physical disk are online: Exchange Information Store Instance - EVS1")
	setState(ResourceInformationStore, StateOffline)
	n.upgradeEVS("EVSN2", "EVS1")
	if err := n.sim.Cluster("EVS1").UpgradeVirtualServer("NOSUCH", "EVSN2"); err == nil || !strings.Contains(err.Error(), `cluster EVS1 has no Exchange virtual server "NOSUCH"`) {
		t.Errorf("Upgrade Exchange Virtual Server of no such EVS: %v", err)
	}
	// No script runs it: job_start has no such installing action (no command line is documented).
	_, err := n.client.JobStart(n.ctx, n.target("EVSN2"), remote.JobSpec{ID: "upgrade_evs-x", Action: "upgrade_evs", Group: "EVS1"})
	n.fault(err, "job_start upgrade_evs", "invalid", `"upgrade_evs" is not an installing action`)
	if err := n.sim.Cluster("CMS1").UpgradeVirtualServer("CMS1", "MBX1A"); err == nil || !strings.Contains(err.Error(), "Upgrade Exchange Virtual Server is an Exchange 2003 task") {
		t.Errorf("Upgrade Exchange Virtual Server on an Exchange 2007 CMS: %v", err)
	}
}

// TestOnline2003EVSMovedToAnUpgradedNodeFails: moved online before Upgrade EVS, the EVS
// comes up Failed with event 1025 there; online_group is refused the same way until the
// upgrade, which needs the resources offline first.
func TestOnline2003EVSMovedToAnUpgradedNodeFails(t *testing.T) {
	t.Parallel()
	n := newClusterNet(t)
	n.do("EVSN2", wire.ClusterStopService, "", "")
	n.install("EVSN2", sp2003)
	n.do("EVSN2", wire.ClusterStartService, "", "")

	n.refused("EVSN2", wire.ClusterMoveGroup, "EVS1", "EVSN2", "refused",
		"group EVS1 failed on EVSN2 while waiting until it is online on EVSN2 (Exchange System Attendant - EVS1 Failed)",
		"MSExchangeCluster event 1025 was logged")
	n.wantGroup("EVS1", "EVSN2", StateFailed)
	if ev := n.facts("EVSN2").Cluster.Events; !slices.Equal(ev, []string{"1025"}) {
		t.Errorf("EVSN2 events %q", ev)
	}
	if ev := n.facts("EVSN1").Cluster.Events; len(ev) != 0 {
		t.Errorf("EVSN1 events %q", ev)
	}
	// Run on the other node, the script sees no event of its own.
	f := n.refused("EVSN1", wire.ClusterOnlineGroup, "EVS1", "", "refused", "group EVS1 failed on EVSN2 while waiting until it is online")
	if strings.Contains(f.Message, "1025") {
		t.Errorf("EVSN1 logged no event, yet: %s", f.Message)
	}
	n.upgradeEVSRefused("EVSN2", "EVS1", "System Attendant resource Exchange System Attendant - EVS1 is Failed, not offline")
	n.do("EVSN2", wire.ClusterOfflineEVSResources, "EVS1", "")
	n.upgradeEVS("EVSN2", "EVS1")
	if res := n.do("EVSN2", wire.ClusterOnlineGroup, "EVS1", ""); res.GroupState != StateOnline {
		t.Fatalf("online_group after the upgrade: %+v", res)
	}
	// A reboot clears the node's events (they are read since the last boot).
	n.reboot("EVSN1", nil)
	n.reboot("EVSN2", nil)
	if ev := n.facts("EVSN2").Cluster.Events; len(ev) != 0 {
		t.Errorf("EVSN2 events after its reboot: %q", ev)
	}
}

// reboot restarts node through the client, runs whileDown once it is down and waits until
// it is back. The clock is advanced until the host boots: the boot is scheduled only once
// the host is fully down (its groups failed over, its listeners closed).
func (n *clusterNet) reboot(node string, whileDown func()) {
	n.t.Helper()
	if _, err := n.client.Reboot(n.ctx, n.target(node)); err != nil {
		n.t.Fatal(err)
	}
	waitUntil(n.t, node+" down", func() bool { return !n.sim.Host(node).Reachable() })
	if whileDown != nil {
		whileDown()
	}
	waitUntil(n.t, node+" back", func() bool {
		n.clock.Advance(time.Second)
		return n.sim.Host(node).Reachable()
	})
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestMoveOfAnUpgradedEVSToAnOlderNodeIsRefused(t *testing.T) {
	n := newClusterNet(t)
	evsOnUpgradedNode(n)
	n.upgradeEVS("EVSN2", "EVS1")
	// Online or not, it does not go back to the SP1 node.
	n.refused("EVSN2", wire.ClusterMoveGroup, "EVS1", "EVSN1", "refused", "c1037b44", "does not match the virtual server's (SP2 (6.5.7638))")
	n.do("EVSN2", wire.ClusterOnlineGroup, "EVS1", "")
	n.refused("EVSN1", wire.ClusterMoveGroup, "EVS1", "EVSN1", "refused", "c1037b44")
	n.wantGroup("EVS1", "EVSN2", StateOnline)
	// When the cluster itself fails it over there (node 2's service stops), it fails there.
	n.do("EVSN2", wire.ClusterStopService, "", "")
	n.wantGroup("EVS1", "EVSN1", StateFailed)
	if ev := n.facts("EVSN1").Cluster.Events; !slices.Equal(ev, []string{"c1037b44"}) {
		t.Errorf("EVSN1 events %q", ev)
	}
	n.refused("EVSN1", wire.ClusterOnlineGroup, "EVS1", "", "refused", "c1037b44 was logged")
}

// TestStoppingTheClusterServiceOnTheOwnerFailsTheGroupOver: the group fails over to the node
// whose service runs, even with its failover blocked (FailoverThreshold does not keep a group
// on a node leaving the cluster); with no node to go to, it goes offline (downtime) and comes
// back when a cluster service starts again. A reboot of the owner does the same.
func TestStoppingTheClusterServiceOnTheOwnerFailsTheGroupOver(t *testing.T) {
	t.Parallel()
	n := newClusterNet(t)
	n.do("EVSN1", wire.ClusterStopService, "", "")
	n.wantGroup("EVS1", "EVSN2", StateOnline)
	if f := n.facts("EVSN2"); !f.Cluster.Active {
		t.Errorf("EVSN2 not active after the failover: %+v", f.Cluster)
	}
	n.do("EVSN1", wire.ClusterStartService, "", "")

	// Failover blocked: stopping the owner's service still moves the EVS (and the cluster
	// group) to the other node.
	if res := n.do("EVSN1", wire.ClusterBlockFailover, "EVS1", ""); res.Owner != "EVSN2" {
		t.Fatalf("block_failover: %+v", res)
	}
	if f := n.facts("EVSN1"); !f.Cluster.FailoverBlocked {
		t.Error("failover_blocked not reported")
	}
	n.sim.Cluster("EVS1").Update(func(s *ClusterState) { s.ClusterGroupOwner = "EVSN2" })
	n.do("EVSN2", wire.ClusterStopService, "", "")
	n.wantGroup("EVS1", "EVSN1", StateOnline)
	if c := n.cluster("EVS1"); c.ClusterGroupOwner != "EVSN1" {
		t.Errorf("the cluster group stayed on %s, whose cluster service stopped", c.ClusterGroupOwner)
	}
	n.do("EVSN2", wire.ClusterStartService, "", "")
	n.do("EVSN1", wire.ClusterAllowFailover, "EVS1", "")

	// No node to fail over to: offline until a cluster service starts and takes it.
	n.do("EVSN2", wire.ClusterStopService, "", "")
	n.do("EVSN1", wire.ClusterStopService, "", "")
	n.wantGroup("EVS1", "EVSN1", StateOffline)
	n.do("EVSN2", wire.ClusterStartService, "", "")
	n.wantGroup("EVS1", "EVSN2", StateOnline)
	n.do("EVSN1", wire.ClusterStartService, "", "")

	// The owner restarts: its groups fail over; it comes back with its cluster service running.
	n.reboot("EVSN2", func() {
		// The failover happens as the node goes down (before its listeners close).
		waitUntil(t, "EVS1 to fail over", func() bool {
			s := n.group("EVS1")
			return s.Owner == "EVSN1" && s.GroupState() == StateOnline
		})
	})
	if s := n.cluster("EVS1"); !s.ServiceRunning["EVSN2"] {
		t.Error("EVSN2's cluster service did not start with Windows")
	}
	var failover bool
	for _, e := range n.sim.Journal() {
		failover = failover || (e.Server == "EVSN2" && e.Operation == "system" && strings.Contains(e.Detail, "EVS1 failed over from EVSN2 to EVSN1: Online"))
	}
	if !failover {
		t.Error("the failover is not in the journal")
	}
}

// TestInstallWhileTheClusterServiceRunsIsRefused: Exchange 2000/2003/5.5 nodes install an
// SP or hotfix only with their cluster service stopped.
func TestInstallWhileTheClusterServiceRunsIsRefused(t *testing.T) {
	n := newClusterNet(t)
	for _, c := range []struct {
		node  string
		media string
	}{
		{"EVSN2", `\\files\exchange2003\SP2`},
		{"E2KN2", `\\files\exchange2000\SP3`},
		{"E55B", `\\files\exchange55\SP4`},
	} {
		spec := remote.JobSpec{Action: exchange.ActionInstallServicePack, MediaPath: c.media}
		n.installRefused(c.node, spec, "the cluster service is running on "+c.node, "stop the cluster service on this node first")
		n.do(c.node, wire.ClusterStopService, "", "")
		n.install(c.node, spec)
	}
}

// TestExchange2000And55Clusters: a 2000 EVS and a 5.5 cluster take a newer node's level by
// coming online there (no Upgrade EVS). 5.5: setup on the active node runs with the group in
// place and its cluster service running, stopping and restarting the Exchange services
// itself (an outage in the journal); the passive node installs with its cluster service
// stopped.
func TestExchange2000And55Clusters(t *testing.T) {
	t.Parallel()
	n := newClusterNet(t)
	// 2000, active/passive: passive first, move the group to it (online), then the other.
	n.do("E2KN2", wire.ClusterStopService, "", "")
	n.install("E2KN2", remote.JobSpec{Action: exchange.ActionInstallServicePack, MediaPath: `\\files\exchange2000\SP3`})
	n.do("E2KN2", wire.ClusterStartService, "", "")
	n.do("E2KN1", wire.ClusterMoveGroup, "EVS2K", "E2KN2")
	n.wantGroup("EVS2K", "E2KN2", StateOnline)
	if s := n.group("EVS2K"); s.UpgradedBuild.String() != "6.0.6249" {
		t.Errorf("EVS2K upgraded for %s", s.UpgradedBuild)
	}
	n.refused("E2KN2", wire.ClusterMoveGroup, "EVS2K", "E2KN1", "refused", "c1037b44")

	// 5.5: the active node first, the group in place: setup stops the services (the group's
	// Exchange resources offline while it runs) and starts them again.
	spec := remote.JobSpec{ID: "sp-e55a", Action: exchange.ActionInstallServicePack, MediaPath: `\\files\exchange55\SP4`}
	if _, err := n.client.JobStart(n.ctx, n.target("E55A"), spec); err != nil {
		t.Fatalf("job_start on the active node E55A with its cluster service running: %v", err)
	}
	n.wantGroup("X55", "E55A", StatePartialOnline)
	for _, svc := range n.facts("E55A").Services {
		if svc.State != "Stopped" {
			t.Errorf("E55A %s is %s while setup runs", svc.Name, svc.State)
		}
	}
	n.clock.Advance(2 * time.Second)
	if j, err := n.client.JobStatus(n.ctx, n.target("E55A"), spec.ID); err != nil || j.State != exchange.JobSucceeded {
		t.Fatalf("the install on E55A: %+v, %v", j, err)
	}
	n.wantGroup("X55", "E55A", StateOnline)
	if s := n.group("X55"); s.UpgradedBuild.String() != "5.5.2653" {
		t.Errorf("X55 upgraded for %s", s.UpgradedBuild)
	}
	var stopped, started bool
	for _, e := range n.sim.Journal() {
		stopped = stopped || e.Server == "E55A" && strings.Contains(e.Detail, "setup stopped the Exchange services of X55")
		started = started || stopped && e.Server == "E55A" && strings.Contains(e.Detail, "setup started the Exchange services of X55 again: Online on E55A")
		if strings.Contains(e.Detail, "X55 failed over") {
			t.Errorf("X55 moved: %s", e.Detail)
		}
	}
	if !stopped || !started {
		t.Errorf("the outage is not in the journal (stopped %t, started %t)", stopped, started)
	}
	// The passive node, which owns nothing: its cluster service stopped first.
	n.installRefused("E55B", remote.JobSpec{Action: exchange.ActionInstallServicePack, MediaPath: `\\files\exchange55\SP4`},
		"the cluster service is running on E55B")
	n.do("E55B", wire.ClusterStopService, "", "")
	n.install("E55B", remote.JobSpec{Action: exchange.ActionInstallServicePack, MediaPath: `\\files\exchange55\SP4`})
	n.do("E55B", wire.ClusterStartService, "", "")
	n.wantGroup("X55", "E55A", StateOnline)
}

// TestClusteredServicesRunThroughTheCluster: on a 2000/2003/5.5 node the virtual server's
// Exchange services start Manual and run where the group's resources are online; starting
// one directly is refused (our model of a real node), both by the service operation and by
// exchange_services, which starts only what is not clustered.
func TestClusteredServicesRunThroughTheCluster(t *testing.T) {
	n := newClusterNet(t)
	state := func(node, svc string) exchange.ServiceFacts {
		t.Helper()
		for _, s := range n.facts(node).Services {
			if s.Name == svc {
				return s
			}
		}
		t.Fatalf("%s has no service %s", node, svc)
		return exchange.ServiceFacts{}
	}
	if s := state("EVSN1", "MSExchangeIS"); s.State != "Running" || s.StartMode != "Manual" {
		t.Errorf("the active node's MSExchangeIS: %+v", s)
	}
	if s := state("EVSN2", "MSExchangeIS"); s.State != "Stopped" || s.StartMode != "Manual" {
		t.Errorf("the passive node's MSExchangeIS: %+v", s)
	}
	if s := state("EVSN2", "W3SVC"); s.State != "Running" || s.StartMode != "Auto" {
		t.Errorf("the passive node's W3SVC (not clustered): %+v", s)
	}
	_, err := n.client.Service(n.ctx, n.target("EVSN2"), "MSExchangeIS", wire.ActionStart)
	n.fault(err, "start MSExchangeIS on EVSN2", "refused",
		`MSExchangeIS on EVSN2 is the resource "Exchange Information Store Instance - EVS1" of group EVS1`, "comes online only through the cluster")

	// The cluster moves it: the services follow the group.
	n.do("EVSN1", wire.ClusterMoveGroup, "EVS1", "EVSN2")
	if s := state("EVSN2", "MSExchangeSA"); s.State != "Running" {
		t.Errorf("MSExchangeSA on EVSN2 after the move: %+v", s)
	}
	if s := state("EVSN1", "MSExchangeSA"); s.State != "Stopped" {
		t.Errorf("MSExchangeSA on EVSN1 after the move: %+v", s)
	}
}

// TestEVSWontComeOnlineFault: the armed fault fails the next time the group comes online on
// the node; the next attempt works.
func TestEVSWontComeOnlineFault(t *testing.T) {
	n := newClusterNet(t)
	if err := n.sim.Host("EVSN2").InjectFault(Fault{Kind: FaultEVSWontComeOnline}); err != nil {
		t.Fatal(err)
	}
	n.refused("EVSN1", wire.ClusterMoveGroup, "EVS1", "EVSN2", "refused",
		"group EVS1 failed on EVSN2", "Exchange Information Store Instance - EVS1 Failed")
	n.wantGroup("EVS1", "EVSN2", StateFailed)
	if len(n.sim.Host("EVSN2").Faults()) != 0 {
		t.Error("the fault was not used up")
	}
	n.do("EVSN1", wire.ClusterOnlineGroup, "EVS1", "")
	n.wantGroup("EVS1", "EVSN2", StateOnline)
}

// TestClusterOperationRefereeing: parameters and places the cluster script refuses.
func TestClusterOperationRefereeing(t *testing.T) {
	t.Parallel()
	n := newClusterNet(t)
	n.refused("EVSN1", "failover_now", "EVS1", "", "invalid", `"failover_now" is not a cluster action`)
	n.refused("EVSN1", wire.ClusterOnlineGroup, "", "", "invalid", "the cluster action online_group needs a group")
	n.refused("EVSN1", wire.ClusterMoveGroup, "EVS1", "", "invalid", "move_group needs the node")
	n.refused("EVSN1", wire.ClusterMoveGroup, `EVS1"; rm`, "EVSN2", "invalid", "is not a cluster group name")
	n.refused("EVSN1", wire.ClusterMoveGroup, "EVS1", "NODE9", "not_found", `"NODE9" is not a node of this cluster`)
	n.refused("EVSN1", wire.ClusterOnlineGroup, "EVS9", "", "not_found", `the cluster has no group "EVS9" (groups: EVS1, Cluster Group)`)
	n.refused("EVSN1", wire.ClusterStopCMS, "EVS1", "", "unavailable", "Stop-ClusteredMailboxServer cannot run here")
	// Groups are found by name or network name; the cluster group moves freely.
	if res := n.do("EVSN1", wire.ClusterOnlineGroup, "evs1.contoso.local", ""); res.Group != "EVS1" {
		t.Errorf("online_group by network name: %+v", res)
	}
	if res := n.do("EVSN1", wire.ClusterMoveGroup, ClusterGroupName, "EVSN2"); res.Owner != "EVSN2" || res.GroupState != StateOnline {
		t.Errorf("move of the cluster group: %+v", res)
	}

	// A node that is not clustered.
	r := newRig(t, Options{})
	fl := r.fault("EX01", wire.OpCluster, wire.Param{Name: "Action", Value: wire.ClusterStopService},
		wire.Param{Name: "Group", Value: ""}, wire.Param{Name: "Node", Value: ""})
	if fl.Code != "not_clustered" {
		t.Errorf("cluster on EX01: %+v", fl)
	}

	// With its cluster service stopped a node does not know the CMS name.
	n.do("MBX1B", wire.ClusterStopService, "", "")
	if _, err := n.client.Probe(n.ctx, remote.Target{Server: "CMS1", Address: n.sim.Addr("MBX1B")}); err == nil ||
		!strings.Contains(err.Error(), "this host is MBX1B, not CMS1") {
		t.Errorf("probe CMS1 on MBX1B with its service stopped: %v", err)
	}
	if _, err := n.client.Probe(n.ctx, remote.Target{Server: "CMS1", Address: n.sim.Addr("MBX1A")}); err != nil {
		t.Errorf("probe CMS1 on its owner: %v", err)
	}
}

// TestClusterFleetFields: the IIS hotfix prerequisite and the cluster faults come from the
// fleet file.
func TestClusterFleetFields(t *testing.T) {
	f, err := ParseFleet(strings.NewReader(`{
  "credentials": {"username": "u", "password": "p"},
  "servers": [
    {"name": "N1", "address": "127.0.60.1", "product": "2003", "build": "6.5.7226.6",
     "prerequisites": {"iis_compression_hotfix_831464": false}, "faults": [{"kind": "evs_wont_come_online"}]},
    {"name": "N2", "address": "127.0.60.2", "product": "2003", "build": "6.5.7226.6"},
    {"name": "M1", "address": "127.0.60.3", "product": "2007", "build": "8.1.393.1", "roles": ["Mailbox"],
     "faults": [{"kind": "upgradecms_abort"}]},
    {"name": "M2", "address": "127.0.60.4", "product": "2007", "build": "8.1.393.1", "roles": ["Mailbox"]}
  ],
  "clusters": [
    {"name": "EVSX", "type": "evs-active-passive", "nodes": ["N1", "N2"], "active": "N2"},
    {"name": "CMSX", "type": "scc", "nodes": ["M1", "M2"], "active": "M1"}
  ]
}`))
	if err != nil {
		t.Fatal(err)
	}
	sim, err := Start(f, Options{DisableHTTPS: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	if p := sim.Host("N1").Facts().Prerequisites; p.IISCompressionHotfix831464 {
		t.Error("iis_compression_hotfix_831464: false not applied")
	}
	if !sim.Host("N2").Facts().Prerequisites.IISCompressionHotfix831464 {
		t.Error("iis_compression_hotfix_831464 does not default to true")
	}
	if got := sim.Host("N1").Faults(); len(got) != 1 || got[0].Kind != FaultEVSWontComeOnline {
		t.Errorf("N1 faults %+v", got)
	}
	if got := sim.Host("M1").Faults(); len(got) != 1 || got[0].Kind != FaultUpgradeCMSAbort {
		t.Errorf("M1 faults %+v", got)
	}
	c := sim.Host("M2").Facts().Cluster
	if c == nil || c.Type != "scc" || c.Active || len(c.Resources) != 5 || c.Resources[1].Type != ResourcePhysicalDisk {
		t.Errorf("SCC facts on M2: %+v", c)
	}
	s := sim.Cluster("evsx").State()
	if g := s.Group("EVSX"); len(s.Groups) != 1 || g == nil || g.Owner != "N2" || g.GroupState() != StateOnline || g.UpgradedBuild.String() != "6.5.7226.6" ||
		s.ClusterName != "" || s.ClusterGroupResources[3].Type != ResourceMSDTC || !s.ServiceRunning["N1"] {
		t.Errorf("EVSX model %+v", s)
	}
}

// groupOwners is "name@owner:state" per group of the cluster facts, in their order.
func groupOwners(c *exchange.ClusterFacts) []string {
	var out []string
	for _, g := range c.Groups {
		out = append(out, fmt.Sprintf("%s@%s:%s", g.Name, g.Owner, g.State))
	}
	return out
}

// probeAs probes node addressed as server.
func (n *clusterNet) probeAs(node, server string) (exchange.Facts, error) {
	return n.client.Probe(n.ctx, remote.Target{Server: server, Address: n.sim.Addr(node)})
}

// TestActiveActiveProbe: every node of an active/active cluster lists every EVS with its
// owner; the single fields describe the EVS the probe was addressed by, else the node's own;
// an EVS name is answered only where it is active, the cluster's own name only by the owner
// of the cluster group.
func TestActiveActiveProbe(t *testing.T) {
	n := newClusterNet(t)
	both := []string{"EVSA@AAN1:Online", "EVSB@AAN2:Online"}
	for node, own := range map[string]string{"AAN1": "EVSA", "AAN2": "EVSB"} {
		c := n.facts(node).Cluster
		if c == nil || !slices.Equal(groupOwners(c), both) || c.ClusterName != "AACL" || c.Type != "evs-active-active" ||
			c.Name != own || c.ActiveNode != node || !c.Active || c.GroupState != StateOnline || len(c.Resources) != 8 ||
			!slices.Equal(c.Nodes, []string{"AAN1", "AAN2"}) {
			t.Errorf("%s cluster facts %+v", node, c)
			continue
		}
		if r := c.Groups[1].Resources[0]; r.Name != "EVSB IP Address" || r.State != StateOnline {
			t.Errorf("%s: EVSB's resources %+v", node, c.Groups[1].Resources)
		}
		if !slices.Equal(c.Groups[0].PreferredOwners, []string{"AAN1"}) || !slices.Equal(c.Groups[1].PreferredOwners, []string{"AAN2"}) {
			t.Errorf("%s: preferred owners %q, %q", node, c.Groups[0].PreferredOwners, c.Groups[1].PreferredOwners)
		}
	}
	// The 2000 active/active cluster likewise.
	if c := n.facts("A2K2").Cluster; !slices.Equal(groupOwners(c), []string{"EVSC@A2K1:Online", "EVSD@A2K2:Online"}) ||
		c.ClusterName != "A2KCL" || c.Name != "EVSD" || !c.Active {
		t.Errorf("A2K2 cluster facts %+v", c)
	}
	// A single-EVS cluster lists its one group and no cluster name.
	if c := n.facts("EVSN2").Cluster; !slices.Equal(groupOwners(c), []string{"EVS1@EVSN1:Online"}) || c.ClusterName != "" || c.Name != "EVS1" || c.Active {
		t.Errorf("EVSN2 cluster facts %+v", c)
	}

	// Addressed by an EVS: answered by its owner, about that EVS.
	f, err := n.probeAs("AAN2", "EVSB")
	if err != nil || f.Server != "AAN2" || f.Cluster.Name != "EVSB" || !f.Cluster.Active {
		t.Fatalf("probe EVSB on AAN2: %v, %+v", err, f.Cluster)
	}
	if f, err := n.probeAs("AAN1", "evsa.contoso.local"); err != nil || f.Cluster.Name != "EVSA" {
		t.Fatalf("probe evsa.contoso.local on AAN1: %v, %+v", err, f.Cluster)
	}
	_, err = n.probeAs("AAN1", "EVSB")
	n.fault(err, "probe EVSB on AAN1", "wrong_server", "this host is AAN1, a passive node of EVSB; EVSB is active on AAN2")
	_, err = n.probeAs("AAN2", "EVSA")
	n.fault(err, "probe EVSA on AAN2", "wrong_server", "this host is AAN2, a passive node of EVSA; EVSA is active on AAN1")

	// Addressed by the cluster's own name: the node that owns the cluster group answers.
	if f, err := n.probeAs("AAN1", "AACL"); err != nil || f.Server != "AAN1" || f.Cluster.Name != "EVSA" {
		t.Fatalf("probe AACL on AAN1: %v, %+v", err, f.Cluster)
	}
	_, err = n.probeAs("AAN2", "aacl")
	n.fault(err, "probe AACL on AAN2", "wrong_server", "this host is AAN2, a node of cluster AACL; the cluster is run by AAN1")
	// Not a name of this cluster.
	_, err = n.probeAs("AAN1", "EVSC")
	n.fault(err, "probe EVSC on AAN1", "wrong_server", "this host is AAN1, not EVSC")

	// The model is found by any of the cluster's names.
	for _, name := range []string{"EVSA", "evsb", "AACL"} {
		if lc := n.sim.Cluster(name); lc == nil || lc != n.sim.Host("AAN1").Cluster() {
			t.Errorf("Cluster(%q) = %v", name, lc)
		}
	}
	s := n.cluster("AACL")
	if s.Name != "EVSA" || s.ClusterName != "AACL" || len(s.Groups) != 2 || s.Group("EVSB").Owner != "AAN2" ||
		s.Group("EVSB").UpgradedBuild.String() != "6.5.7226.6" || s.ClusterGroupOwner != "AAN1" || s.Group("EVS1") != nil {
		t.Errorf("AACL model %+v", s)
	}

	// Changed by hand: the failover block of one EVS.
	n.sim.Cluster("EVSB").Update(func(s *ClusterState) { s.Group("EVSB").FailoverBlocked = true })
	if c := n.facts("AAN1").Cluster; c.FailoverBlocked || c.Groups[0].FailoverBlocked || !c.Groups[1].FailoverBlocked {
		t.Errorf("EVSB's failover block by hand: %+v", c.Groups)
	}

	// With its cluster service stopped a node reads nothing of the cluster.
	n.do("AAN2", wire.ClusterStopService, "", "")
	if c := n.facts("AAN2").Cluster; c.ClusterServiceRunning || c.Groups == nil || len(c.Groups) != 0 || c.ClusterName != "" || c.Name != "" {
		t.Errorf("AAN2 with its cluster service stopped: %+v", c)
	}
	_, err = n.probeAs("AAN2", "EVSB")
	n.fault(err, "probe EVSB on AAN2 with its service stopped", "wrong_server", "this host is AAN2, not EVSB")
}

// TestActiveActiveFailoverAndGroups: each EVS is its own group; stopping a node's cluster
// service fails every group it owns over; the cluster operation finds either EVS.
func TestActiveActiveFailoverAndGroups(t *testing.T) {
	n := newClusterNet(t)
	n.refused("AAN1", wire.ClusterOnlineGroup, "EVS9", "", "not_found", `the cluster has no group "EVS9" (groups: EVSA, EVSB, Cluster Group)`)
	if res := n.do("AAN1", wire.ClusterOnlineGroup, "evsb.contoso.local", ""); res.Group != "EVSB" || res.Owner != "AAN2" {
		t.Errorf("online_group by network name: %+v", res)
	}

	n.do("AAN2", wire.ClusterStopService, "", "")
	n.wantGroup("EVSB", "AAN1", StateOnline)
	n.wantGroup("EVSA", "AAN1", StateOnline)
	if c := n.facts("AAN1").Cluster; !slices.Equal(groupOwners(c), []string{"EVSA@AAN1:Online", "EVSB@AAN1:Online"}) || c.Name != "EVSA" ||
		!slices.Equal(c.Groups[1].PreferredOwners, []string{"AAN2"}) {
		t.Errorf("AAN1 after AAN2's service stopped: %+v", c)
	}
	// Addressed by EVSB, AAN1 now answers about it.
	if f, err := n.probeAs("AAN1", "EVSB"); err != nil || f.Cluster.Name != "EVSB" || !f.Cluster.Active {
		t.Errorf("probe EVSB on AAN1 after the failover: %v, %+v", err, f.Cluster)
	}
	// A 2003 node whose service is stopped owns no group: its SP may install.
	n.install("AAN2", sp2003)
	n.do("AAN2", wire.ClusterStartService, "", "")
	n.wantGroup("EVSB", "AAN1", StateOnline) // no failback

	// Every group of a node fails over when it goes: here all three to AAN2 (newer SP): the
	// EVSs come up failed there (1025), the cluster group online.
	n.do("AAN1", wire.ClusterStopService, "", "")
	n.wantGroup("EVSA", "AAN2", StateFailed)
	n.wantGroup("EVSB", "AAN2", StateFailed)
	if s := n.cluster("AACL"); s.ClusterGroupOwner != "AAN2" || groupState(s.ClusterGroupResources) != StateOnline {
		t.Errorf("cluster group after AAN1's service stopped: %s %+v", s.ClusterGroupOwner, s.ClusterGroupResources)
	}
	if ev := n.facts("AAN2").Cluster.Events; !slices.Equal(ev, []string{EventMustBeUpgraded}) {
		t.Errorf("AAN2 events %q", ev)
	}
	var journaled []string
	for _, e := range n.sim.Journal() {
		if e.Operation == "cluster" && e.Server == "AAN1" && e.Params["Action"] == wire.ClusterStopService {
			journaled = append(journaled, e.Detail)
		}
	}
	if len(journaled) != 1 || !strings.Contains(journaled[0], "EVSA failed over from AAN1 to AAN2: Failed") ||
		!strings.Contains(journaled[0], "EVSB failed over from AAN1 to AAN2: Failed") ||
		!strings.Contains(journaled[0], "Cluster Group failed over from AAN1 to AAN2: Online") {
		t.Errorf("journal of AAN1's stop_service: %q", journaled)
	}
}

// TestActiveActive2003PerEVSUpgrade: KB 328839's procedure on an active/active 2003 cluster
// runs per EVS: each EVS is upgraded on its own, and each keeps its own level: an EVS not
// yet upgraded fails on the upgraded node (1025), an upgraded one does not go back (c1037b44).
func TestActiveActive2003PerEVSUpgrade(t *testing.T) {
	t.Parallel()
	n := newClusterNet(t)
	// Node 2: its EVS fails over to node 1; the SP installs with the service stopped.
	n.installRefused("AAN2", sp2003, "the cluster service is running on AAN2")
	n.do("AAN2", wire.ClusterStopService, "", "")
	n.wantGroup("EVSB", "AAN1", StateOnline)
	n.install("AAN2", sp2003)

	// EVSB: offline but IP, disk and name; start node 2's service; move it there.
	if res := n.do("AAN1", wire.ClusterOfflineEVSResources, "EVSB", ""); res.Group != "EVSB" || res.GroupState != StatePartialOnline {
		t.Fatalf("offline_evs_resources EVSB: %+v", res)
	}
	n.wantGroup("EVSA", "AAN1", StateOnline) // the other EVS runs on
	n.do("AAN2", wire.ClusterStartService, "", "")
	if res := n.do("AAN1", wire.ClusterMoveGroup, "EVSB", "AAN2"); res.Owner != "AAN2" || res.GroupState != StatePartialOnline {
		t.Fatalf("move_group EVSB: %+v", res)
	}
	// Upgrade EVS of EVSA here is refused: it is on node 1, online.
	n.upgradeEVSRefused("AAN2", "EVSA", "c1037b44", "the virtual server is on AAN1, which runs SP1 (6.5.7226.6), the level it was upgraded for",
		"its System Attendant resource Exchange System Attendant - EVSA is Online, not offline")
	n.upgradeEVS("AAN2", "EVSB")
	if s := n.group("EVSB"); s.UpgradedBuild.String() != "6.5.7638" {
		t.Fatalf("EVSB upgraded for %s", s.UpgradedBuild)
	}
	if res := n.do("AAN2", wire.ClusterOnlineGroup, "EVSB", ""); res.GroupState != StateOnline || res.Owner != "AAN2" {
		t.Fatalf("online_group EVSB: %+v", res)
	}
	// Upgrade EVS of EVSB again: nothing to upgrade.
	n.upgradeEVSRefused("AAN2", "EVSB", "its System Attendant resource Exchange System Attendant - EVSB is Online, not offline")

	// EVSA was not upgraded with it.
	s := n.cluster("AACL")
	if a, b := s.Group("EVSA"), s.Group("EVSB"); a.UpgradedBuild.String() != "6.5.7226.6" || a.Owner != "AAN1" || a.GroupState() != StateOnline ||
		b.UpgradedBuild.String() != "6.5.7638" || b.Owner != "AAN2" || b.GroupState() != StateOnline {
		t.Fatalf("after EVSB's upgrade: %+v", s.Groups)
	}
	if c := n.facts("AAN1").Cluster; !slices.Equal(groupOwners(c), []string{"EVSA@AAN1:Online", "EVSB@AAN2:Online"}) {
		t.Errorf("AAN1 sees %q", groupOwners(c))
	}
	// EVSB does not go back to node 1 (SP1): c1037b44, nothing changes.
	n.refused("AAN2", wire.ClusterMoveGroup, "EVSB", "AAN1", "refused", "c1037b44", "does not match the virtual server's (SP2 (6.5.7638))")
	n.wantGroup("EVSB", "AAN2", StateOnline)
	// EVSA, online and not upgraded, fails on node 2 with event 1025.
	n.refused("AAN1", wire.ClusterMoveGroup, "EVSA", "AAN2", "refused",
		"group EVSA failed on AAN2 while waiting until it is online on AAN2 (Exchange System Attendant - EVSA Failed)")
	n.wantGroup("EVSA", "AAN2", StateFailed)
	n.wantGroup("EVSB", "AAN2", StateOnline)
	if ev := n.facts("AAN2").Cluster.Events; !slices.Equal(ev, []string{EventMustBeUpgraded}) {
		t.Errorf("AAN2 events %q", ev)
	}

	// EVSA's own upgrade, then node 1: both EVSs at SP2, one on each node again.
	n.do("AAN2", wire.ClusterOfflineEVSResources, "EVSA", "")
	n.upgradeEVS("AAN2", "EVSA")
	n.do("AAN2", wire.ClusterOnlineGroup, "EVSA", "")
	n.wantGroup("EVSA", "AAN2", StateOnline)
	n.do("AAN1", wire.ClusterStopService, "", "")
	n.install("AAN1", sp2003)
	n.do("AAN1", wire.ClusterStartService, "", "")
	n.do("AAN2", wire.ClusterMoveGroup, "EVSA", "AAN1")
	if c := n.facts("AAN1").Cluster; !slices.Equal(groupOwners(c), []string{"EVSA@AAN1:Online", "EVSB@AAN2:Online"}) || c.Name != "EVSA" {
		t.Errorf("at the end AAN1 sees %+v", c)
	}
	for _, g := range n.cluster("EVSA").Groups {
		if g.UpgradedBuild.String() != "6.5.7638" {
			t.Errorf("%s upgraded for %s", g.Name, g.UpgradedBuild)
		}
	}
}

// TestActiveActive2000: KB 328839: every EVS to one node, upgrade the free node, move
// them all to it (each comes online there and takes its level), upgrade the other.
func TestActiveActive2000(t *testing.T) {
	n := newClusterNet(t)
	sp3 := remote.JobSpec{Action: exchange.ActionInstallServicePack, MediaPath: `\\files\exchange2000\SP3`}
	n.do("A2K2", wire.ClusterMoveGroup, "EVSD", "A2K1")
	n.do("A2K2", wire.ClusterStopService, "", "")
	n.install("A2K2", sp3)
	n.do("A2K2", wire.ClusterStartService, "", "")
	n.do("A2K1", wire.ClusterMoveGroup, "EVSC", "A2K2")
	n.wantGroup("EVSC", "A2K2", StateOnline)
	if s := n.cluster("A2KCL"); s.Group("EVSC").UpgradedBuild.String() != "6.0.6249" || s.Group("EVSD").UpgradedBuild.String() != "6.0.5762" {
		t.Errorf("after EVSC moved: %+v", s.Groups)
	}
	n.refused("A2K2", wire.ClusterMoveGroup, "EVSC", "A2K1", "refused", "c1037b44")
	n.do("A2K1", wire.ClusterMoveGroup, "EVSD", "A2K2")
	n.wantGroup("EVSD", "A2K2", StateOnline)
	n.do("A2K1", wire.ClusterStopService, "", "")
	n.install("A2K1", sp3)
	n.do("A2K1", wire.ClusterStartService, "", "")
	n.do("A2K2", wire.ClusterMoveGroup, "EVSC", "A2K1")
	if c := n.facts("A2K1").Cluster; !slices.Equal(groupOwners(c), []string{"EVSC@A2K1:Online", "EVSD@A2K2:Online"}) {
		t.Errorf("at the end A2K1 sees %q", groupOwners(c))
	}
}

// TestCCRSetupNeedsTheFirewallRunning: a 2007 service pack's setup adds its Windows Firewall
// exceptions, so it is refused while the firewall service is stopped (our reading of seed
// 004); the firewall operation starts it, recording how it was, and restore puts it back.
func TestCCRSetupNeedsTheFirewallRunning(t *testing.T) {
	n := newClusterNet(t)
	n.sim.Host("MBX1B").Update(func(s *State) {
		s.Firewall = exchange.ServiceFacts{Name: "SharedAccess", State: "Stopped", StartMode: "Disabled"}
	})
	spec := remote.JobSpec{Action: exchange.ActionInstallServicePack, MediaPath: `D:\Exchange2007SP3`}
	n.installRefused("MBX1B", spec, "cannot add its Windows Firewall exceptions", "SharedAccess is stopped (Disabled)")
	firewall := func(action string) wire.FirewallResult {
		t.Helper()
		res, err := remote.Call(n.ctx, n.client, n.target("MBX1B"), wire.FirewallRequest{Action: action})
		if err != nil {
			t.Fatalf("firewall %s: %v", action, err)
		}
		return res
	}
	if res := firewall(wire.ActionStart); !res.Recorded || res.After != "Running" || res.RecordedStartMode != "Disabled" {
		t.Errorf("start: %+v", res)
	}
	if res := firewall(wire.ActionStart); res.RecordedStartMode != "Disabled" || res.Before != "Running" {
		t.Errorf("a second start must keep the first record: %+v", res)
	}
	if !n.facts("MBX1B").Leftovers.FirewallStarted {
		t.Error("the probe does not report the started firewall")
	}
	n.install("MBX1B", spec)
	if res := firewall(wire.ActionRestore); !res.Recorded || res.After != "Stopped" {
		t.Errorf("restore: %+v", res)
	}
	st := n.sim.Host("MBX1B").State()
	if st.Firewall.State != "Stopped" || st.Firewall.StartMode != "Disabled" || st.FirewallRecord != nil || n.facts("MBX1B").Leftovers.FirewallStarted {
		t.Errorf("after restore: %+v, record %v", st.Firewall, st.FirewallRecord)
	}
	if res := firewall(wire.ActionRestore); res.Recorded {
		t.Errorf("a second restore changed something: %+v", res)
	}
}
