package exchange

import "fmt"

// This file: the Exchange 5.5 cluster sequence (the file comment of cluster.go gives the
// rules of every cluster type).

// sequence55 is the Exchange 5.5 cluster upgrade (KB 328839) as the file comment says: the node that
// owns the virtual server first, with the group in place and its cluster service running
// (setup stops the Exchange services and restarts them: the downtime), then the passive
// node with its cluster service stopped.
func (c *clusterPlanning) sequence55() {
	g := c.groups[0]
	spLabel := spName(c.sp.Level.ServicePack)
	c.allowLeftoverBlocks()
	owner := c.node(g.owner)
	if !owner.skip && !owner.running {
		// The facts name an owner whose cluster service is stopped (an earlier apply): it
		// runs again before anything else.
		c.startClusterService(owner, "an earlier apply stopped it and was interrupted")
	}
	if !owner.skip && !owner.spDone {
		from := len(c.steps)
		c.installServicePack(owner, fmt.Sprintf("%s on the active node %s, first, with %s in place and the cluster service running: setup stops the Exchange services and starts them again when it finishes, an outage for users",
			spLabel, owner.name, g.name))
		// The downtime: from the install until the group is online again.
		for i := from; i < len(c.steps); i++ {
			if c.steps[i].Action() == ActionInstallServicePack {
				for j := i; j < len(c.steps); j++ {
					c.down[j] = true
				}
				g.state = groupPartialOnline
				break
			}
		}
		c.clusterStep(Step{Kind: BringGroupOnline{Group: g.name}, Server: owner.name,
			Description: fmt.Sprintf("downtime ends: bring every resource of %s online on %s, which now runs %s: setup started the Exchange services again itself; the cluster brings up any that did not come back (clustered services come online only through the cluster, KB 328839)",
				g.name, owner.name, spLabel)},
			false, func() { g.state = groupOnline })
	}
	if g.state != groupOnline && owner.running && !owner.skip {
		c.bringOnline(g, owner, "it is not online on its node")
	}
	c.startStoppedNodes("an earlier apply stopped it and was interrupted")
	for _, n := range c.nodes {
		if n.skip || n.spDone {
			continue
		}
		c.freeNode(n, spLabel)
		c.installServicePack(n, fmt.Sprintf("%s on the passive node %s, after the active node, its cluster service stopped", spLabel, n.name))
		c.startClusterService(n, fmt.Sprintf("the node runs %s", spLabel))
	}
}
