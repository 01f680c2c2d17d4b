package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote"
)

func newServicePackResource() resource.Resource {
	return newServicingResource[servicePackModel]("_service_pack",
		"Keeps a non-clustered Exchange server at a service pack level. The plan shows every step "+
			"the apply will run (backup check, interim update removal, services, `Setup.com /mode:upgrade`, reboot, ...) or "+
			"refuses with the reason. Destroying the resource leaves the service pack installed: service packs cannot be uninstalled.",
		servicePackAttributes, servicingFields(map[exchange.Field]string{
			exchange.FieldServicePack:          "service_pack",
			exchange.FieldMediaPath:            "media_path",
			exchange.FieldUMLanguagePackPath:   "um_language_pack_path",
			exchange.FieldRemoveInterimUpdates: "remove_interim_updates",
			exchange.FieldForefrontCompatible:  "forefront_compatible",
			exchange.FieldClearSetupWatermark:  "clear_setup_watermark",
		}))
}

// servicePackModel keeps one non-clustered server at a service pack level.
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

func servicePackAttributes(attrs map[string]schema.Attribute) {
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
	attrs["remove_interim_updates"] = removeInterimUpdatesAttribute("a service pack")
	attrs["live_service_pack"] = schema.Int64Attribute{Computed: true,
		MarkdownDescription: "The service pack level the server runs, as last read; null when its build is not in the catalog."}
	attrs["live_level"] = schema.StringAttribute{Computed: true,
		MarkdownDescription: "The service pack the server runs, e.g. `Exchange 2007 SP3`, as last read. (Rollups are " +
			"`exchange_update_rollup`'s: this resource does not change when one is installed.)"}
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

func (m *servicePackModel) plan(ctx context.Context, facts exchange.Facts, diags *diag.Diagnostics) (exchange.Plan, error) {
	req := m.request(ctx, diags)
	if diags.HasError() {
		return exchange.Plan{}, nil
	}
	return exchange.PlanServicePack(facts, req, exchange.DefaultCatalog())
}

// guard refuses a service pack planned after an update rollup of the same server in this
// run, then checks the order across servers.
func (m *servicePackModel) guard(ctx context.Context, d *providerData, t remote.Target, facts exchange.Facts, p exchange.Plan, diags *diag.Diagnostics) {
	if d.registry.addServicePack(t.Server, p) && !p.Empty() {
		diags.AddAttributeError(path.Root("service_pack"),
			fmt.Sprintf("Server %s: an update rollup was planned before this service pack", t.Server),
			"An update rollup cannot be installed with a service pack (no slipstream): it must run after it. Set "+
				"service_pack = exchange_service_pack.<name>.service_pack in the exchange_update_rollup for this server, "+
				"so Terraform plans and applies it after the service pack.")
		return
	}
	d.checkOrder(ctx, t, facts, p, false, diags)
}

func (m *servicePackModel) planLive(state *servicePackModel, p exchange.Plan, facts exchange.Facts) {
	m.LiveServicePack = live(p, state.LiveServicePack, liveServicePack(facts), types.Int64Unknown())
	m.LiveLevel = live(p, state.LiveLevel, liveServicePackName(facts), types.StringUnknown())
}

func (m *servicePackModel) readLive(facts exchange.Facts) {
	m.LiveServicePack, m.LiveLevel = liveServicePack(facts), liveServicePackName(facts)
	if m.ServicePack.IsNull() { // just imported: the desired level is the live one
		m.ServicePack = m.LiveServicePack
	}
}

func (m *servicePackModel) planDestroy(_ context.Context, _ *providerData, diags *diag.Diagnostics) {
	diags.AddWarning("The service pack stays installed",
		"Destroying an exchange_service_pack resource only removes it from Terraform: service packs cannot be "+
			"uninstalled. Going back means removing Exchange, reinstalling the old level and restoring the databases from backup.")
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
