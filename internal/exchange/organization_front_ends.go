package exchange

import (
	"fmt"
	"slices"
	"strings"
)

// Load-balanced Exchange 2003 front-ends (KB 328839, "How to apply Exchange service packs and
// hotfixes"): "if you run front-end servers in a load-balanced configuration, try to upgrade
// all of them at the same time: take all the front-end servers offline, upgrade each server,
// then bring the servers online", because mobile clients get sync key errors while some front-ends run a service
// pack and others do not. An organisation plan does that for each group: one downtime
// window in which every front-end of the group that is below its target is taken offline
// before any is upgraded, the upgrades run (as many at once as the parallelism allows), and
// every one comes back only after all are upgraded.
//
// Which front-ends are load-balanced together is not something a script can read (NLB or a
// hardware balancer): the user names the groups (OrganizationRequest.LoadBalancedFrontEnds);
// without them every Exchange 2003 front-end of the organisation is taken to be one group,
// the safe reading of the wave's "all at once" (a warning says so).
//
// Offline: the front-end's World Wide Web Publishing service (W3SVC), through which it
// serves Outlook Web Access, Exchange ActiveSync and Outlook Mobile Access, Disabled and
// stopped, its start mode recorded on the server (front_end.ps1); the probe reports the
// record (Leftovers.FrontEndOffline), so that a plan after an interrupted apply still brings
// the front-end back once its group is upgraded. The load balancer itself is not changed.

// FrontEndGroup is a load-balanced group's downtime window: every Checks plan (before the
// window), every Offline plan, then the Members' units, then every Online plan.
type FrontEndGroup struct {
	Servers []string // the group, as named
	// Checks are the read-only checks of each member's plans before its first installer
	// (IsCheck, splitChecks), taken out of them so that all run before the first front-end is taken offline: a check that
	// fails on one front-end then stops the apply before the group's outage, not during it.
	Checks  []Plan
	Offline []Plan
	Members []OrganizationUnit
	Online  []Plan
}

// frontEndGroups are the load-balanced groups: as the request names them, or every
// non-clustered Exchange 2003 front-end when it names none (defaulted).
func frontEndGroups(facts []Facts, req OrganizationRequest) (groups [][]Facts, defaulted bool, refusals Refusals) {
	if req.LoadBalancedFrontEnds == nil {
		var all []Facts
		for _, f := range facts {
			if f.Product == "2003" && f.HasRole(roleFrontEnd) && f.Cluster == nil {
				all = append(all, f)
			}
		}
		if len(all) < 2 {
			return nil, false, nil
		}
		return [][]Facts{all}, true, nil
	}
	byName := map[string]Facts{}
	for _, f := range facts {
		byName[strings.ToLower(f.Server)] = f
	}
	inGroup := map[string]int{}
	for i, names := range req.LoadBalancedFrontEnds {
		var g []Facts
		for _, n := range names {
			f, ok := byName[strings.ToLower(n)]
			switch {
			case !ok:
				refusals = append(refusals, Refusal{Server: n, Field: FieldLoadBalancedFrontEnds,
					Problem: fmt.Sprintf("load_balanced_front_ends group %d names %s, which is not among the organisation's servers", i+1, n),
					Action:  "name the organisation's Exchange 2003 front-end servers, as Exchange knows them"})
				continue
			case f.Product != "2003" || !f.HasRole(roleFrontEnd) || f.Cluster != nil:
				refusals = append(refusals, Refusal{Server: f.Server, Field: FieldLoadBalancedFrontEnds,
					Problem: fmt.Sprintf("load_balanced_front_ends group %d names %s, which is not a non-clustered Exchange 2003 front-end server (Exchange %s, roles %v): the all-at-once upgrade of KB 328839 is for load-balanced Exchange 2003 front-ends", i+1, f.Server, f.Product, f.Roles),
					Action:  fmt.Sprintf("remove %s from load_balanced_front_ends", f.Server)})
				continue
			}
			if j, dup := inGroup[strings.ToLower(f.Server)]; dup {
				refusals = append(refusals, Refusal{Server: f.Server, Field: FieldLoadBalancedFrontEnds,
					Problem: fmt.Sprintf("%s is in load_balanced_front_ends groups %d and %d", f.Server, j+1, i+1),
					Action:  "name each front-end in one group: the group its load balancer serves"})
				continue
			}
			inGroup[strings.ToLower(f.Server)] = i
			g = append(g, f)
		}
		groups = append(groups, g)
	}
	return groups, false, refusals
}

// groupFrontEnds replaces the units of each group's front-ends with one unit: the group's
// downtime window. A group none of whose front-ends is below its target gets a unit only to
// bring back the front-ends an interrupted apply left offline (RecoveryWave: before the waves).
func (o *OrganizationPlan) groupFrontEnds(groups [][]Facts, defaulted bool) {
	for _, g := range groups {
		var names []string
		for _, f := range g {
			names = append(names, f.Server)
		}
		fg := &FrontEndGroup{Servers: names}
		wave, at := RecoveryWave, -1
		for _, f := range g {
			i := slices.IndexFunc(o.Units, func(u OrganizationUnit) bool { return u.FrontEnds == nil && strings.EqualFold(u.Server, f.Server) })
			if i < 0 {
				continue
			}
			if at < 0 || i < at {
				at = i
			}
			wave = o.Units[i].Wave
			fg.Members = append(fg.Members, o.Units[i])
		}
		for _, f := range g {
			below := slices.ContainsFunc(fg.Members, func(u OrganizationUnit) bool { return strings.EqualFold(u.Server, f.Server) })
			if below && !(f.Leftovers.FrontEndOffline && webStopped(f)) {
				fg.Offline = append(fg.Offline, frontEndPlan(f.Server, Step{Kind: TakeFrontEndOffline{FrontEnds: names},
					Description: fmt.Sprintf("take %s out of service for its clients: its World Wide Web Publishing service (W3SVC, which serves Outlook Web Access, Exchange ActiveSync and Outlook Mobile Access) gets start mode Disabled and is stopped, its start mode recorded on the server first, so that neither setup nor a reboot starts it again. The load-balanced front-ends %s are upgraded all at once (KB 328839): every one is taken offline before any is upgraded, and none serves again until all are, because mobile clients get sync key errors while front-ends run different service packs. The load balancer is not changed: one that keeps sending clients to a server that does not answer needs %s taken out of it by hand",
						f.Server, strings.Join(names, ", "), f.Server)}))
			}
			if below || f.Leftovers.FrontEndOffline {
				fg.Online = append(fg.Online, frontEndPlan(f.Server, Step{Kind: BringFrontEndOnline{FrontEnds: names},
					Description: fmt.Sprintf("bring %s back into service: W3SVC gets the start mode recorded when it was taken offline and is started; every front-end of %s is upgraded by now", f.Server, strings.Join(names, ", "))}))
			}
		}
		if len(fg.Offline)+len(fg.Members)+len(fg.Online) == 0 {
			continue
		}
		// One downtime window: the group serves no client from its first step to its last.
		for _, plans := range [][]Plan{fg.Offline, fg.Online} {
			markDowntime(plans)
		}
		for i := range fg.Members {
			fg.Members[i].Plans = slices.Clone(fg.Members[i].Plans)
			for j, p := range fg.Members[i].Plans {
				if checks, rest := splitChecks(p.Steps); len(checks) > 0 {
					fg.Checks = append(fg.Checks, Plan{Server: p.Server, Steps: checks})
					fg.Members[i].Plans[j].Steps = rest
				}
			}
			markDowntime(fg.Members[i].Plans)
			for _, p := range fg.Members[i].Plans {
				for j, s := range p.Steps {
					if s.Action() == ActionStartExchangeServices {
						// The servicing lock recorded W3SVC Disabled (taken offline before the
						// front-end's own apply): exchange_services leaves it so.
						p.Steps[j].Description += "; W3SVC stays Disabled and stopped (the front-end is offline) until bring_front_end_online"
					}
				}
			}
		}
		unit := OrganizationUnit{Wave: wave, Server: "load-balanced front-ends " + strings.Join(names, ", "), FrontEnds: fg}
		var kept []OrganizationUnit
		for _, u := range o.Units {
			if u.FrontEnds == nil && slices.ContainsFunc(fg.Members, func(m OrganizationUnit) bool { return strings.EqualFold(m.Server, u.Server) }) {
				continue
			}
			kept = append(kept, u)
		}
		// Where the group's first front-end was (no unit before it was one of the group), or
		// first of all when none is below its target.
		o.Units = slices.Insert(kept, max(at, 0), unit)
		if defaulted && len(fg.Members) > 0 {
			o.Warnings = append(o.Warnings, fmt.Sprintf("the Exchange 2003 front-ends %s are taken to be load-balanced together (load_balanced_front_ends is not set): as KB 328839 asks, none of them serves clients from the first take_front_end_offline step of wave %d to the last bring_front_end_online. Set load_balanced_front_ends to the groups that are load-balanced (or to [] when none is) to upgrade the others one by one, each back in service when its own upgrade ends",
				strings.Join(names, ", "), wave))
		}
	}
}

// splitChecks takes out the checks (IsCheck: in a group they run before the window,
// FrontEndGroup.Checks) that come before the plan's first installer
// (e.g. verify_backups after a pending reboot): none depends on a step before it.
func splitChecks(steps []Step) (checks, rest []Step) {
	installing := false
	for _, s := range steps {
		_, installer := s.Kind.(Installer)
		installing = installing || installer
		if !installing && IsCheck(s.Action()) {
			checks = append(checks, s)
		} else {
			rest = append(rest, s)
		}
	}
	return checks, rest
}

func frontEndPlan(server string, s Step) Plan {
	s.Server = server
	return Plan{Server: server, Steps: []Step{s}}
}

func markDowntime(plans []Plan) {
	for i := range plans {
		steps := slices.Clone(plans[i].Steps)
		for j := range steps {
			steps[j].Downtime = true
		}
		plans[i].Steps = steps
	}
}

// webStopped: the front-end's W3SVC is not running.
func webStopped(f Facts) bool {
	for _, s := range f.Services {
		if strings.EqualFold(s.Name, "W3SVC") {
			return s.State != "Running"
		}
	}
	return true
}

// FrontEndWindowWarnings name, for a plan under a maintenance window, each group whose
// front-ends are upgraded: its downtime is one block (groupFrontEnds marks every step of it
// downtime), and an apply starts no downtime step once the window has ended, so a window
// that ends partway through keeps the whole group offline until the next one. How long the
// block takes is not known to the provider (it depends on the servers and the media).
func (o OrganizationPlan) FrontEndWindowWarnings() []string {
	var out []string
	for _, u := range o.Units {
		if u.FrontEnds == nil || len(u.FrontEnds.Members) == 0 {
			continue
		}
		out = append(out, fmt.Sprintf("the load-balanced front-ends %s are one block of downtime in wave %d, from the first take_front_end_offline to the last bring_front_end_online: the apply starts no downtime step once the maintenance window has ended, so if it ends partway through the group, the whole group stays out of service until the next window. "+
			"The provider does not estimate how long the upgrades take: make sure one window holds the whole group (%d front-ends upgraded, as many at once as parallelism allows)",
			strings.Join(u.FrontEnds.Servers, ", "), u.Wave, len(u.FrontEnds.Members)))
	}
	return out
}
