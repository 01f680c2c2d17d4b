package simulator

import (
	"fmt"
	"slices"
	"strings"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
)

// This file: the cluster operation (cluster.ps1): moves, failovers, a node's cluster
// service, and what they journal (cluster.go holds the model).

// clusterRun is one change to the cluster: what it used and what it says.
type clusterRun struct {
	views map[string]nodeView
	// usedFault is the node whose FaultEVSWontComeOnline was used ("": none).
	usedFault string
	// logged are the events logged during the run: (lower-case node, id).
	logged [][2]string
	// notes say what happened (journal detail).
	notes []string
}

func (r *clusterRun) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// eventHint is what cluster.ps1's Get-ExEventHint adds to a refusal: the events node logged
// during this run (events land on the node where the group failed; run elsewhere, the
// script sees none).
func (r *clusterRun) eventHint(node string) string {
	hint := ""
	for _, id := range eventOrder {
		if slices.Contains(r.logged, [2]string{strings.ToLower(node), id}) {
			switch id {
			case EventMustBeUpgraded:
				hint += "; MSExchangeCluster event 1025 was logged: the Exchange virtual server must be upgraded before it can come online (Upgrade Exchange Virtual Server)"
			case EventVersionMismatch:
				hint += "; error c1037b44 was logged: the version of Exchange on this node does not match the virtual server's"
			}
		}
	}
	return hint
}

// wantedOf: the resources of g that are online or failed (they want to be online).
func wantedOf(g *clusterGroup) map[string]bool {
	w := map[string]bool{}
	for _, r := range g.resources {
		if r.State != StateOffline {
			w[r.Name] = true
		}
	}
	return w
}

// placeLocked brings the wanted resources of g online on its owner, as the cluster and
// Exchange let them: the cluster group's and the CMS/EVS's IP address, disk and network
// name always; Exchange's resources only on a node whose service pack matches the one this
// CMS/EVS was upgraded for — on an older node the System Attendant fails (c1037b44); on a
// newer one a 2003 EVS's System Attendant fails (event 1025) and a 2007 CMS's too, while a
// 2000 EVS and a 5.5 cluster come up there and take its level. An armed
// FaultEVSWontComeOnline fails the Information Store instead. It returns whether the group
// failed.
func (c *LiveCluster) placeLocked(g *clusterGroup, wanted map[string]bool, run *clusterRun) bool {
	setAll(g, StateOffline)
	v := run.views[strings.ToLower(g.owner)]
	var exchangeWanted []int
	for i := range g.resources {
		r := &g.resources[i]
		switch {
		case !wanted[r.Name]:
		case !c.isExchangeGroup(g) || isBase(*r):
			r.State = StateOnline
		default:
			exchangeWanted = append(exchangeWanted, i)
		}
	}
	if len(exchangeWanted) == 0 {
		return false
	}
	fail := func(typ string) bool {
		at := exchangeWanted[0]
		for _, i := range exchangeWanted {
			if g.resources[i].Type == typ {
				at = i
				break
			}
		}
		g.resources[at].State = StateFailed
		return true
	}
	gsp := servicePackOf(c.product, g.upgraded)
	switch {
	case v.sp < gsp:
		if c.product != "2007" {
			c.logEventLocked(v.name, EventVersionMismatch, run)
		}
		return fail(ResourceSystemAttendant)
	case v.sp > gsp && c.product == "2003":
		c.logEventLocked(v.name, EventMustBeUpgraded, run)
		return fail(ResourceSystemAttendant)
	case v.sp > gsp && c.product == "2007":
		return fail(ResourceSystemAttendant)
	case v.sp > gsp:
		// Exchange 2000 and 5.5: the virtual server comes up on the newer node at its level.
		g.upgraded = v.build
	}
	for _, i := range exchangeWanted {
		g.resources[i].State = StateOnline
	}
	if v.wontComeOnline && run.usedFault == "" {
		run.usedFault = v.name
		return fail(ResourceInformationStore)
	}
	return false
}

func (c *LiveCluster) serviceUp(v nodeView) bool { return v.up && c.service[strings.ToLower(v.name)] }

// stopServiceLocked stops node's cluster service (or the node went down): the node leaves
// the cluster and every group it owns — Exchange groups and the cluster group alike, on
// every version — moves to another node that can host it: the first of its preferred owners
// whose cluster service runs, else the first such node in fleet order. A
// failover block (FailoverThreshold 0) does not keep a group where it is: the threshold
// limits failovers after resource failures, not the move of a node leaving the cluster.
// When no node can host it, the group goes offline where it is and comes back when a
// cluster service starts and takes it.
func (c *LiveCluster) stopServiceLocked(node string, run *clusterRun) {
	c.service[strings.ToLower(node)] = false
	for _, g := range c.allGroupsLocked() {
		if !strings.EqualFold(g.owner, node) {
			continue
		}
		wanted := wantedOf(g)
		setAll(g, StateOffline)
		if len(wanted) == 0 {
			wanted = nil
		}
		target := c.failoverTargetLocked(g, node, run)
		if target == "" {
			g.resume = wanted
			run.note("%s offline on %s (no node to fail over to)", g.name, g.owner)
			continue
		}
		g.owner, g.resume = target, nil
		c.placeLocked(g, wanted, run)
		run.note("%s failed over from %s to %s: %s", g.name, node, target, groupState(g.resources))
	}
}

// failoverTargetLocked is the node g moves to when node leaves the cluster: a preferred
// owner of g whose cluster service runs, else the first other node (fleet order) whose
// service runs; "" when none does.
func (c *LiveCluster) failoverTargetLocked(g *clusterGroup, node string, run *clusterRun) string {
	for _, list := range [][]string{g.preferred, c.nodes} {
		for _, n := range list {
			if !strings.EqualFold(n, node) && c.serviceUp(run.views[strings.ToLower(n)]) {
				return n
			}
		}
	}
	return ""
}

// startServiceLocked starts node's cluster service: a group waiting to come back (its
// owner's service stopped with nowhere to go) comes online on its owner when that is node,
// or on node when the owner's service is still down.
func (c *LiveCluster) startServiceLocked(node string, run *clusterRun) {
	c.service[strings.ToLower(node)] = true
	for _, g := range c.allGroupsLocked() {
		if g.resume == nil {
			continue
		}
		owner := strings.EqualFold(g.owner, node)
		if !owner && c.serviceUp(run.views[strings.ToLower(g.owner)]) {
			continue
		}
		wanted := g.resume
		g.owner, g.resume = node, nil
		c.placeLocked(g, wanted, run)
		run.note("%s brought online on %s: %s", g.name, node, groupState(g.resources))
	}
}

// failedSummary lists g's resources that are neither online nor offline, as cluster.ps1's
// Get-ExResourceSummary: " (X Failed, ...)".
func failedSummary(g *clusterGroup) string {
	var parts []string
	for _, r := range g.resources {
		if r.State != StateOnline && r.State != StateOffline {
			parts = append(parts, r.Name+" "+r.State)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// opCluster runs OpCluster on the node the handler serves, as cluster.ps1 does, against the
// cluster's and Exchange's rules (docs/simulator.md, "Clusters").
func opCluster(h *Handler, c *call, req wire.ClusterRequest) (any, *wire.Fault) {
	host := h.host
	action, group, node := req.Action, strings.TrimSpace(req.Group), strings.TrimSpace(req.Node)
	invalid := func(format string, args ...any) (any, *wire.Fault) {
		return nil, &wire.Fault{Code: "invalid", Message: fmt.Sprintf(format, args...)}
	}
	service := action == wire.ClusterStopService || action == wire.ClusterStartService
	switch {
	case !slices.Contains(clusterActions, action):
		return invalid(`"%s" is not a cluster action (%s)`, action, strings.Join(clusterActions, ", "))
	case group != "" && !clusterGroupRE.MatchString(group):
		return invalid(`"%s" is not a cluster group name (letters, digits, space and . _ ( ) # , & + -, at most 128, a letter or digit first)`, group)
	case node != "" && !clusterNodeRE.MatchString(node):
		return invalid(`"%s" is not a cluster node name (letters, digits, hyphen and underscore, at most 63)`, node)
	case group == "" && !service:
		return invalid("the cluster action %s needs a group", action)
	case action == wire.ClusterMoveGroup && node == "":
		return invalid("move_group needs the node to move the group to")
	}
	lc := host.cluster
	if lc == nil {
		return nil, &wire.Fault{Code: "not_clustered", Message: fmt.Sprintf("%s is not a cluster node (the cluster service ClusSvc is missing or disabled)", host.name)}
	}
	lc.opMu.Lock()
	defer lc.opMu.Unlock()
	run := &clusterRun{views: lc.views()}
	lc.administerLocked(run.views) // a standing-by administrator acts between operations (evs.go)
	lc.mu.Lock()
	res, fault := lc.runLocked(host.name, action, group, node, run)
	lc.mu.Unlock()
	lc.useFault(run)
	c.detail = strings.Join(run.notes, "; ")
	if fault != nil {
		return nil, fault
	}
	return res, nil
}

func (c *LiveCluster) runLocked(self, action, groupName, node string, run *clusterRun) (wire.ClusterResult, *wire.Fault) {
	refused := func(format string, args ...any) (wire.ClusterResult, *wire.Fault) {
		return wire.ClusterResult{}, &wire.Fault{Code: "refused", Message: fmt.Sprintf(format, args...)}
	}
	selfRunning := func() bool { return c.service[strings.ToLower(self)] }
	result := func(g *clusterGroup) (wire.ClusterResult, *wire.Fault) {
		if g == nil || !selfRunning() {
			// Nothing can be read while this node's cluster service is stopped.
			return wire.ClusterResult{Group: groupName, Resources: []exchange.ClusterResource{}, ClusterServiceRunning: selfRunning()}, nil
		}
		return wire.ClusterResult{Group: g.name, Owner: g.owner, GroupState: groupState(g.resources),
			Resources: nonNil(slices.Clone(g.resources)), ClusterServiceRunning: true}, nil
	}
	switch action {
	case wire.ClusterStopService:
		if !selfRunning() {
			run.note("the cluster service is not running on %s", self)
		} else {
			run.note("cluster service stopped on %s", self)
			c.stopServiceLocked(self, run)
		}
		return result(nil)
	case wire.ClusterStartService:
		if selfRunning() {
			run.note("the cluster service already runs on %s", self)
		} else {
			run.note("cluster service started on %s", self)
			c.startServiceLocked(self, run)
		}
		if groupName == "" {
			return result(nil)
		}
		return result(c.findGroupLocked(groupName))
	}

	if !selfRunning() {
		return wire.ClusterResult{}, &wire.Fault{Code: "unavailable", Message: fmt.Sprintf(
			"the cluster service is not running on %s: start it first (start_service)", self)}
	}
	var target string
	if action == wire.ClusterMoveGroup {
		n, ok := c.node(node)
		if !ok {
			return wire.ClusterResult{}, &wire.Fault{Code: "not_found", Message: fmt.Sprintf(`"%s" is not a node of this cluster`, node)}
		}
		target = n
	}
	g := c.findGroupLocked(groupName)
	if g == nil {
		return wire.ClusterResult{}, &wire.Fault{Code: "not_found", Message: fmt.Sprintf(
			`the cluster has no group "%s" (groups: %s)`, groupName, c.groupNamesLocked())}
	}
	cms := c.product == "2007" && c.isExchangeGroup(g)

	switch action {
	case wire.ClusterBlockFailover, wire.ClusterAllowFailover:
		g.blocked = action == wire.ClusterBlockFailover
		run.note("%s failover blocked: %t", g.name, g.blocked)
		return result(g)

	case wire.ClusterStopCMS, wire.ClusterStartCMS:
		verb := "Stop"
		if action == wire.ClusterStartCMS {
			verb = "Start"
		}
		if c.product != "2007" {
			return wire.ClusterResult{}, &wire.Fault{Code: "unavailable", Message: fmt.Sprintf(
				"the Exchange 2007 management snap-in Microsoft.Exchange.Management.PowerShell.Admin is not installed on %s: %s-ClusteredMailboxServer cannot run here", self, verb)}
		}
		if action == wire.ClusterStopCMS {
			if exchangeOffline(g) {
				run.note("%s already stopped", g.name)
				return result(g)
			}
			if !cms {
				return refused("Stop-ClusteredMailboxServer %s: %s is not a clustered mailbox server", g.name, g.name)
			}
			setAll(g, StateOffline)
			g.resume = nil
			run.note("%s stopped on %s", g.name, g.owner)
			return result(g)
		}
		if groupState(g.resources) == StateOnline {
			run.note("%s already online on %s", g.name, g.owner)
			return result(g)
		}
		if !cms {
			return refused("Start-ClusteredMailboxServer %s: %s is not a clustered mailbox server", g.name, g.name)
		}
		owner := run.views[strings.ToLower(g.owner)]
		gsp := servicePackOf(c.product, g.upgraded)
		switch {
		case !c.serviceUp(owner):
			return refused("Start-ClusteredMailboxServer %s: the cluster service is not running on %s, which owns it", g.name, g.owner)
		case owner.staleCMSKey:
			return refused("Start-ClusteredMailboxServer %s: a Setup.com /upgradeCMS on %s did not finish (its CMS key remains): run Setup.com /upgradeCMS on %s again",
				g.name, owner.name, owner.name)
		case owner.sp > gsp:
			return refused("Start-ClusteredMailboxServer %s: %s runs Exchange 2007 %s but %s was upgraded for %s: the clustered mailbox server must be upgraded first: run Setup.com /upgradeCMS on %s",
				g.name, owner.name, levelOf(c.product, owner.build), g.name, levelOf(c.product, g.upgraded), owner.name)
		case owner.sp < gsp:
			return refused("Start-ClusteredMailboxServer %s: the version on this computer does not match: %s runs Exchange 2007 %s, older than %s that %s was upgraded for; upgrade %s first",
				g.name, owner.name, levelOf(c.product, owner.build), levelOf(c.product, g.upgraded), g.name, owner.name)
		}
		return c.bringOnlineLocked(g, self, run, result)

	case wire.ClusterOfflineEVSResources:
		// As cluster.ps1: every resource but IP address, disk and network name, whatever
		// the group (an MSDTC resource in it goes offline too).
		for i := range g.resources {
			if !isBase(g.resources[i]) {
				g.resources[i].State = StateOffline
				delete(g.resume, g.resources[i].Name)
			}
		}
		run.note("%s: every resource but IP address, physical disk and network name offline on %s", g.name, g.owner)
		return result(g)

	case wire.ClusterOnlineGroup:
		if groupState(g.resources) == StateOnline {
			run.note("%s already online on %s", g.name, g.owner)
			return result(g)
		}
		if !c.serviceUp(run.views[strings.ToLower(g.owner)]) {
			return refused("cluster.exe group %s /online failed with exit code 5050: the cluster service is not running on %s, which owns the group", g.name, g.owner)
		}
		return c.bringOnlineLocked(g, self, run, result)

	case wire.ClusterMoveGroup:
		tv := run.views[strings.ToLower(target)]
		if strings.EqualFold(target, g.owner) {
			if groupState(g.resources) == StateFailed {
				return refused("group %s failed on %s while waiting until it is online on %s%s", g.name, g.owner, target, failedSummary(g))
			}
			run.note("%s already owned by %s", g.name, target)
			return result(g)
		}
		if !c.serviceUp(tv) {
			return refused("node %s is not up in the cluster (MSCluster_Node State 1): group %s cannot move there", target, g.name)
		}
		wasOnline := groupState(g.resources) == StateOnline
		if c.isExchangeGroup(g) {
			gsp := servicePackOf(c.product, g.upgraded)
			switch {
			case tv.sp < gsp && cms && !exchangeOffline(g):
				return refused("Move-ClusteredMailboxServer %s to %s: the version on this computer does not match: %s runs Exchange 2007 %s, older than %s that %s was upgraded for; upgrade %s first",
					g.name, target, target, levelOf(c.product, tv.build), levelOf(c.product, g.upgraded), g.name, target)
			case tv.sp < gsp && c.product == "2007":
				return refused("cluster.exe group %s /moveto:%s failed: the version on this computer does not match: %s runs Exchange 2007 %s, older than %s that %s was upgraded for; upgrade %s first",
					g.name, target, target, levelOf(c.product, tv.build), levelOf(c.product, g.upgraded), g.name, target)
			case tv.sp < gsp:
				return refused("cluster.exe group %s /moveto:%s failed: %s: the version of Exchange on %s (%s %s) does not match the virtual server's (%s): upgrade %s first",
					g.name, target, EventVersionMismatch, target, c.product, levelOf(c.product, tv.build), levelOf(c.product, g.upgraded), target)
			case tv.sp > gsp && cms && !exchangeOffline(g):
				return refused("Move-ClusteredMailboxServer %s to %s: %s runs Exchange 2007 %s but %s was upgraded for %s: a running clustered mailbox server cannot move to a node with a newer service pack; stop it (stop_cms), move it stopped and run Setup.com /upgradeCMS on %s",
					g.name, target, target, levelOf(c.product, tv.build), g.name, levelOf(c.product, g.upgraded), target)
			}
		}
		from := g.owner
		wanted := wantedOf(g)
		g.owner, g.resume = target, nil
		failed := c.placeLocked(g, wanted, run)
		run.note("%s moved from %s to %s: %s", g.name, from, target, groupState(g.resources))
		if failed {
			what := "is owned by " + target + " and settled"
			if wasOnline {
				what = "is online on " + target
			}
			return refused("group %s failed on %s while waiting until it %s%s%s", g.name, target, what, failedSummary(g), run.eventHint(self))
		}
		return result(g)
	}
	return refused("%s is not modelled", action)
}

// bringOnlineLocked brings every resource of g online on its owner (online_group,
// start_cms).
func (c *LiveCluster) bringOnlineLocked(g *clusterGroup, self string, run *clusterRun,
	result func(*clusterGroup) (wire.ClusterResult, *wire.Fault)) (wire.ClusterResult, *wire.Fault) {
	wanted := map[string]bool{}
	for _, r := range g.resources {
		wanted[r.Name] = true
	}
	g.resume = nil
	failed := c.placeLocked(g, wanted, run)
	run.note("%s brought online on %s: %s", g.name, g.owner, groupState(g.resources))
	if failed {
		return wire.ClusterResult{}, &wire.Fault{Code: "refused", Message: fmt.Sprintf(
			"group %s failed on %s while waiting until it is online%s%s", g.name, g.owner, failedSummary(g), run.eventHint(self))}
	}
	return result(g)
}

// useFault uses up the FaultEVSWontComeOnline run used (views peeked at it). Called with
// opMu held and no other lock, so no other cluster change takes it in between.
func (c *LiveCluster) useFault(run *clusterRun) {
	if run.usedFault == "" {
		return
	}
	if h := c.hosts[strings.ToLower(run.usedFault)]; h != nil {
		h.mu.Lock()
		h.takeFaultLocked(FaultEVSWontComeOnline)
		h.mu.Unlock()
	}
	run.usedFault = ""
}

// nodeDown: node went down (a restart), and its cluster service with it.
func (c *LiveCluster) nodeDown(node string) {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	run := &clusterRun{views: c.views()}
	c.mu.Lock()
	if c.service[strings.ToLower(node)] {
		c.stopServiceLocked(node, run)
	}
	c.mu.Unlock()
	c.finish(node, run)
}

// nodeUp: node booted: the events of the last boot are gone and its cluster service
// (Automatic) starts.
func (c *LiveCluster) nodeUp(node string) {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	run := &clusterRun{views: c.views()}
	c.mu.Lock()
	c.events[strings.ToLower(node)] = nil
	if !c.service[strings.ToLower(node)] {
		c.startServiceLocked(node, run)
	}
	c.mu.Unlock()
	c.finish(node, run)
}

// finish uses up the fault run used and journals what happened to the groups as the node's
// own event (operation "system").
func (c *LiveCluster) finish(node string, run *clusterRun) {
	c.useFault(run)
	if h := c.hosts[strings.ToLower(node)]; h != nil && len(run.notes) > 0 {
		h.env.journal.record(Entry{Server: h.name, Operation: operationSystem, Outcome: outcomeOK, Detail: strings.Join(run.notes, "; ")})
	}
}
