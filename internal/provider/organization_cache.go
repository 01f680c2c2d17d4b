package provider

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
)

// The organisations of one run (one Terraform command). Every servicing resource's order
// check needs its organisation; a plan of 500 servers used to discover it 500 times, once
// through each server, each answer listing all 500 (issue 12). Now an organisation is
// discovered once, through whichever server asks first, and every later question from a
// server it lists is answered from that discovery. Its servers are probed once (through the
// probe cache) and placed in the order across servers (exchange.Order) once; each resource then checks only
// its own predecessors.

// organization is one discovered Exchange organisation.
type organization struct {
	discovered wire.DiscoverResult

	mu      sync.Mutex
	members map[string]bool // first DNS labels, lower case: discovered servers and cluster nodes
	view    *orgView        // nil until placed
	viewErr error
	placing chan struct{} // closed when the placing in flight ends; nil when none
}

// hostKey is how organisations compare server names: as exchange.SameHost does.
func hostKey(name string) string {
	name = strings.TrimSpace(name)
	if i := strings.IndexByte(name, '.'); i > 0 {
		name = name[:i]
	}
	return strings.ToLower(name)
}

func newOrganization(res wire.DiscoverResult) *organization {
	o := &organization{discovered: res, members: make(map[string]bool, len(res.Servers))}
	for _, s := range res.Servers {
		o.members[hostKey(s.Name)] = true
	}
	return o
}

// has reports whether the organisation lists any of names.
func (o *organization) has(names ...string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, n := range names {
		if n != "" && o.members[hostKey(n)] {
			return true
		}
	}
	return false
}

// orgView is an organisation probed and placed: every server (a CMS/EVS name replaced by
// its nodes), reached by the target it was first probed through, and the order among them.
type orgView struct {
	targets map[string]remote.Target // lower-case server name -> where it was reached
	facts   []exchange.Facts         // as first probed: their roles and clusters place them
	order   *exchange.Precedence
}

// aliases are the names Active Directory may list a server under: a cluster node is listed
// under its CMS/EVS (or cluster) name, not its own.
func aliases(f exchange.Facts) []string {
	names := []string{f.Server}
	if f.Cluster != nil {
		names = append(names, f.Cluster.ClusterName)
		for _, g := range f.Cluster.GroupsOf() {
			names = append(names, g.Name)
		}
	}
	return names
}

// organizationOf is the organisation through (or one of its other names) belongs to,
// discovered through it when no organisation of this run lists it. One discovery runs at a
// time, so servers asking together wait for the first answer instead of each discovering.
// A failed discovery is remembered for the server it went through (another server may
// still discover the organisation).
func (d *providerData) organizationOf(ctx context.Context, through remote.Target, names ...string) (*organization, error) {
	d.applyMu.Lock()
	if d.discovering == nil {
		d.discovering = make(chan struct{}, 1)
	}
	sem := d.discovering
	d.applyMu.Unlock()
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-sem }()

	names = append([]string{through.Server}, names...)
	d.applyMu.Lock()
	for _, o := range d.orgs {
		if o.has(names...) {
			d.applyMu.Unlock()
			return o, nil
		}
	}
	if err, failed := d.discoverErrs[hostKey(through.Server)]; failed {
		d.applyMu.Unlock()
		return nil, err
	}
	d.applyMu.Unlock()

	res, err := remote.Call(ctx, d.client, through, wire.DiscoverRequest{})
	d.applyMu.Lock()
	defer d.applyMu.Unlock()
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			if d.discoverErrs == nil {
				d.discoverErrs = map[string]error{}
			}
			d.discoverErrs[hostKey(through.Server)] = err
		}
		return nil, err
	}
	o := newOrganization(res)
	d.orgs = append(d.orgs, o)
	return o, nil
}

// viewOf probes and places the organisation once. Callers that come while it is being
// placed wait for it; a caller whose context ends stops waiting, and a placing cancelled
// that way is redone by the next caller.
func (d *providerData) viewOf(ctx context.Context, o *organization, through remote.Target) (*orgView, error) {
	for {
		o.mu.Lock()
		if o.view != nil || o.viewErr != nil {
			v, err := o.view, o.viewErr
			o.mu.Unlock()
			return v, err
		}
		if wait := o.placing; wait != nil {
			o.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		done := make(chan struct{})
		o.placing = done
		o.mu.Unlock()

		v, err := d.placeOrganization(ctx, o, through)
		o.mu.Lock()
		o.placing = nil
		if !errors.Is(err, context.Canceled) {
			o.view, o.viewErr = v, err
			if v != nil {
				for name := range v.targets {
					o.members[hostKey(name)] = true
				}
			}
		}
		o.mu.Unlock()
		close(done)
		return v, err
	}
}

func (d *providerData) placeOrganization(ctx context.Context, o *organization, through remote.Target) (*orgView, error) {
	facts, targets, err := d.probeOrganization(ctx, d.discoveredTargets(o, through), 0)
	if err != nil {
		return nil, err
	}
	v := &orgView{targets: make(map[string]remote.Target, len(targets)), facts: facts, order: exchange.NewPrecedence(facts)}
	for i, f := range facts {
		v.targets[strings.ToLower(f.Server)] = targets[i]
	}
	return v, nil
}

// discoveredTargets are the servers the organisation lists, to be reached by the provider's
// addresses map, else by name; the server asking is reached where it was.
func (d *providerData) discoveredTargets(o *organization, through remote.Target) []remote.Target {
	if through.Address != "" {
		// A cluster node that discovery went through is listed under its CMS/EVS name, not
		// its own: its nodes are reached by targetOfServer, which must know this address.
		d.rememberTarget(through.Server, through)
	}
	targets := make([]remote.Target, 0, len(o.discovered.Servers))
	for _, s := range o.discovered.Servers {
		t := remote.Target{Server: s.Name}
		if strings.EqualFold(s.Name, through.Server) {
			t.Address = through.Address
		}
		targets = append(targets, t)
	}
	return targets
}

// facts is the live facts of a server of the view, through the probe cache: the level of a
// server serviced earlier in this run is read again.
func (v *orgView) liveFacts(ctx context.Context, d *providerData, name string) (exchange.Facts, error) {
	t, ok := v.targets[strings.ToLower(name)]
	if !ok {
		t = d.targetOfServer(name)
	}
	return d.probes.Facts(ctx, t)
}

// predecessors are the servers that come before self, by the order rules; self need not
// be among the servers the organisation lists (a server named by another name).
func (v *orgView) predecessors(self exchange.Facts) []string {
	if _, ok := v.targets[strings.ToLower(self.Server)]; ok {
		return v.order.Of(self.Server)
	}
	all := append(append(make([]exchange.Facts, 0, len(v.facts)+1), v.facts...), self)
	return exchange.PredecessorsOf(self.Server, all)
}

// products lists the servers of the view that run product.
func (v *orgView) serversOf(product string) []string {
	var out []string
	for _, f := range v.facts {
		if f.Product == product {
			out = append(out, f.Server)
		}
	}
	return out
}
