package servicing

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote"
)

// OrganizationOptions are what ApplyOrganization needs from its caller besides the plan.
type OrganizationOptions struct {
	// Parallelism is how many units of one wave run at once; below 1 counts as 1.
	Parallelism int
	// Target is where to reach a server.
	Target func(server string) remote.Target
	// Lock takes the caller's own (in-process) lock of one server and returns its unlock;
	// LockAll takes it for every server of a unit, in one order. Nil: no in-process lock.
	Lock func(server string) (unlock func())
	// Options are the executor options of the apply of a server or cluster.
	Options func(server string) Options
	// Serviced is told of every server a unit serviced (the provider forgets what it read
	// of it). May be nil.
	Serviced func(remote.Target)
	// Unfinished is told what the end of a server's or cluster's successful apply could not
	// do (Report.Unfinished), from the units' goroutines. May be nil.
	Unfinished func(string)
}

// ApplyOrganization runs an organisation plan: the waves in order; within one, up to
// Parallelism units at once, a server by Apply (its service pack plan, then its rollup
// plan), a cluster by ApplyCluster. Each unit first takes Lock of each of its servers
// (LockAll: one order, so two applies never deadlock). A wave with a failure is finished
// (its other units run to their end) and the later waves are not started; the error says
// which units were done, failed and not started. Before the first wave (after the recovery
// wave) every server's preflight runs (plan.Preflight): a failed one stops the apply before
// any wave, naming every server whose preflight failed.
func ApplyOrganization(ctx context.Context, r Remote, plan exchange.OrganizationPlan, o OrganizationOptions) error {
	parallelism := max(o.Parallelism, 1)
	var (
		mu      sync.Mutex
		done    []string
		failed  []string
		reasons []string
	)
	waves := map[int][]exchange.OrganizationUnit{}
	var order []int
	for _, u := range plan.Units {
		if _, ok := waves[u.Wave]; !ok {
			order = append(order, u.Wave)
		}
		waves[u.Wave] = append(waves[u.Wave], u)
	}
	for i, w := range order {
		if w != exchange.RecoveryWave && (i == 0 || order[i-1] == exchange.RecoveryWave) {
			if err := applyPreflights(ctx, r, plan, o); err != nil {
				return err
			}
		}
		g := errgroup.Group{}
		g.SetLimit(parallelism)
		for _, u := range waves[w] {
			g.Go(func() error {
				err := applyUnit(ctx, r, u, o)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					failed = append(failed, unitNames(u)...)
					reasons = append(reasons, err.Error())
				} else {
					done = append(done, unitNames(u)...)
				}
				return nil
			})
		}
		_ = g.Wait()
		if len(failed) > 0 || ctx.Err() != nil {
			var notStarted []string
			for _, later := range order[i+1:] {
				for _, u := range waves[later] {
					notStarted = append(notStarted, unitNames(u)...)
				}
			}
			sort.Strings(done)
			sort.Strings(failed)
			return fmt.Errorf("wave %d failed.\nDone: %s.\nFailed: %s.\nNot started: %s.\n\n%s\n\nFix the cause and run terraform apply again: "+
				"servers already at their target are skipped, and the upgrade continues with the wave that failed.",
				w, listOrNone(done), listOrNone(failed), listOrNone(notStarted), strings.Join(reasons, "\n\n"))
		}
	}
	return nil
}

// applyPreflights runs every server's preflight (plan.Preflight), up to Parallelism at
// once, each under its server's locks, and reports every one that failed. Outside the
// maintenance window none runs: the first wave would not start anyway, and nothing is
// touched then.
func applyPreflights(ctx context.Context, r Remote, plan exchange.OrganizationPlan, o OrganizationOptions) error {
	if p, ok := firstDowntime(plan); ok && !insideWindow(p, o.Options(p.Server)) {
		return nil // the first wave refuses it, naming the window
	}
	var (
		mu      sync.Mutex
		failed  []string
		reasons = make([]string, len(plan.Preflight))
	)
	g := errgroup.Group{}
	g.SetLimit(max(o.Parallelism, 1))
	for i, u := range plan.Preflight {
		g.Go(func() error {
			if o.Lock != nil {
				defer LockAll(u.Servers(), o.Lock)()
			}
			for _, p := range u.Plans {
				if err := o.apply(ctx, r, o.Target(p.Server), p); err != nil {
					mu.Lock()
					failed = append(failed, fmt.Sprintf("%s (wave %d)", u.Server, u.Wave))
					reasons[i] = err.Error()
					mu.Unlock()
					return nil
				}
			}
			return nil
		})
	}
	_ = g.Wait()
	if len(failed) == 0 && ctx.Err() == nil {
		return nil
	}
	if len(failed) == 0 {
		return fmt.Errorf("the preflight before the first wave was interrupted: no wave was started, nothing was changed on any server: %w", ctx.Err())
	}
	sort.Strings(failed)
	return fmt.Errorf("the preflight before the first wave failed on %s, so no wave was started: nothing was changed on any server.\n\n%s\n\n"+
		"Fix the cause (the path, the share, the file) and run terraform apply again.",
		strings.Join(failed, ", "), strings.Join(slices.DeleteFunc(reasons, func(s string) bool { return s == "" }), "\n\n"))
}

// insideWindow: p may start now (outsideWindow finds nothing against it).
func insideWindow(p exchange.Plan, o Options) bool { return outsideWindow(p, o) == nil }

// firstDowntime is the first plan of the units with a downtime step.
func firstDowntime(plan exchange.OrganizationPlan) (exchange.Plan, bool) {
	for _, u := range plan.Units {
		for _, p := range u.AllPlans() {
			if slices.ContainsFunc(p.Steps, func(s exchange.Step) bool { return s.Downtime }) {
				return p, true
			}
		}
	}
	return exchange.Plan{}, false
}

// unitNames name a unit in the apply's report: the server or cluster, or each front-end of a
// group (a group whose window failed is failed as a whole: none of it serves).
func unitNames(u exchange.OrganizationUnit) []string {
	if u.FrontEnds != nil {
		return u.FrontEnds.Servers
	}
	return []string{u.Server}
}

// applyUnit services one server (its service pack plan, then its rollup plan), one
// cluster, node by node, or one group of load-balanced front-ends, holding the in-process
// lock of each of its servers.
func applyUnit(ctx context.Context, r Remote, u exchange.OrganizationUnit, o OrganizationOptions) error {
	if o.Lock != nil {
		defer LockAll(u.Servers(), o.Lock)()
	}
	if u.FrontEnds != nil {
		return applyFrontEnds(ctx, r, u.FrontEnds, o)
	}
	return runUnit(ctx, r, u, o)
}

// runUnit services one server or one cluster (its locks held by the caller).
func runUnit(ctx context.Context, r Remote, u exchange.OrganizationUnit, o OrganizationOptions) error {
	if len(u.Nodes) > 0 {
		targets := map[string]remote.Target{}
		for _, n := range u.Nodes {
			targets[strings.ToLower(n)] = o.Target(n)
		}
		for _, p := range u.Plans {
			rep, err := ApplyCluster(ctx, r, targets, p, o.Options(u.Server))
			o.tell(rep)
			if err != nil {
				return err
			}
		}
		for _, t := range targets {
			o.serviced(t)
		}
		return nil
	}
	t := o.Target(u.Server)
	for _, p := range u.Plans {
		if err := o.apply(ctx, r, t, p); err != nil {
			return err
		}
		o.serviced(t)
	}
	return nil
}

// apply runs one server's plan (Apply) and passes on what its end could not do.
func (o OrganizationOptions) apply(ctx context.Context, r Remote, t remote.Target, p exchange.Plan) error {
	rep, err := Apply(ctx, r, t, p, o.Options(t.Server))
	o.tell(rep)
	return err
}

// tell passes on a report's Unfinished.
func (o OrganizationOptions) tell(rep Report) {
	if o.Unfinished == nil {
		return
	}
	for _, msg := range rep.Unfinished {
		o.Unfinished(msg)
	}
}

// applyFrontEnds is the downtime window of a group of load-balanced front-ends (KB 328839):
// every front-end's read-only checks before the window (a failing one costs no outage),
// then every front-end offline, then the upgrades (Parallelism at once), then, only when
// every one succeeded, every front-end back online. A failure leaves the group offline, so
// that no client meets front-ends at different service packs; the next plan upgrades what
// is left and then brings every one back.
func applyFrontEnds(ctx context.Context, r Remote, g *exchange.FrontEndGroup, o OrganizationOptions) error {
	group := strings.Join(g.Servers, ", ")
	runPlans := func(plans []exchange.Plan, what string) error {
		for _, p := range plans {
			t := o.Target(p.Server)
			err := o.apply(ctx, r, t, p)
			o.serviced(t)
			if err != nil {
				return fmt.Errorf("%s of the load-balanced front-ends %s stopped at %s: %w", what, group, t.Server, err)
			}
		}
		return nil
	}
	// Outside the maintenance window the window's first plan would refuse (every plan of
	// the window is downtime): then not even the checks run.
	if plans := slices.Concat(g.Offline, g.Online); len(plans) > 0 {
		if err := outsideWindow(plans[0], o.Options(plans[0].Server)); err != nil {
			return fmt.Errorf("the load-balanced front-ends %s were not touched: %w", group, err)
		}
	}
	if err := runPlans(g.Checks, "checking"); err != nil {
		return fmt.Errorf("%w\n\nNo front-end of the group was taken offline: the group still serves its clients", err)
	}
	if err := runPlans(g.Offline, "taking offline"); err != nil {
		return fmt.Errorf("%w\n\nThe front-ends already taken offline stay offline; run terraform apply again: it takes the rest offline before upgrading any", err)
	}
	var (
		mu       sync.Mutex
		failed   []string
		reasons  []string
		upgraded []string
	)
	eg := errgroup.Group{}
	eg.SetLimit(max(o.Parallelism, 1))
	for _, m := range g.Members {
		eg.Go(func() error {
			err := runUnit(ctx, r, m, o)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed = append(failed, m.Server)
				reasons = append(reasons, err.Error())
			} else {
				upgraded = append(upgraded, m.Server)
			}
			return nil
		})
	}
	_ = eg.Wait()
	if len(failed) > 0 || ctx.Err() != nil {
		sort.Strings(failed)
		sort.Strings(upgraded)
		return fmt.Errorf("upgrading the load-balanced front-ends %s stopped (upgraded: %s; failed: %s), so none of them is brought back into service: "+
			"clients would meet front-ends at different service packs (KB 328839). Fix the cause and run terraform apply again: it upgrades what is left, then brings every one back online.\n\n%s",
			group, listOrNone(upgraded), listOrNone(failed), strings.Join(reasons, "\n\n"))
	}
	return runPlans(g.Online, "bringing back online")
}

func (o OrganizationOptions) serviced(t remote.Target) {
	if o.Serviced != nil {
		o.Serviced(t)
	}
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
