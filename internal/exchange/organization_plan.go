package exchange

import (
	"fmt"
	"slices"
	"strings"
)

// OrganizationTarget is what the servers of one product are brought to, with what: the
// level as Target has it, and the media and packages as the single-server requests take them.
type OrganizationTarget struct {
	Target
	MediaPath, PackagePath, UMLanguagePackPath, KB string
}

// OrganizationRequest asks for every server of an organisation at its product's target.
type OrganizationRequest struct {
	Targets []OrganizationTarget
	Options Options
	// LoadBalancedFrontEnds are the groups of Exchange 2003 front-ends that are load-balanced
	// together, by server name: each is upgraded in one downtime window (organization_front_ends.go).
	// Nil: every Exchange 2003 front-end is taken to be one group; empty: none is.
	LoadBalancedFrontEnds [][]string
}

// OrganizationUnit is what one server of a wave gets (a service pack plan, then a rollup
// plan), or one cluster (a unit of its wave: one plan over its nodes).
type OrganizationUnit struct {
	Wave   int
	Server string // the server, or the cluster's name
	Plans  []Plan
	Nodes  []string // a cluster's nodes, as the cluster reports them; empty for a server
	// FrontEnds, when set, makes the unit a group of load-balanced front-ends (Server names
	// the group; Plans is empty): one downtime window over the group.
	FrontEnds *FrontEndGroup
}

// Servers are the servers the unit services: the server, every node of the cluster, or
// every front-end of the group.
func (u OrganizationUnit) Servers() []string {
	switch {
	case u.FrontEnds != nil:
		return u.FrontEnds.Servers
	case len(u.Nodes) > 0:
		return u.Nodes
	}
	return []string{u.Server}
}

// AllPlans are the unit's plans in the order they run (a group's: every Checks plan, every
// Offline plan, the members' plans, every Online plan).
func (u OrganizationUnit) AllPlans() []Plan {
	if u.FrontEnds == nil {
		return u.Plans
	}
	plans := append(slices.Clone(u.FrontEnds.Checks), u.FrontEnds.Offline...)
	for _, m := range u.FrontEnds.Members {
		plans = append(plans, m.Plans...)
	}
	return append(plans, u.FrontEnds.Online...)
}

// OrganizationPlan is an organisation's change: the units with work, in wave order.
type OrganizationPlan struct {
	Ordering Ordering
	// Preflight is every server's preflight, run before the first wave (after the recovery
	// wave, which only brings front-ends back into service): one unit per server whose
	// steps read a file (media, a package, the OWA logon page), with the wave of that
	// server and one plan of one preflight step, in wave order. A file missing on a server
	// of a later wave then stops the apply before any server is changed, not after the
	// earlier waves took their downtime. Each server's own plan still begins with its
	// preflight (checked again right before it is serviced). Empty when the plan has one
	// unit to service: that unit's plan begins with every preflight of its servers already.
	Preflight []OrganizationUnit
	Units     []OrganizationUnit
	Warnings  []Warning
}

// Warning is what is advisable but not enforced in an organisation's plan: a warning of one
// server's plan (Server set) or of the organisation's (front-ends taken to be load-balanced).
// The server is kept apart from the text so that the same warning of many servers can be
// shown once, naming them (at 500 servers there are about a thousand).
type Warning struct {
	Server, Text string
}

// String is the warning as the warnings attribute lists it: "EX01: text", or the text.
func (w Warning) String() string {
	if w.Server == "" {
		return w.Text
	}
	return w.Server + ": " + w.Text
}

// WarningStrings are the plan's warnings as the warnings attribute lists them.
func (o OrganizationPlan) WarningStrings() []string {
	out := make([]string, len(o.Warnings))
	for i, w := range o.Warnings {
		out[i] = w.String()
	}
	return out
}

// InOrder are the units in the order they run: the recovery wave's, the preflights, then
// the others.
func (o OrganizationPlan) InOrder() []OrganizationUnit {
	recovery := 0
	for recovery < len(o.Units) && o.Units[recovery].Wave == RecoveryWave {
		recovery++
	}
	return slices.Concat(o.Units[:recovery], o.Preflight, o.Units[recovery:])
}

// Steps are every step in the order they run (InOrder), each with its unit's wave.
func (o OrganizationPlan) Steps() (steps []Step, waves []int) {
	for _, u := range o.InOrder() {
		for _, p := range u.AllPlans() {
			for _, s := range p.Steps {
				steps = append(steps, s)
				waves = append(waves, u.Wave)
			}
		}
	}
	return steps, waves
}

// RecoveryWave is the wave of the units that only bring back front-ends an interrupted
// apply left offline, in a group where every front-end is at its target: they run first,
// before the ordering's waves (which count from 1).
const RecoveryWave = 0

// Waves are the waves that have work, in the order they run: the recovery wave (when a
// unit is in it), then the ordering's.
func (o OrganizationPlan) Waves() []Wave {
	busy := map[int]bool{}
	var recovered []string // the front-ends brought back, not their whole groups
	for _, u := range o.Units {
		busy[u.Wave] = true
		if u.Wave == RecoveryWave {
			for _, p := range u.AllPlans() {
				recovered = append(recovered, p.Server)
			}
		}
	}
	var out []Wave
	if len(recovered) > 0 {
		slices.Sort(recovered)
		out = append(out, Wave{Index: RecoveryWave, Name: "recovery: front-ends an interrupted apply left offline", Servers: slices.Compact(recovered),
			Reason: "an earlier apply took these Exchange 2003 front-ends offline and was interrupted; every front-end of its group is at its target now, so each is brought back into service (KB 328839: bring the servers online once all are upgraded) before the other waves"})
	}
	for _, w := range o.Ordering.Waves {
		if busy[w.Index] {
			out = append(out, w)
		}
	}
	return out
}

// PlanOrganization plans every server the ordering has in a wave towards its product's
// target, wave by wave: a server by PlanServicePack then (2007) PlanUpdateRollup, a cluster
// as one unit by PlanCluster over every node. facts are every server's, as Order read them.
// Every refusal of every server is returned at once (Refusals).
func PlanOrganization(facts []Facts, ordering Ordering, req OrganizationRequest, cat *Catalog) (OrganizationPlan, error) {
	if cat == nil {
		cat = DefaultCatalog()
	}
	o := OrganizationPlan{Ordering: ordering}
	byName := map[string]Facts{}
	clusterOf := map[string]string{} // server -> the key of its cluster
	keys := ClusterKeys(facts)
	readers := ClusterReaders(facts, keys)
	for i, f := range facts {
		byName[strings.ToLower(f.Server)] = f
		clusterOf[strings.ToLower(f.Server)] = keys[i]
	}
	var refusals Refusals
	for _, w := range ordering.Waves {
		planned := map[string]bool{} // clusters of this wave already planned
		for _, name := range w.Servers {
			f := byName[strings.ToLower(name)]
			tg := req.target(f.Product)
			if key := clusterOf[strings.ToLower(f.Server)]; key != "" {
				// A cluster is one unit: every node, in the order of PlanCluster.
				if planned[key] {
					continue
				}
				planned[key] = true
				u, err := planClusterUnit(readers[key], byName, tg, req.Options, w.Index, cat)
				if err != nil {
					refusals = appendRefusals(refusals, err)
					continue
				}
				o.addWarnings(u)
				if len(u.Plans) > 0 {
					o.Units = append(o.Units, u)
				}
				continue
			}
			u, err := planServerUnit(f, tg, req.Options, w.Index, cat)
			if err != nil {
				refusals = appendRefusals(refusals, err)
				continue
			}
			o.addWarnings(u)
			if len(u.Plans) > 0 {
				o.Units = append(o.Units, u)
			}
		}
	}
	groups, defaulted, rs := frontEndGroups(facts, req)
	for _, f := range facts {
		// A front-end an earlier apply left offline comes back even when no group names it.
		if f.Leftovers.FrontEndOffline && !slices.ContainsFunc(groups, func(g []Facts) bool {
			return slices.ContainsFunc(g, func(m Facts) bool { return strings.EqualFold(m.Server, f.Server) })
		}) {
			groups = append(groups, []Facts{f})
		}
	}
	refusals = append(refusals, rs...)
	if len(refusals) > 0 {
		return o, refusals
	}
	o.groupFrontEnds(groups, defaulted)
	o.preflightFirst()
	return o, nil
}

// addWarnings takes a unit's warnings (a server's, or a cluster's under its name), each
// text once for the unit: a server's service pack and rollup plans may give the same one.
func (o *OrganizationPlan) addWarnings(u OrganizationUnit) {
	var seen []string
	for _, p := range u.Plans {
		for _, text := range p.Warnings {
			if !slices.Contains(seen, text) {
				seen = append(seen, text)
				o.Warnings = append(o.Warnings, Warning{Server: u.Server, Text: text})
			}
		}
	}
}

// preflightFirst sets Preflight: the preflight steps of every unit's plans, one for each
// server (a server with several plans gets their checks in one step), in the order the
// units run.
func (o *OrganizationPlan) preflightFirst() {
	var units []OrganizationUnit
	for _, u := range o.Units {
		if u.Wave != RecoveryWave {
			units = append(units, u)
		}
	}
	if len(units) < 2 {
		return
	}
	first := units[0].Wave
	var order []string
	checks := map[string][]PreflightCheck{}
	waves := map[string]int{}
	for _, u := range units {
		for _, p := range u.AllPlans() {
			for _, s := range p.Steps {
				pf, ok := s.Kind.(Preflight)
				if !ok {
					continue
				}
				key := strings.ToLower(s.Server)
				if _, seen := checks[key]; !seen {
					order = append(order, s.Server)
					waves[key] = u.Wave
				}
				checks[key] = append(checks[key], pf.Checks...)
			}
		}
	}
	for _, server := range order {
		key := strings.ToLower(server)
		s := preflightStep(server, checks[key])
		s.Description = fmt.Sprintf("before wave %d changes any server, for %s of wave %d: %s (so that a file missing on a server of a later wave stops the apply before the earlier waves take their downtime; it is checked again when %s is serviced)",
			first, server, waves[key], s.Description, server)
		o.Preflight = append(o.Preflight, OrganizationUnit{Wave: waves[key], Server: server, Plans: []Plan{{Server: server, Steps: []Step{s}}}})
	}
}

func (r OrganizationRequest) target(product string) OrganizationTarget {
	for _, t := range r.Targets {
		if t.Product == product {
			return t
		}
	}
	return OrganizationTarget{}
}

// How each resource's warning after a service pack without a rollup says to install the
// newest one: the resource's own attribute or resource (the names a user writes).
const (
	rollupResourceAdvice     = "install it with an exchange_update_rollup resource that references this one"
	clusterRollupAdvice      = "set update_rollup on this resource to install it after the service pack"
	organizationRollupAdvice = "set update_rollup in the Exchange 2007 target to install it after the service pack"
)

// planServerUnit plans one server: its service pack, then (2007) its rollup on top.
func planServerUnit(f Facts, tg OrganizationTarget, opts Options, wave int, cat *Catalog) (OrganizationUnit, error) {
	u := OrganizationUnit{Wave: wave, Server: f.Server}
	// A front-end left offline is the organisation's to bring back (groupFrontEnds), not a
	// refusal as for a single-server resource (checkFrontEndOffline).
	f.Leftovers.FrontEndOffline = false
	rollup := (tg.Latest || tg.UpdateRollup > 0) && f.Product == "2007"
	spPlan, err := PlanServicePack(f, ServicePackRequest{Server: f.Server, ServicePack: tg.ServicePack,
		MediaPath: tg.MediaPath, UMLanguagePackPath: tg.UMLanguagePackPath, RollupFollows: rollup,
		RollupAdvice: organizationRollupAdvice, Options: opts}, cat)
	if err != nil {
		return u, err
	}
	if !spPlan.Empty() {
		u.Plans = append(u.Plans, spPlan)
	}
	if rollup {
		ruPlan, err := PlanUpdateRollup(spPlan.After, UpdateRollupRequest{Server: f.Server, ServicePack: tg.ServicePack,
			PackagePath: tg.PackagePath, KB: tg.KB, Options: opts,
			Latest: tg.Latest, Rollup: tg.UpdateRollup, ReRelease: tg.ReRelease}, cat)
		if err != nil {
			return u, err
		}
		if !ruPlan.Empty() {
			u.Plans = append(u.Plans, ruPlan)
		}
	}
	return u, nil
}

// planClusterUnit plans every node of one cluster of the organisation.
// c are the facts of a node that reads the cluster, if any does (ClusterReaders).
func planClusterUnit(c *ClusterFacts, byName map[string]Facts, tg OrganizationTarget, opts Options, wave int, cat *Catalog) (OrganizationUnit, error) {
	u := OrganizationUnit{Wave: wave, Server: c.Title()}
	if c.Key() == "" {
		return u, Refusal{Server: u.Server, Problem: "the cluster service is stopped on every node of the cluster given, so nothing of the cluster can be read",
			Action: "start the cluster service on the node that should run the clustered server, then plan again"}
	}
	var nodes []Facts
	for _, n := range c.Nodes {
		f, ok := byName[strings.ToLower(n)]
		if !ok {
			return u, Refusal{Server: n, Problem: fmt.Sprintf("node %s of cluster %s is not among the organisation's servers", n, c.Title()),
				Action: "list every node of the cluster in servers (or discover the organisation), so the cluster can be sequenced"}
		}
		nodes = append(nodes, f)
		u.Nodes = append(u.Nodes, f.Server)
	}
	req := ClusterRequest{Cluster: c.Title(), ServicePack: tg.ServicePack, MediaPath: tg.MediaPath,
		PackagePath: tg.PackagePath, KB: tg.KB, Options: opts,
		Latest: tg.Latest, Rollup: tg.UpdateRollup, ReRelease: tg.ReRelease, RollupAdvice: organizationRollupAdvice}
	cp, err := PlanCluster(nodes, req, cat)
	if err != nil {
		return u, err
	}
	if len(cp.Steps) > 0 {
		u.Plans = []Plan{{Server: c.Title(), Steps: cp.Steps, Target: cp.Target, Warnings: cp.Warnings}}
	}
	return u, nil
}

func appendRefusals(rs Refusals, err error) Refusals {
	switch e := err.(type) {
	case Refusals:
		return append(rs, e...)
	case Refusal:
		return append(rs, e)
	}
	return append(rs, Refusal{Problem: err.Error()})
}
