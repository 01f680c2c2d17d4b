package provider

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"golang.org/x/sync/errgroup"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote"
)

// The organisation: its servers (listed, or discovered through one server), their facts
// (probed concurrently, each once per run through the probe cache) and the order in which
// they must be serviced (exchange.Order).

// defaultProbeConcurrency bounds concurrent probes of a fleet (probe_concurrency): Terraform's
// own parallelism (10) does not apply inside one data source or one order check.
const defaultProbeConcurrency = 16

// discover lists the organisation's servers as Active Directory lists them, discovered
// once per run (organizationOf): through this server, or through another server of the
// same organisation that asked first.
func (d *providerData) discover(ctx context.Context, through remote.Target) ([]remote.Target, error) {
	o, err := d.organizationOf(ctx, through)
	if err != nil {
		return nil, err
	}
	return d.discoveredTargets(o, through), nil
}

// probeAll reads every server concurrently; the errors name each server that failed.
func (d *providerData) probeAll(ctx context.Context, targets []remote.Target, parallelism int) ([]exchange.Facts, error) {
	if parallelism < 1 {
		parallelism = d.probeConcurrency
	}
	if parallelism < 1 {
		parallelism = defaultProbeConcurrency
	}
	facts := make([]exchange.Facts, len(targets))
	errs := make([]error, len(targets))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallelism)
	for i, t := range targets {
		if why := d.unreachable(t.Server); why != "" {
			errs[i] = errors.New(why) // refused before any connection is tried
			continue
		}
		g.Go(func() error {
			facts[i], errs[i] = d.probes.Facts(gctx, t)
			return nil // every server is tried; failures are reported together
		})
	}
	_ = g.Wait()
	var msgs []string
	for i, err := range errs {
		if err != nil {
			msgs = append(msgs, fmt.Sprintf("%s: %v", targets[i].Server, err))
		}
	}
	if len(msgs) > 0 {
		return facts, fmt.Errorf("%d of %d servers could not be read:\n%s", len(msgs), len(targets), strings.Join(msgs, "\n"))
	}
	return facts, nil
}

// unreachable says why server cannot be reached at all, or "" when it may be: Active
// Directory (a discovery of this run) records it as Exchange 5.5 or 2000, which run on
// Windows NT 4.0 or Windows 2000, for which there is no WinRM or PowerShell 2.0 (KB 968930,
// "Windows Management Framework Core package (Windows PowerShell 2.0 and WinRM 2.0)": Windows
// XP SP3, Server 2003 SP2 and later). Such a server is refused by name before any
// connection is tried. This is the one place that decides it: a management host (a
// Windows machine with WinRM that reaches such servers by other means, to come) would be
// consulted here instead. An Exchange 2003 server on Windows 2000 cannot be told apart this
// way (AD's version says 2003): its refused connection says it may be one (internal/remote).
func (d *providerData) unreachable(server string) string {
	d.applyMu.Lock()
	defer d.applyMu.Unlock()
	for _, o := range d.orgs {
		for _, s := range o.discovered.Servers {
			if strings.EqualFold(s.Name, server) && (s.Product == "5.5" || s.Product == "2000") {
				return fmt.Sprintf("Active Directory records %s as Exchange %s, which runs on Windows NT 4.0 or Windows 2000: those have no WinRM or PowerShell 2.0, so this provider cannot reach it yet; servicing such servers through a Windows management host comes later: service it by hand", s.Name, s.Product)
			}
		}
	}
	return ""
}

// probeOrganization reads the servers of an organisation. Active Directory lists a
// clustered mailbox server or Exchange Virtual Server under its own name, not its nodes':
// probed by that name, the node that runs it answers. Such a name is replaced by every node
// of its cluster, each probed by its own name (where its steps go). The facts are one per
// server, with the target each was reached by.
func (d *providerData) probeOrganization(ctx context.Context, targets []remote.Target, parallelism int) ([]exchange.Facts, []remote.Target, error) {
	facts, err := d.probeAll(ctx, targets, parallelism)
	if err != nil {
		return nil, nil, err
	}
	var outFacts []exchange.Facts
	var outTargets []remote.Target
	seen := map[string]bool{}
	var nodes []remote.Target
	for i, f := range facts {
		if !exchange.SameHost(targets[i].Server, f.Server) && f.Cluster.Names(targets[i].Server) {
			if node := d.targetOfServer(f.Server); !seen[strings.ToLower(f.Server)] && d.nodeAnswered(targets[i], node, f) {
				// The node's facts as the cache has them now: this answer, or the node's own
				// probe when it was known already. An answer given under the CMS/EVS name
				// before the node was serviced is not the node any more (an apply's read
				// after the waves recorded its old build and owner).
				if nf, err := d.probes.Facts(ctx, node); err == nil {
					seen[strings.ToLower(f.Server)] = true
					outFacts, outTargets = append(outFacts, nf), append(outTargets, node)
				}
			}
			for _, n := range f.Cluster.Nodes {
				nodes = append(nodes, d.targetOfServer(n))
			}
			continue
		}
		if !seen[strings.ToLower(f.Server)] {
			seen[strings.ToLower(f.Server)] = true
			outFacts, outTargets = append(outFacts, f), append(outTargets, targets[i])
		}
	}
	var more []remote.Target
	for _, n := range nodes {
		if !seen[strings.ToLower(n.Server)] {
			seen[strings.ToLower(n.Server)] = true
			more = append(more, n)
		}
	}
	if len(more) == 0 {
		return outFacts, outTargets, nil
	}
	nodeFacts, err := d.probeAll(ctx, more, parallelism)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the nodes of the organisation's clusters: %w", err)
	}
	return append(outFacts, nodeFacts...), append(outTargets, more...), nil
}

// nodeAnswered takes f, a node's answer to a probe of a CMS/EVS (or cluster) name asked, as
// the probe of node (f.Server, where steps will be sent) when it is one, and reports whether
// it did (issue 12: the active node was probed twice, once per name). It is when node's
// address is the one the answer came through, so the answer proved that address reaches the node (what the node's
// own probe checks before any step is sent there), and it describes the group a probe by
// the node's own name describes. A CMS/EVS on an address of its own still costs its node a
// probe by its own name.
func (d *providerData) nodeAnswered(asked, node remote.Target, f exchange.Facts) bool {
	return describesOwnGroup(f) && strings.EqualFold(d.client.resolve(asked).Address, d.client.resolve(node).Address) &&
		d.probes.adopt(asked, node)
}

// describesOwnGroup reports whether a node's facts describe the group a probe addressed by
// the node's own name describes: probe.ps1 then selects the first Exchange group the node
// owns, where a probe addressed by a CMS/EVS name selects that one. Nothing else in the
// facts depends on the name the probe was addressed by.
func describesOwnGroup(f exchange.Facts) bool {
	if f.Cluster == nil {
		return true
	}
	for _, g := range f.Cluster.GroupsOf() {
		if exchange.SameHost(g.Owner, f.Server) {
			return exchange.SameHost(g.Name, f.Cluster.Name)
		}
	}
	return false
}

// predecessorGuard checks, for a servicing resource, that the servers which must be
// serviced before this one are at the target already, or are planned to
// reach it earlier in this run. It returns the names of those that are not, with their
// levels. Discovery goes through the server itself (Active Directory lists the
// organisation); a server whose organisation cannot be read gets a warning, not a refusal.
func (d *providerData) predecessorGuard(ctx context.Context, t remote.Target, self exchange.Facts, target exchange.Target, atApply bool) (behind []string, warning string) {
	o, err := d.organizationOf(ctx, t, aliases(self)[1:]...)
	if err != nil {
		return nil, fmt.Sprintf("the order across servers was not checked: the organisation could not be read through %s (%v); "+
			"make sure the servers that come before it (internet-facing CAS, CAS, Hub Transport, Mailbox, UM; front-ends before back-ends) are serviced first", t.Server, err)
	}
	view, err := d.viewOf(ctx, o, t)
	if err != nil {
		return nil, fmt.Sprintf("the order across servers was not checked: %v", err)
	}
	type predecessor struct {
		name   string
		target exchange.Target
	}
	var preds []predecessor
	for _, name := range view.predecessors(self) {
		preds = append(preds, predecessor{name, target})
	}
	// Every Exchange 2003 server at SP2 before any Exchange 2007 server goes to SP1 ("Service Packs für Exchange 2007"):
	// only a server that goes to SP1 now (a rollup on a server at SP1 already does not).
	if live, ok := exchange.LiveLevel(self, exchange.DefaultCatalog()); exchange.Requires2003SP2(target) && ok && live.Level.ServicePack < 1 {
		var servers2003 []exchange.Facts
		for _, name := range view.serversOf("2003") {
			f, err := view.liveFacts(ctx, d, name)
			if err != nil {
				return nil, fmt.Sprintf("the order across servers was not checked: %s: %v", name, err)
			}
			servers2003 = append(servers2003, f)
		}
		below, _ := exchange.Exchange2003BelowSP2(servers2003, exchange.DefaultCatalog())
		for _, name := range below {
			preds = append(preds, predecessor{name, exchange.Target{Product: "2003", ServicePack: 2}})
		}
	}
	var unread []string
	for _, pr := range preds {
		name, pt := pr.name, pr.target
		if !atApply && d.registry.hasPassed(name, pt) {
			continue // at the target, or planned to it, by an earlier check of this run
		}
		f, err := view.liveFacts(ctx, d, name)
		if err != nil {
			unread = append(unread, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		ok, err := exchange.Reached(f, pt, exchange.DefaultCatalog())
		if err != nil {
			continue
		}
		if ok || (!atApply && d.registry.plannedTo(name, pt)) { // planned: upgraded earlier in this apply
			d.registry.pass(name, pt)
			continue
		}
		level, _, _ := levelOf(f.Build, exchange.DefaultCatalog())
		behind = append(behind, fmt.Sprintf("%s (%s)", name, level.ValueString()))
	}
	if len(unread) > 0 {
		return nil, fmt.Sprintf("the order across servers was not checked: %d of the servers that come before it could not be read:\n%s",
			len(unread), strings.Join(unread, "\n"))
	}
	sort.Strings(behind)
	return behind, ""
}

// installs reports whether a plan installs or removes something (a clean-up plan after an
// interrupted apply does not, and is not held up by the order across servers).
func installs(p exchange.Plan) bool {
	return slices.ContainsFunc(p.Steps, func(s exchange.Step) bool { return installsAction(s.Action()) })
}

// installsAction reports whether a step of this action installs or removes something.
func installsAction(action string) bool {
	switch action {
	case exchange.ActionInstallServicePack, exchange.ActionInstallUpdateRollup, exchange.ActionUninstallUpdateRollup,
		exchange.ActionInstallInterimUpdate, exchange.ActionRemoveInterimUpdate:
		return true
	}
	return false
}

// levelTarget is the organisation target a plan reaches.
func levelTarget(p exchange.Plan) exchange.Target {
	l := p.Target.Level
	return exchange.Target{Product: l.Product, ServicePack: l.ServicePack, UpdateRollup: l.UpdateRollup, ReRelease: l.ReRelease}
}

// checkOrder refuses a plan that would service a server before the servers that must come
// first, naming them; at apply only their live levels count.
func (d *providerData) checkOrder(ctx context.Context, t remote.Target, self exchange.Facts, p exchange.Plan, atApply bool, diags *diag.Diagnostics) {
	if !installs(p) || p.Target.Level.Product == "" {
		return
	}
	behind, warning := d.predecessorGuard(ctx, t, self, levelTarget(p), atApply)
	if warning != "" {
		diags.AddWarning(fmt.Sprintf("Server %s: order across servers not checked", t.Server), warning)
	}
	if len(behind) == 0 {
		return
	}
	when := "are not at it and are not upgraded earlier in this apply"
	if atApply {
		when = "are not at it yet"
	}
	diags.AddAttributeError(path.Root("server"),
		fmt.Sprintf("Server %s must wait: servers that come before it %s", t.Server, "are below "+p.Target.Level.String()),
		fmt.Sprintf("By the order across servers (internet-facing Client Access, other Client Access, Hub Transport, Mailbox, "+
			"Unified Messaging; front-ends before back-ends; Exchange 2003 at SP2 before Exchange 2007 SP1), these servers "+
			"come before %s and %s: %s. Upgrade them first: use exchange_organization_upgrade, or make this resource "+
			"depend on theirs (depends_on) so they are planned and applied earlier.", t.Server, when, strings.Join(behind, ", ")))
}
