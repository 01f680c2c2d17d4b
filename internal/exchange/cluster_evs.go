package exchange

import (
	"fmt"
	"strings"
)

// This file: the Exchange 2000/2003 Exchange Virtual Server sequence (the file comment of
// cluster.go gives the rules of every cluster type).

// event1025 reads MSExchangeCluster event 1025 on node n, "the Exchange virtual server
// must be upgraded before it can come online" (KB 328839). KB 328839 gives it two causes: the EVS
// was not upgraded yet (Upgrade Exchange Virtual Server, the plan's manual step), or, when
// Cluster Administrator does not offer that option, the node was removed from the cluster
// and added again (reinstall Exchange on the node). No script can see that menu. What one
// can read is the EVS's version in Active Directory: when an EVS that n owns and that is
// not online there is recorded at n's service pack already, it was upgraded, so the event
// cannot mean "not upgraded yet" and the plan refuses with the reinstall advice (our
// reading of KB 328839). Otherwise (AD says not upgraded, cannot be read, or the EVS is online
// now: an attempt before the upgrade logged it) it warns and plans on.
func (c *clusterPlanning) event1025(n *clusterNode) {
	const event = "event 1025 (MSExchangeCluster, \"the Exchange virtual server must be upgraded before it can come online\") was logged on the node since its last boot"
	for _, g := range c.groups {
		if n.skip || !strings.EqualFold(g.owner, n.name) || g.state == groupOnline {
			continue
		}
		if sp, ok := c.adServicePack(g); ok && sp >= n.liveSP {
			c.refuse(n.name, "", fmt.Sprintf("%s, yet Active Directory already records %s at %s (%s), the level the node runs, and %s is %s there: it was upgraded, and the other cause KB 328839 gives is a node removed from the cluster and added again, on which Cluster Administrator does not offer Upgrade Exchange Virtual Server (KB 328839)",
				event, g.name, spName(sp), FormatADVersion(g.adVersion, sp), g.name, g.state),
				fmt.Sprintf("in Cluster Administrator on %s, right-click the System Attendant resource of %s: if Upgrade Exchange Virtual Server is missing, run Exchange %s setup on %s and choose Reinstall (KB 328839); then plan again",
					n.name, g.name, c.product, n.name))
			return
		}
	}
	c.warn(n.name, "%s: an Exchange virtual server that was not upgraded tried to come online there. The plan's manual step \"Upgrade Exchange Virtual Server\" upgrades it; if Cluster Administrator does not offer that option, the node was removed from the cluster and added again, and Exchange must be reinstalled on it (setup, Reinstall) (KB 328839)", event)
}

func windowsServer2003(os OSFacts) bool {
	return strings.HasPrefix(os.Version, "5.2") || strings.Contains(os.Caption, "2003")
}

// sequenceEVS is the Exchange 2003 and Exchange 2000 cluster upgrade (KB 328839).
func (c *clusterPlanning) sequenceEVS() {
	upgradeEVS := c.product == "2003"
	spLabel := spName(c.sp.Level.ServicePack)
	work := false
	for _, n := range c.nodes {
		work = work || !n.skip && !n.spDone
	}
	for _, g := range c.groups {
		work = work || !g.upgraded
	}
	if !work {
		c.startStoppedNodes("an earlier apply stopped it and was interrupted")
		return
	}

	// 1. A first upgraded node: a node already at the target, else a node an interrupted
	// apply left with its cluster service stopped, else the passive node (active/passive)
	// or the node owning the fewest EVSs (active/active), whose EVSs move to the other node.
	first := c.upgradedNode(nil, false)
	if first == nil {
		first = c.firstToUpgrade()
		if first == nil {
			c.refuse("", "", fmt.Sprintf("no node of %s can be upgraded first", c.label()), "fix the refusals of the nodes, then plan again")
			return
		}
		c.freeNode(first, spLabel)
		label := fmt.Sprintf("%s on %s, the first node", spLabel, first.name)
		if upgradeEVS {
			label = fmt.Sprintf("%s on %s, the first node, its cluster service stopped until the EVS moves to it", spLabel, first.name)
		}
		c.installServicePack(first, label)
		if !upgradeEVS {
			c.startClusterService(first, "the node is upgraded and takes the Exchange Virtual Servers next")
		}
	}

	// 2. Every EVS onto an upgraded node, upgraded there.
	for _, g := range c.groups {
		owner := c.node(g.owner)
		if owner.spDone && g.upgraded && g.state == groupOnline {
			continue
		}
		dest := owner
		if !owner.spDone {
			dest = first
		}
		if upgradeEVS && !g.upgraded {
			if !owner.running {
				c.startClusterService(owner, fmt.Sprintf("%s is managed from its node", g.name))
			}
			if !evsReadyForUpgrade(g) {
				c.clusterStep(Step{Kind: TakeEVSResourcesOffline{Group: g.name}, Server: owner.name,
					Description: fmt.Sprintf("downtime starts: take every resource of %s offline on %s except IP address, physical disk and network name, the precondition of its upgrade", g.name, owner.name)},
					false, func() { g.state = groupPartialOnline })
			}
			c.startClusterService(dest, fmt.Sprintf("%s runs %s and takes %s", dest.name, c.sp.Level, g.name))
			c.moveGroup(g, dest, fmt.Sprintf("the EVS goes to the upgraded node; it cannot fail back to %s until that node has %s too", owner.name, spLabel))
			// The administrator's step: no setup runs, so no setup state is checked.
			c.clusterStep(c.upgradeStep(g, dest), false, func() { g.upgraded = true })
			c.changed = true
			c.clusterStep(Step{Kind: BringGroupOnline{Group: g.name}, Server: dest.name,
				Description: fmt.Sprintf("downtime ends: bring every resource of %s online on %s", g.name, dest.name)},
				false, func() { g.state = groupOnline })
			continue
		}
		// 2000 (or a 2003 EVS already upgraded on a node below the target): a plain move;
		// the store updates the databases when the resources start on the upgraded node.
		c.startClusterService(dest, fmt.Sprintf("%s takes %s", dest.name, g.name))
		if g.state != groupOnline && owner == dest {
			why := "it is offline on an upgraded node"
			if sp, ok := c.adServicePack(g); ok && upgradeEVS {
				why = fmt.Sprintf("downtime ends: Active Directory records it upgraded (%s), so Upgrade Exchange Virtual Server was done", FormatADVersion(g.adVersion, sp))
			}
			c.bringOnline(g, dest, why)
			continue
		}
		c.moveGroup(g, dest, fmt.Sprintf("passive node first, then move the groups to it; the Exchange databases are updated when its resources start on %s", dest.name))
		if g.state != groupOnline {
			c.bringOnline(g, dest, "it was offline")
		}
	}
	c.startClusterService(first, "the node is upgraded and runs the Exchange Virtual Servers")
	c.startStoppedNodes("the node is upgraded; an earlier apply stopped its cluster service and was interrupted")

	// 3. The other nodes, each with every group moved off it and its cluster service stopped.
	for _, n := range c.nodes {
		if n.skip || n.spDone {
			continue
		}
		c.freeNode(n, spLabel)
		c.installServicePack(n, fmt.Sprintf("%s on %s", spLabel, n.name))
		c.startClusterService(n, fmt.Sprintf("the node runs %s; it can run the Exchange Virtual Servers again", spLabel))
	}

	// 4. 2003: test failover (KB 328839, step 17); active/active: every EVS back on its node.
	if !c.changed {
		return
	}
	for _, g := range c.groups {
		home := c.node(g.home)
		if c.typ == clusterActiveActive && home != nil && !strings.EqualFold(g.owner, home.name) {
			why := "back to its own node (where it ran when planned, or a preferred owner no other EVS takes): an active/active cluster runs one EVS per node"
			if upgradeEVS {
				why += "; it also tests that it comes online there, having run on " + g.owner + " since its upgrade"
			}
			c.moveGroup(g, home, why)
			continue
		}
		if !upgradeEVS {
			continue
		}
		to := home
		if to == nil || strings.EqualFold(to.name, g.owner) {
			to = c.runningNode(c.node(g.owner))
		}
		if to == nil {
			continue
		}
		verb := "over"
		if strings.EqualFold(to.name, g.home) {
			verb = "back"
		}
		c.clusterStep(Step{Kind: FailoverTest{Group: g.name, To: to.name}, Server: g.owner,
			Description: fmt.Sprintf("test failover (a short outage each way): move %s to %s and back to %s, checking it comes online on each; the EVS can fail %s to %s only now that it has the same service pack (%s)",
				g.name, to.name, g.owner, verb, to.name, spLabel)},
			true, nil)
	}
}

// firstToUpgrade picks the node an EVS cluster upgrades first when none is at the target.
func (c *clusterPlanning) firstToUpgrade() *clusterNode {
	for _, n := range c.nodes {
		if !n.skip && !n.running {
			return n // an interrupted apply stopped its cluster service
		}
	}
	var best *clusterNode
	for _, n := range c.nodes {
		if n.skip {
			continue
		}
		if best == nil || len(c.owned(n)) < len(c.owned(best)) {
			best = n
		}
	}
	return best
}

// evsReadyForUpgrade: only IP address, physical disk and network name (and MSDTC) of the
// EVS group are online, as Upgrade Exchange Virtual Server needs (KB 328839).
func evsReadyForUpgrade(g *clusterGroup) bool {
	if len(g.resources) == 0 {
		return false
	}
	for _, r := range g.resources {
		switch r.Type {
		case "IP Address", "Physical Disk", "Network Name":
			if r.State != groupOnline {
				return false
			}
		case "MSDTC", "Distributed Transaction Coordinator":
		default:
			if r.State != groupOffline {
				return false
			}
		}
	}
	return true
}
