package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	"golang.org/x/sync/singleflight"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
	"github.com/buildlevel/terraform-provider-exchange/internal/window"
)

// providerData is what Configure hands to every resource and data source.
type providerData struct {
	client   addressBook
	probes   *probeCache
	registry *planRegistry
	// lockOwner names this provider on the servers it services; pollInterval is how often
	// a running installer or a rebooting server is checked.
	lockOwner    string
	pollInterval time.Duration
	// probeConcurrency is how many servers are probed at once (probe_concurrency).
	probeConcurrency int
	// window is the provider's maintenance_window, the default of every servicing
	// resource (maintenance_window.go); clock is "now" for tests (nil: the wall clock).
	window *window.Window
	clock  func() time.Time
	// evidence is the provider's backup_evidence (nil when not set), which every
	// resource's backup block adds to.
	evidence *providerEvidence
	// planTime is plan_timestamp: the time the maintenance window of a plan is chosen
	// from (scheduledWindow); zero when not set (the clock's now).
	planTime time.Time

	applyMu  sync.Mutex
	applying map[string]*sync.Mutex
	targets  map[string]remote.Target // where organisation servers were reached

	// The organisations of this run (organization_cache.go), guarded by applyMu;
	// discovering lets one discovery run at a time.
	orgs         []*organization
	discoverErrs map[string]error // by the server discovery went through
	discovering  chan struct{}
}

// probeCache holds one probe per server for the life of the provider process, which is one
// Terraform command: every resource and data source naming a server shares it, and
// concurrent readers wait for the one probe in flight (single-flight) instead of starting
// their own. Errors are kept too, so an unreachable server costs one timeout, not one per
// resource. Forget drops a server after an apply changed it.
type probeCache struct {
	prober interface {
		Probe(context.Context, remote.Target) (exchange.Facts, error)
	}
	group singleflight.Group
	// slots bound the probes in flight across the whole run (probe_concurrency): the
	// organisation's order check, the organisation data sources and every resource share them.
	slots chan struct{}

	mu      sync.Mutex
	results map[string]probeResult
}

type probeResult struct {
	facts exchange.Facts
	err   error
	// stale: the server that gave this answer under another name (a cluster node for its
	// CMS/EVS) was changed since. The answer still names the cluster's nodes, as it did
	// before; it is no longer that server's facts (adopt refuses it).
	stale bool
	// address is where the answer came from: a failure through one address (e.g. a name
	// DNS cannot resolve, from a discovery) says nothing of the server at another one.
	address string
}

// usable reports whether a cached answer serves a caller that asks through t.
func (r probeResult) usable(t remote.Target) bool {
	return r.err == nil || r.address == t.Address
}

func newProbeCache(p interface {
	Probe(context.Context, remote.Target) (exchange.Facts, error)
}, concurrency int) *probeCache {
	return &probeCache{prober: p, slots: make(chan struct{}, max(concurrency, 1)), results: map[string]probeResult{}}
}

// probeKey is the server's name alone: a server has one set of facts per run, whichever
// resource (with or without an address of its own) asked first.
func probeKey(t remote.Target) string {
	return strings.ToLower(t.Server)
}

// Facts returns the server's facts, probing it at most once per run.
func (c *probeCache) Facts(ctx context.Context, t remote.Target) (exchange.Facts, error) {
	return c.factsWith(ctx, t, func(ctx context.Context) (exchange.Facts, error) { return c.prober.Probe(ctx, t) })
}

// factsWith is Facts with read in place of the probe: another operation that reads the
// server's facts as a probe of t would (a discovery that probes the server it runs on).
func (c *probeCache) factsWith(ctx context.Context, t remote.Target, read func(context.Context) (exchange.Facts, error)) (exchange.Facts, error) {
	key := probeKey(t)
	c.mu.Lock()
	if r, ok := c.results[key]; ok && r.usable(t) {
		c.mu.Unlock()
		return r.facts, r.err
	}
	c.mu.Unlock()
	v, _, _ := c.group.Do(key+"\x00"+t.Address, func() (any, error) {
		c.mu.Lock()
		if r, ok := c.results[key]; ok && r.usable(t) {
			c.mu.Unlock()
			return r, nil
		}
		c.mu.Unlock()
		var facts exchange.Facts
		var err error
		select {
		case c.slots <- struct{}{}:
			tflog.Debug(ctx, "probing Exchange server", map[string]any{"server": t.Server, "address": t.Address})
			facts, err = read(ctx)
			<-c.slots
		case <-ctx.Done():
			err = ctx.Err()
		}
		r := probeResult{facts: facts, err: err, address: t.Address}
		// A cancelled caller must not poison the cache for the others.
		if !errors.Is(err, context.Canceled) {
			c.mu.Lock()
			c.results[key] = r
			c.mu.Unlock()
		}
		return r, nil
	})
	r, _ := v.(probeResult) // the function above returns nothing else
	return r.facts, r.err
}

// has reports whether t's facts (or its probe's error) are known.
func (c *probeCache) has(t remote.Target) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.results[probeKey(t)]
	return ok
}

// offer keeps facts, read through t by another operation exactly as a probe of t reads
// them (a discovery through t that probed the host it ran on), as t's probe, unless t's is
// known already.
func (c *probeCache) offer(t remote.Target, facts exchange.Facts) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.results[probeKey(t)]; !ok {
		c.results[probeKey(t)] = probeResult{facts: facts}
	}
}

// adopt takes the answer read for asked (a cluster node's answer to its CMS/EVS name) as
// node's own probe, unless node's own is known already; it reports whether node's facts are
// known now. An answer that failed, or that its server gave before it was changed (stale),
// is not adopted.
func (c *probeCache) adopt(asked, node remote.Target) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.results[probeKey(node)]; ok {
		return true
	}
	r, ok := c.results[probeKey(asked)]
	if !ok || r.err != nil || r.stale {
		return false
	}
	c.results[probeKey(node)] = probeResult{facts: r.facts}
	return true
}

// Forget drops what is known of a server, so the next reader probes it again. Its answers
// under other names (a cluster node's for its CMS/EVS) are kept for what they tell of the
// cluster but marked stale, so adopt never gives them back as the server's facts.
func (c *probeCache) Forget(t remote.Target) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.results, probeKey(t))
	for key, r := range c.results {
		if r.err == nil && exchange.SameHost(r.facts.Server, t.Server) {
			r.stale = true
			c.results[key] = r
		}
	}
}

// remoteDiagnostic turns an error from a server into one diagnostic: a summary naming the
// server and a detail saying what happened and what to do.
func remoteDiagnostic(t remote.Target, err error) diag.Diagnostic {
	var fault *wire.Fault
	if errors.As(err, &fault) {
		switch fault.Code {
		case "wrong_server":
			return diag.NewErrorDiagnostic(fmt.Sprintf("Address of server %s answers as another server", t.Server),
				fmt.Sprintf("%s. Check the address of server %q (the resource's address, or the provider's addresses map): it must reach that server.",
					fault.Message, t.Server))
		case "not_exchange":
			return diag.NewErrorDiagnostic(fmt.Sprintf("Server %s has no Exchange installed", t.Server),
				fault.Message+". Check that server names an Exchange server.")
		}
		return diag.NewErrorDiagnostic(fmt.Sprintf("Reading server %s failed", t.Server), fault.Error())
	}
	var rerr *remote.Error
	if errors.As(err, &rerr) {
		return diag.NewErrorDiagnostic(fmt.Sprintf("Cannot read Exchange server %s", t.Server), rerr.Error())
	}
	return diag.NewErrorDiagnostic(fmt.Sprintf("Cannot read Exchange server %s", t.Server), err.Error())
}
