package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
)

func newServicePackResource() resource.Resource { return &servicePackResource{} }

// servicePackResource keeps one non-clustered server at a service pack level.
type servicePackResource struct {
	data *providerData
}

var (
	_ resource.ResourceWithModifyPlan  = (*servicePackResource)(nil)
	_ resource.ResourceWithImportState = (*servicePackResource)(nil)
)

type servicePackModel struct {
	servicingModel
	ServicePack          types.Int64          `tfsdk:"service_pack"`
	MediaPath            types.String         `tfsdk:"media_path"`
	UMLanguagePackPath   types.String         `tfsdk:"um_language_pack_path"`
	RemoveInterimUpdates types.List           `tfsdk:"remove_interim_updates"`
	ForefrontCompatible  types.String         `tfsdk:"forefront_compatible"`
	ClearSetupWatermark  *clearWatermarkModel `tfsdk:"clear_setup_watermark"`
	LiveServicePack      types.Int64          `tfsdk:"live_service_pack"`
	LiveLevel            types.String         `tfsdk:"live_level"`
}

func (r *servicePackResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_service_pack"
}

func (r *servicePackResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configuredData(req.ProviderData, &resp.Diagnostics)
}

func (r *servicePackResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	attrs := servicingAttributes()
	attrs["service_pack"] = schema.Int64Attribute{Required: true,
		MarkdownDescription: "The service pack level the server must run (0 = RTM). A level below the live one is refused: " +
			"service packs cannot be uninstalled.",
		Validators: []validator.Int64{int64validator.Between(0, 4)}}
	attrs["media_path"] = schema.StringAttribute{Optional: true,
		MarkdownDescription: "The service pack's setup media (the folder holding `Setup.com`, or `i386\\update.exe` for " +
			"2000/2003), on the server or a share it can read, e.g. `D:\\Exchange2007SP3`. Needed when an install is planned.",
		Validators: pathValidators()}
	attrs["forefront_compatible"] = schema.StringAttribute{Optional: true,
		MarkdownDescription: "Your statement (at least 10 characters) that the Forefront Security for Exchange Server installed on " +
			"the server is a version compatible with Exchange 2007 SP1, e.g. its version and where you checked it. Forefront " +
			"must be updated to a compatible version or uninstalled before SP1; which versions are compatible is left to you, " +
			"so a plan from RTM to SP1 or later on a server with Forefront is refused without it. Shown as a warning.",
		Validators: []validator.String{stringvalidator.LengthAtLeast(10)}}
	attrs["clear_setup_watermark"] = clearWatermarkAttribute("on the server")
	attrs["um_language_pack_path"] = schema.StringAttribute{Optional: true,
		MarkdownDescription: "Folder with the Unified Messaging language packs for the new service pack. Needed when the " +
			"server has UM language packs: they are removed before the service pack and added again after it.",
		Validators: pathValidators()}
	attrs["remove_interim_updates"] = schema.ListAttribute{Optional: true, ElementType: types.StringType,
		MarkdownDescription: "Interim updates (KBs) this change may remove: an interim update must be removed before a " +
			"service pack is installed. One installed and not listed here stops the plan.",
		Validators: []validator.List{listvalidator.ValueStringsAre(kbValidator())}}
	attrs["live_service_pack"] = schema.Int64Attribute{Computed: true,
		MarkdownDescription: "The service pack level the server runs, as last read; null when its build is not in the catalog."}
	attrs["live_level"] = schema.StringAttribute{Computed: true,
		MarkdownDescription: "The service pack the server runs, e.g. `Exchange 2007 SP3`, as last read. (Rollups are " +
			"`exchange_update_rollup`'s: this resource does not change when one is installed.)"}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Keeps a non-clustered Exchange server at a service pack level. The plan shows every step " +
			"the apply will run (backup check, interim update removal, services, `Setup.com /mode:upgrade`, reboot, ...) or " +
			"refuses with the reason. Destroying the resource leaves the service pack installed: service packs cannot be uninstalled.",
		Attributes: attrs,
		Blocks:     map[string]schema.Block{"backup": backupBlock(), "timeouts": timeoutsBlock(ctx), "maintenance_window": maintenanceWindowBlock()},
	}
}

// request is the planner's view of the model.
func (m *servicePackModel) request(ctx context.Context, diags *diag.Diagnostics) exchange.ServicePackRequest {
	req := exchange.ServicePackRequest{
		Server:             m.Server.ValueString(),
		ServicePack:        int(m.ServicePack.ValueInt64()),
		MediaPath:          m.MediaPath.ValueString(),
		UMLanguagePackPath: m.UMLanguagePackPath.ValueString(),
		Options:            m.options(ctx, m.RemoveInterimUpdates, diags),
	}
	req.ForefrontCompatible = m.ForefrontCompatible.ValueString()
	req.ClearSetupWatermarkReason = m.ClearSetupWatermark.reason()
	return req
}

func (r *servicePackResource) plan(ctx context.Context, m *servicePackModel, facts exchange.Facts) (exchange.Plan, error) {
	var diags diag.Diagnostics
	req := m.request(ctx, &diags)
	if diags.HasError() {
		return exchange.Plan{}, fmt.Errorf("reading the configuration: %v", diags)
	}
	return exchange.PlanServicePack(facts, req, exchange.DefaultCatalog())
}

func (r *servicePackResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if r.data == nil {
		return
	}
	ctx = r.data.withClock(ctx)
	if req.Plan.Raw.IsNull() {
		resp.Diagnostics.AddWarning("The service pack stays installed",
			"Destroying an exchange_service_pack resource only removes it from Terraform: service packs cannot be "+
				"uninstalled. Going back means removing Exchange, reinstalling the old level and restoring the databases from backup.")
		return
	}
	var m, state servicePackModel
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
	p, err := r.plan(ctx, &m, facts)
	if err != nil {
		refusalDiagnostics(err, &resp.Diagnostics)
		return
	}
	if r.data.registry.addServicePack(t.Server, p) && !p.Empty() {
		resp.Diagnostics.AddAttributeError(path.Root("service_pack"),
			fmt.Sprintf("Server %s: an update rollup was planned before this service pack", t.Server),
			"An update rollup cannot be installed with a service pack (no slipstream): it must run after it. Set "+
				"service_pack = exchange_service_pack.<name>.service_pack in the exchange_update_rollup for this server, "+
				"so Terraform plans and applies it after the service pack.")
		return
	}
	r.data.checkOrder(ctx, t, facts, p, false, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	applyPlanToModel(ctx, &m.servicingModel, &state.servicingModel, p, &resp.Diagnostics)
	m.ScheduledWindow = r.data.scheduledWindow(ctx, m.MaintenanceWindow, state.ScheduledWindow, len(p.Steps), firstDowntime(p.Steps), &resp.Diagnostics)
	m.LiveServicePack = live(p, state.LiveServicePack, liveServicePack(facts), types.Int64Unknown())
	m.LiveLevel = live(p, state.LiveLevel, liveServicePackName(facts), types.StringUnknown())
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &m)...)
}

func (r *servicePackResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m servicePackModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := m.Timeouts.Create(ctx, defaultInstallTimeout)
	resp.Diagnostics.Append(d...)
	r.apply(ctx, &m, timeout, &resp.State, &resp.Diagnostics)
}

func (r *servicePackResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m servicePackModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := m.Timeouts.Update(ctx, defaultInstallTimeout)
	resp.Diagnostics.Append(d...)
	r.apply(ctx, &m, timeout, &resp.State, &resp.Diagnostics)
}

func (r *servicePackResource) apply(ctx context.Context, m *servicePackModel, timeout time.Duration, state *tfsdk.State, diags *diag.Diagnostics) {
	ctx = r.data.withWindow(ctx, m.MaintenanceWindow, &m.ScheduledWindow, diags)
	if diags.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	facts, ok := r.data.applySteps(ctx, m.target(), m.PlannedSteps, func(f exchange.Facts) (exchange.Plan, error) {
		return r.plan(ctx, m, f)
	}, diags)
	if !ok {
		return
	}
	m.ID = m.Server
	m.LiveServicePack, m.LiveLevel = liveServicePack(facts), liveServicePackName(facts)
	diags.Append(state.Set(ctx, m)...)
}

func (r *servicePackResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m servicePackModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || r.data == nil {
		return
	}
	facts, ok := r.data.read(ctx, &m.servicingModel, &resp.Diagnostics)
	if !ok {
		return
	}
	m.LiveServicePack, m.LiveLevel = liveServicePack(facts), liveServicePackName(facts)
	if m.ServicePack.IsNull() { // just imported: the desired level is the live one
		m.ServicePack = m.LiveServicePack
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (r *servicePackResource) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {
	// Nothing to do on the server: a service pack cannot be uninstalled (ModifyPlan says so).
}

func (r *servicePackResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importServer(ctx, req, resp)
}

func liveServicePack(f exchange.Facts) types.Int64 {
	if rel, ok := exchange.LiveLevel(f, exchange.DefaultCatalog()); ok {
		return types.Int64Value(int64(rel.Level.ServicePack))
	}
	return types.Int64Null()
}

// liveServicePackName names the service pack level alone ("Exchange 2007 SP3").
func liveServicePackName(f exchange.Facts) types.String {
	if rel, ok := exchange.LiveLevel(f, exchange.DefaultCatalog()); ok {
		return types.StringValue(exchange.Level{Product: rel.Level.Product, ServicePack: rel.Level.ServicePack}.String())
	}
	level, _, _ := levelOf(f.Build, exchange.DefaultCatalog())
	return level
}
