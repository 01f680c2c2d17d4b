package simulator

import (
	"fmt"
	"slices"
	"strings"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
)

// This file: what a cluster node's probe reads of the cluster (cluster.go holds the model).

// clusterFacts is Facts.Cluster of node self, whose build is build, as probe.ps1 reads it:
// while the node's cluster service runs, the cluster's own name, every Exchange group
// (groups, each with its preferred owners) and the one group the probe selects (name,
// owner, state, resources, failover block): the group called addressed (the CMS/EVS the
// probe was addressed by; "" for none), else the first one the node owns, else the first;
// also the nodes, sorted. While the service is stopped nothing of the cluster can be read
// and only the service state is known. Either way node_builds holds only the node's own
// build (no other node's files can be read from here) and events are the node's own.
func (c *LiveCluster) clusterFacts(self string, build exchange.Build, addressed string) *exchange.ClusterFacts {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := &exchange.ClusterFacts{
		Groups:     []exchange.ClusterGroupFacts{},
		Nodes:      []string{},
		Resources:  []exchange.ClusterResource{},
		NodeBuilds: map[string]string{self: build.String()},
		Events:     nonNil(slices.Clone(c.events[strings.ToLower(self)])),
	}
	if !c.service[strings.ToLower(self)] {
		return f
	}
	var selected *clusterGroup
	for _, g := range c.groups {
		f.Groups = append(f.Groups, exchange.ClusterGroupFacts{Name: g.name, Owner: g.owner, State: groupState(g.resources),
			Resources: nonNil(slices.Clone(g.resources)), FailoverBlocked: g.blocked, PreferredOwners: nonNil(slices.Clone(g.preferred))})
		if addressed != "" && strings.EqualFold(g.name, addressed) {
			selected = g
		}
	}
	for _, g := range c.groups {
		if selected == nil && strings.EqualFold(g.owner, self) {
			selected = g
		}
	}
	if selected == nil {
		selected = c.groups[0]
	}
	f.Name, f.ClusterName, f.Type = selected.name, c.clusterName, c.typ
	f.Nodes = slices.Clone(c.nodes)
	slices.SortFunc(f.Nodes, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	f.ActiveNode = selected.owner
	f.Active = strings.EqualFold(selected.owner, self)
	f.ClusterServiceRunning = true
	f.GroupState = groupState(selected.resources)
	f.Resources = nonNil(slices.Clone(selected.resources))
	f.FailoverBlocked = selected.blocked
	return f
}

// probeView is what the probe of node self learns of the cluster to decide whether it
// answers for a name: nothing while the node's cluster service is stopped (readable
// false); else every Exchange group's name and owner, the cluster's own name and the owner
// of the cluster group.
type probeView struct {
	readable    bool
	groups      [][2]string // name, owner
	clusterName string
	coreOwner   string
}

func (c *LiveCluster) probeView(self string) probeView {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.service[strings.ToLower(self)] {
		return probeView{}
	}
	v := probeView{readable: true, clusterName: c.clusterName, coreOwner: c.core.owner}
	for _, g := range c.groups {
		v.groups = append(v.groups, [2]string{g.name, g.owner})
	}
	return v
}

func (c *LiveCluster) logEventLocked(node, id string, run *clusterRun) {
	key := strings.ToLower(node)
	if !slices.Contains(c.events[key], id) {
		c.events[key] = append(c.events[key], id)
		// In the probe's order: 1025 before c1037b44.
		slices.SortFunc(c.events[key], func(a, b string) int {
			return slices.Index(eventOrder, a) - slices.Index(eventOrder, b)
		})
	}
	if run != nil {
		run.logged = append(run.logged, [2]string{key, id})
	}
}

var eventOrder = []string{EventMustBeUpgraded, EventVersionMismatch}

// nodeView is what the cluster needs to know of a node's host.
type nodeView struct {
	name  string
	build exchange.Build
	sp    int
	up    bool
	// staleCMSKey: a /upgradeCMS broke off (or was forgotten) on the node.
	staleCMSKey bool
	// wontComeOnline: FaultEVSWontComeOnline is armed on the node.
	wontComeOnline bool
}

// views reads every node's host, one lock at a time. Called with opMu held and no other lock.
func (c *LiveCluster) views() map[string]nodeView {
	out := map[string]nodeView{}
	c.mu.Lock()
	fallback := c.groups[0].upgraded // a node without a host (not made by Start)
	c.mu.Unlock()
	for _, n := range c.nodes {
		v := nodeView{name: n, up: true, build: fallback}
		if h := c.hosts[strings.ToLower(n)]; h != nil {
			h.mu.Lock()
			h.settleLocked()
			v.build, v.staleCMSKey = h.state.Build, h.state.StaleCMSKey
			v.up = h.power != powerDown
			v.wontComeOnline = slices.ContainsFunc(h.faults, func(f Fault) bool { return f.Kind == FaultEVSWontComeOnline })
			h.mu.Unlock()
		}
		v.sp = servicePackOf(c.product, v.build)
		out[strings.ToLower(n)] = v
	}
	return out
}

// servicePackOf is the service pack level of build: what decides whether a CMS/EVS can run
// on a node (update rollups and hotfixes do not count: a CMS moves between nodes at
// different rollups while a rollup goes round the nodes).
func servicePackOf(product string, b exchange.Build) int {
	if r, ok := releaseAtOrBelow(product, b); ok {
		return r.Level.ServicePack
	}
	if product == "2007" {
		return b.Minor
	}
	return 0
}

// levelOf names a build's level for messages: "SP2 (6.5.7638.2)".
func levelOf(product string, b exchange.Build) string {
	return fmt.Sprintf("%s (%s)", spName(servicePackOf(product, b)), b)
}
