package provider

import (
	"context"
	"fmt"
	"strings"
	"sync"

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
	// The read before acting is always a new one: a read from this process's plan moments
	// ago would miss what another apply (another host, a colleague's terminal) did since,
	// and the steps would act on it. It costs the server one PowerShell process more per
	// apply (docs/performance.md).
	d.probes.Forget(t)
	facts, err := d.probes.Facts(ctx, t)
	if err != nil {
		diags.Append(remoteDiagnostic(t, err))
		return facts, false
	}
	plan, ok := replan(facts, diags)
	if !ok {
		return facts, false
	}
	if stepsChanged("Server "+t.Server, stepsOf(ctx, planned, diags), stepModelsOf(plan.Steps), diags) ||
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
	rep, err := servicing.Apply(ctx, d.client, t, plan, d.executorOptions(ctx, t.Server))
	addUnfinished(diags, rep.Unfinished...)
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

// unfinishedSummary is the summary of the warning an apply gives when it did every step but
// could not clean up after itself (servicing.Report.Unfinished): the same text for every
// server, so that Terraform shows it once; each detail names its server.
const unfinishedSummary = "Apply finished, but could not clean up after itself"

// addUnfinished adds one warning per message of servicing.Report.Unfinished.
func addUnfinished(diags *diag.Diagnostics, msgs ...string) {
	for _, msg := range msgs {
		diags.AddWarning(unfinishedSummary, msg)
	}
}

// applyFresh runs a plan made moments ago from fresh facts (destroy has no reviewed steps
// to compare with; its plan was shown as a warning).
func (d *providerData) applyFresh(ctx context.Context, t remote.Target, plan exchange.Plan, diags *diag.Diagnostics) {
	if plan.Empty() {
		return
	}
	defer d.serverLock(t)()
	rep, err := servicing.Apply(ctx, d.client, t, plan, d.executorOptions(ctx, t.Server))
	addUnfinished(diags, rep.Unfinished...)
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
