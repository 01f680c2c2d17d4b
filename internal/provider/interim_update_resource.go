package provider

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
)

func newInterimUpdateResource() resource.Resource { return &interimUpdateResource{} }

// interimUpdateResource keeps an interim update (2007) or hotfix (2000/2003) present or absent.
type interimUpdateResource struct {
	data *providerData
}

var (
	_ resource.ResourceWithModifyPlan  = (*interimUpdateResource)(nil)
	_ resource.ResourceWithImportState = (*interimUpdateResource)(nil)
)

type interimUpdateModel struct {
	servicingModel
	KB          types.String `tfsdk:"kb"`
	Present     types.Bool   `tfsdk:"present"`
	PackagePath types.String `tfsdk:"package_path"`
	Installed   types.Bool   `tfsdk:"installed"`
}

func (r *interimUpdateResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_interim_update"
}

func (r *interimUpdateResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configuredData(req.ProviderData, &resp.Diagnostics)
}

func (r *interimUpdateResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	attrs := servicingAttributes()
	attrs["kb"] = schema.StringAttribute{Required: true,
		MarkdownDescription: "The interim update's or hotfix's KB number, e.g. `KB123456`. Changing it replaces the resource.",
		Validators:          []validator.String{kbValidator()},
		PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()}}
	attrs["present"] = schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(true),
		MarkdownDescription: "`true` (default): the update must be installed; `false`: it must not be."}
	attrs["package_path"] = schema.StringAttribute{Optional: true,
		MarkdownDescription: "The update's package (`.msp` or `.exe`) on the server or a share. Needed to install it. " +
			"An interim update is built for one exact build: one for Update Rollup 5 does not fit Update Rollup 6.",
		Validators: pathValidators()}
	attrs["installed"] = schema.BoolAttribute{Computed: true,
		MarkdownDescription: "Whether the update is installed, as last read."}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Keeps an Exchange 2007 interim update, or an Exchange 2000/2003 hotfix, installed or absent on a " +
			"non-clustered server. Destroying the resource leaves the server as it is. Import with `SERVER/KB`.",
		Attributes: attrs,
		Blocks:     map[string]schema.Block{"backup": backupBlock(), "timeouts": timeoutsBlock(ctx), "maintenance_window": maintenanceWindowBlock()},
	}
}

func (r *interimUpdateResource) plan(ctx context.Context, m *interimUpdateModel, facts exchange.Facts) (exchange.Plan, error) {
	var diags diag.Diagnostics
	req := exchange.InterimUpdateRequest{
		Server:      m.Server.ValueString(),
		KB:          strings.ToUpper(m.KB.ValueString()),
		Present:     m.Present.IsNull() || m.Present.ValueBool(),
		PackagePath: m.PackagePath.ValueString(),
		Options:     m.options(ctx, types.ListNull(types.StringType), &diags),
	}
	if diags.HasError() {
		return exchange.Plan{}, fmt.Errorf("reading the configuration: %v", diags)
	}
	return exchange.PlanInterimUpdate(facts, req, exchange.DefaultCatalog())
}

func (r *interimUpdateResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if r.data == nil {
		return
	}
	ctx = r.data.withClock(ctx)
	if req.Plan.Raw.IsNull() {
		var state interimUpdateModel
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
		resp.Diagnostics.AddWarning(fmt.Sprintf("Server %s: %s stays as it is", state.Server.ValueString(), state.KB.ValueString()),
			"Destroying an exchange_interim_update resource only removes it from Terraform. To remove the update from "+
				"the server, set present = false and apply before destroying.")
		return
	}
	var m, state interimUpdateModel
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
	applyPlanToModel(ctx, &m.servicingModel, &state.servicingModel, p, &resp.Diagnostics)
	m.ScheduledWindow = r.data.scheduledWindow(ctx, m.MaintenanceWindow, state.ScheduledWindow, len(p.Steps), firstDowntime(p.Steps), &resp.Diagnostics)
	m.ID = types.StringValue(m.Server.ValueString() + "/" + strings.ToUpper(m.KB.ValueString()))
	m.Installed = live(p, state.Installed, installedValue(facts, m.KB.ValueString()), types.BoolUnknown())
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &m)...)
}

func (r *interimUpdateResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m interimUpdateModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := m.Timeouts.Create(ctx, defaultInstallTimeout)
	resp.Diagnostics.Append(d...)
	r.apply(ctx, &m, timeout, &resp.State, &resp.Diagnostics)
}

func (r *interimUpdateResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m interimUpdateModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := m.Timeouts.Update(ctx, defaultInstallTimeout)
	resp.Diagnostics.Append(d...)
	r.apply(ctx, &m, timeout, &resp.State, &resp.Diagnostics)
}

func (r *interimUpdateResource) apply(ctx context.Context, m *interimUpdateModel, timeout time.Duration, state *tfsdk.State, diags *diag.Diagnostics) {
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
	m.Installed = installedValue(facts, m.KB.ValueString())
	diags.Append(state.Set(ctx, m)...)
}

func (r *interimUpdateResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m interimUpdateModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || r.data == nil {
		return
	}
	facts, ok := r.data.read(ctx, &m.servicingModel, &resp.Diagnostics)
	if !ok {
		return
	}
	m.ID = types.StringValue(m.Server.ValueString() + "/" + strings.ToUpper(m.KB.ValueString()))
	m.Installed = installedValue(facts, m.KB.ValueString())
	if m.Present.IsNull() { // just imported: keep the update as it is
		m.Present = m.Installed
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (r *interimUpdateResource) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {
	// Destroy leaves the server as it is (ModifyPlan says so).
}

func (r *interimUpdateResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	const form = "SERVER/KB or SERVER@ADDRESS/KB, e.g. EX01/KB123456"
	server, kb, ok := strings.Cut(req.ID, "/")
	if !ok || !strings.HasPrefix(strings.ToUpper(kb), "KB") {
		resp.Diagnostics.AddError("Invalid import id", fmt.Sprintf("%q is not %s.", req.ID, form))
		return
	}
	t, ok := importTarget(server, form, &resp.Diagnostics)
	if !ok {
		return
	}
	kb = strings.ToUpper(kb)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("kb"), kb)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), t.Server+"/"+kb)...)
	setImportTarget(ctx, t, resp)
}

func installedValue(f exchange.Facts, kb string) types.Bool {
	for _, u := range f.InterimUpdates {
		if strings.EqualFold(u.KB, kb) {
			return types.BoolValue(true)
		}
	}
	return types.BoolValue(false)
}
