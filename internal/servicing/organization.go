package servicing

import (
	"context"
	"fmt"
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
}

// ApplyOrganization runs an organisation plan: the waves in order; within one, up to
// Parallelism units at once, a server by Apply (its service pack plan, then its rollup
// plan), a cluster by ApplyCluster. Each unit first takes Lock of each of its servers
// (LockAll: one order, so two applies never deadlock). A wave with a failure is finished
// (its other units run to their end) and the later waves are not started; the error says
// which units were done, failed and not started.
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
			if _, err := ApplyCluster(ctx, r, targets, p, o.Options(u.Server)); err != nil {
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
		if _, err := Apply(ctx, r, t, p, o.Options(t.Server)); err != nil {
			return err
		}
		o.serviced(t)
	}
	return nil
}

// applyFrontEnds is the downtime window of a group of load-balanced front-ends (KB 328839):
// every front-end offline first, then the upgrades (Parallelism at once), then, only when
// every one succeeded, every front-end back online. A failure leaves the group offline, so
// that no client meets front-ends at different service packs; the next plan upgrades what
// is left and then brings every one back.
func applyFrontEnds(ctx context.Context, r Remote, g *exchange.FrontEndGroup, o OrganizationOptions) error {
	group := strings.Join(g.Servers, ", ")
	runPlans := func(plans []exchange.Plan, what string) error {
		for _, p := range plans {
			t := o.Target(p.Server)
			_, err := Apply(ctx, r, t, p, o.Options(t.Server))
			o.serviced(t)
			if err != nil {
				return fmt.Errorf("%s of the load-balanced front-ends %s stopped at %s: %w", what, group, t.Server, err)
			}
		}
		return nil
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
