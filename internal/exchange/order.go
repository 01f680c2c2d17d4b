package exchange

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// The order across servers of an organisation upgrade. The per-server
// planner says what happens on one server; this file says which servers go first:
//
//   - Exchange 2007: every server gets the SP/RU, whatever its roles (packages are not per
//     role) ("How to install the latest Service Pack or Update Rollup for Exchange 2007"). Internet-facing Client Access servers before the other Client Access
//     servers (CAS-CAS proxy) ("How to install the latest Service Pack or Update Rollup for Exchange 2007"); then Client Access, Hub Transport, Mailbox, Unified
//     Messaging ("How to install the latest Service Pack or Update Rollup for Exchange 2007"; "Service Packs für Exchange 2007") (a CAS at SP0 cannot reach a Mailbox server at SP1). A server
//     with several roles goes with its earliest role. The sources say nothing of Edge
//     Transport: this provider puts it last, without making anything wait for it.
//   - Exchange 2000/2003: front-end servers before any back-end server (KB 328839). Load-balanced
//     2003 front-ends all at once (KB 328839); 2000 front-ends need not be simultaneous.
//   - Every Exchange 2003 server at SP2 before any Exchange 2007 server goes to SP1 or
//     later ("Service Packs für Exchange 2007").
//
// Waves of older products come first (5.5, 2000, 2003, then 2007).

// Target is the level an organisation upgrade aims at, per product.
type Target struct {
	Product     string // "2007", "2003", "2000", "5.5"
	ServicePack int
	// UpdateRollup/ReRelease (2007 only); Latest asks for the newest of the SP. Zero: the SP itself.
	UpdateRollup, ReRelease int
	Latest                  bool
}

// Wave is a set of servers that can be upgraded together once the earlier waves are done.
type Wave struct {
	Index   int      // 1-based
	Name    string   // e.g. "Exchange 2007 internet-facing Client Access", "Exchange 2003 front-end servers (load-balanced: all at once)"
	Servers []string // server names, sorted
	Reason  string   // why this wave is where it is, citing the rule (for reviewers)
}

// Ordering is the order of an organisation upgrade.
type Ordering struct {
	Waves []Wave
	// UpToDate lists servers already at (or above) their product's target with nothing an
	// interrupted apply or an interrupted setup left to do: not in any wave.
	UpToDate []string
	// Unplanned lists servers no target covers (their product has no Target), with why.
	// It also holds servers whose service pack is above the target (a service pack cannot
	// be uninstalled) and Exchange 2007 servers that report no role (they cannot be placed).
	Unplanned map[string]string
	// Predecessors: for each server in a wave, the servers that must reach their target
	// before it (nil when none). Only servers that are in waves are listed: one already at
	// its target is no obstacle.
	Predecessors map[string][]string
}

// Server roles as the probe reports them (Facts.Roles).
const (
	roleClientAccess     = "ClientAccess"
	roleHubTransport     = "HubTransport"
	roleMailbox          = "Mailbox"
	roleUnifiedMessaging = "UnifiedMessaging"
	roleEdge             = "Edge"
	roleFrontEnd         = "FrontEnd"
	roleBackEnd          = "BackEnd"
)

// stage is one place in a product's order; a server's stage decides its wave.
type stage struct {
	name string
	// role is the role that puts a server here ("" for none), to tell which other roles a
	// multi-role server holds.
	role string
	// ruled: the place is set by a rule of the sources. An unruled stage (Edge) is last by
	// this provider's choice: it waits for nothing and nothing waits for it.
	ruled bool
}

// stages are the places of each product, in order.
var stages = map[string][]stage{
	"5.5": {
		{name: "Exchange 5.5 servers", ruled: true},
	},
	"2000": {
		{name: "Exchange 2000 front-end servers", role: roleFrontEnd, ruled: true},
		{name: "Exchange 2000 back-end servers", role: roleBackEnd, ruled: true},
	},
	"2003": {
		{name: "Exchange 2003 front-end servers (load-balanced: all at once)", role: roleFrontEnd, ruled: true},
		{name: "Exchange 2003 back-end servers", role: roleBackEnd, ruled: true},
	},
	"2007": {
		{name: "Exchange 2007 internet-facing Client Access", role: roleClientAccess, ruled: true},
		{name: "Exchange 2007 Client Access (not internet-facing)", role: roleClientAccess, ruled: true},
		{name: "Exchange 2007 Hub Transport", role: roleHubTransport, ruled: true},
		{name: "Exchange 2007 Mailbox", role: roleMailbox, ruled: true},
		{name: "Exchange 2007 Unified Messaging", role: roleUnifiedMessaging, ruled: true},
		{name: "Exchange 2007 Edge Transport", role: roleEdge, ruled: false},
	},
}

// Indexes into stages["2007"] and stages["2000"/"2003"].
const (
	stageInternetCAS = iota
	stageCAS
	stageHub
	stageMailbox
	stageUM
	stageEdge
)

const (
	stageFrontEnd = iota
	stageBackEnd
)

// roles2007 are the Exchange 2007 roles in upgrade order, with their stage.
var roles2007 = []struct {
	role  string
	label string
	stage int
}{
	{roleClientAccess, "Client Access", stageCAS},
	{roleHubTransport, "Hub Transport", stageHub},
	{roleMailbox, "Mailbox", stageMailbox},
	{roleUnifiedMessaging, "Unified Messaging", stageUM},
	{roleEdge, "Edge Transport", stageEdge},
}

// ownStage is the stage of one server by its own roles, before clusters are taken into
// account. ok is false for an unknown product and for an Exchange 2007 server that
// reports none of the 2007 roles.
func ownStage(f Facts) (int, bool) {
	switch f.Product {
	case "5.5":
		return 0, true
	case "2000", "2003":
		// Front-end is a setting of a server; every server not configured as a front-end
		// is a back-end server.
		if f.HasRole(roleFrontEnd) {
			return stageFrontEnd, true
		}
		return stageBackEnd, true
	case "2007":
		// The earliest role decides: packages are not per role ("How to install the latest Service Pack or Update Rollup for Exchange 2007"), so a CAS+HUB+MBX
		// server is upgraded with the Client Access servers.
		for _, r := range roles2007 {
			if f.HasRole(r.role) {
				if r.stage == stageCAS && f.InternetFacing {
					return stageInternetCAS, true
				}
				return r.stage, true
			}
		}
	}
	return 0, false
}

// ClusterKeys names, for each of servers, the cluster it is a node of ("" when none), the
// same for every node of one cluster: the product and the cluster's nodes (an active/active
// cluster's nodes name different EVSs). A node whose cluster service is stopped reads no
// nodes: it takes the key of a server whose facts list it as a node, else its own name.
func ClusterKeys(servers []Facts) []string {
	keys := make([]string, len(servers))
	byNode := map[string]string{}
	for i, f := range servers {
		if k := f.Cluster.Key(); k != "" {
			keys[i] = f.Product + "/" + k
			for _, n := range f.Cluster.Nodes {
				byNode[strings.ToLower(n)] = keys[i]
			}
		}
	}
	for i, f := range servers {
		if f.Cluster == nil || keys[i] != "" {
			continue
		}
		if k, ok := byNode[strings.ToLower(f.Server)]; ok {
			keys[i] = k
		} else {
			keys[i] = f.Product + "/" + strings.ToLower(f.Server)
		}
	}
	return keys
}

// ClusterReaders gives, for each cluster key of ClusterKeys(servers) = keys, the cluster
// facts of a node that reads the cluster (one whose cluster service is stopped reads
// nothing of it), else of any of its nodes.
func ClusterReaders(servers []Facts, keys []string) map[string]*ClusterFacts {
	out := map[string]*ClusterFacts{}
	for i, k := range keys {
		if k != "" && out[k].Key() == "" {
			out[k] = servers[i].Cluster
		}
	}
	return out
}

// placeServers gives each server its stage (by index into servers); a server missing from
// the map cannot be placed. The nodes of one cluster are one unit: they all take the
// earliest stage any of them has, so they are never split across waves.
func placeServers(servers []Facts) map[int]int {
	placed := map[int]int{}
	earliest := map[string]int{}
	keys := ClusterKeys(servers)
	for i, f := range servers {
		s, ok := ownStage(f)
		if !ok {
			continue
		}
		placed[i] = s
		if k := keys[i]; k != "" {
			if e, seen := earliest[k]; !seen || s < e {
				earliest[k] = s
			}
		}
	}
	for i := range placed {
		if k := keys[i]; k != "" {
			placed[i] = earliest[k]
		}
	}
	return placed
}

// precedes reports whether a server of product at stage a must be upgraded before one of
// the same product at stage b, by the rules above.
func precedes(product string, a, b int) bool {
	st := stages[product]
	return a < b && st[a].ruled && st[b].ruled
}

// PredecessorsOf lists the servers that precede server by the rules above,
// among servers and whatever their levels, sorted; the caller checks their levels. These
// are the rules within a product: internet-facing Client Access, other Client Access, Hub
// Transport, Mailbox, Unified Messaging on Exchange 2007 (Edge Transport waits for none
// and none waits for it); front-end before back-end on Exchange 2000/2003. Nodes of one
// cluster do not precede each other (exchange_cluster_upgrade sequences them).
//
// The rule across products — every Exchange 2003 server at SP2 before any Exchange 2007
// server goes to SP1 or later — depends on the 2007 server's target, not on its roles: see
// Exchange2003BelowSP2. A server not among servers, or one that cannot be placed, has no
// predecessors. Names are compared ignoring case, as Windows does.
func PredecessorsOf(server string, servers []Facts) []string {
	return NewPrecedence(servers).Of(server)
}

// Precedence answers PredecessorsOf for every server of one organisation: the servers are
// placed once, and each question only walks them (a plan with a resource per server asks
// once per server).
type Precedence struct {
	servers []Facts
	placed  map[int]int
	index   map[string]int // lower-case name -> first index
}

// NewPrecedence places servers; it keeps the slice, which the caller must not change.
func NewPrecedence(servers []Facts) *Precedence {
	index := make(map[string]int, len(servers))
	for i, f := range servers {
		if _, dup := index[strings.ToLower(f.Server)]; !dup {
			index[strings.ToLower(f.Server)] = i
		}
	}
	return &Precedence{servers: servers, placed: placeServers(servers), index: index}
}

// Of is PredecessorsOf(server, servers).
func (p *Precedence) Of(server string) []string {
	self, ok := p.index[strings.ToLower(server)]
	if !ok {
		return nil
	}
	mine, ok := p.placed[self]
	if !ok {
		return nil
	}
	product := p.servers[self].Product
	var out []string
	for i, f := range p.servers {
		s, ok := p.placed[i]
		if i == self || !ok || f.Product != product || strings.EqualFold(f.Server, server) {
			continue
		}
		if precedes(product, s, mine) {
			out = append(out, f.Server)
		}
	}
	sort.Strings(out)
	return out
}

// Exchange2003BelowSP2 lists, sorted, the Exchange 2003 servers below SP2: while any is
// left, no Exchange 2007 server may go to SP1 or later ("Service Packs für Exchange 2007"). A 2003 server whose build
// cannot be read is an error naming it.
func Exchange2003BelowSP2(servers []Facts, cat *Catalog) ([]string, error) {
	if cat == nil {
		cat = DefaultCatalog()
	}
	var below, unreadable []string
	for _, f := range servers {
		if f.Product != "2003" {
			continue
		}
		sp, err := readServicePack(f, cat)
		if err != nil {
			unreadable = append(unreadable, err.Error())
			continue
		}
		if sp < 2 {
			below = append(below, f.Server)
		}
	}
	if len(unreadable) > 0 {
		return nil, errors.New(strings.Join(unreadable, "\n"))
	}
	sort.Strings(below)
	return below, nil
}

// Requires2003SP2 reports whether going to t needs every Exchange 2003 server at SP2
// first: t is Exchange 2007 SP1 or later ("Service Packs für Exchange 2007").
func Requires2003SP2(t Target) bool { return t.Product == "2007" && t.ServicePack >= 1 }

// resolveTarget finds the release a target names in the catalog.
func resolveTarget(t Target, cat *Catalog) (Release, error) {
	if _, ok := productByName(t.Product); !ok {
		return Release{}, fmt.Errorf("target: unknown product %q; known: %s", t.Product, productNames())
	}
	if t.Latest && (t.UpdateRollup != 0 || t.ReRelease != 0) {
		return Release{}, fmt.Errorf("target for Exchange %s %s: latest and update rollup %s exclude each other; give one",
			t.Product, spName(t.ServicePack), FormatRollup(t.UpdateRollup, t.ReRelease))
	}
	var rel Release
	var err error
	if t.Latest {
		rel, err = cat.Newest(t.Product, t.ServicePack)
	} else {
		rel, err = cat.Find(t.Product, t.ServicePack, t.UpdateRollup, t.ReRelease)
	}
	if err != nil {
		level := "Exchange " + t.Product + " " + spName(t.ServicePack)
		if t.UpdateRollup > 0 {
			level += " " + rollupName(t.UpdateRollup, t.ReRelease)
		}
		return Release{}, fmt.Errorf("target %s is not in the catalog: %w", level, err)
	}
	return rel, nil
}

// readServicePack is the SP of the server's live build; an error names the server when the
// build does not read as a build of its product.
func readServicePack(f Facts, cat *Catalog) (int, error) {
	b, err := ParseBuild(f.Build)
	if err != nil {
		return 0, fmt.Errorf("server %s: the live build cannot be read: %v", f.Server, err)
	}
	sp, ok := liveServicePack(f, cat)
	if !ok {
		return 0, fmt.Errorf("server %s: the live build %s is not an Exchange %s build the catalog can place (%s)",
			f.Server, b, f.Product, cat.Describe(b))
	}
	return sp, nil
}

// reached reports whether f's live build is at or above target. An exact catalog build
// compares by level; a build that names several releases (a missing revision) has reached
// the target only if every one of them has; any other build (an interim build on top of a
// release) compares by build number, which rises with the level within a product.
func reached(f Facts, target Release, cat *Catalog) (bool, error) {
	if _, err := readServicePack(f, cat); err != nil {
		return false, err
	}
	b, _ := ParseBuild(f.Build)
	if m := cat.matches(b); len(m) > 0 {
		for _, e := range m {
			if levelBefore(e.Level, target.Level) {
				return false, nil
			}
		}
		return true, nil
	}
	return !b.Less(target.Build), nil
}

// unfinished reports whether an apply left f mid-procedure: an install of ours still runs or
// finished while no apply watched (its job record is still there), or what it stopped or
// changed is recorded as not put back. Such a server is not done at its target: its wave
// plans the rest (the per-server planner's continuation, planning.finished). Nor is a
// server whose setup key holds an interrupted setup's Action/Watermark: its build can read
// as the target's while setup did not finish, and its wave plans (or refuses) setup again
// as PlanServicePack does.
func unfinished(f Facts) bool {
	if len(f.Setup.Watermarks) > 0 {
		return true
	}
	for _, j := range f.Jobs {
		if j.State == JobRunning || j.State == JobSucceeded {
			return true
		}
	}
	return !f.Leftovers.Empty() || f.Leftovers.FirewallStarted
}

// Reached reports whether f is at or above t (for its product).
func Reached(f Facts, t Target, cat *Catalog) (bool, error) {
	if cat == nil {
		cat = DefaultCatalog()
	}
	rel, err := resolveTarget(t, cat)
	if err != nil {
		return false, err
	}
	if f.Product != t.Product {
		return false, fmt.Errorf("server %s runs Exchange %q, and the target is for Exchange %s", f.Server, f.Product, t.Product)
	}
	return reached(f, rel, cat)
}

// Order puts the servers of an organisation upgrade into waves by the rules above.
// Servers already at their product's target are UpToDate; servers no target covers, or
// whose service pack is above the target, are Unplanned. It is an error when a target is
// not in the catalog, when two targets name one product, when two servers share a name,
// when a server whose level matters has a build that cannot be read, and when an Exchange
// 2007 target of SP1 or later would have to wait for Exchange 2003 servers below SP2 that
// no target brings to SP2.
func Order(servers []Facts, targets []Target, cat *Catalog) (Ordering, error) {
	if cat == nil {
		cat = DefaultCatalog()
	}
	out := Ordering{Unplanned: map[string]string{}, Predecessors: map[string][]string{}}

	// Targets, validated against the catalog.
	rels := map[string]Release{}
	var problems []string
	for _, t := range targets {
		rel, err := resolveTarget(t, cat)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		if prev, dup := rels[t.Product]; dup {
			problems = append(problems, fmt.Sprintf("two targets for Exchange %s (%s and %s): give one per product", t.Product, prev.Level, rel.Level))
			continue
		}
		rels[t.Product] = rel
	}
	if len(problems) > 0 {
		return Ordering{}, errors.New(strings.Join(problems, "\n"))
	}
	var targeted []string
	for _, p := range Products {
		if _, ok := rels[p]; ok {
			targeted = append(targeted, p)
		}
	}

	// Names must be unique: they are the keys of everything returned.
	seen := map[string]string{}
	for _, f := range servers {
		key := strings.ToLower(f.Server)
		switch prev, dup := seen[key]; {
		case f.Server == "":
			problems = append(problems, fmt.Sprintf("a server (Exchange %s, build %s) has no name", f.Product, f.Build))
		case dup:
			problems = append(problems, fmt.Sprintf("server name %s is given twice (as %s and %s; names are compared ignoring case)", f.Server, prev, f.Server))
		default:
			seen[key] = f.Server
		}
	}
	if len(problems) > 0 {
		return Ordering{}, errors.New(strings.Join(problems, "\n"))
	}

	// Each server: unplanned, up to date, or to be upgraded (pending). The level of a
	// server matters when its product has a target (and that of every 2003 server when the
	// rule across products below binds).
	rel2007, has2007 := rels["2007"]
	needs2003SP2 := has2007 && rel2007.Level.ServicePack >= 1
	pending := map[int]bool{}
	var unreadable []string
	for i, f := range servers {
		if _, ok := productByName(f.Product); !ok {
			out.Unplanned[f.Server] = fmt.Sprintf("the server reports Exchange product %q, which this provider does not know (known: %s)", f.Product, productNames())
			continue
		}
		rel, has := rels[f.Product]
		if !has {
			out.Unplanned[f.Server] = noTarget(f.Product, targeted)
			continue
		}
		sp, err := readServicePack(f, cat)
		if err != nil {
			unreadable = append(unreadable, err.Error())
			continue
		}
		if sp > rel.Level.ServicePack {
			b, _ := ParseBuild(f.Build)
			out.Unplanned[f.Server] = fmt.Sprintf("above the target: the server runs %s (build %s) and the target is %s; a service pack cannot be uninstalled, and the per-server planner refuses to go down to a lower one",
				cat.Describe(b), b, rel.Level)
			continue
		}
		ok, err := reached(f, rel, cat)
		if err != nil {
			unreadable = append(unreadable, err.Error())
			continue
		}
		if ok && !unfinished(f) {
			out.UpToDate = append(out.UpToDate, f.Server)
			continue
		}
		pending[i] = true
	}
	if len(unreadable) > 0 {
		return Ordering{}, fmt.Errorf("the live build of some servers cannot be read, so their place in the order cannot be told:\n%s", strings.Join(unreadable, "\n"))
	}

	placed := placeServers(servers)
	for i := range pending {
		if _, ok := placed[i]; !ok {
			f := servers[i]
			out.Unplanned[f.Server] = fmt.Sprintf("the server reports no Exchange 2007 role (roles: %s): the order across servers goes by role, so it cannot be placed; check that the probe reads its roles",
				describeRoles(f.Roles))
			delete(pending, i)
		}
	}

	// Every Exchange 2003 server at SP2 before any Exchange 2007 server goes to SP1 or
	// later ("Service Packs für Exchange 2007"). It binds only when a 2007 server to be upgraded runs below SP1 now: a
	// server already past SP1 does not "go to SP1".
	var below2003 []string
	if needs2003SP2 && goesToSP1(servers, pending, cat) {
		var err error
		if below2003, err = Exchange2003BelowSP2(servers, cat); err != nil {
			return Ordering{}, fmt.Errorf("the target %s needs every Exchange 2003 server at SP2 first, and the live build of some cannot be read:\n%w", rel2007.Level, err)
		}
		if len(below2003) > 0 {
			rel2003, has2003 := rels["2003"]
			switch {
			case !has2003:
				return Ordering{}, fmt.Errorf("the target %s needs every Exchange 2003 server at SP2 first, and %s below SP2, but there is no Exchange 2003 target: add an Exchange 2003 target of SP2 so that they are upgraded first",
					rel2007.Level, describeBelow(below2003))
			case rel2003.Level.ServicePack < 2:
				return Ordering{}, fmt.Errorf("the target %s needs every Exchange 2003 server at SP2 first, and %s below SP2, but the Exchange 2003 target is %s: set the Exchange 2003 target to SP2",
					rel2007.Level, describeBelow(below2003), rel2003.Level)
			}
		}
	}

	// Waves: products oldest first, each in its own order.
	var earlierProducts []string
	for _, product := range Products {
		first := true
		for si, st := range stages[product] {
			var members []Facts
			for i, f := range servers {
				if pending[i] && f.Product == product && placed[i] == si {
					members = append(members, f)
				}
			}
			if len(members) == 0 {
				continue
			}
			sort.Slice(members, func(a, b int) bool { return members[a].Server < members[b].Server })
			names := make([]string, len(members))
			for i, f := range members {
				names[i] = f.Server
			}
			reason := waveReason(product, si, members, rels[product])
			if first && len(earlierProducts) > 0 {
				reason += fmt.Sprintf(" Older products first: the Exchange %s waves come before the Exchange %s ones by this provider's choice (the sources order servers within a product), so that no older server waits behind a newer one.",
					strings.Join(earlierProducts, "/"), product)
			}
			if product == "2007" && len(below2003) > 0 {
				reason += fmt.Sprintf(" Every Exchange 2003 server must be at SP2 before any Exchange 2007 server goes to SP1 or later (\"Service Packs für Exchange 2007\"): the target is %s, and %s below SP2, so the Exchange 2003 waves come first.",
					rel2007.Level, describeBelow(below2003))
			}
			out.Waves = append(out.Waves, Wave{Index: len(out.Waves) + 1, Name: st.name, Servers: names, Reason: reason})
			first = false
		}
		if !first {
			earlierProducts = append(earlierProducts, product)
		}
	}

	// Predecessors: the rules' predecessors that are themselves still to be upgraded.
	for i, f := range servers {
		if !pending[i] {
			continue
		}
		var preds []string
		for j, g := range servers {
			if pending[j] && g.Product == f.Product && precedes(f.Product, placed[j], placed[i]) {
				preds = append(preds, g.Server)
			}
		}
		if f.Product == "2007" {
			preds = append(preds, below2003...)
		}
		sort.Strings(preds)
		out.Predecessors[f.Server] = preds
	}
	sort.Strings(out.UpToDate)
	return out, nil
}

// noTarget is why a server without a target is not planned.
func noTarget(product string, targeted []string) string {
	if len(targeted) == 0 {
		return fmt.Sprintf("no target for Exchange %s (no target is given)", product)
	}
	return fmt.Sprintf("no target for Exchange %s (targets are given for Exchange %s)", product, strings.Join(targeted, ", "))
}

// goesToSP1 reports whether a 2007 server to be upgraded runs below SP1 (or an unreadable
// level) now.
func goesToSP1(servers []Facts, pending map[int]bool, cat *Catalog) bool {
	for i, f := range servers {
		if !pending[i] || f.Product != "2007" {
			continue
		}
		if rel, ok := LiveLevel(f, cat); !ok || rel.Level.ServicePack < 1 {
			return true
		}
	}
	return false
}

// describeBelow is "server EX1 is" or "servers EX1, EX2 are".
func describeBelow(names []string) string {
	if len(names) == 1 {
		return "server " + names[0] + " is"
	}
	return "servers " + strings.Join(names, ", ") + " are"
}

func describeRoles(roles []string) string {
	if len(roles) == 0 {
		return "none"
	}
	return strings.Join(roles, ", ")
}

// waveReason says why a wave of product at stage si is where it is, citing the source.
func waveReason(product string, si int, members []Facts, target Release) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Target %s (%s). ", target.Level, target.Build)
	switch product {
	case "5.5":
		b.WriteString("Exchange 5.5: the sources set no order between Exchange 5.5 servers.")
	case "2000":
		if si == stageFrontEnd {
			b.WriteString("Exchange 2000: front-end servers before any back-end server (KB 328839) (the OWA script files of a front-end not yet upgraded do not work with an upgraded back-end). Exchange 2000 front-ends need not be upgraded at the same time: one wave is this provider's grouping, and they may go one by one.")
		} else {
			b.WriteString("Exchange 2000: back-end servers after every front-end server (KB 328839).")
			backEndNote(&b, members)
		}
	case "2003":
		if si == stageFrontEnd {
			b.WriteString("Exchange 2003: front-end servers before any back-end server (KB 328839). Load-balanced front-ends are upgraded all at once — take them all offline, upgrade each, bring them online — because mobile clients get sync key errors while front-ends run different service packs (KB 328839). Whether front-ends are load-balanced cannot be told from the facts the probe reads, so every Exchange 2003 front-end is in this one wave.")
		} else {
			b.WriteString("Exchange 2003: back-end servers after every front-end server (KB 328839).")
			backEndNote(&b, members)
		}
	case "2007":
		b.WriteString("Exchange 2007: every server gets the service pack or update rollup, whatever its roles (packages are not per role) (\"How to install the latest Service Pack or Update Rollup for Exchange 2007\"). ")
		const roleOrder = "the order is Client Access, Hub Transport, Mailbox, Unified Messaging (\"How to install the latest Service Pack or Update Rollup for Exchange 2007\"; \"Service Packs für Exchange 2007\") (a CAS at SP0 cannot reach a Mailbox server at SP1)"
		switch si {
		case stageInternetCAS:
			b.WriteString("Internet-facing Client Access servers first: with CAS-CAS proxy they are upgraded before the Client Access servers that are not internet-facing (\"How to install the latest Service Pack or Update Rollup for Exchange 2007\"), and " + roleOrder + ".")
		case stageCAS:
			b.WriteString("Client Access servers that are not internet-facing, after the internet-facing ones (CAS-CAS proxy; \"How to install the latest Service Pack or Update Rollup for Exchange 2007\"); " + roleOrder + ".")
		case stageHub:
			b.WriteString("Hub Transport after Client Access: " + roleOrder + ".")
		case stageMailbox:
			b.WriteString("Mailbox after Client Access and Hub Transport: " + roleOrder + ".")
		case stageUM:
			b.WriteString("Unified Messaging last of the ordered roles: " + roleOrder + ".")
		case stageEdge:
			b.WriteString("Edge Transport: not ordered by the sources; last by this provider's choice. They wait for no other Exchange 2007 server, and none waits for them.")
		}
		multiRoleNote(&b, si, members)
	}
	clusterNote(&b, members)
	return b.String()
}

// multiRoleNote names the servers of a 2007 wave that hold later roles too.
func multiRoleNote(b *strings.Builder, si int, members []Facts) {
	var notes []string
	for _, f := range members {
		var others []string
		for _, r := range roles2007 {
			if f.HasRole(r.role) && r.role != stages["2007"][si].role {
				others = append(others, r.label)
			}
		}
		if len(others) > 0 {
			notes = append(notes, fmt.Sprintf("%s also holds %s", f.Server, strings.Join(others, ", ")))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintf(b, " %s: a server with several roles is upgraded in the wave of its earliest role (the packages are not per role; \"How to install the latest Service Pack or Update Rollup for Exchange 2007\").", strings.Join(notes, "; "))
	}
}

// backEndNote says which servers are back-end only because they are not front-ends.
func backEndNote(b *strings.Builder, members []Facts) {
	var implicit []string
	for _, f := range members {
		if !f.HasRole(roleBackEnd) {
			implicit = append(implicit, f.Server)
		}
	}
	if len(implicit) > 0 {
		fmt.Fprintf(b, " %s report neither FrontEnd nor BackEnd: a server not configured as a front-end is a back-end server.", strings.Join(implicit, ", "))
	}
}

// clusterNote names the clusters whose nodes are in the wave: one unit each, serviced by
// exchange_cluster_upgrade, which sequences the nodes.
func clusterNote(b *strings.Builder, members []Facts) {
	type cluster struct {
		c     *ClusterFacts
		nodes []string
	}
	var order []string
	byKey := map[string]*cluster{}
	keys := ClusterKeys(members)
	readers := ClusterReaders(members, keys)
	for i, k := range keys {
		if k == "" {
			continue
		}
		if byKey[k] == nil {
			byKey[k] = &cluster{c: readers[k]}
			order = append(order, k)
		}
		byKey[k].nodes = append(byKey[k].nodes, members[i].Server)
	}
	for _, k := range order {
		cl := byKey[k]
		kind := "clustered mailbox server"
		if cl.c.Type == clusterActiveActive || len(cl.c.GroupsOf()) > 1 {
			kind = "the cluster of Exchange Virtual Servers"
		} else if strings.HasPrefix(cl.c.Type, "evs") {
			kind = "Exchange Virtual Server"
		} else if cl.c.Type == "cluster-5.5" {
			kind = "Exchange 5.5 cluster"
		}
		typ := ""
		if cl.c.Type != "" {
			typ = " (" + cl.c.Type + ")"
		}
		fmt.Fprintf(b, " Nodes %s of %s %s%s are one unit, in this wave together: cluster nodes are serviced by exchange_cluster_upgrade, which sequences them.",
			strings.Join(cl.nodes, ", "), kind, cl.c.Title(), typ)
	}
}
