package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
)

func newInterimUpdateResource() resource.Resource {
	r := newServicingResource[interimUpdateModel]("_interim_update",
		"Keeps an Exchange 2007 interim update, or an Exchange 2000/2003 hotfix, installed or absent on a "+
			"non-clustered server. Destroying the resource leaves the server as it is. Import with `SERVER/KB`.",
		interimUpdateAttributes, servicingFields(map[exchange.Field]string{
			exchange.FieldKB:          "kb",
			exchange.FieldPackagePath: "package_path",
		}))
	r.importState = importInterimUpdate
	return r
}

// interimUpdateModel keeps an interim update (2007) or hotfix (2000/2003) present or absent.
type interimUpdateModel struct {
	servicingModel
	KB          types.String `tfsdk:"kb"`
	Present     types.Bool   `tfsdk:"present"`
	PackagePath types.String `tfsdk:"package_path"`
	Installed   types.Bool   `tfsdk:"installed"`
}

func interimUpdateAttributes(attrs map[string]schema.Attribute) {
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
}

func (m *interimUpdateModel) plan(ctx context.Context, facts exchange.Facts, diags *diag.Diagnostics) (exchange.Plan, error) {
	req := exchange.InterimUpdateRequest{
		Server:      m.Server.ValueString(),
		KB:          strings.ToUpper(m.KB.ValueString()),
		Present:     m.Present.IsNull() || m.Present.ValueBool(),
		PackagePath: m.PackagePath.ValueString(),
		Options:     m.options(ctx, types.ListNull(types.StringType), diags),
	}
	if diags.HasError() {
		return exchange.Plan{}, nil
	}
	return exchange.PlanInterimUpdate(facts, req, exchange.DefaultCatalog())
}

// id is SERVER/KB.
func (m *interimUpdateModel) id() types.String {
	return types.StringValue(m.Server.ValueString() + "/" + strings.ToUpper(m.KB.ValueString()))
}

func (m *interimUpdateModel) planLive(state *interimUpdateModel, p exchange.Plan, facts exchange.Facts) {
	m.Installed = live(p, state.Installed, installedValue(facts, m.KB.ValueString()), types.BoolUnknown())
}

func (m *interimUpdateModel) readLive(facts exchange.Facts) {
	m.Installed = installedValue(facts, m.KB.ValueString())
	if m.Present.IsNull() { // just imported: keep the update as it is
		m.Present = m.Installed
	}
}

func (m *interimUpdateModel) planDestroy(_ context.Context, _ *providerData, diags *diag.Diagnostics) {
	diags.AddWarning(fmt.Sprintf("Server %s: %s stays as it is", m.Server.ValueString(), m.KB.ValueString()),
		"Destroying an exchange_interim_update resource only removes it from Terraform. To remove the update from "+
			"the server, set present = false and apply before destroying.")
}

// importInterimUpdate reads SERVER/KB.
func importInterimUpdate(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
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
