package simulator

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
)

// The cluster model (domain.md §6): one LiveCluster per fleet cluster, shared by its nodes.
// It holds the Exchange groups — the CMS (2007), the EVSs (2000/2003: one, or on an
// active/active cluster one per node) or the 5.5 virtual server, each named after its
// network name and each with the build it was last upgraded for — and the cluster's own
// "Cluster Group"; every group with an owner node, resources and a failover block; per
// node, whether its cluster service runs and the events it logged since its last boot.
// docs/simulator.md, "Clusters", states the rules; cluster.ps1, job_start.ps1 and probe.ps1
// are mirrored for what they check and answer.

// Resource types of the simulated cluster groups (exchange.ClusterResource.Type), as
// Windows and Exchange name them.
const (
	ResourceIPAddress        = "IP Address"
	ResourcePhysicalDisk     = "Physical Disk"
	ResourceNetworkName      = "Network Name"
	ResourceMSDTC            = "Distributed Transaction Coordinator"
	ResourceSystemAttendant  = "Microsoft Exchange System Attendant"
	ResourceInformationStore = "Microsoft Exchange Information Store"
	ResourceRoutingEngine    = "Microsoft Exchange Routing Engine"
	ResourceMTA              = "Microsoft Exchange Message Transfer Agent"
	ResourceSMTP             = "SMTP Server Instance"
	ResourceDirectory        = "Microsoft Exchange Directory"
)

// States of groups (exchange.ClusterFacts.GroupState) and resources.
const (
	StateOnline        = "Online"
	StateOffline       = "Offline"
	StatePartialOnline = "PartialOnline"
	StateFailed        = "Failed"
)

// ClusterGroupName is the name of the cluster's own group: cluster IP address and name,
// quorum disk and, on Exchange 2000/2003 clusters, MSDTC.
const ClusterGroupName = "Cluster Group"

// Events the simulated nodes log (exchange.ClusterFacts.Events), in the order the probe
// lists them.
const (
	// EventMustBeUpgraded is MSExchangeCluster event 1025: an Exchange 2003 EVS tried to
	// come online on a node with a newer service pack before "Upgrade Exchange Virtual
	// Server".
	EventMustBeUpgraded = "1025"
	// EventVersionMismatch is error c1037b44: an EVS tried to come online on a node with an
	// older service pack than the one it was upgraded for.
	EventVersionMismatch = "c1037b44"
)

// clusterActions are OpCluster's actions, in cluster.ps1's order.
var clusterActions = []string{
	wire.ClusterMoveGroup, wire.ClusterStopService, wire.ClusterStartService, wire.ClusterStopCMS, wire.ClusterStartCMS,
	wire.ClusterOfflineEVSResources, wire.ClusterOnlineGroup, wire.ClusterBlockFailover, wire.ClusterAllowFailover,
}

// What cluster.ps1 and job_start.ps1 accept as group and node names ($ExClusterGroupPattern,
// $ExClusterNodePattern; \w of .NET is a letter, a decimal digit, a mark or a connector).
var (
	clusterGroupRE = regexp.MustCompile(`^[\p{L}\p{Mn}\p{Nd}][\p{L}\p{Mn}\p{Nd}\p{Pc} .()#,&+\-]{0,127}$`)
	clusterNodeRE  = regexp.MustCompile(`^[\p{L}\p{Mn}\p{Nd}][\p{L}\p{Mn}\p{Nd}\p{Pc}\-]{0,62}$`)
)

// evsBaseTypes are the resource types an EVS keeps online for its upgrade
// ($ExEvsBaseResourceTypes): IP address, physical disk, network name.
func isBase(r exchange.ClusterResource) bool {
	return r.Type == ResourceIPAddress || r.Type == ResourcePhysicalDisk || r.Type == ResourceNetworkName
}

// isExchange: a resource whose type names Exchange (Test-ExExchangeResourcesOffline).
func isExchange(r exchange.ClusterResource) bool { return strings.Contains(r.Type, "Exchange") }

// clusterGroup is one cluster group.
type clusterGroup struct {
	name      string
	owner     string
	resources []exchange.ClusterResource
	blocked   bool
	// resume are the resources that were online (or failed) when the owner's cluster
	// service stopped with no node to fail over to: they come online again when a cluster
	// service starts and takes the group (nil: nothing to resume).
	resume map[string]bool
	// upgraded is the build an Exchange group (CMS/EVS) was last upgraded for; unused for
	// the cluster group.
	upgraded exchange.Build
	// preferred are an Exchange group's preferred owner nodes: its fleet active node (where
	// an active/active cluster runs it). Moves do not change them.
	preferred []string
}

// LiveCluster is one CMS (2007), EVS (2000/2003) or Exchange 5.5 cluster as the simulator
// runs it, shared by its nodes so that what one node does every node sees. It is safe for
// concurrent use. Get it with (*Simulator).Cluster or (*Host).Cluster.
type LiveCluster struct {
	name string // the fleet's name: the first CMS/EVS
	// clusterName is the Windows cluster's own name; "" when the fleet states none.
	clusterName string
	typ         string
	product     string
	nodes       []string
	// hosts are the nodes' hosts by lower-case name; set as the hosts are made.
	hosts map[string]*Host

	// opMu serialises what changes the cluster from outside a host's lock (cluster
	// operations, nodes going down and coming back). Lock order: opMu, then one host's
	// mutex at a time, then mu; a host's mutex may be held while taking mu, never the
	// other way round.
	opMu sync.Mutex

	mu sync.Mutex
	// groups are the Exchange groups (CMS/EVSs) in the fleet's order; never empty.
	groups  []*clusterGroup
	core    clusterGroup        // the cluster group
	service map[string]bool     // lower-case node -> cluster service running
	events  map[string][]string // lower-case node -> event ids since its last boot
	// standingBy: an administrator upgrades each EVS as soon as it can be (evs.go).
	standingBy bool
}

// newLiveCluster builds cluster c of a fleet whose servers are servers: every node's
// cluster service running, every Exchange group online on its active node and upgraded for
// that node's build, the cluster group on the cluster's active node.
func newLiveCluster(c Cluster, servers []Server) *LiveCluster {
	lc := &LiveCluster{name: c.Name, clusterName: c.ClusterName, typ: c.Type, nodes: slices.Clone(c.Nodes), hosts: map[string]*Host{},
		service: map[string]bool{}, events: map[string][]string{}}
	buildOf := map[string]exchange.Build{}
	for _, s := range servers {
		buildOf[strings.ToLower(s.Name)] = s.Build
		if strings.EqualFold(s.Name, c.Active) {
			lc.product = s.Product
		}
	}
	switch c.Type {
	case "ccr", "scc":
		lc.product = "2007"
	case "cluster-5.5":
		lc.product = "5.5"
	}
	for _, n := range lc.nodes {
		lc.service[strings.ToLower(n)] = true
	}
	for _, vs := range c.ExchangeGroups() {
		lc.groups = append(lc.groups, &clusterGroup{name: vs.Name, owner: vs.Active, preferred: []string{vs.Active},
			resources: defaultResources(vs.Name, c.Type, lc.product), upgraded: buildOf[strings.ToLower(vs.Active)]})
	}
	core := []exchange.ClusterResource{
		{Name: "Cluster IP Address", Type: ResourceIPAddress},
		{Name: "Cluster Name", Type: ResourceNetworkName},
		{Name: "Disk Q:", Type: ResourcePhysicalDisk},
	}
	if lc.product == "2000" || lc.product == "2003" {
		core = append(core, exchange.ClusterResource{Name: "MSDTC", Type: ResourceMSDTC})
	}
	lc.core = clusterGroup{name: ClusterGroupName, owner: c.Active, resources: core}
	for _, g := range lc.allGroupsLocked() {
		setAll(g, StateOnline)
	}
	return lc
}

// allGroupsLocked are the Exchange groups in the fleet's order, then the cluster group.
func (c *LiveCluster) allGroupsLocked() []*clusterGroup {
	return append(slices.Clone(c.groups), &c.core)
}

// isExchangeGroup: g is a CMS/EVS group, not the cluster group.
func (c *LiveCluster) isExchangeGroup(g *clusterGroup) bool { return g != nil && g != &c.core }

// defaultResources are the resources of a CMS/EVS group, named after it.
func defaultResources(name, typ, product string) []exchange.ClusterResource {
	r := func(n, t string) exchange.ClusterResource { return exchange.ClusterResource{Name: n, Type: t} }
	switch product {
	case "2007":
		rs := []exchange.ClusterResource{r("IP Address ("+name+")", ResourceIPAddress)}
		if typ == "scc" {
			rs = append(rs, r("Disk S: ("+name+")", ResourcePhysicalDisk))
		}
		return append(rs,
			r("Network Name ("+name+")", ResourceNetworkName),
			r("Exchange System Attendant Instance ("+name+")", ResourceSystemAttendant),
			r("Exchange Information Store Instance ("+name+")", ResourceInformationStore))
	case "5.5":
		return []exchange.ClusterResource{
			r(name+" IP Address", ResourceIPAddress), r(name+" Physical Disk", ResourcePhysicalDisk),
			r(name+" Network Name", ResourceNetworkName),
			r("Microsoft Exchange Directory - "+name, ResourceDirectory),
			r("Microsoft Exchange Information Store - "+name, ResourceInformationStore),
			r("Microsoft Exchange System Attendant - "+name, ResourceSystemAttendant),
			r("Microsoft Exchange Message Transfer Agent - "+name, ResourceMTA),
		}
	}
	return []exchange.ClusterResource{
		r(name+" IP Address", ResourceIPAddress), r(name+" Physical Disk", ResourcePhysicalDisk),
		r(name+" Network Name", ResourceNetworkName),
		r("Exchange System Attendant - "+name, ResourceSystemAttendant),
		r("Exchange Information Store Instance - "+name, ResourceInformationStore),
		r("Exchange Routing Service Instance - "+name, ResourceRoutingEngine),
		r("Exchange Message Transfer Agent Instance - "+name, ResourceMTA),
		r("SMTP Virtual Server Instance - "+name, ResourceSMTP),
	}
}

// attach records h as the host of one of the cluster's nodes.
func (c *LiveCluster) attach(h *Host) { c.hosts[strings.ToLower(h.name)] = h }

// groupState derives a group's state from its resources: Failed when one failed, Online
// when all are online, Offline when none is, else PartialOnline.
func groupState(rs []exchange.ClusterResource) string {
	online, offline := 0, 0
	for _, r := range rs {
		switch r.State {
		case StateFailed:
			return StateFailed
		case StateOnline:
			online++
		default:
			offline++
		}
	}
	switch {
	case offline == 0:
		return StateOnline
	case online == 0:
		return StateOffline
	}
	return StatePartialOnline
}

func setAll(g *clusterGroup, state string) {
	for i := range g.resources {
		g.resources[i].State = state
	}
}

// exchangeOffline: the Exchange server of g is stopped (Test-ExExchangeResourcesOffline).
func exchangeOffline(g *clusterGroup) bool {
	return !slices.ContainsFunc(g.resources, func(r exchange.ClusterResource) bool { return isExchange(r) && r.State != StateOffline })
}

// Name is the fleet's name of the cluster: its (first) CMS/EVS.
func (c *LiveCluster) Name() string { return c.name }

// ClusterName is the Windows cluster's own name; "" when the fleet states none.
func (c *LiveCluster) ClusterName() string { return c.clusterName }

// names reports whether name is one of the cluster's CMS/EVS names or its own name,
// ignoring case.
func (c *LiveCluster) names(name string) bool {
	if c.clusterName != "" && strings.EqualFold(c.clusterName, name) {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.ContainsFunc(c.groups, func(g *clusterGroup) bool { return strings.EqualFold(g.name, name) })
}

// node returns the fleet's spelling of node name, if it is one of the cluster's.
func (c *LiveCluster) node(name string) (string, bool) {
	for _, n := range c.nodes {
		if strings.EqualFold(n, name) {
			return n, true
		}
	}
	return "", false
}

// findGroupLocked finds a group by its name or its network name (the first DNS label), as
// Find-ExClusterGroup does; the cluster group's network name is not modelled.
func (c *LiveCluster) findGroupLocked(name string) *clusterGroup {
	for _, g := range c.allGroupsLocked() {
		if strings.EqualFold(g.name, name) {
			return g
		}
	}
	for _, g := range c.groups {
		if strings.EqualFold(hostLabel(name), g.name) {
			return g
		}
	}
	return nil
}

// groupNamesLocked lists every group's name, the Exchange groups first.
func (c *LiveCluster) groupNamesLocked() string {
	var names []string
	for _, g := range c.allGroupsLocked() {
		names = append(names, g.name)
	}
	return strings.Join(names, ", ")
}

// ClusterState is a copy of a cluster's model: what (*LiveCluster).State returns and
// (*LiveCluster).Update changes.
type ClusterState struct {
	// Name, ClusterName, Type and Nodes are the fleet's; Update ignores changes to them.
	// Name is the fleet's name of the cluster: its first CMS/EVS.
	Name string
	// ClusterName is the Windows cluster's own name ("" when the fleet states none).
	ClusterName string
	Type        string
	Nodes       []string
	// Groups are the Exchange groups — the CMS (2007), each EVS (2000/2003) or the 5.5
	// virtual server — in the fleet's order: Groups[0] is Name, then the fleet's
	// virtual_servers. Update matches them to the cluster's by Name (ignoring case) and
	// ignores an entry naming none; find one with Group.
	Groups []ClusterGroupState
	// ClusterGroupOwner and ClusterGroupResources are the cluster's own group
	// (ClusterGroupName): cluster IP address and name, quorum disk and, on 2000/2003, the
	// MSDTC resource an EVS upgrade needs online.
	ClusterGroupOwner     string
	ClusterGroupResources []exchange.ClusterResource
	// ServiceRunning is each node's cluster service, by node name as the fleet spells it.
	ServiceRunning map[string]bool
	// Events are the cluster-relevant event ids each node logged since its last boot, by
	// node name (EventMustBeUpgraded, EventVersionMismatch).
	Events map[string][]string
}

// ClusterGroupState is one Exchange group (CMS/EVS) of a ClusterState.
type ClusterGroupState struct {
	// Name is the CMS/EVS name, which is also the group's name and network name; Update
	// ignores changes to it.
	Name string
	// Owner is the node that owns the group (where the CMS/EVS is active).
	Owner string
	// Resources are the group's resources with their states; the group's state is derived
	// from them (GroupState).
	Resources []exchange.ClusterResource
	// FailoverBlocked keeps the group from failing over when its owner's cluster service
	// stops (manual moves still work).
	FailoverBlocked bool
	// UpgradedBuild is the build the CMS/EVS was last upgraded for: by Setup.com
	// /upgradeCMS (2007) or "Upgrade Exchange Virtual Server" (2000/2003, per EVS); a 2000
	// EVS and a 5.5 cluster also take the build of a newer node they come online on. At
	// start, the build of the group's active node.
	UpgradedBuild exchange.Build
	// PreferredOwners are the group's preferred owner nodes (the probe's preferred_owners):
	// at start its fleet active node; moves do not change them. Names that are not nodes
	// are dropped by Update.
	PreferredOwners []string
}

// GroupState is the group's state (Online, Offline, PartialOnline, Failed).
func (g ClusterGroupState) GroupState() string { return groupState(g.Resources) }

// Group returns the Exchange group called name (ignoring case), or nil. It points into
// s.Groups, so within Update a change made through it is applied:
//
//	lc.Update(func(s *simulator.ClusterState) { s.Group("EVSB").FailoverBlocked = true })
func (s ClusterState) Group(name string) *ClusterGroupState {
	for i := range s.Groups {
		if strings.EqualFold(s.Groups[i].Name, name) {
			return &s.Groups[i]
		}
	}
	return nil
}

// State returns a copy of the cluster's model.
func (c *LiveCluster) State() ClusterState {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := ClusterState{Name: c.name, ClusterName: c.clusterName, Type: c.typ, Nodes: slices.Clone(c.nodes),
		ClusterGroupOwner: c.core.owner, ClusterGroupResources: slices.Clone(c.core.resources),
		ServiceRunning: map[string]bool{}, Events: map[string][]string{}}
	for _, g := range c.groups {
		s.Groups = append(s.Groups, ClusterGroupState{Name: g.name, Owner: g.owner, Resources: slices.Clone(g.resources),
			FailoverBlocked: g.blocked, UpgradedBuild: g.upgraded, PreferredOwners: slices.Clone(g.preferred)})
	}
	for _, n := range c.nodes {
		s.ServiceRunning[n] = c.service[strings.ToLower(n)]
		if ev := c.events[strings.ToLower(n)]; len(ev) > 0 {
			s.Events[n] = slices.Clone(ev)
		}
	}
	return s
}

// Update changes the cluster's model by hand, e.g. a test stopping a node's cluster service
// behind the provider's back:
//
//	sim.Cluster("EVS01").Update(func(s *simulator.ClusterState) { s.ServiceRunning["BE02"] = false })
//
// An owner that is not a node is ignored. Nothing follows from the change (no failover):
// the model is as fn leaves it.
func (c *LiveCluster) Update(fn func(s *ClusterState)) {
	s := c.State()
	fn(&s)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, gs := range s.Groups {
		i := slices.IndexFunc(c.groups, func(g *clusterGroup) bool { return strings.EqualFold(g.name, gs.Name) })
		if i < 0 {
			continue
		}
		g := c.groups[i]
		if n, ok := c.node(gs.Owner); ok {
			g.owner = n
		}
		g.resources, g.resume = slices.Clone(gs.Resources), nil
		g.blocked = gs.FailoverBlocked
		g.upgraded = gs.UpgradedBuild
		g.preferred = nil
		for _, p := range gs.PreferredOwners {
			if n, ok := c.node(p); ok && !slices.Contains(g.preferred, n) {
				g.preferred = append(g.preferred, n)
			}
		}
	}
	if n, ok := c.node(s.ClusterGroupOwner); ok {
		c.core.owner = n
	}
	c.core.resources, c.core.resume = slices.Clone(s.ClusterGroupResources), nil
	for _, n := range c.nodes {
		key := strings.ToLower(n)
		c.events[key] = nil
		for name, running := range s.ServiceRunning {
			if strings.EqualFold(name, n) {
				c.service[key] = running
			}
		}
		for name, ev := range s.Events {
			if strings.EqualFold(name, n) {
				c.events[key] = slices.Clone(ev)
			}
		}
	}
}

// Cluster returns the cluster called name, or nil: name is, ignoring case, one of its
// CMS/EVS names (the fleet's name or one of its virtual_servers) or its cluster_name.
func (s *Simulator) Cluster(name string) *LiveCluster {
	for _, h := range s.hosts {
		if h.cluster != nil && h.cluster.names(name) {
			return h.cluster
		}
	}
	return nil
}

// Cluster returns the cluster the host is a node of, or nil.
func (h *Host) Cluster() *LiveCluster { return h.cluster }

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
// whose cluster service runs, else the first such node in fleet order (domain.md §9). A
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

// planClusterJobLocked decides whether a cluster installer action runs on this node
// (called with h.mu held, from planJobLocked): Setup.com /upgradeCMS (2007), naming its
// CMS in Group. It checks what job_start.ps1 checks, with its messages, and then, as the
// installer would, that the node is upgraded beyond the CMS.
func (h *Host) planClusterJobLocked(spec jobSpec) (*jobRun, string, string) {
	const refused = "refused"
	s := &h.state
	lc := h.cluster
	nodeSP := servicePackOf(s.Product, s.Build)
	build := s.Build
	// setUpgraded marks g, the group the job names, upgraded for this node's build.
	setUpgraded := func(g *clusterGroup) {
		lc.mu.Lock()
		g.upgraded = build
		lc.mu.Unlock()
	}
	// readGroup is Get-ExJobClusterGroup: the group Group names, read from the cluster.
	readGroup := func() (*clusterGroup, string, string) {
		if spec.Group == "" {
			return nil, "invalid", spec.Action + " needs its clustered mailbox server or Exchange virtual server in Group"
		}
		switch {
		case lc == nil:
			return nil, refused, fmt.Sprintf("the cluster cannot be read on %s (is its cluster service running?): Invalid namespace", h.name)
		case !lc.service[strings.ToLower(h.name)]:
			return nil, refused, fmt.Sprintf("the cluster cannot be read on %s (is its cluster service running?): the cluster service is not running", h.name)
		}
		g := lc.findGroupLocked(spec.Group)
		if g == nil {
			return nil, refused, fmt.Sprintf(`the cluster has no group "%s"`, spec.Group)
		}
		return g, "", ""
	}
	lock := func() func() {
		if lc == nil {
			return func() {}
		}
		lc.mu.Lock()
		return lc.mu.Unlock
	}

	if spec.Action == exchange.ActionUpgradeCMS {
		if s.Product != "2007" {
			return nil, refused, "Setup.com /upgradeCMS needs Exchange Server 2007 on this node (no ExSetup.exe under MsiInstallPath)"
		}
		if spec.MediaPath == "" {
			return nil, refused, "no media path: /upgradeCMS runs Setup.com from the service pack media"
		}
		defer lock()()
		g, code, why := readGroup()
		if why != "" {
			return nil, code, why
		}
		setup := joinPath(spec.MediaPath, "Setup.com")
		p, exists := h.packageAtLocked(spec.MediaPath)
		gsp := servicePackOf(lc.product, g.upgraded)
		switch {
		case !strings.EqualFold(g.owner, h.name):
			return nil, refused, fmt.Sprintf("clustered mailbox server %s is owned by %s, not by %s: Setup.com /upgradeCMS runs on the node that owns the stopped CMS (move it here first)",
				g.name, g.owner, h.name)
		case !exchangeOffline(g):
			return nil, refused, fmt.Sprintf("clustered mailbox server %s is %s: Setup.com /upgradeCMS runs on a stopped CMS (Stop-ClusteredMailboxServer first)",
				g.name, groupState(g.resources))
		case !exists:
			return nil, refused, "package not found: " + setup
		// What setup itself refuses (referee).
		case !lc.isExchangeGroup(g):
			return nil, refused, fmt.Sprintf("%s is not a clustered mailbox server: Setup.com /upgradeCMS has nothing to upgrade", g.name)
		case p.Kind != PackageServicePack || p.Product != "2007":
			return nil, refused, fmt.Sprintf("%s holds a %s for Exchange %s, not Exchange 2007 setup media", spec.MediaPath, p.Kind, p.Product)
		case p.ServicePack != nodeSP:
			return nil, refused, fmt.Sprintf("the setup media at %s are Exchange 2007 %s; %s runs %s: /upgradeCMS runs from the media of the node's own service pack",
				spec.MediaPath, spName(p.ServicePack), h.name, spName(nodeSP))
		case nodeSP < gsp:
			return nil, refused, fmt.Sprintf("the version on this computer does not match: %s runs Exchange 2007 %s, older than %s that %s was upgraded for",
				h.name, levelOf(s.Product, build), levelOf(lc.product, g.upgraded), g.name)
		case nodeSP == gsp && !s.StaleCMSKey:
			return nil, refused, fmt.Sprintf("%s was already upgraded for %s, the level %s runs: Setup.com /upgradeCMS has nothing to do (upgrade the node first with Setup.com /mode:upgrade)",
				g.name, levelOf(lc.product, g.upgraded), h.name)
		}
		return &jobRun{command: commandLine(setup, "/upgradeCMS"), logPath: exchangeSetupLog, setup: true,
			apply: func(st *State) (int, bool) {
				setUpgraded(g)
				st.StaleCMSKey = false
				return 0, false
			}}, "", ""
	}

	// "Upgrade Exchange Virtual Server" (2003) has no command line: it is the
	// administrator's, (*LiveCluster).UpgradeVirtualServer.
	return nil, "invalid", fmt.Sprintf(`"%s" is not a cluster installer action`, spec.Action)
}

// clusterJobCheckLocked says why an installer must not run on this cluster node now, or "":
// on Exchange 2000/2003/5.5 a service pack or hotfix needs the node's cluster service
// stopped, except on the 5.5 node that owns the virtual server (its setup runs with the
// group in place, domain.md §6 5.5); on Exchange 2007 a service pack or update rollup goes only to a passive node.
// Called with h.mu held.
func (h *Host) clusterJobCheckLocked(spec jobSpec) string {
	lc := h.cluster
	if lc == nil {
		return ""
	}
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if h.state.Product == "2007" {
		// A 2007 cluster has one Exchange group, the CMS.
		cms := lc.groups[0]
		owns := strings.EqualFold(cms.owner, h.name)
		switch spec.Action {
		case exchange.ActionInstallServicePack:
			if owns {
				return fmt.Sprintf("%s owns %s: install a service pack only on a passive node; move %s to another node first", h.name, cms.name, cms.name)
			}
		case exchange.ActionInstallUpdateRollup, exchange.ActionUninstallUpdateRollup:
			if owns {
				return fmt.Sprintf("an update rollup goes only to a passive node: %s owns %s; move it to another node first", h.name, cms.name)
			}
		}
		return ""
	}
	switch spec.Action {
	case exchange.ActionInstallServicePack, exchange.ActionInstallInterimUpdate:
		running := lc.service[strings.ToLower(h.name)]
		if running && h.state.Product == "5.5" && strings.EqualFold(lc.groups[0].owner, h.name) {
			// The 5.5 active node: setup runs with the group in place and stops and
			// restarts its services itself (setupStopsGroupLocked).
			return ""
		}
		if running {
			return fmt.Sprintf("the cluster service is running on %s: stop the cluster service on this node first (move its groups to another node, then stop it)", h.name)
		}
	}
	return ""
}

// syncClusteredServicesLocked sets the state of the node's clustered services
// (clusteredServices) from the cluster: Running while the node's cluster service runs and
// it owns a group whose resource of the service's type is online, else Stopped. Called with
// h.mu held (settleLocked) and never with the cluster's mu.
func (h *Host) syncClusteredServicesLocked() {
	lc := h.cluster
	types := clusteredServices(h.state.Product)
	if lc == nil || len(types) == 0 || h.power == powerDown {
		return
	}
	online := map[string]bool{}
	lc.mu.Lock()
	if lc.service[strings.ToLower(h.name)] {
		for _, g := range lc.groups {
			if !strings.EqualFold(g.owner, h.name) {
				continue
			}
			for _, r := range g.resources {
				online[r.Type] = online[r.Type] || r.State == StateOnline
			}
		}
	}
	lc.mu.Unlock()
	for i := range h.state.Services {
		svc := &h.state.Services[i]
		if typ, ok := types[svc.Name]; ok {
			svc.State = "Stopped"
			if online[typ] {
				svc.State = "Running"
			}
		}
	}
}

// clusteredServiceLocked names the group and resource that run service name on this node
// when it is one of the node's clustered services (clusteredServices), else "".
func (h *Host) clusteredServiceLocked(name string) string {
	lc := h.cluster
	if lc == nil {
		return ""
	}
	for svc, typ := range clusteredServices(h.state.Product) {
		if !strings.EqualFold(svc, name) {
			continue
		}
		lc.mu.Lock()
		defer lc.mu.Unlock()
		for _, g := range lc.groups {
			for _, r := range g.resources {
				if r.Type == typ {
					return fmt.Sprintf("the resource %q of group %s", r.Name, g.name)
				}
			}
		}
		return "a resource of the Exchange virtual server"
	}
	return ""
}

// clusteredStartRefusal is why the simulator refuses to start clustered service svc
// directly (what says the resource that runs it): on a real node the service control
// manager would try, and the service would fail on a node that does not own the group (the
// group's disk and network name are elsewhere) or run outside the cluster's control on the
// one that does. The refusal itself is our model of that.
func clusteredStartRefusal(host, svc, what string) string {
	return fmt.Sprintf("%s on %s is %s: a clustered Exchange service comes online only through the cluster (bring the group online, or move it to this node), not by starting the service (the simulator refuses what a real node would do outside the cluster's control)",
		svc, host, what)
}

// setupStopsGroupLocked is what an Exchange 5.5 service pack's setup does on the node that
// owns the virtual server, its cluster service running: it stops the Exchange services,
// which takes the group's Exchange resources offline (an outage for users) while the group
// stays on the node ([001]: "5.5 setup itself stops the Exchange services and restarts them
// when it finishes"; domain.md §6). It returns the group, or nil when the node is not such
// a node. Called with h.mu held, from job_start.
func (h *Host) setupStopsGroupLocked() *clusterGroup {
	lc := h.cluster
	if lc == nil || h.state.Product != "5.5" {
		return nil
	}
	lc.mu.Lock()
	defer lc.mu.Unlock()
	g := lc.groups[0]
	if !lc.service[strings.ToLower(h.name)] || !strings.EqualFold(g.owner, h.name) {
		return nil
	}
	for i := range g.resources {
		if isExchange(g.resources[i]) {
			g.resources[i].State = StateOffline
		}
	}
	h.env.journal.record(Entry{Server: h.name, Operation: operationSystem, Outcome: outcomeOK,
		Detail: fmt.Sprintf("setup stopped the Exchange services of %s: its Exchange resources are offline on %s (%s); the group stays on %s", g.name, h.name, groupState(g.resources), h.name)})
	return g
}

// setupRestartsGroupLocked: the 5.5 setup that stopped g's services (setupStopsGroupLocked)
// ends and starts them again: g's resources come online on this node if it still owns it,
// at this node's level (a 5.5 virtual server takes the level of the node it comes online
// on). Called with h.mu held, as the job ends.
func (h *Host) setupRestartsGroupLocked(g *clusterGroup) {
	lc := h.cluster
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if !lc.service[strings.ToLower(h.name)] || !strings.EqualFold(g.owner, h.name) {
		return
	}
	v := nodeView{name: h.name, build: h.state.Build, sp: servicePackOf(lc.product, h.state.Build), up: true}
	run := &clusterRun{views: map[string]nodeView{strings.ToLower(h.name): v}}
	wanted := map[string]bool{}
	for _, r := range g.resources {
		wanted[r.Name] = true
	}
	g.resume = nil
	lc.placeLocked(g, wanted, run)
	h.env.journal.record(Entry{Server: h.name, Operation: operationSystem, Outcome: outcomeOK,
		Detail: fmt.Sprintf("setup started the Exchange services of %s again: %s on %s", g.name, groupState(g.resources), h.name)})
}
