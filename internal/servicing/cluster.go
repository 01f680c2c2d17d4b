package servicing

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
)

// ApplyCluster runs a plan whose steps run on several nodes of one cluster. targets maps
// each node name (case-insensitive) to where to reach it. It takes the servicing lock on
// every node first (in LockOrder, so two applies never deadlock), runs the steps in order
// on their nodes, and releases every lock at the end.
//
// It is Apply over several servers: the same validation before anything remote (every
// step must name a node of targets), the same steps, lock refresh (of every node's lock),
// job polling, reboots, recovery and *StepError (naming the failing step's node), and the
// finished job records are cleared on every node at the end. Installer jobs are named by
// ClusterJobID. On a failure it also brings back, best effort, a clustered server (CMS or
// EVS group) this run left down — stopped, its resources taken offline, or a move that
// failed — on the node that owns it as last reported, and allows failover again where this
// run blocked it; it never stops anything. A clustered server that could not be brought back
// leads the error (StepError.Down) with how to bring it online by hand. A cluster service
// this run stopped stays stopped (the node's install may have failed) and is listed.
// An empty plan does nothing and calls nothing.
func ApplyCluster(ctx context.Context, r Remote, targets map[string]remote.Target, plan exchange.Plan, o Options) (Report, error) {
	o = o.withDefaults()
	nodes, err := validateCluster(targets, plan, o)
	if err != nil {
		return Report{}, err
	}
	if plan.Empty() {
		return Report{}, nil
	}
	x := newExecutor(r, nodes, plan, o, ClusterJobID)
	x.cluster = true
	byName := map[string]*node{}
	for _, n := range x.nodes {
		byName[strings.ToLower(n.t.Server)] = n
	}
	x.nodeOf = func(s exchange.Step) *node { return byName[strings.ToLower(s.Server)] }
	return x.run(ctx)
}

// ClusterJobID is the job id of an installing step of a cluster plan: exchange.ClusterJobID,
// the rule the planner also uses to find a running or finished job of a cluster plan's
// step, so that an interrupted cluster apply attaches to what it started.
func ClusterJobID(s exchange.Step) string { return exchange.ClusterJobID(s) }

// validateCluster checks the targets and the plan before anything remote happens and
// returns the targets in LockOrder.
func validateCluster(targets map[string]remote.Target, plan exchange.Plan, o Options) ([]remote.Target, error) {
	name := plan.Server
	if name == "" {
		name = "(unnamed)"
	}
	if plan.Empty() {
		return nil, nil
	}
	if o.Owner == "" {
		return nil, fmt.Errorf("cluster %s: servicing needs a lock owner (Options.Owner); nothing was done. This is a bug in the provider: please report it", name)
	}
	byName := map[string]remote.Target{}
	var nodes []remote.Target
	var names []string
	for key, t := range targets {
		if strings.TrimSpace(key) == "" {
			return nil, fmt.Errorf("cluster %s: a node without a name among the targets; nothing was done. This is a bug in the provider: please report it", name)
		}
		if t.Server == "" {
			t.Server = key
		}
		if !strings.EqualFold(t.Server, key) {
			return nil, fmt.Errorf("cluster %s: the target of node %s is server %s; nothing was done. This is a bug in the provider: please report it", name, key, t.Server)
		}
		k := strings.ToLower(key)
		if _, dup := byName[k]; dup {
			return nil, fmt.Errorf("cluster %s: node %s is among the targets twice; nothing was done. This is a bug in the provider: please report it", name, key)
		}
		byName[k] = t
		names = append(names, t.Server)
	}
	for _, n := range LockOrder(names) { // the servicing locks are taken in this order
		nodes = append(nodes, byName[strings.ToLower(n)])
	}
	err := validateSteps(plan, func(s exchange.Step) string { return orName(s.Server, name) }, func(s exchange.Step) error {
		if s.Server == "" {
			return errors.New("the step names no node")
		}
		if _, ok := byName[strings.ToLower(s.Server)]; !ok {
			return fmt.Errorf("the step is for server %s, which is not a node of this apply (%s)", s.Server, nodeNames(nodes))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return nodes, nil
}

func orName(s, name string) string {
	if s == "" {
		return name
	}
	return s
}

func nodeNames(nodes []remote.Target) string {
	names := make([]string, len(nodes))
	for i, t := range nodes {
		names[i] = t.Server
	}
	return strings.Join(names, ", ")
}

// group is a cluster group (a clustered mailbox server, an Exchange Virtual Server or the
// cluster group) as this run last saw it, and what this run did to it.
type group struct {
	name string
	// owner is the node that owns it as last reported; onlineOn the node it was last
	// reported Online on.
	owner, onlineOn string
	// downBy is the step action that left it down (stopped, resources offline, a failed
	// move) and nothing has brought it back since; "" when it is not down by this run.
	downBy string
	// blockedOn is the node block_failover ran on while allow_failover has not run since.
	blockedOn string
	// upgrading is the upgrade_cms step this run started and did not see succeed, or the
	// upgrade_evs_manually step it stopped at; upgraded: one succeeded. Either way the clustered server can no longer run
	// on a node with the older Exchange version.
	upgrading string
	upgraded  bool
}

// groupOf returns the group named name, recording it the first time.
func (x *executor) groupOf(name string) *group {
	for _, g := range x.groups {
		if strings.EqualFold(g.name, name) {
			return g
		}
	}
	g := &group{name: name}
	x.groups = append(x.groups, g)
	return g
}

func (x *executor) markDown(name, by string) {
	if g := x.groupOf(name); g.downBy == "" {
		g.downBy = by
	}
}

func online(res wire.ClusterResult) bool { return strings.EqualFold(res.GroupState, "Online") }

// clusterOp runs OpCluster on the current node and notes what it reports of group.
func (x *executor) clusterOp(ctx context.Context, t remote.Target, action, group, to string) (wire.ClusterResult, error) {
	res, err := remote.Call(ctx, x.r, t, wire.ClusterRequest{Action: action, Group: group, Node: to})
	if err == nil && group != "" {
		g := x.groupOf(group)
		if res.Owner != "" {
			g.owner = res.Owner
			if online(res) {
				g.onlineOn = res.Owner
			}
		}
	}
	return res, err
}

// nothingDone: the cluster operation answered that it did nothing (no cluster, no such
// group or node), so nothing it might have changed is to be undone.
func nothingDone(err error) bool {
	var f *wire.Fault
	return errors.As(err, &f) && (f.Code == "not_found" || f.Code == "not_clustered")
}

// groupStateText is "Online on NODE1" for messages.
func groupStateText(res wire.ClusterResult) string {
	return orUnknown(res.GroupState) + " on " + orUnknown(res.Owner)
}

// The cluster step kinds run on their node through OpCluster.

func (x stepRun) MoveClusterGroup(k exchange.MoveClusterGroup) error {
	_, err := x.moveGroup(x.ctx, x.s, k.Group, k.To)
	return err
}

func (x stepRun) FailoverTest(k exchange.FailoverTest) error {
	return x.failoverTest(x.ctx, x.s, k.Group, k.To)
}

func (x stepRun) StopClusterService(exchange.StopClusterService) error {
	x.clusterStopped = true // before the call: the service may stop even if the answer is lost
	res, err := x.clusterOp(x.ctx, x.t, wire.ClusterStopService, "", "")
	if err != nil {
		if nothingDone(err) {
			x.clusterStopped = false
		}
		return err
	}
	if res.ClusterServiceRunning {
		return fmt.Errorf("the cluster service on %s still runs after it was stopped", x.t.Server)
	}
	x.logf(x.s, "cluster service stopped")
	return nil
}

func (x stepRun) StartClusterService(exchange.StartClusterService) error {
	res, err := x.clusterOp(x.ctx, x.t, wire.ClusterStartService, "", "")
	if err != nil {
		return err
	}
	if !res.ClusterServiceRunning {
		return fmt.Errorf("the cluster service on %s does not run after it was started", x.t.Server)
	}
	x.clusterStopped = false
	x.logf(x.s, "cluster service started")
	return nil
}

func (x stepRun) StopClusteredServer(k exchange.StopClusteredServer) error {
	return x.takeDown(wire.ClusterStopCMS, "stopped", k.Group)
}

func (x stepRun) TakeEVSResourcesOffline(k exchange.TakeEVSResourcesOffline) error {
	return x.takeDown(wire.ClusterOfflineEVSResources, "resources taken offline (all but IP address, physical disk and network name)", k.Group)
}

// takeDown takes clustered server g down with the cluster action; what says how, for the log.
func (x stepRun) takeDown(action, what, g string) error {
	x.markDown(g, x.s.Action()) // before the call: bringing it online again is harmless
	res, err := x.clusterOp(x.ctx, x.t, action, g, "")
	if err != nil {
		if nothingDone(err) {
			x.groupOf(g).downBy = ""
		}
		return err
	}
	if gr := x.groupOf(g); gr.onlineOn == "" && res.Owner != "" {
		gr.onlineOn = res.Owner // it ran there until now
	}
	x.logf(x.s, "clustered server %s: %s; %s", g, what, groupStateText(res))
	return nil
}

func (x stepRun) StartClusteredServer(k exchange.StartClusteredServer) error {
	return x.bringUp(wire.ClusterStartCMS, k.Group)
}

func (x stepRun) BringGroupOnline(k exchange.BringGroupOnline) error {
	return x.bringUp(wire.ClusterOnlineGroup, k.Group)
}

// bringUp brings clustered server g online with the cluster action and checks it is.
func (x stepRun) bringUp(action, g string) error {
	res, err := x.clusterOp(x.ctx, x.t, action, g, "")
	var f *wire.Fault
	if errors.As(err, &f) && f.Code == "refused" {
		// The cluster answers "refused" for a group that came up Failed.
		return &stepFailure{err: fmt.Errorf("clustered server %s did not come online: %w", g, f), next: notOnlineNext}
	}
	if err != nil {
		return err
	}
	if !online(res) {
		return &stepFailure{
			err:  fmt.Errorf("clustered server %s did not come online: it is %s", g, groupStateText(res)),
			next: notOnlineNext,
		}
	}
	x.groupOf(g).downBy = ""
	x.logf(x.s, "clustered server %s: %s", g, groupStateText(res))
	return nil
}

func (x stepRun) BlockFailover(k exchange.BlockFailover) error {
	g := k.Group
	gr := x.groupOf(g)
	gr.blockedOn = x.t.Server // before the call: allowing failover again is harmless
	if _, err := x.clusterOp(x.ctx, x.t, wire.ClusterBlockFailover, g, ""); err != nil {
		if nothingDone(err) {
			gr.blockedOn = ""
		}
		return err
	}
	x.logf(x.s, "failover of %s blocked", g)
	return nil
}

func (x stepRun) AllowFailover(k exchange.AllowFailover) error {
	g := k.Group
	if _, err := x.clusterOp(x.ctx, x.t, wire.ClusterAllowFailover, g, ""); err != nil {
		return err
	}
	x.groupOf(g).blockedOn = ""
	x.logf(x.s, "failover of %s allowed", g)
	return nil
}

// moveGroup moves group g to node to and checks it is there, and Online unless this run
// took it down before. A move that fails may leave the group offline: it is marked down.
func (x *executor) moveGroup(ctx context.Context, s exchange.Step, g, to string) (wire.ClusterResult, error) {
	wasDown := x.groupOf(g).downBy != ""
	res, err := x.clusterOp(ctx, x.t, wire.ClusterMoveGroup, g, to)
	if err != nil {
		if !nothingDone(err) {
			x.markDown(g, s.Action())
		}
		return res, fmt.Errorf("moving %s to %s: %w", g, to, err)
	}
	if res.Owner != "" && !strings.EqualFold(res.Owner, to) {
		x.markDown(g, s.Action())
		return res, fmt.Errorf("%s was moved to %s but is %s", g, to, groupStateText(res))
	}
	if !wasDown && !online(res) {
		x.markDown(g, s.Action())
		return res, &stepFailure{
			err: fmt.Errorf("%s was moved to %s but did not come online there: it is %s", g, to, groupStateText(res)),
			next: "Read the cluster log and the Application event log of " + to + " (event c1037b44: the node runs an older " +
				"version than the clustered server), fix the cause, then run terraform apply again; the apply continues from the remaining steps.",
		}
	}
	x.logf(s, "%s moved to %s: %s", g, to, groupStateText(res))
	return res, nil
}

// failoverTest moves group g to node to, checks it is online there, moves it back to the
// node it came from and checks it is online there again. Where it came from is the owner
// this run last saw, else the one the node's probe reports, else the step's node.
func (x *executor) failoverTest(ctx context.Context, s exchange.Step, g, to string) error {
	from := x.groupOf(g).owner
	if from == "" {
		f, err := x.r.Probe(ctx, x.t)
		if err != nil {
			return fmt.Errorf("could not read which node owns %s before the failover test: %w", g, err)
		}
		x.report.Facts = f
		if c := f.Cluster; c != nil && strings.EqualFold(c.Name, g) && c.ActiveNode != "" {
			from = c.ActiveNode
		} else {
			from = x.t.Server
			x.logf(s, "the node that owns %s is not known; the test moves it back to %s", g, from)
		}
	}
	if gr := x.groupOf(g); gr.downBy == "" {
		gr.owner, gr.onlineOn = from, from // it runs there: where to bring it back to
	}
	if strings.EqualFold(from, to) {
		x.logf(s, "%s runs on %s already; the failover test only checks it is online there", g, to)
		res, err := x.moveGroup(ctx, s, g, to)
		if err == nil && !online(res) {
			x.markDown(g, s.Action())
			err = fmt.Errorf("%s is %s, not online", g, groupStateText(res))
		}
		return err
	}
	for _, node := range []string{to, from} {
		res, err := x.moveGroup(ctx, s, g, node)
		if err != nil {
			return fmt.Errorf("failover test: %w", err)
		}
		if !online(res) {
			// A group this run took down moves offline; the test needs it online.
			x.markDown(g, s.Action())
			return fmt.Errorf("failover test: %s is %s, not online", g, groupStateText(res))
		}
	}
	x.logf(s, "failover test passed: %s came online on %s and back on %s", g, to, from)
	return nil
}

// UpgradeEVSManually checks the administrator's "Upgrade Exchange Virtual Server" of
// k.Group (KB 328839 steps 11-12), which no script can run: when the
// node's probe reads the EVS's version in Active Directory at k.Build, it was done and the
// apply goes on; else the apply stops here, leaving the EVS as the upgrade needs it, with
// what to do in Cluster Administrator. The next plan reads the same version and continues.
func (x stepRun) UpgradeEVSManually(k exchange.UpgradeEVSManually) error {
	f, err := x.r.Probe(x.ctx, x.t)
	if err != nil {
		return fmt.Errorf("could not read whether %s was upgraded: %w", k.Group, err)
	}
	x.report.Facts = f
	recorded := ""
	for _, g := range f.Cluster.GroupsOf() {
		if exchange.SameHost(g.Name, k.Group) {
			recorded = g.ADVersion
		}
	}
	if b, ok := exchange.ParseADVersion(recorded); ok && atLeast(b, k.Build) {
		x.groupOf(k.Group).upgraded = true
		x.logf(x.s, "Active Directory records %s as %q: Upgrade Exchange Virtual Server was done", k.Group, recorded)
		return nil
	}
	x.groupOf(k.Group).upgrading = exchange.ActionUpgradeEVSManually
	read := fmt.Sprintf("Active Directory records %s as %q, below %s", k.Group, recorded, k.Build)
	if recorded == "" {
		read = fmt.Sprintf("the version of %s in Active Directory could not be read from %s, so the apply cannot tell whether it was done", k.Group, x.t.Server)
	}
	return &stepFailure{manual: true,
		err: fmt.Errorf(`"Upgrade Exchange Virtual Server" of %s is a manual step: no command line for it is documented, and bringing the System Attendant online instead fails with event 1025 [KB 328839]; %s`, k.Group, read),
		next: fmt.Sprintf(`Do this by hand. In Cluster Administrator on %[1]s (a node that runs the new service pack; run from a node not yet upgraded it fails with c1037b44): expand Groups, right-click the System Attendant resource in the group of %[2]s and choose "Upgrade Exchange Virtual Server" (KB 328839 step 11); when it has finished, bring the resources of %[2]s online on %[1]s (step 12), or leave that to the next apply. Do not move %[2]s to a node not yet upgraded. `+
			`Then run terraform plan and terraform apply again: the next plan sees the upgrade (%[2]s's version in Active Directory, or %[2]s online on %[1]s) and continues from the remaining steps. `+
			`If the menu has no "Upgrade Exchange Virtual Server", %[1]s was removed from the cluster and added again: run Exchange setup on %[1]s and choose Reinstall (KB 328839), then apply again.`,
			x.t.Server, k.Group),
	}
}

// atLeast: build a is b or later, comparing major, minor and build (Active Directory's
// version carries a revision the catalog's build may lack).
func atLeast(a, b exchange.Build) bool {
	a.Revision, b.Revision = 0, 0
	return a.Compare(b) >= 0
}

// recoverCluster brings the groups this run left down back online and allows failover
// where this run blocked it. It stops nothing and moves nothing.
func (x *executor) recoverCluster(ctx context.Context, s exchange.Step) []string {
	var done []string
	for _, g := range x.groups {
		if g.downBy == "" {
			continue
		}
		n := x.recoveryNode(g.owner)
		if n == nil {
			continue // downText says so
		}
		action := wire.ClusterOnlineGroup
		if g.downBy == exchange.ActionStopClusteredServer {
			action = wire.ClusterStartCMS
		}
		res, err := x.clusterOp(ctx, n.t, action, g.name, "")
		switch {
		case err != nil:
			done = append(done, fmt.Sprintf("could not bring the clustered server %s online (%v)", g.name, err))
		case !online(res):
			done = append(done, fmt.Sprintf("could not bring the clustered server %s online: it is %s", g.name, groupStateText(res)))
		default:
			g.downBy = ""
			done = append(done, fmt.Sprintf("brought the clustered server %s online on %s", g.name, orUnknown(res.Owner)))
		}
	}
	for _, g := range x.groups {
		if g.blockedOn == "" {
			continue
		}
		n := x.recoveryNode(g.blockedOn)
		if n == nil {
			done = append(done, fmt.Sprintf("could not allow failover of %s again (no node answers)", g.name))
			continue
		}
		if _, err := x.clusterOp(ctx, n.t, wire.ClusterAllowFailover, g.name, ""); err != nil {
			done = append(done, fmt.Sprintf("could not allow failover of %s again (%v)", g.name, err))
		} else {
			g.blockedOn = ""
			done = append(done, "allowed failover of "+g.name+" again")
		}
	}
	for _, d := range done {
		x.logf(s, "recovery: %s", d)
	}
	return done
}

// recoveryNode is the node to run a recovery operation on: the named node (the group's
// owner as last reported) when it is one of the apply and answers, else the failing step's
// node, else any node of the apply that answers; nil when none does.
func (x *executor) recoveryNode(name string) *node {
	for _, n := range x.nodes {
		if strings.EqualFold(n.t.Server, name) && !n.down {
			return n
		}
	}
	if !x.node.down {
		return x.node
	}
	for _, n := range x.nodes {
		if !n.down {
			return n
		}
	}
	return nil
}

// downText says which clustered servers this run left down and how to bring them online by
// hand; "" when none is down. why, when set, is why recovery did not try.
func (x *executor) downText(why string) string {
	var out []string
	for _, g := range x.groups {
		if g.downBy == "" {
			continue
		}
		msg := "the clustered server " + g.name + " is DOWN"
		if why != "" {
			msg += " and was not brought back (" + why + ")"
		}
		where := g.owner
		if where == "" {
			where = "the node that owns it"
		}
		how := fmt.Sprintf(`cluster.exe group "%s" /online`, g.name)
		if g.downBy == exchange.ActionStopClusteredServer {
			how = fmt.Sprintf("Start-ClusteredMailboxServer -Identity %s (Exchange Management Shell)", g.name)
		}
		// A failed upgrade is finished first: starting it without would be refused again.
		switch g.upgrading {
		case exchange.ActionUpgradeCMS:
			how = fmt.Sprintf("Setup.com /upgradeCMS run again there (its log: C:\\ExchangeSetupLogs\\ExchangeSetup.log), then %s", how)
		case exchange.ActionUpgradeEVSManually:
			how = fmt.Sprintf(`"Upgrade Exchange Virtual Server" on %s in Cluster Administrator (the manual step below), then %s`, g.name, how)
		}
		msg += fmt.Sprintf(": bring it online on %s with %s", where, how)
		if g.upgrading != "" || g.upgraded {
			// It belongs to the new version now: no way back to a node not yet upgraded.
			msg += fmt.Sprintf("; it cannot run on a node with the older Exchange version any more, so do not move it back to %s", orName(g.onlineOn, "the other node"))
			out = append(out, msg)
			continue
		}
		msg += ", or "
		if g.onlineOn != "" && !strings.EqualFold(g.onlineOn, g.owner) {
			msg += fmt.Sprintf(`move it back to %s, where it last ran, with cluster.exe group "%s" /moveto:%s and bring it online there`, g.onlineOn, g.name, g.onlineOn)
		} else {
			msg += fmt.Sprintf(`move it to another node that can run it (one with the same Exchange version) with cluster.exe group "%s" /moveto:<node> and bring it online there`, g.name)
		}
		out = append(out, msg)
	}
	return strings.Join(out, ". ")
}

// clusterChanges lists what this run changed in the cluster and has not put back (the
// clustered servers left down are in StepError.Down).
func (x *executor) clusterChanges() []string {
	var out []string
	for _, g := range x.groups {
		if g.blockedOn != "" {
			out = append(out, "failover of "+g.name+" is blocked")
		}
	}
	return out
}

// notOnlineNext is what to do when a clustered server does not come online.
const notOnlineNext = "Read the cluster log and the Application event log of the node that owns it (event 1025 means the " +
	"clustered server is not upgraded for that node's version: run the upgrade (/upgradeCMS, or Upgrade Exchange Virtual " +
	"Server); c1037b44 means it sits on a node with an older version: move it to an upgraded node), fix the cause, " +
	"then run terraform apply again; the apply continues from the remaining steps."
