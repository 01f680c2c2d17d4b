package exchange

import (
	"cmp"
	"fmt"
	"strings"
)

// This file: the Exchange 2007 CCR/SCC sequence (the file comment of cluster.go gives the
// rules of every cluster type).

// startFirewallStep starts the Windows Firewall service before setup on a CCR passive node
// ("Service Packs für Exchange 2007").
func startFirewallStep() Step {
	return Step{Kind: StartFirewall{},
		Description: "start the Windows Firewall service if it is stopped, recording on the node how it was: setup adds its firewall exceptions"}
}

// withFirewallRestored puts restore_firewall after the reboot (else before the build check,
// else at the end): the firewall stopped again if start_firewall started it ("Service Packs für Exchange 2007").
func withFirewallRestored(steps []Step) []Step {
	restore := Step{Kind: RestoreFirewall{},
		Description: "put the Windows Firewall service back as it was before setup: stopped (and Disabled) again if start_firewall started it; nothing when it was running"}
	at := len(steps)
	for i, s := range steps {
		if s.Action() == ActionVerifyBuild && at == len(steps) {
			at = i
		}
		if s.Action() == ActionReboot {
			at = i + 1
		}
	}
	return append(steps[:at:at], append([]Step{restore}, steps[at:]...)...)
}

// sequence2007 is the Exchange 2007 CCR upgrade ("Service Packs für Exchange 2007"; SCC the same without Remote
// Streaming Backup), then the rollup on the nodes while each is passive.
func (c *clusterPlanning) sequence2007() {
	g := c.groups[0]
	spLabel := spName(c.sp.Level.ServicePack)

	spWhy := "setup runs on a passive node that owns no cluster resources"
	ruWhy := "a rollup is installed only on a truly passive node, after moving the cluster groups off it"
	installed := false
	for _, n := range c.nodes {
		installed = installed || !n.skip && !n.spDone
	}

	// 1. Every passive node below the target, while the CMS runs on its old node. When the
	// CMS is already down (an apply stopped inside the downtime) and can go to an upgraded
	// node, the downtime is finished first and the passive nodes follow it.
	owner := c.node(g.owner)
	if g.upgraded || !owner.spDone && (g.state == groupOnline || c.upgradedNode(owner, false) == nil) {
		for _, n := range c.nodes {
			if n.skip || n.spDone || strings.EqualFold(n.name, g.owner) {
				continue
			}
			c.prepare2007(n, g, spWhy)
			c.installServicePack(n, fmt.Sprintf("%s on passive node %s", spLabel, n.name))
		}
	}

	// 2. The downtime: stop the CMS, move it to an upgraded node, /upgradeCMS, start it.
	if !g.upgraded {
		dest := owner
		if !owner.spDone {
			dest = c.upgradedNode(owner, false)
		}
		if dest == nil {
			c.refuse("", "", fmt.Sprintf("no node of %s other than %s, which owns %s, is at %s or can be upgraded: the clustered mailbox server can only be upgraded on an upgraded node it is moved to",
				c.label(), owner.name, g.name, c.sp.Level), "fix the refusals of the other nodes, then plan again")
			return
		}
		if !owner.running {
			c.startClusterService(owner, fmt.Sprintf("%s is managed from its node", g.name))
		}
		if g.state != groupOffline {
			c.clusterStep(Step{Kind: StopClusteredServer{Group: g.name}, Server: owner.name,
				Description: fmt.Sprintf("downtime starts: stop the clustered mailbox server %s on the active node %s (Stop-ClusteredMailboxServer), to move it to %s, which runs %s",
					g.name, owner.name, dest.name, c.sp.Level)},
				false, func() { g.state = groupOffline })
		}
		if dest != owner {
			c.startClusterService(dest, fmt.Sprintf("%s moves there", g.name))
			c.moveGroup(g, dest, "the stopped clustered mailbox server goes to the upgraded node, where /upgradeCMS runs")
		}
		up := c.upgradeJob(g, dest)
		c.clusterStep(up, false, func() { g.upgraded = true })
		c.changed = true
		c.clusterStep(Step{Kind: StartClusteredServer{Group: g.name}, Server: dest.name,
			Description: fmt.Sprintf("downtime ends: start %s on %s (Start-ClusteredMailboxServer) at %s", g.name, dest.name, c.sp.Level)},
			false, func() { g.state = groupOnline })
	}

	// 3. The old active node, now passive, as step 1 (and the passive nodes step 1 left).
	for _, n := range c.nodes {
		if n.skip || n.spDone {
			continue
		}
		if strings.EqualFold(g.owner, n.name) {
			// The CMS is upgraded (its own facts say so) but runs on a node below the target.
			if to := c.upgradedNode(n, false); to != nil {
				c.moveGroup(g, to, "the node that runs it is serviced next")
			}
		}
		c.prepare2007(n, g, spWhy)
		label := fmt.Sprintf("%s on passive node %s", spLabel, n.name)
		if strings.EqualFold(n.name, g.home) {
			label = fmt.Sprintf("%s on %s, the old active node, now passive", spLabel, n.name)
		}
		c.installServicePack(n, label)
	}

	if c.ru == nil {
		if installed {
			if newest, err := c.cat.Newest(c.product, c.sp.Level.ServicePack); err == nil && newest.Level.UpdateRollup > 0 {
				c.warn("", "after %s the rollup level starts again from zero: the nodes run %s without update rollups; the newest for %s is %s (%s): %s",
					spLabel, c.sp.Level, spLabel, rollupName(newest.Level.UpdateRollup, newest.Level.ReRelease), newest.Build, cmp.Or(c.r.RollupAdvice, clusterRollupAdvice))
			}
		}
		return
	}
	// The rollup: only on a truly passive node, after moving the cluster group off it
	// ("How to install the latest Service Pack or Update Rollup for Exchange 2007"): the passive nodes, then the CMS moves to a node that has
	// it (a short outage), then the old active node.
	title := rollupName(c.ru.Level.UpdateRollup, c.ru.Level.ReRelease)
	for _, n := range c.nodes {
		if n.skip || n.ruDone || strings.EqualFold(n.name, g.owner) {
			continue
		}
		c.prepare2007(n, g, ruWhy)
		c.installUpdateRollup(n, fmt.Sprintf("%s on passive node %s", title, n.name))
	}
	owner = c.node(g.owner)
	if owner.skip || owner.ruDone {
		return
	}
	dest := c.upgradedNode(owner, true)
	if dest == nil {
		c.refuse("", "", fmt.Sprintf("no node of %s other than %s, which owns %s, has or can get %s: a rollup is installed only on a passive node",
			c.label(), owner.name, g.name, c.ru.Level), "fix the refusals of the other nodes, then plan again")
		return
	}
	c.startClusterService(dest, fmt.Sprintf("%s moves there", g.name))
	c.moveGroup(g, dest, fmt.Sprintf("a short outage: %s runs %s, so that %s is passive for the rollup", dest.name, c.ru.Level, owner.name))
	c.prepare2007(owner, g, ruWhy)
	c.installUpdateRollup(owner, fmt.Sprintf("%s on %s, the old active node, now passive", title, owner.name))
}

// prepare2007 makes n own no cluster resources before setup runs on it ("Service Packs für Exchange 2007").
func (c *clusterPlanning) prepare2007(n *clusterNode, g *clusterGroup, why string) {
	to := c.node(g.owner)
	if to == n || !to.running {
		to = c.runningNode(n)
	}
	c.moveCoreOff(n, to, why)
}

// checkCMSKeys: a node with the CMS key of a /upgradeCMS that was forgotten or broke off
// takes only the /upgradeCMS that completes it (Exchange Best Practices Analyzer, "Possible
// CMS Setup Failure", TechNet cc540457: run that setup again); job_start refuses every other
// installer there. So the plan stands when the first installer it runs on that node is its
// upgrade_cms, and is refused otherwise.
// owner is the node that owns the CMS now.
func (c *clusterPlanning) checkCMSKeys(owner string) {
	for _, n := range c.nodes {
		if !n.f.Setup.StaleCMSKey {
			continue
		}
		first := ""
		for _, s := range c.steps {
			if _, ok := s.Kind.(Installer); ok && strings.EqualFold(s.Server, n.name) {
				first = s.Action()
				break
			}
		}
		if first == ActionUpgradeCMS {
			c.warn(n.name, "the CMS key of %s is still on the node (a /upgradeCMS was forgotten or broke off): the plan's upgrade_cms on %s runs Setup.com /upgradeCMS again, which completes it", c.label(), n.name)
			continue
		}
		c.refuse(n.name, "", fmt.Sprintf("the CMS key of %s is still on the node: /upgradeCMS was forgotten (or broke off) after an earlier upgrade, and setup refuses to run there until it has completed", c.label()),
			fmt.Sprintf("run Setup.com /upgradeCMS on the node that owns the CMS (%s now), then plan again", owner))
	}
}
