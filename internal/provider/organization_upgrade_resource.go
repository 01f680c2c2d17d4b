package provider

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/resourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote"
	"github.com/buildlevel/terraform-provider-exchange/internal/servicing"
)

func newOrganizationUpgradeResource() resource.Resource { return &organizationUpgradeResource{} }

// organizationUpgradeResource services a whole organisation in the order across servers (exchange.Order):
// one resource, so that the order is the provider's to keep (not hand-written depends_on
// between for_each instances), servers of one wave run in parallel, and a failure stops
// the later waves with one report of what was done, what failed and what was not started.
type organizationUpgradeResource struct {
	data *providerData
}

var (
	_ resource.ResourceWithModifyPlan  = (*organizationUpgradeResource)(nil)
	_ resource.ResourceWithImportState = (*organizationUpgradeResource)(nil)
)

type orgTargetModel struct {
	Product            types.String `tfsdk:"product"`
	ServicePack        types.Int64  `tfsdk:"service_pack"`
	UpdateRollup       types.String `tfsdk:"update_rollup"`
	MediaPath          types.String `tfsdk:"media_path"`
	PackagePath        types.String `tfsdk:"package_path"`
	UMLanguagePackPath types.String `tfsdk:"um_language_pack_path"`
	KB                 types.String `tfsdk:"kb"`
}

// orgStepModel is a step of planned_steps: a server's step (stepModel) and its wave.
type orgStepModel struct {
	Wave int64 `tfsdk:"wave"`
	stepModel
}

func (s orgStepModel) same(o orgStepModel) bool {
	return s.Wave == o.Wave && s.stepModel.same(o.stepModel)
}

func (s orgStepModel) describe() string {
	return fmt.Sprintf("wave %d, %s: %s", s.Wave, s.Server, s.Description)
}

// changedSubject is the subject of stepsChanged for an organisation: it names the servers
// whose steps differ between the reviewed plan and now ("The organisation (server HUB1)").
func changedSubject(reviewed, now []orgStepModel) string {
	byServer := func(steps []orgStepModel) map[string][]orgStepModel {
		out := map[string][]orgStepModel{}
		for _, s := range steps {
			out[strings.ToUpper(s.Server)] = append(out[strings.ToUpper(s.Server)], s)
		}
		return out
	}
	r, n := byServer(reviewed), byServer(now)
	var names []string
	for _, m := range []map[string][]orgStepModel{r, n} {
		for name := range m {
			if !slices.Contains(names, name) && !sameSteps(r[name], n[name]) {
				names = append(names, name)
			}
		}
	}
	sort.Strings(names)
	switch len(names) {
	case 0:
		return "The organisation"
	case 1:
		return "The organisation (server " + names[0] + ")"
	}
	return "The organisation (servers " + strings.Join(names, ", ") + ")"
}

var orgStepType = types.ObjectType{AttrTypes: withAttr(stepAttrTypes, "wave", attr.Type(types.Int64Type))}

var waveType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"index": types.Int64Type, "name": types.StringType, "reason": types.StringType,
	"servers": types.ListType{ElemType: types.StringType},
}}

type organizationUpgradeModel struct {
	ID                        types.String         `tfsdk:"id"`
	DiscoverThrough           *serverRefModel      `tfsdk:"discover_through"`
	Servers                   []serverRefModel     `tfsdk:"servers"`
	Targets                   []orgTargetModel     `tfsdk:"targets"`
	Parallelism               types.Int64          `tfsdk:"parallelism"`
	RemoveInterimUpdates      types.List           `tfsdk:"remove_interim_updates"`
	StopServices              types.List           `tfsdk:"stop_services"`
	RevocationCheck           types.String         `tfsdk:"revocation_check"`
	PreserveOWACustomizations types.Bool           `tfsdk:"preserve_owa_customizations"`
	ForefrontCompatible       types.String         `tfsdk:"forefront_compatible"`
	ClearSetupWatermark       *clearWatermarkModel `tfsdk:"clear_setup_watermark"`
	Backup                    *backupModel         `tfsdk:"backup"`
	LoadBalancedFrontEnds     types.List           `tfsdk:"load_balanced_front_ends"`
	Waves                     types.List           `tfsdk:"waves"`
	PlannedSteps              types.List           `tfsdk:"planned_steps"`
	Warnings                  types.List           `tfsdk:"warnings"`
	LiveBuilds                types.Map            `tfsdk:"live_builds"`
	BelowTarget               types.List           `tfsdk:"below_target"`
	Timeouts                  timeouts.Value       `tfsdk:"timeouts"`
	MaintenanceWindow         *windowModel         `tfsdk:"maintenance_window"`
	ScheduledWindow           types.Object         `tfsdk:"scheduled_window"`
}

func (r *organizationUpgradeResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_organization_upgrade"
}

func (r *organizationUpgradeResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configuredData(req.ProviderData, &resp.Diagnostics)
}

func (r *organizationUpgradeResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	ref := map[string]schema.Attribute{
		"server":  schema.StringAttribute{Required: true, MarkdownDescription: "The server's name, as Exchange knows it.", Validators: serverValidators()},
		"address": schema.StringAttribute{Optional: true, MarkdownDescription: "Where to connect; default: the provider's `addresses`, else `server`."},
	}
	str := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Optional: true, MarkdownDescription: desc, Validators: []validator.String{stringvalidator.LengthAtLeast(1)}}
	}
	pathStr := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Optional: true, MarkdownDescription: desc, Validators: pathValidators()}
	}
	computedStr := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, MarkdownDescription: desc}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Services a whole Exchange organisation to target levels in the order the servers must be serviced " +
			"(see `exchange_organization`): the plan shows the waves and every server's steps; the apply runs the waves in order, " +
			"the servers of one wave in parallel up to `parallelism`, and a failure stops the later waves with a report of which " +
			"servers were done, which failed and which were not started. A cluster (CCR/SCC, EVS, 5.5) is one unit of its " +
			"wave, upgraded node by node as `exchange_cluster_upgrade` does.",
		Attributes: map[string]schema.Attribute{
			"id": computedStr("The organisation's servers, joined."),
			"discover_through": schema.SingleNestedAttribute{Optional: true, Attributes: ref,
				MarkdownDescription: "A server through which to discover the organisation's servers in Active Directory."},
			"servers": schema.ListNestedAttribute{Optional: true, NestedObject: schema.NestedAttributeObject{Attributes: ref},
				MarkdownDescription: "The servers, when not discovered.", Validators: []validator.List{listvalidator.SizeAtLeast(1)}},
			"targets": schema.ListNestedAttribute{Required: true, Validators: []validator.List{listvalidator.SizeAtLeast(1)},
				MarkdownDescription: "The level each product must reach, with the media and packages to get there.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"product": schema.StringAttribute{Required: true, MarkdownDescription: "`5.5`, `2000`, `2003` or `2007`.",
						Validators: []validator.String{stringvalidator.OneOf(exchange.Products...)}},
					"service_pack": schema.Int64Attribute{Required: true, MarkdownDescription: "Service pack level (0 = RTM).",
						Validators: []validator.Int64{int64validator.Between(0, 4)}},
					"update_rollup": schema.StringAttribute{Optional: true,
						MarkdownDescription: "Exchange 2007: `latest`, a rollup (`9`, `8-v3`) or `0` (default): installed after the service pack.",
						Validators:          []validator.String{rollupValidator{}}},
					"media_path":            pathStr("Service pack setup media, as `exchange_service_pack.media_path`, reachable from every server."),
					"package_path":          pathStr("Update rollup package, as `exchange_update_rollup.package_path`."),
					"um_language_pack_path": pathStr("UM language packs for the new service pack."),
					"kb":                    str("The rollup's KB where the catalog does not state it."),
				}}},
			"parallelism": schema.Int64Attribute{Optional: true, Computed: true, Default: int64default.StaticInt64(1),
				MarkdownDescription: "How many servers of one wave are serviced at once. Default 1.",
				Validators:          []validator.Int64{int64validator.Between(1, 64)}},
			"remove_interim_updates": schema.ListAttribute{Optional: true, ElementType: types.StringType,
				MarkdownDescription: "Interim updates (KBs) this change may remove, on any server.",
				Validators:          []validator.List{listvalidator.ValueStringsAre(kbValidator())}},
			"stop_services": schema.ListAttribute{Optional: true, ElementType: types.StringType,
				MarkdownDescription: "Services to stop and restart on each server, by Windows service name (any service, as in `exchange_service_pack.stop_services`; a name a server does not have is refused for that server); default: every running third-party service each server reports.",
				Validators:          []validator.List{listvalidator.ValueStringsAre(serviceNameValidators()...)}},
			"revocation_check": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(exchange.RevocationAuto),
				MarkdownDescription: "As `exchange_service_pack.revocation_check`.",
				Validators:          []validator.String{stringvalidator.OneOf(exchange.RevocationAuto, exchange.RevocationAlways, exchange.RevocationNever)}},
			"preserve_owa_customizations": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(true),
				MarkdownDescription: "As `exchange_service_pack.preserve_owa_customizations`."},
			"forefront_compatible": schema.StringAttribute{Optional: true,
				MarkdownDescription: "As `exchange_service_pack.forefront_compatible`, for every server that runs Forefront Security for Exchange Server.",
				Validators:          []validator.String{stringvalidator.LengthAtLeast(10)}},
			"clear_setup_watermark": clearWatermarkAttribute("on any server of the organisation whose service pack it plans (as `exchange_service_pack.clear_setup_watermark`)"),
			"load_balanced_front_ends": schema.ListAttribute{Optional: true, ElementType: types.ListType{ElemType: types.StringType},
				MarkdownDescription: "The groups of Exchange 2003 front-end servers that are load-balanced together, by server name, e.g. " +
					"`[[\"FE1\", \"FE2\"]]`. Each group is upgraded as KB 328839 asks, in one downtime window whatever the `parallelism`: " +
					"every front-end of the group that is below its target is taken offline (its web service W3SVC Disabled and stopped) " +
					"before any is upgraded, and all come back online only after every one is upgraded, so that mobile clients never meet " +
					"front-ends at different service packs. The load balancer itself is not changed. Default: every Exchange 2003 front-end " +
					"of the organisation is one group; `[]`: none is load-balanced (each front-end is back in service when its own upgrade ends).",
				Validators: []validator.List{listvalidator.ValueListsAre(listvalidator.SizeAtLeast(1), listvalidator.UniqueValues(),
					listvalidator.ValueStringsAre(stringvalidator.LengthAtLeast(1)))}},
			"waves": schema.ListNestedAttribute{Computed: true, MarkdownDescription: "The waves of the planned change, in order.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"index":   schema.Int64Attribute{Computed: true, MarkdownDescription: "1-based position."},
					"name":    computedStr("What the wave is."),
					"reason":  computedStr("Why it is where it is."),
					"servers": schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Its servers."},
				}}},
			"planned_steps": schema.ListNestedAttribute{Computed: true,
				MarkdownDescription: "Every server's steps, wave by wave (as `exchange_service_pack.planned_steps`, with the `wave`).",
				NestedObject: schema.NestedAttributeObject{Attributes: withAttr(stepAttributes(), "wave",
					schema.Attribute(schema.Int64Attribute{Computed: true, MarkdownDescription: "The wave of the step's server."}))}},
			"warnings": schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Advisories of the planned change."},
			"live_builds": schema.MapAttribute{Computed: true, ElementType: types.StringType,
				MarkdownDescription: "Every server's live build by name (each node of a cluster), as last read: after the apply, " +
					"and again by every refresh, so `terraform plan -refresh-only` shows a server changed since as a change here."},
			"below_target": schema.ListAttribute{Computed: true, ElementType: types.StringType,
				MarkdownDescription: "The servers that a refresh found below their target, each with its live build and level; " +
					"empty after an apply. A refresh that finds one shows it in `terraform plan -refresh-only`, and the next plan has its steps."},
			"scheduled_window": scheduledWindowAttribute(),
		},
		Blocks: map[string]schema.Block{"backup": backupBlock(), "timeouts": timeoutsBlock(ctx), "maintenance_window": maintenanceWindowBlock()},
	}
	addNULChecks(resp.Schema.Attributes, resp.Schema.Blocks)
}

func (r *organizationUpgradeResource) ConfigValidators(context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{resourcevalidator.ExactlyOneOf(path.MatchRoot("discover_through"), path.MatchRoot("servers"))}
}

// orgPlan is the whole organisation's plan, with the facts it was planned from and every
// server's live build as read for it.
type orgPlan struct {
	exchange.OrganizationPlan
	facts  []exchange.Facts
	builds map[string]string
}

func (o orgPlan) steps() []orgStepModel {
	out := []orgStepModel{}
	steps, waves := o.Steps()
	for i, s := range steps {
		out = append(out, orgStepModel{Wave: int64(waves[i]), stepModel: stepModelOf(s)})
	}
	return out
}

// plan reads the organisation and plans every server below its target, wave by wave
// (exchange.PlanOrganization). recorded are the facts the refresh recorded (plan_facts.go),
// nil at apply.
func (r *organizationUpgradeResource) plan(ctx context.Context, m *organizationUpgradeModel, recorded map[string]exchange.Facts, diags *diag.Diagnostics) (orgPlan, bool) {
	var o orgPlan
	facts, ok := r.data.organizationFacts(ctx, m.DiscoverThrough, m.Servers, 0, diags)
	if !ok {
		return o, false
	}
	facts = withRecordedAll(facts, recorded)
	o.facts = facts
	if len(facts) > 0 {
		r.data.checkEvidenceKeys(ctx, m.Backup, r.data.targetOfServer(facts[0].Server), facts, diags)
	}
	o.builds = liveBuilds(facts)
	ordering, targets, ok := orderOrganization(facts, m.Targets, diags)
	if !ok {
		return o, false
	}
	opts := optionsOf(ctx, m.Backup, m.RevocationCheck, m.PreserveOWACustomizations, m.StopServices, m.RemoveInterimUpdates, diags)
	opts.ForefrontCompatible = m.ForefrontCompatible.ValueString()
	opts.ClearSetupWatermarkReason = m.ClearSetupWatermark.reason()
	var err error
	o.OrganizationPlan, err = exchange.PlanOrganization(facts, ordering, exchange.OrganizationRequest{Targets: targets, Options: opts,
		LoadBalancedFrontEnds: loadBalancedFrontEnds(ctx, m.LoadBalancedFrontEnds, diags)}, exchange.DefaultCatalog())
	if err != nil {
		refusalDiagnostics(err, orgFieldPaths(m.Targets, facts), diags)
		return o, false
	}
	return o, !diags.HasError()
}

// loadBalancedFrontEnds is the attribute as exchange.OrganizationRequest takes it: nil when
// not set (every Exchange 2003 front-end is one group), empty when set to [].
func loadBalancedFrontEnds(ctx context.Context, v types.List, diags *diag.Diagnostics) [][]string {
	if v.IsNull() || v.IsUnknown() {
		return nil
	}
	groups := [][]string{}
	diags.Append(v.ElementsAs(ctx, &groups, false)...)
	return groups
}

// orderOrganization puts the servers read into waves towards the targets, and returns the
// targets with their media and packages.
func orderOrganization(facts []exchange.Facts, ts []orgTargetModel, diags *diag.Diagnostics) (exchange.Ordering, []exchange.OrganizationTarget, bool) {
	var tms []targetModel
	for _, t := range ts {
		tms = append(tms, targetModel{Product: t.Product, ServicePack: t.ServicePack, UpdateRollup: t.UpdateRollup})
	}
	targets, ok := organizationTargets(tms, diags)
	if !ok {
		return exchange.Ordering{}, nil, false
	}
	ordering, err := exchange.Order(facts, targets, exchange.DefaultCatalog())
	if err != nil {
		diags.AddAttributeError(path.Root("targets"), "Cannot order the organisation", err.Error())
		return exchange.Ordering{}, nil, false
	}
	out := make([]exchange.OrganizationTarget, len(targets))
	for i, tg := range targets { // organizationTargets keeps the attribute's order
		t := ts[i]
		out[i] = exchange.OrganizationTarget{Target: tg, MediaPath: t.MediaPath.ValueString(), PackagePath: t.PackagePath.ValueString(),
			UMLanguagePackPath: t.UMLanguagePackPath.ValueString(), KB: t.KB.ValueString()}
	}
	return ordering, out, true
}

// liveBuilds is every server's build by its name.
func liveBuilds(facts []exchange.Facts) map[string]string {
	builds := map[string]string{}
	for _, f := range facts {
		builds[f.Server] = f.Build
	}
	return builds
}

func (r *organizationUpgradeResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if r.data == nil || req.Plan.Raw.IsNull() {
		if req.Plan.Raw.IsNull() {
			resp.Diagnostics.AddWarning("The servers stay at their levels",
				"Destroying an exchange_organization_upgrade resource only removes it from Terraform: service packs cannot be "+
					"uninstalled, and rollups installed by the organisation upgrade stay.")
		}
		return
	}
	ctx = r.data.withClock(ctx)
	var m, state organizationUpgradeModel
	if !readPlanAndState(ctx, req, &m, &state, &resp.Diagnostics) {
		return
	}
	if !configKnown(req.Config) {
		// Values from other resources are known at apply only: the steps are planned then.
		m.PlannedSteps, m.Waves = types.ListUnknown(orgStepType), types.ListUnknown(waveType)
		m.Warnings, m.ID = types.ListUnknown(types.StringType), types.StringUnknown()
		m.LiveBuilds, m.BelowTarget = types.MapUnknown(types.StringType), types.ListUnknown(types.StringType)
		resp.Diagnostics.Append(resp.Plan.Set(ctx, &m)...)
		return
	}
	// The facts the refresh recorded, so that the plan an apply of a saved plan makes first
	// is this one (plan_facts.go).
	o, ok := r.plan(ctx, &m, recordedFacts(ctx, req.Private, resp.Private), &resp.Diagnostics)
	if !ok {
		return
	}
	m.ID = types.StringValue(orgID(o.Ordering))
	addOrganizationWarnings(&resp.Diagnostics, o.Warnings)
	steps := o.steps()
	// Below the target is what an apply ends; the builds it leaves are read after it.
	m.BelowTarget = stringsValue(ctx, nil, &resp.Diagnostics)
	switch {
	case len(steps) > 0:
		m.LiveBuilds = types.MapUnknown(types.StringType)
	case !state.LiveBuilds.IsNull() && !state.LiveBuilds.IsUnknown():
		m.LiveBuilds = state.LiveBuilds // only a refresh updates what was read
	default:
		m.LiveBuilds = buildsValue(ctx, o.builds, &resp.Diagnostics)
	}
	if len(steps) == 0 && !state.PlannedSteps.IsNull() && !state.PlannedSteps.IsUnknown() {
		// At the targets: keep the last apply's record, so no change is planned.
		m.PlannedSteps, m.Waves, m.Warnings = state.PlannedSteps, state.Waves, state.Warnings
	} else {
		var d diag.Diagnostics
		m.PlannedSteps, d = types.ListValueFrom(ctx, orgStepType, steps)
		resp.Diagnostics.Append(d...)
		m.Waves = wavesValue(ctx, o, &resp.Diagnostics)
		m.Warnings = stringsValue(ctx, o.WarningStrings(), &resp.Diagnostics)
	}
	m.ScheduledWindow = r.data.scheduledWindow(ctx, m.MaintenanceWindow, state.ScheduledWindow, len(steps), orgFirstDowntime(steps), &resp.Diagnostics)
	if ws := o.FrontEndWindowWarnings(); len(steps) > 0 && !m.ScheduledWindow.IsNull() && len(ws) > 0 {
		// Under a window, each load-balanced group's downtime is one block to fit in it.
		for _, w := range ws {
			resp.Diagnostics.AddWarning(w, "")
		}
		m.Warnings = stringsValue(ctx, append(o.WarningStrings(), ws...), &resp.Diagnostics)
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &m)...)
}

// addOrganizationWarnings adds the plan's warnings as diagnostics: one per distinct text,
// naming the servers it concerns, in the order the texts first appear. The same warning of
// every Exchange 2007 server was a diagnostic per server (about a thousand at 500 servers),
// and Terraform renders each one with the configuration around it, parsing the whole
// configuration file again for each: half of Terraform's CPU of the plan, by profile
// (docs/performance.md). The warnings attribute still lists each server's warnings.
func addOrganizationWarnings(diags *diag.Diagnostics, ws []exchange.Warning) {
	var texts []string
	servers := map[string][]string{}
	for _, w := range ws {
		if _, seen := servers[w.Text]; !seen {
			texts = append(texts, w.Text)
			servers[w.Text] = nil
		}
		if w.Server != "" {
			servers[w.Text] = append(servers[w.Text], w.Server)
		}
	}
	for _, t := range texts {
		detail := ""
		switch names := servers[t]; len(names) {
		case 0:
		case 1:
			detail = "Server " + names[0] + "."
		default:
			detail = fmt.Sprintf("%d servers: %s.", len(names), strings.Join(names, ", "))
		}
		diags.AddWarning(t, detail)
	}
}

func orgID(o exchange.Ordering) string {
	var names []string
	for _, w := range o.Waves {
		names = append(names, w.Servers...)
	}
	names = append(names, o.UpToDate...)
	for n := range o.Unplanned {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

// wavesValue lists the waves that have work (a recovery wave 0 included).
func wavesValue(ctx context.Context, o orgPlan, diags *diag.Diagnostics) types.List {
	out := []waveModel{}
	for _, w := range o.Waves() {
		out = append(out, waveModel{Index: int64(w.Index), Name: w.Name, Reason: w.Reason, Servers: nonNil(w.Servers)})
	}
	v, d := types.ListValueFrom(ctx, waveType, out)
	diags.Append(d...)
	return v
}

func (r *organizationUpgradeResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m organizationUpgradeModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	timeout, d := m.Timeouts.Create(ctx, defaultInstallTimeout)
	resp.Diagnostics.Append(d...)
	r.apply(ctx, &m, timeout, resp.State.Set, resp.Private, &resp.Diagnostics)
}

func (r *organizationUpgradeResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m organizationUpgradeModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	timeout, d := m.Timeouts.Update(ctx, defaultInstallTimeout)
	resp.Diagnostics.Append(d...)
	r.apply(ctx, &m, timeout, resp.State.Set, resp.Private, &resp.Diagnostics)
}

// apply re-reads and re-plans the organisation, refuses if the steps differ from the plan,
// then runs the waves, and records what the servers run afterwards (in the state, and in
// private for the next plan).
func (r *organizationUpgradeResource) apply(ctx context.Context, m *organizationUpgradeModel, timeout time.Duration,
	set func(context.Context, any) diag.Diagnostics, private privateData, diags *diag.Diagnostics) {
	ctx = r.data.withWindow(ctx, m.MaintenanceWindow, &m.ScheduledWindow, diags)
	if diags.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// Apply runs in a provider process of its own: these are fresh facts, not the plan's.
	o, ok := r.plan(ctx, m, nil, diags)
	if !ok {
		return
	}
	var reviewed []orgStepModel
	if !m.PlannedSteps.IsNull() && !m.PlannedSteps.IsUnknown() {
		diags.Append(m.PlannedSteps.ElementsAs(ctx, &reviewed, false)...)
	}
	if now := o.steps(); stepsChanged(changedSubject(reviewed, now), reviewed, now, diags) ||
		r.data.refuseEndedWindow(ctx, "The organisation", orgFirstDowntime(now) != "", diags) {
		return
	}
	unfinished, err := r.runWaves(ctx, m, o)
	addUnfinished(diags, unfinished...)
	if err != nil {
		diags.AddError("The organisation upgrade stopped", err.Error())
		return
	}
	facts := o.facts
	if len(o.steps()) > 0 {
		// The servers serviced were forgotten by the probe cache: this reads them anew.
		if facts, ok = r.data.organizationFacts(ctx, m.DiscoverThrough, m.Servers, 0, diags); !ok {
			return
		}
	}
	if m.LiveBuilds.IsUnknown() {
		m.LiveBuilds = buildsValue(ctx, liveBuilds(facts), diags)
	}
	recordFacts(ctx, private, diags, facts...)
	diags.Append(set(ctx, m)...)
}

// runWaves runs the waves (servicing.ApplyOrganization), each server or cluster under the
// provider's in-process lock of its servers. It returns, sorted, what the ends of the
// servers' and clusters' applies could not do (servicing.Report.Unfinished).
func (r *organizationUpgradeResource) runWaves(ctx context.Context, m *organizationUpgradeModel, o orgPlan) ([]string, error) {
	var (
		mu         sync.Mutex
		unfinished []string
	)
	err := servicing.ApplyOrganization(ctx, r.data.client, o.OrganizationPlan, servicing.OrganizationOptions{
		Parallelism: int(m.Parallelism.ValueInt64()),
		Target:      r.data.targetOfServer,
		Lock:        r.data.lockServer,
		Options:     func(server string) servicing.Options { return r.data.executorOptions(ctx, server) },
		Serviced:    r.data.probes.Forget,
		Unfinished: func(msg string) {
			mu.Lock()
			defer mu.Unlock()
			unfinished = append(unfinished, msg)
		},
	})
	slices.Sort(unfinished)
	return unfinished, err
}

// Read refreshes live_builds and below_target, so that `terraform plan -refresh-only` shows
// a server changed since the apply (or below its target) as a change made outside Terraform.
// planned_steps, waves and warnings keep the last apply's record. It records the facts it
// read in the private data, for the next plan (plan_facts.go).
func (r *organizationUpgradeResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m organizationUpgradeModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || r.data == nil {
		return
	}
	facts, ok := r.data.organizationFacts(ctx, m.DiscoverThrough, m.Servers, 0, &resp.Diagnostics)
	if !ok {
		return
	}
	recordFacts(ctx, resp.Private, &resp.Diagnostics, facts...)
	names := make([]string, 0, len(facts))
	for _, f := range facts {
		names = append(names, f.Server)
	}
	sort.Strings(names)
	m.ID = types.StringValue(strings.Join(names, ","))
	m.LiveBuilds = buildsValue(ctx, liveBuilds(facts), &resp.Diagnostics)
	var below []string
	if len(m.Targets) > 0 { // none just after an import: the configuration brings them
		ordering, _, ok := orderOrganization(facts, m.Targets, &resp.Diagnostics)
		if !ok {
			return
		}
		below = belowTarget(ordering, facts)
	}
	m.BelowTarget = stringsValue(ctx, below, &resp.Diagnostics)
	// Just imported: what the resource computes or defaults, so that the first plan shows
	// only what the configuration adds.
	if m.PlannedSteps.IsNull() {
		var d diag.Diagnostics
		m.PlannedSteps, d = types.ListValueFrom(ctx, orgStepType, []orgStepModel{})
		resp.Diagnostics.Append(d...)
		m.Waves = wavesValue(ctx, orgPlan{}, &resp.Diagnostics)
		m.Warnings = stringsValue(ctx, nil, &resp.Diagnostics)
	}
	if m.Parallelism.IsNull() {
		m.Parallelism = types.Int64Value(1)
	}
	if m.RevocationCheck.IsNull() {
		m.RevocationCheck = types.StringValue(exchange.RevocationAuto)
	}
	if m.PreserveOWACustomizations.IsNull() {
		m.PreserveOWACustomizations = types.BoolValue(true)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// belowTarget names the servers the ordering has in a wave: below their target.
func belowTarget(o exchange.Ordering, facts []exchange.Facts) []string {
	byName := map[string]exchange.Facts{}
	for _, f := range facts {
		byName[strings.ToLower(f.Server)] = f
	}
	var out []string
	for _, w := range o.Waves {
		for _, s := range w.Servers {
			f := byName[strings.ToLower(s)]
			level := f.Build
			if b, err := exchange.ParseBuild(f.Build); err == nil {
				level = exchange.DefaultCatalog().Describe(b)
			}
			out = append(out, fmt.Sprintf("%s: build %s (%s), below its target", f.Server, f.Build, level))
		}
	}
	return out
}

func buildsValue(ctx context.Context, builds map[string]string, diags *diag.Diagnostics) types.Map {
	v, d := types.MapValueFrom(ctx, types.StringType, builds)
	diags.Append(d...)
	return v
}

// ImportState takes SERVER[@ADDRESS], the server to discover the organisation through, or
// a comma-separated list SERVER[@ADDRESS],SERVER[@ADDRESS] of the servers (a list of one
// ends with a comma). The targets are not on the servers: the first plan after the import
// adds them from the configuration, an update that runs no step where the servers are at
// their targets.
func (r *organizationUpgradeResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	const form = "SERVER[@ADDRESS] (the server to discover the organisation through) or SERVER[@ADDRESS],SERVER[@ADDRESS],... " +
		"(the servers; a list of one ends with a comma), e.g. CAS01 or MBX01,MBX02@10.0.0.5"
	ref := func(t remote.Target) serverRefModel {
		m := serverRefModel{Server: types.StringValue(t.Server), Address: types.StringNull()}
		if t.Address != "" {
			m.Address = types.StringValue(t.Address)
		}
		return m
	}
	if !strings.Contains(req.ID, ",") {
		t, ok := importTarget(req.ID, form, &resp.Diagnostics)
		if !ok {
			return
		}
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("discover_through"), ref(t))...)
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), t.Server)...)
		return
	}
	var servers []serverRefModel
	for _, part := range strings.Split(strings.TrimSuffix(req.ID, ","), ",") {
		t, ok := importTarget(strings.TrimSpace(part), form, &resp.Diagnostics)
		if !ok {
			return
		}
		servers = append(servers, ref(t))
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("servers"), servers)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
}

func (r *organizationUpgradeResource) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {
}
