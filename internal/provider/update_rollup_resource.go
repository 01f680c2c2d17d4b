package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote"
)

func newUpdateRollupResource() resource.Resource {
	return newServicingResource[updateRollupModel]("_update_rollup",
		"Keeps a non-clustered Exchange 2007 server at an update rollup of its service pack. The plan "+
			"shows every step the apply will run, or refuses: a rollup for another service pack level, interim updates "+
			"not allowed to be removed, a backup too old, an interrupted setup, a missing prerequisite.",
		updateRollupAttributes, updateRollupFields)
}

var updateRollupFields = servicingFields(map[exchange.Field]string{
	exchange.FieldRollup:               "rollup",
	exchange.FieldServicePack:          "service_pack",
	exchange.FieldPackagePath:          "package_path",
	exchange.FieldKB:                   "kb",
	exchange.FieldRemoveInterimUpdates: "remove_interim_updates",
})

// updateRollupModel keeps one non-clustered Exchange 2007 server at an update rollup.
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

func updateRollupAttributes(attrs map[string]schema.Attribute) {
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
	attrs["remove_interim_updates"] = removeInterimUpdatesAttribute("an update rollup")
	attrs["keep_on_destroy"] = schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(false),
		MarkdownDescription: "Leave the rollup installed when the resource is destroyed. Default `false`: destroying " +
			"uninstalls the rollup (`msiexec /package {ProductCode} /uninstall {PatchCode}`)."}
	attrs["live_build"] = schema.StringAttribute{Computed: true,
		MarkdownDescription: "The server's build as last read."}
	attrs["live_level"] = schema.StringAttribute{Computed: true,
		MarkdownDescription: "The build catalog's name for `live_build`, e.g. `Exchange 2007 SP3 Update Rollup 23`."}
	attrs["live_rollup"] = schema.StringAttribute{Computed: true,
		MarkdownDescription: "The update rollup the server runs, as last read (`0` = none); null when its build is not in the catalog."}
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

func (m *updateRollupModel) plan(ctx context.Context, facts exchange.Facts, diags *diag.Diagnostics) (exchange.Plan, error) {
	return m.planRollup(ctx, m.Rollup.ValueString(), facts, diags)
}

// planRollup plans the rollup against facts; rollup "0" on destroy uninstalls every rollup.
func (m *updateRollupModel) planRollup(ctx context.Context, rollup string, facts exchange.Facts, diags *diag.Diagnostics) (exchange.Plan, error) {
	req := m.request(ctx, rollup, diags)
	if diags.HasError() {
		return exchange.Plan{}, nil
	}
	return exchange.PlanUpdateRollup(facts, req, exchange.DefaultCatalog())
}

// planAgainst: a service pack planned earlier in this run (this rollup references it)
// changes the server first, so the rollup plans against the server as the service pack
// leaves it.
func (m *updateRollupModel) planAgainst(d *providerData, t remote.Target, facts exchange.Facts, diags *diag.Diagnostics) exchange.Facts {
	sp, ok := d.registry.addRollup(t.Server)
	if !ok || sp.Empty() {
		return facts
	}
	if m.ServicePack.IsNull() {
		diags.AddAttributeError(path.Root("service_pack"),
			fmt.Sprintf("Server %s: a service pack is planned for this server in the same apply", t.Server),
			"An update rollup cannot be installed with a service pack (no slipstream), and without a reference "+
				"Terraform may run it first. Set service_pack = exchange_service_pack.<name>.service_pack so this "+
				"rollup is planned and applied after the service pack.")
		return facts
	}
	return sp.After
}

// guard checks the order across servers and records the level the plan reaches.
func (m *updateRollupModel) guard(ctx context.Context, d *providerData, t remote.Target, facts exchange.Facts, p exchange.Plan, diags *diag.Diagnostics) {
	if d.checkOrder(ctx, t, facts, p, false, diags); !diags.HasError() {
		d.registry.reach(t.Server, p)
	}
}

func (m *updateRollupModel) planLive(state *updateRollupModel, p exchange.Plan, facts exchange.Facts) {
	build, level := liveBuild(facts)
	m.LiveRollup = live(p, state.LiveRollup, liveRollup(facts), types.StringUnknown())
	m.LiveBuild = live(p, state.LiveBuild, build, types.StringUnknown())
	m.LiveLevel = live(p, state.LiveLevel, level, types.StringUnknown())
}

func (m *updateRollupModel) readLive(facts exchange.Facts) {
	m.LiveRollup = liveRollup(facts)
	m.LiveBuild, m.LiveLevel = liveBuild(facts)
	if m.Rollup.IsNull() { // just imported: the desired rollup is the live one
		m.Rollup = m.LiveRollup
	}
	if m.KeepOnDestroy.IsNull() {
		m.KeepOnDestroy = types.BoolValue(false)
	}
}

// planDestroy shows what destroying will do on the server.
func (m *updateRollupModel) planDestroy(ctx context.Context, d *providerData, diags *diag.Diagnostics) {
	if m.KeepOnDestroy.ValueBool() {
		diags.AddWarning(fmt.Sprintf("Server %s: the update rollup stays installed", m.Server.ValueString()),
			"keep_on_destroy is true: destroying only removes the resource from Terraform.")
		return
	}
	facts, err := d.probes.Facts(ctx, m.target())
	if err != nil {
		diags.Append(remoteDiagnostic(m.target(), err))
		return
	}
	p, ok := m.destroyPlan(ctx, facts, diags)
	if ok && !p.Empty() {
		diags.AddWarning(fmt.Sprintf("Server %s: destroying uninstalls the update rollup", m.Server.ValueString()),
			"The apply will run:"+describeSteps(stepModelsOf(p.Steps))+"\nSet keep_on_destroy = true to leave it installed.")
	}
}

// destroy uninstalls the rollup, unless keep_on_destroy.
func (m *updateRollupModel) destroy(ctx context.Context, d *providerData, diags *diag.Diagnostics) {
	if m.KeepOnDestroy.ValueBool() {
		return
	}
	timeout, dd := m.Timeouts.Delete(ctx, defaultInstallTimeout)
	diags.Append(dd...)
	if diags.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(d.withWindow(ctx, m.MaintenanceWindow, nil, diags), timeout)
	defer cancel()
	t := m.target()
	d.probes.Forget(t)
	facts, err := d.probes.Facts(ctx, t)
	if err != nil {
		diags.Append(remoteDiagnostic(t, err))
		return
	}
	// The destroy plan was shown as a warning; planning again here enforces the backup
	// precondition and every refusal at apply time too.
	if p, ok := m.destroyPlan(ctx, facts, diags); ok {
		d.applyFresh(ctx, t, p, diags)
	}
}

// destroyPlan uninstalls the rollup the resource manages, back to the rollup beneath it.
func (m *updateRollupModel) destroyPlan(ctx context.Context, facts exchange.Facts, diags *diag.Diagnostics) (exchange.Plan, bool) {
	ru, rr, ok := exchange.RollupBeneath(facts, exchange.DefaultCatalog())
	if !ok {
		return planned(exchange.Plan{}, exchange.Refusal{Server: m.Server.ValueString(),
			Problem: fmt.Sprintf("the live build %s is not an exact catalog release, so the rollup to uninstall cannot be told", facts.Build),
			Action:  "uninstall the rollup by hand (Installed Updates), or set keep_on_destroy = true"}, updateRollupFields, diags)
	}
	p, err := m.planRollup(ctx, exchange.FormatRollup(ru, rr), facts, diags)
	return planned(p, err, updateRollupFields, diags)
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
