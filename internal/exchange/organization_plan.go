package exchange

import (
	"fmt"
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
	// Parallelism is how many units of one wave the apply runs at once (the warnings say
	// what it means for the Exchange 2003 front-ends); below 1 counts as 1.
	Parallelism int
}

// OrganizationUnit is what one server of a wave gets (a service pack plan, then a rollup
// plan), or one cluster (a unit of its wave: one plan over its nodes).
type OrganizationUnit struct {
	Wave   int
	Server string // the server, or the cluster's name
	Plans  []Plan
	Nodes  []string // a cluster's nodes, as the cluster reports them; empty for a server
}

// Servers are the servers the unit services: the server, or every node of the cluster.
func (u OrganizationUnit) Servers() []string {
	if len(u.Nodes) > 0 {
		return u.Nodes
	}
	return []string{u.Server}
}

// OrganizationPlan is an organisation's change: the units with work, in wave order.
type OrganizationPlan struct {
	Ordering Ordering
	Units    []OrganizationUnit
	Warnings []string
}

// Steps are every unit's steps, in order, each with its unit's wave.
func (o OrganizationPlan) Steps() (steps []Step, waves []int) {
	for _, u := range o.Units {
		for _, p := range u.Plans {
			for _, s := range p.Steps {
				steps = append(steps, s)
				waves = append(waves, u.Wave)
			}
		}
	}
	return steps, waves
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
				// A cluster is one unit: every node, in the order of domain.md §6.
				if planned[key] {
					continue
				}
				planned[key] = true
				u, err := planClusterUnit(readers[key], byName, tg, req.Options, w.Index, cat)
				if err != nil {
					refusals = appendRefusals(refusals, err)
					continue
				}
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
			for _, p := range u.Plans {
				for _, w := range p.Warnings {
					o.Warnings = append(o.Warnings, f.Server+": "+w)
				}
			}
			if len(u.Plans) > 0 {
				o.Units = append(o.Units, u)
			}
		}
	}
	if len(refusals) > 0 {
		return o, refusals
	}
	o.Warnings = append(o.Warnings, frontEndWaveWarnings(ordering, o.Units, req.Parallelism)...)
	return o, nil
}

func (r OrganizationRequest) target(product string) OrganizationTarget {
	for _, t := range r.Targets {
		if t.Product == product {
			return t
		}
	}
	return OrganizationTarget{}
}

// planServerUnit plans one server: its service pack, then (2007) its rollup on top.
func planServerUnit(f Facts, tg OrganizationTarget, opts Options, wave int, cat *Catalog) (OrganizationUnit, error) {
	u := OrganizationUnit{Wave: wave, Server: f.Server}
	spPlan, err := PlanServicePack(f, ServicePackRequest{Server: f.Server, ServicePack: tg.ServicePack,
		MediaPath: tg.MediaPath, UMLanguagePackPath: tg.UMLanguagePackPath, Options: opts}, cat)
	if err != nil {
		return u, err
	}
	if !spPlan.Empty() {
		u.Plans = append(u.Plans, spPlan)
	}
	if (tg.Latest || tg.UpdateRollup > 0) && f.Product == "2007" {
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
		Latest: tg.Latest, Rollup: tg.UpdateRollup, ReRelease: tg.ReRelease}
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

// frontEndWaveWarnings: KB 328839 (seed 001) upgrades load-balanced Exchange 2003 front-ends
// all at once: take them ALL offline, upgrade each, bring them all back online, so that
// mobile clients never meet front-ends at different service packs (sync key errors). This
// provider does not take a front-end out of its load balancer (NLB or a hardware balancer:
// no step here does it), and each server of the wave is back in service when its own
// procedure ends, so it says so instead of promising "all at once".
func frontEndWaveWarnings(ordering Ordering, units []OrganizationUnit, parallelism int) []string {
	var out []string
	for _, w := range ordering.Waves {
		if !strings.Contains(w.Name, "Exchange 2003 front-end") {
			continue
		}
		var names []string
		for _, u := range units {
			if u.Wave == w.Index {
				names = append(names, u.Server)
			}
		}
		if len(names) < 2 {
			continue
		}
		order := "in parallel"
		if parallelism < len(names) {
			order = fmt.Sprintf("at most %d at a time, each back in service as soon as its own upgrade ends", max(parallelism, 1))
		}
		out = append(out, fmt.Sprintf("wave %d upgrades the Exchange 2003 front-ends %s %s. If they are load-balanced, KB 328839 takes them all offline, upgrades each and brings them all back online together (mobile clients get sync key errors while front-ends run different service packs); this provider does not take a front-end out of its load balancer: before the apply, take all of them out of the load balancer (NLB or hardware), and put them back only after the whole wave has finished",
			w.Index, strings.Join(names, ", "), order))
	}
	return out
}
