package provider

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
)

func newUpdateRollupResource() resource.Resource { return &updateRollupResource{} }

// updateRollupResource keeps one non-clustered Exchange 2007 server at an update rollup.
type updateRollupResource struct {
	data *providerData
}

var (
	_ resource.ResourceWithModifyPlan  = (*updateRollupResource)(nil)
	_ resource.ResourceWithImportState = (*updateRollupResource)(nil)
)

type updateRollupModel struct {
	servicingModel
	Rollup               types.String `tfsdk:"rollup"`
	ServicePack          types.Int64  `tfsdk:"service_pack"`
	PackagePath          types.String `tfsdk:"package_path"`
	KB                   types.String `tfsdk:"kb"`
	RemoveInterimUpdates types.List   `tfsdk:"remove_interim_updates"`
	KeepOnDestroy        types.Bool   `tfsdk:"keep_on_destroy"`
	LiveRollup           types.String `tfsdk:"live_rollup"`
	LiveBuild            types.String `tfsdk:"live_build"`
	LiveLevel            types.String `tfsdk:"live_level"`
}

func (r *updateRollupResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_update_rollup"
}

func (r *updateRollupResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configuredData(req.ProviderData, &resp.Diagnostics)
}

func (r *updateRollupResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	attrs := servicingAttributes()
	attrs["rollup"] = schema.StringAttribute{Required: true,
		MarkdownDescription: "The update rollup the server must run: a number (`9`), a re-release (`8-v3`), `0` for none, " +
			"or `latest` for the newest the build catalog has for the service pack. A lower number than the live one " +
			"uninstalls rollups down to it.",
		Validators: []validator.String{rollupValidator{}}}
	attrs["service_pack"] = schema.Int64Attribute{Optional: true,
		MarkdownDescription: "The service pack level the rollup is for (a rollup fits exactly one). Default: the server's " +
			"live level. When a service pack is installed in the same apply, set this to " +
			"`exchange_service_pack.<name>.service_pack`: the rollup is then planned and applied after the service pack " +
			"(an update rollup cannot be installed during a service pack install).",
		Validators: []validator.Int64{int64validator.Between(0, 3)}}
	attrs["package_path"] = schema.StringAttribute{Optional: true,
		MarkdownDescription: "The rollup's `.msp`, on the server or a share it can read. Needed when an install is planned.",
		Validators:          pathValidators()}
	attrs["kb"] = schema.StringAttribute{Optional: true,
		MarkdownDescription: "The rollup's KB number, where the build catalog states none (Exchange 2007 RTM Update " +
			"Rollups 5 and 6). Used to name and find the installed patch; one that contradicts the catalog is refused.",
		Validators: []validator.String{kbValidator()}}
	attrs["remove_interim_updates"] = schema.ListAttribute{Optional: true, ElementType: types.StringType,
		MarkdownDescription: "Interim updates (KBs) this change may remove: an interim update must be removed before an " +
			"update rollup is installed. One installed and not listed here stops the plan.",
		Validators: []validator.List{listvalidator.ValueStringsAre(kbValidator())}}
	attrs["keep_on_destroy"] = schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(false),
		MarkdownDescription: "Leave the rollup installed when the resource is destroyed. Default `false`: destroying " +
			"uninstalls the rollup (`msiexec /package {ProductCode} /uninstall {PatchCode}`)."}
	attrs["live_build"] = schema.StringAttribute{Computed: true,
		MarkdownDescription: "The server's build as last read."}
	attrs["live_level"] = schema.StringAttribute{Computed: true,
		MarkdownDescription: "The build catalog's name for `live_build`, e.g. `Exchange 2007 SP3 Update Rollup 23`."}
	attrs["live_rollup"] = schema.StringAttribute{Computed: true,
		MarkdownDescription: "The update rollup the server runs, as last read (`0` = none); null when its build is not in the catalog."}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Keeps a non-clustered Exchange 2007 server at an update rollup of its service pack. The plan " +
			"shows every step the apply will run, or refuses: a rollup for another service pack level, interim updates " +
			"not allowed to be removed, a backup too old, an interrupted setup, a missing prerequisite.",
		Attributes: attrs,
		Blocks:     map[string]schema.Block{"backup": backupBlock(), "timeouts": timeoutsBlock(ctx), "maintenance_window": maintenanceWindowBlock()},
	}
}

func (m *updateRollupModel) request(ctx context.Context, rollup string, diags *diag.Diagnostics) exchange.UpdateRollupRequest {
	req := exchange.UpdateRollupRequest{
		Server:      m.Server.ValueString(),
		ServicePack: -1,
		PackagePath: m.PackagePath.ValueString(),
		KB:          m.KB.ValueString(),
		Options:     m.options(ctx, m.RemoveInterimUpdates, diags),
	}
	if !m.ServicePack.IsNull() {
		req.ServicePack = int(m.ServicePack.ValueInt64())
	}
	if strings.EqualFold(rollup, latest) {
		req.Latest = true
	} else {
		var err error
		req.Rollup, req.ReRelease, err = exchange.ParseRollup(rollup)
		if err != nil {
			diags.AddError("Invalid rollup", err.Error())
		}
	}
	return req
}

// plan plans the rollup against facts; rollup "0" on destroy uninstalls every rollup.
func (r *updateRollupResource) plan(ctx context.Context, m *updateRollupModel, rollup string, facts exchange.Facts) (exchange.Plan, error) {
	var diags diag.Diagnostics
	req := m.request(ctx, rollup, &diags)
	if diags.HasError() {
		return exchange.Plan{}, fmt.Errorf("reading the configuration: %v", diags)
	}
	return exchange.PlanUpdateRollup(facts, req, exchange.DefaultCatalog())
}

func (r *updateRollupResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if r.data == nil {
		return
	}
	ctx = r.data.withClock(ctx)
	if req.Plan.Raw.IsNull() {
		r.modifyDestroyPlan(ctx, req, resp)
		return
	}
	var m, state updateRollupModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if !req.State.Raw.IsNull() {
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	if !configKnown(req.Config) {
		m.PlannedSteps = types.ListUnknown(stepType)
		resp.Diagnostics.Append(resp.Plan.Set(ctx, &m)...)
		return
	}
	t := m.target()
	facts, err := r.data.probes.Facts(ctx, t)
	if err != nil {
		resp.Diagnostics.Append(remoteDiagnostic(t, err))
		return
	}
	r.data.checkEvidenceKeys(ctx, m.Backup, t, []exchange.Facts{facts}, &resp.Diagnostics)
	// A service pack planned earlier in this run (this rollup references it) changes the
	// server first: plan against the server as the service pack leaves it.
	if sp, ok := r.data.registry.addRollup(t.Server); ok && !sp.Empty() {
		if m.ServicePack.IsNull() {
			resp.Diagnostics.AddAttributeError(path.Root("service_pack"),
				fmt.Sprintf("Server %s: a service pack is planned for this server in the same apply", t.Server),
				"An update rollup cannot be installed with a service pack (no slipstream), and without a reference "+
					"Terraform may run it first. Set service_pack = exchange_service_pack.<name>.service_pack so this "+
					"rollup is planned and applied after the service pack.")
			return
		}
		facts = sp.After
	}
	p, err := r.plan(ctx, &m, m.Rollup.ValueString(), facts)
	if err != nil {
		refusalDiagnostics(err, &resp.Diagnostics)
		return
	}
	r.data.checkOrder(ctx, t, facts, p, false, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	r.data.registry.reach(t.Server, p)
	applyPlanToModel(ctx, &m.servicingModel, &state.servicingModel, p, &resp.Diagnostics)
	m.ScheduledWindow = r.data.scheduledWindow(ctx, m.MaintenanceWindow, state.ScheduledWindow, len(p.Steps), firstDowntime(p.Steps), &resp.Diagnostics)
	build, level := liveBuild(facts)
	m.LiveRollup = live(p, state.LiveRollup, liveRollup(facts), types.StringUnknown())
	m.LiveBuild = live(p, state.LiveBuild, build, types.StringUnknown())
	m.LiveLevel = live(p, state.LiveLevel, level, types.StringUnknown())
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &m)...)
}

// modifyDestroyPlan shows what destroying will do on the server.
func (r *updateRollupResource) modifyDestroyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	var state updateRollupModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if state.KeepOnDestroy.ValueBool() {
		resp.Diagnostics.AddWarning(fmt.Sprintf("Server %s: the update rollup stays installed", state.Server.ValueString()),
			"keep_on_destroy is true: destroying only removes the resource from Terraform.")
		return
	}
	facts, err := r.data.probes.Facts(ctx, state.target())
	if err != nil {
		resp.Diagnostics.Append(remoteDiagnostic(state.target(), err))
		return
	}
	p, err := r.destroyPlan(ctx, &state, facts)
	if err != nil {
		refusalDiagnostics(err, &resp.Diagnostics)
		return
	}
	if !p.Empty() {
		resp.Diagnostics.AddWarning(fmt.Sprintf("Server %s: destroying uninstalls the update rollup", state.Server.ValueString()),
			"The apply will run:"+describeSteps(p.Steps)+"\nSet keep_on_destroy = true to leave it installed.")
	}
}

func (r *updateRollupResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m updateRollupModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := m.Timeouts.Create(ctx, defaultInstallTimeout)
	resp.Diagnostics.Append(d...)
	r.apply(ctx, &m, timeout, &resp.State, &resp.Diagnostics)
}

func (r *updateRollupResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m updateRollupModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := m.Timeouts.Update(ctx, defaultInstallTimeout)
	resp.Diagnostics.Append(d...)
	r.apply(ctx, &m, timeout, &resp.State, &resp.Diagnostics)
}

func (r *updateRollupResource) apply(ctx context.Context, m *updateRollupModel, timeout time.Duration, state *tfsdk.State, diags *diag.Diagnostics) {
	ctx = r.data.withWindow(ctx, m.MaintenanceWindow, &m.ScheduledWindow, diags)
	if diags.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	facts, ok := r.data.applySteps(ctx, m.target(), m.PlannedSteps, func(f exchange.Facts) (exchange.Plan, error) {
		return r.plan(ctx, m, m.Rollup.ValueString(), f)
	}, diags)
	if !ok {
		return
	}
	m.ID = m.Server
	m.LiveRollup = liveRollup(facts)
	m.LiveBuild, m.LiveLevel = liveBuild(facts)
	diags.Append(state.Set(ctx, m)...)
}

func (r *updateRollupResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m updateRollupModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || r.data == nil {
		return
	}
	facts, ok := r.data.read(ctx, &m.servicingModel, &resp.Diagnostics)
	if !ok {
		return
	}
	m.LiveRollup = liveRollup(facts)
	m.LiveBuild, m.LiveLevel = liveBuild(facts)
	if m.Rollup.IsNull() { // just imported: the desired rollup is the live one
		m.Rollup = m.LiveRollup
	}
	if m.KeepOnDestroy.IsNull() {
		m.KeepOnDestroy = types.BoolValue(false)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (r *updateRollupResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m updateRollupModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || m.KeepOnDestroy.ValueBool() {
		return
	}
	timeout, d := m.Timeouts.Delete(ctx, defaultInstallTimeout)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(r.data.withWindow(ctx, m.MaintenanceWindow, nil, &resp.Diagnostics), timeout)
	defer cancel()
	t := m.target()
	r.data.probes.Forget(t)
	facts, err := r.data.probes.Facts(ctx, t)
	if err != nil {
		resp.Diagnostics.Append(remoteDiagnostic(t, err))
		return
	}
	// The destroy plan was shown as a warning; planning again here enforces the backup
	// precondition and every refusal at apply time too.
	p, err := r.destroyPlan(ctx, &m, facts)
	if err != nil {
		refusalDiagnostics(err, &resp.Diagnostics)
		return
	}
	r.data.applyFresh(ctx, t, p, &resp.Diagnostics)
}

// destroyPlan uninstalls the rollup the resource manages, back to the rollup beneath it.
func (r *updateRollupResource) destroyPlan(ctx context.Context, m *updateRollupModel, facts exchange.Facts) (exchange.Plan, error) {
	ru, rr, ok := exchange.RollupBeneath(facts, exchange.DefaultCatalog())
	if !ok {
		return exchange.Plan{}, exchange.Refusal{Server: m.Server.ValueString(),
			Problem: fmt.Sprintf("the live build %s is not an exact catalog release, so the rollup to uninstall cannot be told", facts.Build),
			Action:  "uninstall the rollup by hand (Installed Updates), or set keep_on_destroy = true"}
	}
	return r.plan(ctx, m, exchange.FormatRollup(ru, rr), facts)
}

func (r *updateRollupResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importServer(ctx, req, resp)
}

func liveRollup(f exchange.Facts) types.String {
	if rel, ok := exchange.LiveLevel(f, exchange.DefaultCatalog()); ok && rel.Level.Product == "2007" {
		return types.StringValue(exchange.FormatRollup(rel.Level.UpdateRollup, rel.Level.ReRelease))
	}
	return types.StringNull()
}

// rollupValidator accepts what exchange.ParseRollup accepts, and "latest".
type rollupValidator struct{}

func (rollupValidator) Description(context.Context) string {
	return `must be a rollup number ("9"), a re-release ("8-v3"), "0" or "latest"`
}

func (v rollupValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (rollupValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() || strings.EqualFold(req.ConfigValue.ValueString(), latest) {
		return
	}
	if _, _, err := exchange.ParseRollup(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid rollup", err.Error()+`; or write "latest"`)
	}
}

func liveBuild(f exchange.Facts) (types.String, types.String) {
	level, _, _ := levelOf(f.Build, exchange.DefaultCatalog())
	return types.StringValue(f.Build), level
}
