package provider

import (
	"context"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote"
)

// servicingResource is the lifecycle the single-server servicing resources (service pack,
// update rollup, interim update) share: plan from fresh facts and show the steps, apply
// only the reviewed steps (servicing_apply.go), read the live attributes. Each resource
// gives its model M, whose methods (servicingKind) are what differs: how it asks the
// planner and what it reads from the server; and its attributes and their paths.
type servicingResource[M any, P servicingKind[M]] struct {
	data        *providerData
	typeName    string // after the provider's name, e.g. "_service_pack"
	description string
	attributes  func(map[string]schema.Attribute) // adds the resource's own attributes
	fields      fieldPaths                        // where the configuration sets the planner's request fields
	importState func(context.Context, resource.ImportStateRequest, *resource.ImportStateResponse)
}

// servicingKind is a servicing resource's model (a pointer to M, which embeds servicingModel).
// A model may also implement planAgainster, planGuard, identified and destroyer.
type servicingKind[M any] interface {
	*M
	servicing() *servicingModel
	// plan asks the planner for the model's change against facts; configuration it cannot
	// read goes to diags, refusals to the error.
	plan(ctx context.Context, facts exchange.Facts, diags *diag.Diagnostics) (exchange.Plan, error)
	// planLive sets what the resource reads from the server into the planned model (see
	// live); state is the prior state's model, zero when there is none.
	planLive(state *M, p exchange.Plan, facts exchange.Facts)
	// readLive sets what the resource reads from the server after an apply or a refresh,
	// and, just after an import, the desired values to the live ones.
	readLive(facts exchange.Facts)
	// planDestroy says in the plan what destroying does, the model being the state.
	planDestroy(ctx context.Context, d *providerData, diags *diag.Diagnostics)
}

// planAgainster returns the facts to plan against, when a plan of this run changes the
// server first.
type planAgainster interface {
	planAgainst(d *providerData, t remote.Target, facts exchange.Facts, diags *diag.Diagnostics) exchange.Facts
}

// planGuard checks a plan against the rest of the run (the order across servers).
type planGuard interface {
	guard(ctx context.Context, d *providerData, t remote.Target, facts exchange.Facts, p exchange.Plan, diags *diag.Diagnostics)
}

// identified is a model whose id is not its server.
type identified interface{ id() types.String }

// destroyer changes the server when the resource is destroyed, the model being the state.
type destroyer interface {
	destroy(ctx context.Context, d *providerData, diags *diag.Diagnostics)
}

func newServicingResource[M any, P servicingKind[M]](typeName, description string, attributes func(map[string]schema.Attribute),
	fields fieldPaths) *servicingResource[M, P] {
	return &servicingResource[M, P]{typeName: typeName, description: description, attributes: attributes, fields: fields,
		importState: importServer}
}

// servicing is the part of every model the lifecycle reads (promoted to each model).
func (m *servicingModel) servicing() *servicingModel { return m }

var (
	_ resource.ResourceWithModifyPlan  = (*servicingResource[servicePackModel, *servicePackModel])(nil)
	_ resource.ResourceWithImportState = (*servicingResource[servicePackModel, *servicePackModel])(nil)
)

func (r *servicingResource[M, P]) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + r.typeName
}

func (r *servicingResource[M, P]) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configuredData(req.ProviderData, &resp.Diagnostics)
}

func (r *servicingResource[M, P]) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	attrs := servicingAttributes()
	r.attributes(attrs)
	resp.Schema = schema.Schema{
		MarkdownDescription: r.description,
		Attributes:          attrs,
		Blocks: map[string]schema.Block{"backup": backupBlock(), "timeouts": timeoutsBlock(ctx),
			"maintenance_window": maintenanceWindowBlock()},
	}
}

// plan plans the model's change; ok is false when it added an error to diags.
func (r *servicingResource[M, P]) plan(ctx context.Context, m P, facts exchange.Facts, diags *diag.Diagnostics) (exchange.Plan, bool) {
	p, err := m.plan(ctx, facts, diags)
	return planned(p, err, r.fields, diags)
}

// readPlanAndState reads the planned model and, when the resource exists, its state (else
// state stays zero); false when either could not be read.
func readPlanAndState[M any](ctx context.Context, req resource.ModifyPlanRequest, m, state *M, diags *diag.Diagnostics) bool {
	diags.Append(req.Plan.Get(ctx, m)...)
	if !req.State.Raw.IsNull() {
		diags.Append(req.State.Get(ctx, state)...)
	}
	return !diags.HasError()
}

// planned is a planner's answer: ok when neither reading the configuration (diags) nor the
// planner (err, its refusals shown on the attributes at fault) refused.
func planned(p exchange.Plan, err error, at fieldPaths, diags *diag.Diagnostics) (exchange.Plan, bool) {
	if diags.HasError() {
		return p, false
	}
	if err != nil {
		refusalDiagnostics(err, at, diags)
		return p, false
	}
	return p, true
}

// id is the resource's id: the server, unless the model says otherwise.
func id[M any, P servicingKind[M]](m P) types.String {
	if i, ok := any(m).(identified); ok {
		return i.id()
	}
	return m.servicing().Server
}

func (r *servicingResource[M, P]) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if r.data == nil {
		return
	}
	ctx = r.data.withClock(ctx)
	if req.Plan.Raw.IsNull() {
		var state M
		if resp.Diagnostics.Append(req.State.Get(ctx, &state)...); !resp.Diagnostics.HasError() {
			P(&state).planDestroy(ctx, r.data, &resp.Diagnostics)
		}
		return
	}
	var m, state M
	if !readPlanAndState(ctx, req, &m, &state, &resp.Diagnostics) {
		return
	}
	model := P(&m)
	base := model.servicing()
	if !configKnown(req.Config) {
		base.PlannedSteps = types.ListUnknown(stepType)
		resp.Diagnostics.Append(resp.Plan.Set(ctx, &m)...)
		return
	}
	t := base.target()
	facts, err := r.data.probes.Facts(ctx, t)
	if err != nil {
		resp.Diagnostics.Append(remoteDiagnostic(t, err))
		return
	}
	// Evidence keyed by a name the organisation does not know is reported next to the
	// refusals it explains, so it must not stop the planning before them.
	var evidence diag.Diagnostics
	r.data.checkEvidenceKeys(ctx, base.Backup, t, []exchange.Facts{facts}, &evidence)
	defer resp.Diagnostics.Append(evidence...)
	if a, ok := any(model).(planAgainster); ok {
		if facts = a.planAgainst(r.data, t, facts, &resp.Diagnostics); resp.Diagnostics.HasError() {
			return
		}
	}
	p, ok := r.plan(ctx, model, facts, &resp.Diagnostics)
	if !ok {
		return
	}
	if g, ok := any(model).(planGuard); ok {
		if g.guard(ctx, r.data, t, facts, p, &resp.Diagnostics); resp.Diagnostics.HasError() {
			return
		}
	}
	applyPlanToModel(ctx, base, P(&state).servicing(), p, &resp.Diagnostics)
	base.ScheduledWindow = r.data.scheduledWindow(ctx, base.MaintenanceWindow, P(&state).servicing().ScheduledWindow,
		len(p.Steps), firstDowntime(p.Steps), &resp.Diagnostics)
	base.ID = id(model)
	model.planLive(&state, p, facts)
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &m)...)
}

func (r *servicingResource[M, P]) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	r.apply(ctx, req.Plan, timeouts.Value.Create, &resp.State, &resp.Diagnostics)
}

func (r *servicingResource[M, P]) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	r.apply(ctx, req.Plan, timeouts.Value.Update, &resp.State, &resp.Diagnostics)
}

// apply runs the reviewed steps (applySteps plans again against fresh facts) and records
// what the server runs afterwards; timeout is the create or update timeout.
func (r *servicingResource[M, P]) apply(ctx context.Context, plan tfsdk.Plan,
	timeout func(timeouts.Value, context.Context, time.Duration) (time.Duration, diag.Diagnostics),
	state *tfsdk.State, diags *diag.Diagnostics) {
	var m M
	if diags.Append(plan.Get(ctx, &m)...); diags.HasError() {
		return
	}
	model := P(&m)
	base := model.servicing()
	limit, d := timeout(base.Timeouts, ctx, defaultInstallTimeout)
	diags.Append(d...)
	ctx = r.data.withWindow(ctx, base.MaintenanceWindow, &base.ScheduledWindow, diags)
	if diags.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	facts, ok := r.data.applySteps(ctx, base.target(), base.PlannedSteps, func(f exchange.Facts, diags *diag.Diagnostics) (exchange.Plan, bool) {
		return r.plan(ctx, model, f, diags)
	}, diags)
	if !ok {
		return
	}
	base.ID = id(model)
	model.readLive(facts)
	diags.Append(state.Set(ctx, &m)...)
}

func (r *servicingResource[M, P]) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m M
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || r.data == nil {
		return
	}
	model := P(&m)
	facts, ok := r.data.read(ctx, model.servicing(), &resp.Diagnostics)
	if !ok {
		return
	}
	model.servicing().ID = id(model)
	model.readLive(facts)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (r *servicingResource[M, P]) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m M
	d, ok := any(P(&m)).(destroyer)
	if !ok {
		return // the server stays as it is (planDestroy says so)
	}
	if resp.Diagnostics.Append(req.State.Get(ctx, &m)...); !resp.Diagnostics.HasError() {
		d.destroy(ctx, r.data, &resp.Diagnostics)
	}
}

func (r *servicingResource[M, P]) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	r.importState(ctx, req, resp)
}
