package simulator

import (
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
)

// The cluster model: one LiveCluster per fleet cluster, shared by its nodes.
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
