package exchange

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// This file sequences a service pack (and, on Exchange 2007, an update rollup) across the
// nodes of one cluster, in the orders below. The per-node procedure is the
// single-server one (planner.go, rules.go: pre-checks, backups, interim updates,
// third-party services, revocation check, the installer job, reboot, Exchange services,
// build check), run on a planning marked clusterNode; this file adds the cluster steps
// around it and decides which node goes when.
// The sequence of each cluster type is in its own file: cluster_2007.go (CCR/SCC),
// cluster_evs.go (2000/2003 EVS), cluster_55.go (5.5).
//
// The rules, by cluster type (seeds in brackets):
//
//   - Exchange 2007 CCR/SCC ("Service Packs für Exchange 2007"; "How to install the latest Service Pack or Update Rollup for Exchange 2007"): every passive node first (no cluster group owned,
//     on CCR "Enable Remote Streaming Backup" = 1, Setup.com /mode:upgrade, reboot); then the
//     downtime: stop the CMS on the active node, move it (stopped) to an upgraded node, run
//     Setup.com /upgradeCMS there, start it; then the old active node, now passive, as the
//     passive nodes. The cluster service is not stopped: 2007 setup does not ask for it.
//     An update rollup (after the service pack, or alone) goes on a node only while it is
//     truly passive: the passive nodes first, then the CMS moves (running: a short outage)
//     to a node with the rollup, then the old active node.
//   - Exchange 2000/2003 EVS (KB 328839): a node is installed only while it owns no group (the
//     EVSs and the cluster group are moved off it first) and with its cluster service
//     stopped (started again after the install, or on 2003 for the first upgraded node
//     only inside the EVS upgrade, as KB 328839 orders it). The first node to be upgraded
//     is a passive one (active/passive) or the one owning the fewest EVSs (active/active,
//     whose EVSs move to the other node first). Then every EVS comes onto the upgraded
//     node: on 2003 (service pack only) with "take every resource but IP address, physical
//     disk and network name offline", move, "Upgrade Exchange Virtual Server", bring it
//     online; on 2000 by a plain move. Then the other nodes. On 2003, a failover test of
//     every EVS ends it; an active/active cluster gets its EVSs back on their nodes.
//   - Exchange 5.5 (KB 328839): the active node first, with no failover or move of the group while
//     it runs, then the passive. The general rule ("stop the cluster service and its
//     dependent resources, moving the groups away first") and the 5.5 rule disagree on the
//     active node: moving its group away would make it passive, and stopping its cluster
//     service moves (fails over) every group it owns. Our reading: on
//     the active node setup runs with the group in place and the cluster service running;
//     5.5 setup stops the Exchange services and starts them again when it finishes (the
//     downtime); the group's resources are then brought online through the cluster (which
//     does nothing when setup brought them all back). The passive node, which owns nothing,
//     then follows the general rule: cluster service stopped, install, started.
//
// Every version: no reboot on a cluster node unless the installer asks (when=if_required),
// except the 2007 service pack (when=always, as on a single server) (KB 328839; "Service Packs für Exchange 2007").
//
// Safety: the plan never stops the cluster service of a node while another node's cluster
// service is stopped, or while a clustered server is not online or is owned by that node:
// stopping would move it or leave no node to run it. A plan that would have to is refused
// instead.
//
// Resume: a node at the target is not installed again (an install whose job finished while
// no apply watched is completed by finished(): reboot if asked, services, build check); the
// cluster steps still to do are planned from the facts — which node owns the clustered
// server, its state, which cluster services run, whether failover is blocked, and whether
// the clustered server itself was upgraded (see clusteredServerUpgraded).
//
// What the facts do not tell, and how it is handled:
//   - The owner of the cluster group (ClusterGroupName) is not reported: the plan moves it
//     off a node before installing on it; a move to where it is does nothing.
//   - The version of the CMS/EVS itself (what /upgradeCMS and "Upgrade Exchange Virtual
//     Server" raise) is read from ClusterFacts.NodeBuilds under the CMS/EVS name when the
//     probe reports it there; else it is inferred (clusteredServerUpgraded).
//   - Every node's facts list every Exchange group (ClusterFacts.Groups) with its owner and
//     preferred owners: an active/active cluster's EVSs are all known even when an
//     interrupted apply left them on one node, and each goes back to a node it prefers at
//     the end. Older facts name one group per node: the EVSs are then the distinct names
//     the nodes report, and an EVS no node names is not moved (the plan warns).

// Cluster types (ClusterFacts.Type).
const (
	clusterCCR           = "ccr"
	clusterSCC           = "scc"
	clusterActivePassive = "evs-active-passive"
	clusterActiveActive  = "evs-active-active"
	cluster55            = "cluster-5.5"
)

// clusterProducts is the product the nodes of each cluster type run.
var clusterProducts = map[string][]string{
	clusterCCR:           {"2007"},
	clusterSCC:           {"2007"},
	clusterActivePassive: {"2000", "2003"},
	clusterActiveActive:  {"2000", "2003"},
	cluster55:            {"5.5"},
}

// ClusterGroupName is the cluster's own group (cluster IP address and name, quorum disk and,
// on 2000/2003, MSDTC). A node is serviced only while it does not own it (KB 328839; "Service Packs für Exchange 2007").
const ClusterGroupName = "Cluster Group"

// Group states (ClusterFacts.GroupState).
const (
	groupOnline        = "Online"
	groupOffline       = "Offline"
	groupPartialOnline = "PartialOnline"
	groupFailed        = "Failed"
	groupPending       = "Pending"
)

// ClusterJobID is the id under which the executor records the job of an installing step of
// a cluster plan: JobID(s), then the clustered server it upgrades (upgrade_cms), then the
// step's node, in lower case, e.g. "install_service_pack-8.3.83.6-node2" or
// "upgrade_cms-8.3.83.6-cms1-node1", so that no two installs of one plan share an id. A step
// without a Server has JobID(s). The cluster planner looks up a node's job records
// (Facts.Job) by this id.
func ClusterJobID(s Step) string {
	id := JobID(s)
	if s.Server == "" {
		return id
	}
	if in, ok := s.Kind.(Installer); ok && in.Job().Group != "" {
		id += "-" + jobIDPart(in.Job().Group)
	}
	return id + "-" + jobIDPart(s.Server)
}

// jobIDPart is a name as a job id may hold it (letters, digits, '.', '_', '-'): lower
// case, anything else as '_'.
func jobIDPart(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '-':
			return r
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		}
		return '_'
	}, name)
}

// ClusterPlan is the ordered steps that bring every node of one cluster, and the clustered
// server itself, to the requested level.
type ClusterPlan struct {
	// Cluster is the CMS/EVS (or the requested cluster) name.
	Cluster string
	// Type is ccr, scc, evs-active-passive, evs-active-active or cluster-5.5.
	Type string
	// Steps run in order, each on its node (Step.Server).
	Steps []Step
	// Windows are the downtime windows: 1-based, inclusive step indexes [from, to] of each
	// run of steps during which a clustered server is unavailable to users (stopped, its
	// resources offline, or moving between nodes). Empty when there is none.
	Windows [][2]int
	// Warnings are advisable but not enforced.
	Warnings []string
	// Target is the release every node reaches; zero when nothing is installed.
	Target Release
}

// Empty reports whether the plan changes nothing.
func (p ClusterPlan) Empty() bool { return len(p.Steps) == 0 }

// Actions lists the steps' actions, for tests and compact logs.
func (p ClusterPlan) Actions() []string {
	out := make([]string, len(p.Steps))
	for i, s := range p.Steps {
		out[i] = s.Action()
	}
	return out
}

// PlanCluster plans a service pack (and optionally an update rollup, 2007) on every node of
// one cluster. nodes are the facts of every node (each has Facts.Cluster set, same
// cluster); the error, when not nil, is Refusals, every one found.
func PlanCluster(nodes []Facts, r ClusterRequest, cat *Catalog) (ClusterPlan, error) {
	if cat == nil {
		cat = DefaultCatalog()
	}
	c := &clusterPlanning{r: r, cat: cat, name: r.Cluster}
	fail := func() (ClusterPlan, error) {
		return ClusterPlan{Cluster: c.name, Type: c.typ}, c.refusals
	}
	if !c.readNodes(nodes) || !c.readGroups() {
		return fail()
	}
	targetsOK := c.targets()
	c.checkPaths()
	if !targetsOK {
		return fail()
	}
	c.classify()
	owner := c.groups[0].owner // as read: sequence moves the groups
	c.sequence()
	c.checkCMSKeys(owner)
	if len(c.refusals) > 0 {
		return fail()
	}
	var probed []Facts
	for _, n := range c.nodes {
		probed = append(probed, n.f)
	}
	c.steps, c.down = hoistPreflights(c.steps, c.down, probed)
	plan := ClusterPlan{Cluster: c.name, Type: c.typ, Steps: c.steps, Windows: c.windows(), Warnings: c.warningTexts()}
	if c.changed {
		plan.Target = c.sp
		if c.ru != nil {
			plan.Target = *c.ru
		}
	}
	return plan, nil
}

// clusterPlanning collects one cluster plan while it is made, and tracks what the cluster
// will be like at each point of it (owners, group states, cluster services, levels).
type clusterPlanning struct {
	r       ClusterRequest
	cat     *Catalog
	name    string // the cluster's name in messages and cluster-wide refusals
	typ     string
	product string
	info    productInfo

	nodes  []*clusterNode  // in the cluster's node order
	groups []*clusterGroup // the CMS, the EVS(s) or the 5.5 virtual server

	sp Release  // the service pack target
	ru *Release // the update rollup target (2007), nil for none

	refusals Refusals
	warnings []clusterWarning

	steps []Step
	down  []bool // per step: within a downtime window
	// core is the node this plan moved the cluster group to; "" while not known.
	core string
	// changed: the plan installs or upgrades something (or finishes what an interrupted
	// apply started).
	changed bool
}

// clusterNode is one node as the plan goes.
type clusterNode struct {
	name   string // Facts.Server
	f      Facts  // as probed
	cur    Facts  // as the node will be at this point of the plan
	liveSP int
	// spDone, ruDone: the node is at the target service pack / rollup (now, or once its
	// install planned so far has run).
	spDone, ruDone bool
	// skip: the node is refused (above the target, build unknown): nothing is planned on it.
	skip bool
	// running is its cluster service.
	running bool
}

// clusterGroup is a CMS/EVS group as the plan goes.
type clusterGroup struct {
	name  string
	owner string // node name
	home  string // the owner when planned
	state string // groupOnline, groupOffline, groupPartialOnline, groupFailed
	// upgraded: the clustered server itself is at the target service pack (/upgradeCMS,
	// Upgrade Exchange Virtual Server); true where there is nothing to upgrade.
	upgraded bool
	// adVersion is the build Active Directory records for the EVS (its server object's
	// serialNumber, 2000/2003); zero when no node could read it.
	adVersion Build
	blocked   bool // failover blocked
	resources []ClusterResource
	// downWithService: offline on an owner whose cluster service is stopped (no node was
	// left to take it); it comes back online when that service starts.
	downWithService bool
}

type clusterWarning struct{ node, text string }

// --- Reading the facts ---

func (c *clusterPlanning) label() string {
	if c.name != "" {
		return c.name
	}
	return "the cluster"
}

// refuse records a cluster refusal; server "" is the cluster.
func (c *clusterPlanning) refuse(server string, field Field, problem, action string) {
	if action != "" {
		action = strings.ToUpper(action[:1]) + action[1:]
	}
	if server == "" {
		server = c.label()
	}
	c.addRefusal(Refusal{Server: server, Field: field, Problem: problem, Action: action})
}

func (c *clusterPlanning) addRefusal(r Refusal) {
	for _, x := range c.refusals {
		if x == r {
			return
		}
	}
	c.refusals = append(c.refusals, r)
}

func (c *clusterPlanning) warn(node, format string, args ...any) {
	c.warnings = append(c.warnings, clusterWarning{node: node, text: fmt.Sprintf(format, args...)})
}

// absorb takes a node planning's refusals and warnings.
func (c *clusterPlanning) absorb(n *clusterNode, p *planning) {
	for _, r := range p.refusals {
		c.addRefusal(r)
	}
	for _, w := range p.warnings {
		c.warnings = append(c.warnings, clusterWarning{node: n.name, text: w})
	}
}

// readNodes checks that the facts are those of every node of one cluster and orders them
// as the cluster lists its nodes.
func (c *clusterPlanning) readNodes(facts []Facts) bool {
	if len(facts) == 0 {
		c.refuse("", "", "no node's facts were given", "this is a provider error: report it")
		return false
	}
	var first *Facts
	for i := range facts {
		f := &facts[i]
		if f.Cluster == nil {
			c.refuse(f.Server, "", fmt.Sprintf("the server is not a node of a cluster (its probe found none), but it was given as a node of %s", c.label()),
				"remove it from the cluster's nodes; a server that is not clustered is serviced with exchange_service_pack")
			continue
		}
		if first == nil && !dark(f.Cluster) {
			first = f
			c.typ, c.product = f.Cluster.Type, f.Product
			if c.name == "" {
				c.name = f.Cluster.Name
			}
		}
	}
	if len(c.refusals) > 0 {
		return false
	}
	if first == nil {
		c.refuse("", "", "the cluster service is stopped on every node given, so nothing of the cluster can be read (which node owns the clustered server, its state): every node would be down",
			"start the cluster service on the node that should run the clustered server, then plan again")
		return false
	}
	products, known := clusterProducts[c.typ]
	if !known {
		c.refuse(first.Server, "", fmt.Sprintf("the node reports cluster type %q, which this provider does not know (known: ccr, scc, evs-active-passive, evs-active-active, cluster-5.5)", c.typ),
			"check that the probe reads the cluster; if the type is real, update the provider")
		return false
	}
	for _, f := range facts {
		if f.Cluster.Type != c.typ && !dark(f.Cluster) {
			c.refuse(f.Server, "", fmt.Sprintf("the node reports cluster type %q, %s reports %q", f.Cluster.Type, first.Server, c.typ),
				"check that every node given is a node of the same cluster, then plan again")
		}
		if f.Product != c.product {
			c.refuse(f.Server, "", fmt.Sprintf("the node runs Exchange %q, %s runs Exchange %q: the nodes of one cluster run the same product", f.Product, first.Server, c.product),
				"check that every node given is a node of the same cluster, then plan again")
		}
	}
	if len(c.refusals) > 0 {
		return false
	}
	if !contains(products, c.product) {
		c.refuse("", "", fmt.Sprintf("the nodes run Exchange %q, but a %s cluster is an Exchange %s cluster", c.product, c.typ, strings.Join(products, " or ")),
			"check what the probe reads on the nodes, then plan again")
		return false
	}
	info, ok := productByName(c.product)
	if !ok {
		c.refuse("", "", fmt.Sprintf("the nodes report Exchange product %q, which this provider does not know (known: %s)", c.product, productNames()),
			"check that the nodes run Exchange 5.5, 2000, 2003 or 2007 and that the probe can read it")
		return false
	}
	c.info = info

	// Every node any node names must be given: a cluster is serviced with all its nodes.
	var declared []string
	for _, f := range facts {
		for _, n := range f.Cluster.Nodes {
			if indexFold(declared, n) < 0 {
				declared = append(declared, n)
			}
		}
	}
	byName := map[string]Facts{}
	for _, f := range facts {
		key := strings.ToLower(f.Server)
		if _, dup := byName[key]; dup {
			c.refuse(f.Server, "", "the node's facts were given twice", "this is a provider error: report it")
			continue
		}
		byName[key] = f
		if indexFold(declared, f.Server) < 0 {
			c.refuse(f.Server, "", fmt.Sprintf("the server is not one of the nodes of %s (%s)", c.label(), strings.Join(declared, ", ")),
				"give only the cluster's nodes")
		}
	}
	var missing []string
	for _, n := range declared {
		if _, ok := byName[strings.ToLower(n)]; !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		c.refuse("", "", fmt.Sprintf("the nodes of %s are %s, but no facts were read from %s: every node is upgraded, and the order depends on all of them",
			c.label(), strings.Join(declared, ", "), strings.Join(missing, ", ")),
			fmt.Sprintf("make %s reachable and plan again", strings.Join(missing, ", ")))
	}
	if len(c.refusals) > 0 {
		return false
	}
	for _, name := range declared {
		f := byName[strings.ToLower(name)]
		c.nodes = append(c.nodes, &clusterNode{name: f.Server, f: f, cur: f, running: f.Cluster.ClusterServiceRunning})
	}
	return true
}

// dark: the node's cluster service is stopped, so its probe could read nothing of the
// cluster but that (probe.ps1 reads the cluster through the local cluster service): no
// name, type, nodes or owner. The other nodes' facts tell those.
func dark(cf *ClusterFacts) bool {
	return !cf.ClusterServiceRunning && cf.Type == "" && cf.Name == "" && cf.ActiveNode == ""
}

// readGroups reads the CMS/EVS group(s): name, owner, state, resources, failover block and,
// on an active/active cluster, the node each EVS belongs on. Facts that list every group
// (ClusterFacts.Groups) give them all; older facts name one group per node, and an
// active/active cluster's EVSs are then the distinct names its nodes report.
func (c *clusterPlanning) readGroups() bool {
	before := len(c.refusals)
	owners := map[string][]string{} // group -> the owner each node reports, "node says X"
	preferred := map[string][]string{}
	var ref *clusterNode // the first node whose facts name the clustered server
	var refNames []string
	for _, n := range c.nodes {
		cf := n.f.Cluster
		if dark(cf) {
			continue
		}
		groups := cf.GroupsOf()
		if len(groups) == 0 {
			c.refuse(n.name, "", "the node's probe found no Exchange group (CMS, EVS or virtual server) in its cluster",
				"check the cluster (cluster.exe group) and plan again")
			continue
		}
		names := make([]string, len(groups))
		for i, g := range groups {
			names[i] = g.Name
		}
		if ref == nil {
			ref, refNames = n, names
		}
		listsAll := len(cf.Groups) > 0 && len(ref.f.Cluster.Groups) > 0
		if (listsAll || c.typ != clusterActiveActive) && !sameNames(names, refNames) {
			c.refuse(n.name, "", fmt.Sprintf("the node reports %s, %s reports %s", clusteredServers(names), ref.name, clusteredServers(refNames)),
				"check that every node given is a node of the same cluster, then plan again")
			continue
		}
		if len(groups) > 1 && (c.typ == clusterCCR || c.typ == clusterSCC || c.typ == cluster55) {
			c.refuse(n.name, "", fmt.Sprintf("the node reports %s, but a %s cluster runs one", clusteredServers(names), c.typ),
				"check what the probe reads on the node, then plan again")
			continue
		}
		if cf.ActiveNode != "" && cf.Active != strings.EqualFold(cf.ActiveNode, n.name) {
			role, says := "passive", "owned by it"
			if cf.Active {
				role, says = "active", "owned by "+cf.ActiveNode
			}
			c.refuse(n.name, "", fmt.Sprintf("the node reports itself as the %s node, but %s as %s: its facts contradict themselves", role, cf.Name, says),
				"plan again when the cluster has settled; if it persists, check what the probe reads")
			continue
		}
		for _, gf := range groups {
			c.readGroup(n, gf, owners, preferred)
		}
	}
	for _, g := range c.groups {
		// A group whose owner's cluster service is stopped waits there (no node was left to
		// take it): it comes back when that service starts.
		g.downWithService = !c.node(g.owner).running
		switch strings.ToLower(g.state) {
		case "", "online":
			// A probe that does not report the state is taken to see it online.
			g.state = groupOnline
		case "offline":
			g.state = groupOffline
		case "partialonline", "partial online":
			g.state = groupPartialOnline
		case "failed":
			g.state = groupFailed
		default:
			c.refuse(g.owner, "", fmt.Sprintf("%s is %s on %s: it is changing state now", g.name, g.state, g.owner),
				"plan again when the cluster has settled")
		}
	}
	if c.typ == clusterActiveActive {
		c.homes(preferred)
		if len(c.groups) == 1 && len(c.refusals) == before {
			c.warn("", "%s is an active/active cluster, but its nodes' facts name one Exchange Virtual Server only (%s, on %s): an EVS no node's facts name is not moved by this plan, and stopping the cluster service of the node that runs it fails it over; move every EVS to %s before applying, or check what the probe reads",
				c.label(), c.groups[0].name, c.groups[0].owner, c.groups[0].owner)
		}
	}
	return len(c.refusals) == before && len(c.groups) > 0
}

// readGroup takes one node's view of one group.
func (c *clusterPlanning) readGroup(n *clusterNode, gf ClusterGroupFacts, owners, preferred map[string][]string) {
	if gf.Owner == "" {
		c.refuse(n.name, "", fmt.Sprintf("the node's probe could not tell which node owns %s", gf.Name),
			"check the cluster (cluster.exe group) and plan again")
		return
	}
	owner := c.node(gf.Owner)
	if owner == nil {
		c.refuse(n.name, "", fmt.Sprintf("the node reports %s owned by %s, which is not a node of the cluster (%s)", gf.Name, gf.Owner, c.nodeNames()),
			"check the cluster and plan again")
		return
	}
	g := c.group(gf.Name)
	if g == nil {
		g = &clusterGroup{name: gf.Name, owner: owner.name, home: owner.name, upgraded: true}
		c.groups = append(c.groups, g)
	}
	key := strings.ToLower(g.name)
	owners[key] = append(owners[key], n.name+" says "+owner.name)
	if !strings.EqualFold(g.owner, owner.name) {
		c.refuse("", "", fmt.Sprintf("the nodes disagree on which node owns %s (%s): a failover may be under way",
			g.name, strings.Join(owners[key], ", ")),
			"plan again when the cluster has settled")
		return
	}
	if owner == n || len(g.resources) == 0 && g.state == "" {
		g.state, g.resources = gf.State, gf.Resources
	}
	g.blocked = g.blocked || gf.FailoverBlocked
	if b, ok := ParseADVersion(gf.ADVersion); ok && (c.product == "2000" || c.product == "2003") {
		g.adVersion = b
	}
	for _, p := range gf.PreferredOwners {
		if m := c.node(p); m != nil && indexFold(preferred[key], m.name) < 0 {
			preferred[key] = append(preferred[key], m.name)
		}
	}
}

// homes sets where each EVS of an active/active cluster belongs, which the plan returns it
// to at the end: a preferred owner no other EVS has taken (in the cluster's node order, as
// WMI gives preferred owners no order), else its first preferred owner, else where it runs
// now. An apply interrupted with both EVSs on one node thus puts them back on their nodes.
func (c *clusterPlanning) homes(preferred map[string][]string) {
	taken := map[string]bool{}
	for _, g := range c.groups {
		var pick string
		for _, n := range c.nodes {
			if indexFold(preferred[strings.ToLower(g.name)], n.name) < 0 {
				continue
			}
			if pick == "" {
				pick = n.name
			}
			if !taken[strings.ToLower(n.name)] {
				pick = n.name
				break
			}
		}
		if pick != "" {
			g.home = pick
		}
		taken[strings.ToLower(g.home)] = true
	}
}

// sameNames: a and b hold the same names, ignoring case and order.
func sameNames(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if indexFold(b, x) < 0 {
			return false
		}
	}
	return true
}

// clusteredServers names one or more clustered servers for a message.
func clusteredServers(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	if len(q) == 1 {
		return "clustered server " + q[0]
	}
	return "clustered servers " + strings.Join(q, ", ")
}

func (c *clusterPlanning) node(name string) *clusterNode {
	for _, n := range c.nodes {
		if strings.EqualFold(n.name, name) {
			return n
		}
	}
	return nil
}

func (c *clusterPlanning) group(name string) *clusterGroup {
	for _, g := range c.groups {
		if strings.EqualFold(g.name, name) {
			return g
		}
	}
	return nil
}

func (c *clusterPlanning) nodeNames() string {
	names := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		names[i] = n.name
	}
	return strings.Join(names, ", ")
}

// owned lists the groups n owns now (as the plan goes).
func (c *clusterPlanning) owned(n *clusterNode) []*clusterGroup {
	var out []*clusterGroup
	for _, g := range c.groups {
		if strings.EqualFold(g.owner, n.name) {
			out = append(out, g)
		}
	}
	return out
}

// targets resolves the requested service pack and rollup.
func (c *clusterPlanning) targets() bool {
	sp, err := c.cat.Find(c.product, c.r.ServicePack, 0, 0)
	if err != nil {
		c.refuse("", FieldServicePack, err.Error(), fmt.Sprintf("set service_pack to a level the catalog knows for Exchange %s", c.product))
		return false
	}
	c.sp = sp
	if c.r.Rollup == 0 && c.r.ReRelease == 0 && !c.r.Latest {
		return true
	}
	if !c.info.rollups {
		c.refuse("", FieldRollup, fmt.Sprintf("the cluster runs Exchange %s, which has no update rollups (only Exchange 2007 has them)", c.product),
			"remove update_rollup; hotfixes of older products are not planned on clusters by this resource")
		return false
	}
	var ru Release
	if c.r.Latest {
		ru, err = c.cat.Newest(c.product, sp.Level.ServicePack)
		if err == nil && ru.Level.UpdateRollup == 0 {
			c.refuse("", FieldRollup, fmt.Sprintf("the catalog has no update rollups for Exchange %s %s", c.product, spName(sp.Level.ServicePack)),
				"remove update_rollup or add the rollups to the catalog")
			return false
		}
	} else {
		ru, err = c.cat.Find(c.product, sp.Level.ServicePack, c.r.Rollup, c.r.ReRelease)
	}
	if err != nil {
		c.refuse("", FieldRollup, err.Error(), "set update_rollup to one the catalog knows for the service pack, or \"latest\"")
		return false
	}
	p := newPlanning(Facts{Server: c.label(), Product: c.product}, c.label(), c.r.Options, c.cat)
	if !p.rollupKB(&ru, c.r.KB) {
		for _, r := range p.refusals {
			c.addRefusal(r)
		}
		return false
	}
	c.ru = &ru
	if newest, err := c.cat.Newest(c.product, sp.Level.ServicePack); err == nil && newest.Level != ru.Level {
		c.warn("", "%s is not the newest rollup for %s: %s (%s) is; the newest rollup of the service pack is recommended",
			rollupName(ru.Level.UpdateRollup, ru.Level.ReRelease), spName(sp.Level.ServicePack), rollupName(newest.Level.UpdateRollup, newest.Level.ReRelease), newest.Build)
	}
	return true
}

// checkPaths refuses per-node paths for servers that are not nodes.
func (c *clusterPlanning) checkPaths() {
	for _, x := range []struct {
		attr  string
		field Field
		m     map[string]string
	}{{"node_media_paths", FieldNodeMediaPaths, c.r.NodeMediaPaths}, {"node_package_paths", FieldNodePackagePaths, c.r.NodePackagePaths}} {
		attr, m := x.attr, x.m
		var unknown []string
		for name := range m {
			if c.node(name) == nil {
				unknown = append(unknown, name)
			}
		}
		sort.Strings(unknown)
		if len(unknown) > 0 {
			c.refuse("", x.field, fmt.Sprintf("%s names %s, which %s not a node of %s (%s)", attr, quoteList(unknown), plural(len(unknown), "is", "are"), c.label(), c.nodeNames()),
				"name the nodes as the cluster does, or remove the entries")
		}
	}
}

func (c *clusterPlanning) mediaPath(n *clusterNode) string {
	for k, v := range c.r.NodeMediaPaths {
		if strings.EqualFold(k, n.name) && v != "" {
			return v
		}
	}
	return c.r.MediaPath
}

func (c *clusterPlanning) packagePath(n *clusterNode) string {
	for k, v := range c.r.NodePackagePaths {
		if strings.EqualFold(k, n.name) && v != "" {
			return v
		}
	}
	return c.r.PackagePath
}

// describeBuild is "Exchange 2007 SP1 (8.1.240.6)", or Describe's text for an inexact build.
func (c *clusterPlanning) describeBuild(f Facts) string {
	if rel, ok := LiveLevel(f, c.cat); ok {
		return fmt.Sprintf("%s (%s)", rel.Level, rel.Build)
	}
	b, err := ParseBuild(f.Build)
	if err != nil {
		return "build " + f.Build
	}
	return c.cat.Describe(b)
}

// classify reads each node's level against the targets and the cluster-wide refusals of
// A node above the target, events 1025 and c1037b44, a stale CMS key,
// hotfix 831464 on Windows Server 2003 (Exchange 2003).
func (c *clusterPlanning) classify() {
	target := c.sp.Level.ServicePack
	for _, n := range c.nodes {
		role := "the node"
		if len(c.owned(n)) > 0 {
			role = "the active node"
		}
		b, err := ParseBuild(n.f.Build)
		if err != nil {
			c.refuse(n.name, "", fmt.Sprintf("the live Exchange build could not be read: %v", err),
				"check that the probe can read the ExSetup.exe (2007) or STORE.EXE (5.5/2000/2003) file version")
			n.skip = true
			continue
		}
		sp, ok := liveServicePack(n.f, c.cat)
		if !ok {
			c.refuse(n.name, "", fmt.Sprintf("the live build is not a known Exchange %s build (%s): its service pack level cannot be told", c.product, c.cat.Describe(b)),
				"check the build the probe read; if it is a real release the catalog lacks, update the provider")
			n.skip = true
			continue
		}
		n.liveSP = sp
		if sp > target {
			c.refuse(n.name, FieldServicePack, fmt.Sprintf("%s runs %s, above the target %s: a service pack cannot be uninstalled", role, c.describeBuild(n.f), c.sp.Level),
				fmt.Sprintf("set service_pack = %d to bring every node to the level of %s (going back to %s means removing Exchange, reinstalling %s and restoring the databases from backup, which this provider does not do)",
					sp, n.name, spName(target), spName(target)))
			n.skip = true
			continue
		}
		n.spDone = sp == target
		n.ruDone = c.ru == nil
		if c.ru == nil || !n.spDone {
			continue
		}
		rel, exact := LiveLevel(n.f, c.cat)
		switch {
		case !exact:
			c.refuse(n.name, "", fmt.Sprintf("the live build %s is not in the catalog: the update rollup the node runs cannot be told", c.cat.Describe(b)),
				"find which update rollup the node runs (Installed Updates): if an interim update raised the build, remove it first; if it is a release the catalog lacks, update the provider")
			n.skip = true
		case rel.Level == c.ru.Level:
			n.ruDone = true
		case levelBefore(c.ru.Level, rel.Level):
			c.refuse(n.name, FieldRollup, fmt.Sprintf("%s runs %s, above the target %s: this resource does not uninstall update rollups on a cluster", role, c.describeBuild(n.f), c.ru.Level),
				fmt.Sprintf("set update_rollup to %s or later, or uninstall the rollups above the target on %s by hand while it is passive", FormatRollup(rel.Level.UpdateRollup, rel.Level.ReRelease), n.name))
			n.skip = true
		}
	}

	needsSP := false
	for _, n := range c.nodes {
		needsSP = needsSP || !n.skip && !n.spDone
	}
	for _, n := range c.nodes {
		for _, ev := range n.f.Cluster.Events {
			switch strings.ToLower(strings.TrimSpace(ev)) {
			case "1025":
				c.event1025(n)
			case "c1037b44":
				c.refuse(n.name, "", "error c1037b44 was logged on the node: \"the version of Exchange on this computer does not match\": the EVS sits on a node not yet upgraded, or the cluster administration tool runs on one (KB 328839)",
					"move the EVS to an upgraded node (and use Cluster Administrator on an upgraded node), then plan again")
			}
		}
		if c.product == "2003" && needsSP && windowsServer2003(n.f.OS) && !n.f.Prerequisites.IISCompressionHotfix831464 {
			c.refuse(n.name, "", "the node runs Windows Server 2003 without the IIS 6.0 compression hotfix 831464, which an Exchange 2003 cluster needs before its service pack (KB 328839)",
				"install hotfix 831464 and reboot, then plan again")
		}
	}
	for _, g := range c.groups {
		g.upgraded = c.clusteredServerUpgraded(g)
	}
}

// upgradesClusteredServer: the service pack also upgrades the CMS/EVS itself (2007:
// Setup.com /upgradeCMS; 2003: Upgrade Exchange Virtual Server). A 2000 EVS and a 5.5
// virtual server come up at the level of the node they come online on (KB 328839).
func (c *clusterPlanning) upgradesClusteredServer() bool {
	return c.product == "2007" || c.product == "2003"
}

// adServicePack is the service pack Active Directory records for EVS g (its server
// object's serialNumber, which "Upgrade Exchange Virtual Server" updates); false when no
// node read it or it is not a known build.
func (c *clusterPlanning) adServicePack(g *clusterGroup) (int, bool) {
	if g.adVersion.IsZero() {
		return 0, false
	}
	return liveServicePack(Facts{Product: c.product, Build: g.adVersion.String()}, c.cat)
}

// clusteredServerUpgraded tells whether the CMS/EVS itself is at the target service pack.
// The probe may report its build in ClusterFacts.NodeBuilds under the CMS/EVS name, and
// for an EVS the version Active Directory records (ClusterGroupFacts.ADVersion); when
// neither is there, the rule is: a clustered server on a node below the target is not
// upgraded (an upgraded one cannot run there); one online on an upgraded node is (a
// clustered server that was not upgraded does not come online on an upgraded node: event
// 1025, /upgradeCMS first); a 2003 EVS not online on an upgraded node is not; a CMS offline
// on an upgraded node is not while this plan's upgrade job is recorded on that node or
// another node is still below the target (an apply stopped inside the downtime window);
// else it is taken as upgraded, with a warning.
func (c *clusterPlanning) clusteredServerUpgraded(g *clusterGroup) bool {
	if !c.upgradesClusteredServer() {
		return true
	}
	if c.product == "2007" && c.node(g.owner).f.Setup.StaleCMSKey {
		// Its /upgradeCMS did not finish on the node that owns it (checkCMSKeys).
		return false
	}
	target := c.sp.Level.ServicePack
	for _, n := range c.nodes {
		for k, v := range n.f.Cluster.NodeBuilds {
			if !strings.EqualFold(k, g.name) {
				continue
			}
			if sp, ok := liveServicePack(Facts{Product: c.product, Build: v}, c.cat); ok {
				return sp >= target
			}
		}
	}
	if sp, ok := c.adServicePack(g); ok {
		return sp >= target
	}
	owner := c.node(g.owner)
	if owner.skip || !owner.spDone {
		return false
	}
	if g.state == groupOnline {
		return true
	}
	if c.product == "2003" {
		// Nothing read Active Directory: an EVS that is not online on an upgraded node is
		// taken as not upgraded, and the plan stops at the manual upgrade step, whose
		// instructions say to bring it online if it was upgraded already (once online on an
		// upgraded node it is known to be upgraded: event 1025 keeps one that is not offline).
		return false
	}
	if _, ok := owner.f.Job(ClusterJobID(c.upgradeStep(g, owner))); ok {
		return false
	}
	for _, n := range c.nodes {
		if !n.skip && !n.spDone {
			return false
		}
	}
	c.warn("", "%s is %s on %s, which runs the target %s, and no facts tell whether it was upgraded: it is taken as upgraded and left as it is; bring it online when ready",
		g.name, g.state, owner.name, spName(target))
	return true
}

// --- Emitting steps ---

// unavailable: some clustered server is not online now (as the plan goes).
func (c *clusterPlanning) unavailable() bool {
	for _, g := range c.groups {
		if g.state != groupOnline {
			return true
		}
	}
	return false
}

// clusterStep adds a cluster step: change updates the tracked cluster state. The step is
// in a downtime window when a clustered server is unavailable before or after it, or when
// outage is set (a running clustered server moves: a short outage).
func (c *clusterPlanning) clusterStep(s Step, outage bool, change func()) {
	before := c.unavailable()
	if change != nil {
		change()
	}
	down := before || outage || c.unavailable()
	s.Downtime = down
	c.steps = append(c.steps, s)
	c.down = append(c.down, down)
}

// nodeSteps adds a node's procedure, each step named for the reviewer with what the node
// is in the sequence.
func (c *clusterPlanning) nodeSteps(n *clusterNode, label string, steps []Step) {
	for _, s := range steps {
		s.Server = n.name
		if c.typ != clusterCCR && c.typ != clusterSCC && s.Action() == ActionStartExchangeServices {
			// On 2000/2003/5.5 the Information Store, System Attendant, ... of a virtual
			// server are cluster resources: the cluster starts them where the group runs
			// (KB 328839); exchange_services.ps1 leaves them alone on a node
			// with the cluster service.
			s.Kind = StartExchangeServices{ClusterNode: true}
			s.Description = "give every Exchange service the install left Disabled its start mode back (as the servicing lock recorded it; Manual for the virtual server's services) and start the node's other Exchange and IIS services that should run; " +
				"the Exchange services that are resources of the virtual server (they start Manual) are not started here: they come online through the cluster, where the group runs (bringing the group online, or moving it to this node)"
		}
		s.Description = label + ": " + s.Description
		c.steps = append(c.steps, s)
		c.down = append(c.down, c.unavailable())
	}
}

// moveGroup moves g to node to (which must run its cluster service), run on to. A running
// clustered server's move is a short outage.
func (c *clusterPlanning) moveGroup(g *clusterGroup, to *clusterNode, why string) {
	if strings.EqualFold(g.owner, to.name) {
		return
	}
	if !to.running {
		c.unsafe(to, fmt.Sprintf("move %s to %s, whose cluster service is stopped", g.name, to.name))
		return
	}
	from := g.owner
	what := "move"
	if g.state == groupOnline {
		what = "move the running"
	}
	c.clusterStep(Step{Kind: MoveClusterGroup{Group: g.name, To: to.name}, Server: to.name,
		Description: fmt.Sprintf("%s %s from %s to %s: %s", what, g.name, from, to.name, why)},
		g.state == groupOnline, func() { g.owner = to.name })
}

// moveCoreOff makes sure n does not own the cluster group before it is serviced: moved to
// to. The probe does not report its owner, so the move is planned unless this plan already
// put it elsewhere; a move to where it is does nothing.
func (c *clusterPlanning) moveCoreOff(n, to *clusterNode, why string) {
	if !n.running || c.core != "" && !strings.EqualFold(c.core, n.name) {
		return // a node whose cluster service is stopped owns no group
	}
	if to == nil || !to.running {
		c.unsafe(n, "move the cluster group off "+n.name+", with no other node running its cluster service")
		return
	}
	holds := "cluster name, quorum"
	if c.product == "2000" || c.product == "2003" {
		holds += ", MSDTC"
	}
	c.clusterStep(Step{Kind: MoveClusterGroup{Group: ClusterGroupName, To: to.name}, Server: to.name,
		Description: fmt.Sprintf("make sure %s owns no cluster group: move %q (%s) to %s, if it is not there already: %s",
			n.name, ClusterGroupName, holds, to.name, why)},
		false, func() { c.core = to.name })
}

// stopClusterService stops n's cluster service. It refuses (unsafe) when another node's
// cluster service is stopped, a clustered server is not online, or n owns one: stopping the
// cluster service moves every group the node owns to another node, so no
// plan counts on a group staying on it.
func (c *clusterPlanning) stopClusterService(n *clusterNode, why string) {
	if !n.running {
		return
	}
	for _, m := range c.nodes {
		if m != n && !m.running {
			c.unsafe(n, fmt.Sprintf("stop the cluster service on %s while it is stopped on %s", n.name, m.name))
			return
		}
	}
	for _, g := range c.groups {
		if g.state != groupOnline {
			c.unsafe(n, fmt.Sprintf("stop the cluster service on %s while %s is %s on %s", n.name, g.name, g.state, g.owner))
			return
		}
		if strings.EqualFold(g.owner, n.name) {
			// Stopping it would move the group to another node: the plan
			// moves it first, on purpose, or does not stop the service.
			c.unsafe(n, fmt.Sprintf("stop the cluster service on %s while it owns %s", n.name, g.name))
			return
		}
	}
	c.clusterStep(Step{Kind: StopClusterService{}, Server: n.name, Description: fmt.Sprintf("stop the cluster service on %s: %s", n.name, why)},
		false, func() {
			n.running = false
			if strings.EqualFold(c.core, n.name) {
				c.core = ""
			}
		})
}

// startClusterService starts n's cluster service (nothing when it runs).
func (c *clusterPlanning) startClusterService(n *clusterNode, why string) {
	if n.running {
		return
	}
	c.changed = true
	c.clusterStep(Step{Kind: StartClusterService{}, Server: n.name, Description: fmt.Sprintf("start the cluster service on %s: %s", n.name, why)},
		false, func() {
			n.running = true
			for _, g := range c.owned(n) {
				if g.downWithService {
					g.state, g.downWithService = groupOnline, false
				}
			}
		})
}

// unsafe refuses a step that would leave the cluster without a node to run it.
func (c *clusterPlanning) unsafe(n *clusterNode, what string) {
	c.refuse(n.name, "", fmt.Sprintf("the plan would have to %s: the cluster could be left without a node to run its clustered server", what),
		"start the cluster service on every node and bring the clustered server online on its node (or finish by hand what an earlier apply left), then plan again")
}

// runningNode is a node other than n whose cluster service runs, preferring the owner of a
// group (where n's cluster group goes), then the first in the cluster's order.
func (c *clusterPlanning) runningNode(n *clusterNode) *clusterNode {
	for _, g := range c.groups {
		if o := c.node(g.owner); o != n && o.running {
			return o
		}
	}
	for _, m := range c.nodes {
		if m != n && m.running {
			return m
		}
	}
	return nil
}

// upgradedNode is the first node other than except at the target (service pack, or rollup
// when rollup), preferring one whose cluster service runs; nil when none is.
func (c *clusterPlanning) upgradedNode(except *clusterNode, rollup bool) *clusterNode {
	var stopped *clusterNode
	for _, n := range c.nodes {
		done := n.spDone
		if rollup {
			done = n.ruDone
		}
		if n == except || n.skip || !done {
			continue
		}
		if n.running {
			return n
		}
		if stopped == nil {
			stopped = n
		}
	}
	return stopped
}

// --- Per-node procedures ---

func (c *clusterPlanning) nodePlanning(n *clusterNode, f Facts) *planning {
	p := newPlanning(f, n.name, c.r.Options, c.cat)
	p.clusterNode = true
	return p
}

// installServicePack plans the single-server service pack procedure on n.
func (c *clusterPlanning) installServicePack(n *clusterNode, label string) {
	p := c.nodePlanning(n, n.cur)
	p.runsSetup = true
	targetName := fmt.Sprintf("Exchange %s %s", c.product, spName(c.sp.Level.ServicePack))
	removeIUs := p.preChecks("exchange_cluster_upgrade", scopeServicing, c.sp.Level.ServicePack, targetName)
	media := c.mediaPath(n)
	if media == "" {
		p.refuse(FieldMediaPath, fmt.Sprintf("media_path is not set (nor node_media_paths for %s), and the plan installs %s on it", n.name, targetName),
			fmt.Sprintf("set media_path (or node_media_paths[%q]) to the folder with the %s setup on the node or a share it can read", n.name, targetName))
	}
	if len(n.cur.UMLanguagePacks) > 0 {
		p.refuse("", fmt.Sprintf("the node has UM language packs %s, which a service pack needs removed and added again; a cluster node holds the Mailbox role only, and this resource does not manage them",
			strings.Join(n.cur.UMLanguagePacks, ", ")),
			"remove the UM language packs from the node by hand (Setup.com /RemoveUmLanguagePack), then plan again")
	}
	core := []Step{p.servicePackStep(c.info, c.sp, media)}
	if c.typ == clusterCCR {
		// CCR ("Service Packs für Exchange 2007"): the passive node gets "Enable Remote Streaming Backup" = 1 before
		// setup (CCR reseeding needs it); the service pack resets it, so assemble sets it
		// again after the install.
		on := true
		p.f.RemoteStreamingBackup = &on
		core = append([]Step{{Kind: SetRemoteStreamingBackup{},
			Description: "set Enable Remote Streaming Backup = 1 (MSExchangeIS ParametersSystem) before the service pack: CCR reseeding needs it (\"Service Packs für Exchange 2007\")"},
			startFirewallStep()}, core...)
	}
	reboot := RebootIfRequired // every version: no reboot on a cluster node unless asked (KB 328839)
	if c.product == "2007" {
		reboot = RebootAlways // as on a single server ("Service Packs für Exchange 2007")
	}
	steps := p.assemble(procedure{servicePack: true, removeIUs: removeIUs, core: core, installs: true, rebootWhen: reboot, verify: &c.sp})
	if c.typ == clusterCCR {
		steps = withFirewallRestored(steps)
	}
	p.servicePackWarnings(n.liveSP, c.sp)
	c.absorb(n, p)
	c.nodeSteps(n, label, steps)
	after := p.after(c.sp, removeIUs)
	after.UpdateRollups = nil // the rollup level starts again from zero
	after.Leftovers = Leftovers{}
	after.Jobs = nil // the install (attached to or not) has finished; no later job can predate it
	after.Setup.Watermarks = nil
	n.cur, n.spDone, c.changed = after, true, true
}

// installUpdateRollup plans the single-server rollup procedure on n (2007).
func (c *clusterPlanning) installUpdateRollup(n *clusterNode, label string) {
	p := c.nodePlanning(n, n.cur)
	ru := *c.ru
	removeIUs := p.preChecks("exchange_cluster_upgrade", scopeServicing, ru.Level.ServicePack, ru.Level.String())
	pkg := c.packagePath(n)
	if pkg == "" {
		p.refuse(FieldPackagePath, fmt.Sprintf("package_path is not set (nor node_package_paths for %s), and the plan installs %s on it", n.name, ru.Level),
			fmt.Sprintf("set package_path (or node_package_paths[%q]) to the %s .msp on the node or a share it can read", n.name, ru.Level))
	}
	steps := p.assemble(procedure{removeIUs: removeIUs, core: []Step{p.rollupStep(ru, pkg)}, installs: true, rebootWhen: RebootIfRequired, verify: &ru})
	c.absorb(n, p)
	c.nodeSteps(n, label, steps)
	after := p.after(ru, removeIUs)
	after.UpdateRollups = append([]InstalledUpdate(nil), InstalledUpdate{KB: ru.KB, DisplayName: rollupDisplayName(ru.Level, ru.KB)})
	after.Leftovers = Leftovers{}
	after.Jobs = nil
	after.Setup.Watermarks = nil
	n.cur, n.ruDone, c.changed = after, true, true
}

// finishNode plans what is left on a node already at the target: the rest of an install
// that finished while no apply watched, and what an interrupted apply left (finished()).
func (c *clusterPlanning) finishNode(n *clusterNode) {
	p := c.nodePlanning(n, n.f)
	// At the target build, an interrupted setup's values (or a setup that is not ours
	// running) say the node is not finished: refused by name, as on a single server
	// without the opt-in (a cluster plan does not clear them).
	p.rerunSetup = true
	p.checkSetupState()
	live, _ := ParseBuild(n.f.Build)
	var after []afterInstall
	if c.ru != nil && n.ruDone {
		after = append(after, afterInstall{job: ClusterJobID(Step{Kind: InstallUpdateRollup{Build: c.ru.Build}, Server: n.name}),
			what: "the update rollup install", build: live})
	}
	after = append(after, afterInstall{job: ClusterJobID(Step{Kind: InstallServicePack{Build: c.sp.Build}, Server: n.name}),
		what: "the service pack install", build: live, servicePack: true})
	plan := p.finished(after...)
	if j, ok := n.f.Job(after[len(after)-1].job); ok && j.State == JobSucceeded && c.typ == clusterCCR &&
		(n.f.RemoteStreamingBackup == nil || !*n.f.RemoteStreamingBackup) {
		// The service pack reset Enable Remote Streaming Backup, which CCR reseeding needs
		// ("Service Packs für Exchange 2007"): set it before the build check.
		rsb := Step{Kind: SetRemoteStreamingBackup{},
			Description: "re-apply Enable Remote Streaming Backup = 1; the service pack resets it and CCR reseeding needs it (\"Service Packs für Exchange 2007\")"}
		at := len(plan.Steps)
		if at > 0 && plan.Steps[at-1].Action() == ActionVerifyBuild {
			at--
		}
		plan.Steps = append(plan.Steps[:at], append([]Step{rsb}, plan.Steps[at:]...)...)
		// finished() advises setting it by hand; the step does it.
		var kept []string
		for _, w := range p.warnings {
			if !strings.Contains(w, "Enable Remote Streaming Backup") {
				kept = append(kept, w)
			}
		}
		p.warnings = kept
	}
	if c.typ == clusterCCR && n.f.Leftovers.FirewallStarted {
		// An earlier apply started the firewall for setup and did not put it back.
		plan.Steps = withFirewallRestored(plan.Steps)
	}
	c.absorb(n, p)
	if slices.ContainsFunc(plan.Steps, func(s Step) bool { return s.Action() == ActionReboot }) {
		if g, ok := n.f.Cluster.ServedBy(n.name); ok {
			// The executor refuses that restart (servicing's reboot); the reviewer should
			// know before the window.
			c.warn(n.name, "%s runs %s now: the reboot after the earlier install runs only if one is pending, and then the apply stops instead of restarting %s; move %s to another node first to let it run",
				n.name, g.Name, n.name, g.Name)
		}
	}
	for _, s := range plan.Steps {
		c.changed = c.changed || s.Action() == ActionVerifyBuild // an install is being finished
	}
	c.nodeSteps(n, "node "+n.name+" (already at the target)", plan.Steps)
	n.cur = plan.After
}

// upgradeStep is the installer step that upgrades the clustered server g on node n:
// Setup.com /upgradeCMS (2007) or Upgrade Exchange Virtual Server (2003).
func (c *clusterPlanning) upgradeStep(g *clusterGroup, n *clusterNode) Step {
	if c.product == "2007" {
		media := c.mediaPath(n)
		return Step{Kind: UpgradeCMS{Group: g.name, MediaPath: media, Build: c.sp.Build}, Server: n.name, Downtime: true,
			Description: fmt.Sprintf("run Setup.com /upgradeCMS from %s on %s, which owns the stopped %s: it upgrades the clustered mailbox server to %s (%s) (\"Service Packs für Exchange 2007\")",
				media, n.name, g.name, c.sp.Level, c.sp.Build)}
	}
	return Step{Kind: UpgradeEVSManually{Group: g.name, Build: c.sp.Build}, Server: n.name, Downtime: true,
		Description: fmt.Sprintf("MANUAL STEP, by an administrator: in Cluster Administrator on %s, right-click the System Attendant resource of %s and choose \"Upgrade Exchange Virtual Server\", then bring its resources online; no command line for it is documented, so the apply stops here with these instructions unless Active Directory already records %s at %s, and the next apply continues. %s now runs on the upgraded node %s with only its IP address, physical disk and network name online (and MSDTC), as the upgrade needs",
			n.name, g.name, g.name, c.sp.Build, g.name, n.name)}
}

// upgradeJob plans the upgrade of CMS g on n as an installer job, attached to a running or
// finished one of an earlier apply; the node's setup state is checked when no install
// of its own does.
func (c *clusterPlanning) upgradeJob(g *clusterGroup, n *clusterNode) Step {
	p := c.nodePlanning(n, n.cur)
	p.rerunSetup = n.spDone // as finishNode words it, so that the refusal is given once
	p.checkSetupState()
	s := p.jobStep(c.upgradeStep(g, n), "Setup.com /upgradeCMS of "+g.name)
	c.absorb(n, p)
	refused := false
	for _, r := range c.refusals {
		refused = refused || r.Server == n.name && r.Field == FieldMediaPath
	}
	if c.product == "2007" && c.mediaPath(n) == "" && !refused {
		c.refuse(n.name, FieldMediaPath, fmt.Sprintf("media_path is not set (nor node_media_paths for %s), and the plan runs Setup.com /upgradeCMS on it", n.name),
			fmt.Sprintf("set media_path (or node_media_paths[%q]) to the folder with the service pack's setup", n.name))
	}
	return s
}

// --- Sequences ---

func (c *clusterPlanning) sequence() {
	for _, n := range c.nodes {
		if !n.skip && n.spDone {
			c.finishNode(n)
		}
	}
	switch c.typ {
	case clusterCCR, clusterSCC:
		c.allowLeftoverBlocks()
		c.sequence2007()
	case clusterActivePassive, clusterActiveActive:
		c.allowLeftoverBlocks()
		c.sequenceEVS()
	case cluster55:
		c.sequence55()
	}
}

// allowLeftoverBlocks allows failover of a group an interrupted apply left blocked (only
// 5.5 plans block it).
func (c *clusterPlanning) allowLeftoverBlocks() {
	for _, g := range c.groups {
		if g.blocked {
			on := c.node(g.owner)
			if r := c.runningNode(on); !on.running && r != nil {
				on = r // cluster operations run on a node whose cluster service runs
			}
			c.allowFailover(g, on, "an earlier apply blocked it and was interrupted")
		}
	}
}

func (c *clusterPlanning) allowFailover(g *clusterGroup, on *clusterNode, why string) {
	c.changed = true
	c.clusterStep(Step{Kind: AllowFailover{Group: g.name}, Server: on.name,
		Description: fmt.Sprintf("allow %s to fail over again: %s", g.name, why)}, false, func() { g.blocked = false })
}

// freeNode moves every group off n and stops its cluster service, before its install:
// every version (KB 328839).
func (c *clusterPlanning) freeNode(n *clusterNode, spLabel string) {
	for _, g := range c.owned(n) {
		to := c.upgradedNode(n, false)
		if to == nil || !to.running {
			to = c.collector(n)
		}
		if to == nil {
			c.unsafe(n, fmt.Sprintf("move %s off %s with no other node running its cluster service", g.name, n.name))
			return
		}
		c.moveGroup(g, to, fmt.Sprintf("%s is upgraded only while it owns no Exchange Virtual Server: move every EVS to one node, upgrade the free node", n.name))
	}
	c.moveCoreOff(n, c.runningNode(n), fmt.Sprintf("%s owns no group while it is upgraded", n.name))
	c.stopClusterService(n, fmt.Sprintf("the cluster service and its dependent resources are stopped before %s is installed on a cluster node", spLabel))
}

// collector is the node other than n whose cluster service runs and that owns the most
// groups (active/active: where every EVS gathers while the free node is upgraded).
func (c *clusterPlanning) collector(n *clusterNode) *clusterNode {
	var best *clusterNode
	for _, m := range c.nodes {
		if m == n || !m.running {
			continue
		}
		if best == nil || len(c.owned(m)) > len(c.owned(best)) {
			best = m
		}
	}
	return best
}

func (c *clusterPlanning) bringOnline(g *clusterGroup, on *clusterNode, why string) {
	c.changed = true
	c.clusterStep(Step{Kind: BringGroupOnline{Group: g.name}, Server: on.name,
		Description: fmt.Sprintf("bring every resource of %s online on %s: %s", g.name, on.name, why)},
		false, func() { g.state = groupOnline })
}

// startStoppedNodes starts the cluster service of every node at the target whose service
// is stopped.
func (c *clusterPlanning) startStoppedNodes(why string) {
	for _, n := range c.nodes {
		if !n.skip && n.spDone && !n.running {
			c.startClusterService(n, why)
		}
	}
}

// --- Output ---

// windows are the runs of consecutive steps within a downtime window, 1-based.
func (c *clusterPlanning) windows() [][2]int {
	var out [][2]int
	for i, d := range c.down {
		if !d {
			continue
		}
		if n := len(out); n > 0 && out[n-1][1] == i {
			out[n-1][1] = i + 1
			continue
		}
		out = append(out, [2]int{i + 1, i + 1})
	}
	return out
}

// warningTexts gives each warning once: plain when the cluster or every node gave it,
// else naming the nodes that did.
func (c *clusterPlanning) warningTexts() []string {
	var order []string
	by := map[string][]string{}
	for _, w := range c.warnings {
		if _, seen := by[w.text]; !seen {
			order = append(order, w.text)
			by[w.text] = []string{}
		}
		if w.node == "" {
			by[w.text] = append(by[w.text], "")
		} else if indexFold(by[w.text], w.node) < 0 {
			by[w.text] = append(by[w.text], w.node)
		}
	}
	var out []string
	for _, text := range order {
		nodes := by[text]
		if indexFold(nodes, "") >= 0 || len(nodes) == len(c.nodes) {
			out = append(out, text)
			continue
		}
		out = append(out, fmt.Sprintf("%s %s: %s", plural(len(nodes), "node", "nodes"), strings.Join(nodes, ", "), text))
	}
	return out
}

func indexFold(list []string, s string) int {
	for i, x := range list {
		if strings.EqualFold(x, s) {
			return i
		}
	}
	return -1
}

func contains(list []string, s string) bool { return indexFold(list, s) >= 0 }

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
