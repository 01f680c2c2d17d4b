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
					failed = append(failed, u.Server)
					reasons = append(reasons, err.Error())
				} else {
					done = append(done, u.Server)
				}
				return nil
			})
		}
		_ = g.Wait()
		if len(failed) > 0 || ctx.Err() != nil {
			var notStarted []string
			for _, later := range order[i+1:] {
				for _, u := range waves[later] {
					notStarted = append(notStarted, u.Server)
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

// applyUnit services one server (its service pack plan, then its rollup plan) or one
// cluster, node by node, holding the in-process lock of each of its servers.
func applyUnit(ctx context.Context, r Remote, u exchange.OrganizationUnit, o OrganizationOptions) error {
	if o.Lock != nil {
		defer LockAll(u.Servers(), o.Lock)()
	}
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
