package provider

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote"
	"github.com/buildlevel/terraform-provider-exchange/internal/servicing"
)

// replanFunc plans a resource's change against fresh facts; false when it added an error
// (a refusal) to diags.
type replanFunc func(exchange.Facts, *diag.Diagnostics) (exchange.Plan, bool)

// applySteps runs a planned change: it reads the server again, plans again (so the backup
// precondition and every refusal are enforced at apply too), refuses to act when the steps
// differ from the reviewed plan, and runs them. It returns the server's facts afterwards and
// records them in the resource's private data for the next plan (plan_facts.go).
func (d *providerData) applySteps(ctx context.Context, t remote.Target, planned types.List, private privateData, replan replanFunc, diags *diag.Diagnostics) (exchange.Facts, bool) {
	defer d.serverLock(t)()
	reviewed := stepsOf(ctx, planned, diags)
	facts, err := d.readBeforeActing(ctx, t, reviewed)
	if err != nil {
		diags.Append(remoteDiagnostic(t, err))
		return facts, false
	}
	plan, ok := replan(facts, diags)
	if !ok {
		return facts, false
	}
	if stepsChanged("Server "+t.Server, reviewed, stepModelsOf(plan.Steps), diags) ||
		d.refuseEndedWindow(ctx, "Server "+t.Server, firstDowntime(plan.Steps) != "", diags) {
		return facts, false
	}
	if plan.Empty() {
		recordFacts(ctx, private, diags, facts)
		return facts, true
	}
	// The order across servers again, against what the servers run now.
	d.checkOrder(ctx, t, facts, plan, true, diags)
	if diags.HasError() {
		return facts, false
	}
	_, err = servicing.Apply(ctx, d.client, t, plan, d.executorOptions(ctx, t.Server))
	// Whatever happened, the server is not what the cache says any more.
	d.probes.Forget(t)
	if err != nil {
		diags.AddError(fmt.Sprintf("Servicing server %s stopped", t.Server), err.Error())
		return facts, false
	}
	after, err := d.probes.Facts(ctx, t)
	if err != nil {
		diags.Append(remoteDiagnostic(t, err))
		return facts, false
	}
	recordFacts(ctx, private, diags, after)
	return after, true
}

// freshBeforeActing is how recent a read of the server in this process counts as the read
// before acting. Terraform plans each change once more right before it applies it (the
// final plan of `terraform apply`), in the same process and moments before: that plan's
// read of the server (for the first resource of an apply, in the discovery its order check
// needs, probeWithDiscovery) is the read before acting, where reading again cost the server
// a second PowerShell process (issue 12). A read older than this (the organisation's, at the
// first order check of the apply, hours before a late wave acts) is read again.
const freshBeforeActing = 30 * time.Second

// readBeforeActing reads the server's facts for an apply about to run the reviewed steps:
// the facts read moments ago in this process (freshBeforeActing), else a fresh read. A
// change that installs gets the read through the discovery its order check makes, when
// none has run yet in this process: both in one PowerShell process.
func (d *providerData) readBeforeActing(ctx context.Context, t remote.Target, reviewed []stepModel) (exchange.Facts, error) {
	if facts, ok := d.probes.recent(t, freshBeforeActing); ok {
		return facts, nil
	}
	d.probes.Forget(t)
	if slices.ContainsFunc(reviewed, func(s stepModel) bool { return installsAction(s.Action) }) {
		return d.probeWithDiscovery(ctx, t)
	}
	return d.probes.Facts(ctx, t)
}

// applyFresh runs a plan made moments ago from fresh facts (destroy has no reviewed steps
// to compare with; its plan was shown as a warning).
func (d *providerData) applyFresh(ctx context.Context, t remote.Target, plan exchange.Plan, diags *diag.Diagnostics) {
	if plan.Empty() {
		return
	}
	defer d.serverLock(t)()
	_, err := servicing.Apply(ctx, d.client, t, plan, d.executorOptions(ctx, t.Server))
	d.probes.Forget(t)
	if err != nil {
		diags.AddError(fmt.Sprintf("Servicing server %s stopped", t.Server), err.Error())
	}
}

// serverLock serialises the applies of one provider process on one server: two resources
// for the same server without a dependency between them run one after the other. (The
// lock on the server, taken by the executor, keeps other processes and hosts out; its
// owner names this host, process and run (lockowner.go), so a later apply from this host
// takes over the lock of one killed here at once once its process is gone.)
func (d *providerData) serverLock(t remote.Target) (unlock func()) {
	d.applyMu.Lock()
	if d.applying == nil {
		d.applying = map[string]*sync.Mutex{}
	}
	key := strings.ToLower(t.Server)
	mu, ok := d.applying[key]
	if !ok {
		mu = &sync.Mutex{}
		d.applying[key] = mu
	}
	d.applyMu.Unlock()
	mu.Lock()
	return mu.Unlock
}
