package provider

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote"
	"github.com/buildlevel/terraform-provider-exchange/internal/servicing"
)

func newClusterUpgradeResource() resource.Resource { return &clusterUpgradeResource{} }

// clusterUpgradeResource upgrades every node of one clustered mailbox server (2007
// CCR/SCC), Exchange Virtual Server (2000/2003) or Exchange 5.5 cluster, node by node in
// the order of exchange.PlanCluster, with the downtime shown in the plan.
type clusterUpgradeResource struct {
	data *providerData
}

var (
	_ resource.ResourceWithModifyPlan  = (*clusterUpgradeResource)(nil)
	_ resource.ResourceWithImportState = (*clusterUpgradeResource)(nil)
)

type clusterUpgradeModel struct {
	ID                        types.String     `tfsdk:"id"`
	Cluster                   types.String     `tfsdk:"cluster"`
	Nodes                     []serverRefModel `tfsdk:"nodes"`
	ServicePack               types.Int64      `tfsdk:"service_pack"`
	UpdateRollup              types.String     `tfsdk:"update_rollup"`
	MediaPath                 types.String     `tfsdk:"media_path"`
	NodeMediaPaths            types.Map        `tfsdk:"node_media_paths"`
	PackagePath               types.String     `tfsdk:"package_path"`
	NodePackagePaths          types.Map        `tfsdk:"node_package_paths"`
	KB                        types.String     `tfsdk:"kb"`
	RemoveInterimUpdates      types.List       `tfsdk:"remove_interim_updates"`
	StopServices              types.List       `tfsdk:"stop_services"`
	RevocationCheck           types.String     `tfsdk:"revocation_check"`
	PreserveOWACustomizations types.Bool       `tfsdk:"preserve_owa_customizations"`
	Backup                    *backupModel     `tfsdk:"backup"`
	Type                      types.String     `tfsdk:"type"`
	ActiveNode                types.String     `tfsdk:"active_node"`
	Owners                    types.Map        `tfsdk:"owners"`
	LiveBuilds                types.Map        `tfsdk:"live_builds"`
	PlannedSteps              types.List       `tfsdk:"planned_steps"`
	Downtime                  types.List       `tfsdk:"downtime"`
	Warnings                  types.List       `tfsdk:"warnings"`
	Timeouts                  timeouts.Value   `tfsdk:"timeouts"`
	MaintenanceWindow         *windowModel     `tfsdk:"maintenance_window"`
	ScheduledWindow           types.Object     `tfsdk:"scheduled_window"`
}

func (r *clusterUpgradeResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_cluster_upgrade"
}

func (r *clusterUpgradeResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configuredData(req.ProviderData, &resp.Diagnostics)
}

func (r *clusterUpgradeResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	attrs := servicingAttributes()
	// The node of each step is in planned_steps; a cluster has no single server/address.
	delete(attrs, "server")
	delete(attrs, "address")
	// No clustered server runs the Exchange 2007 Client Access role: no OWA logon page.
	delete(attrs, "owa_logon_file")
	attrs["id"] = schema.StringAttribute{Computed: true, MarkdownDescription: "The cluster name.",
		PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}}
	attrs["cluster"] = schema.StringAttribute{Required: true,
		MarkdownDescription: "The clustered mailbox server (2007 CCR/SCC), Exchange Virtual Server (2000/2003) or Exchange 5.5 " +
			"cluster name, or the Windows cluster's own name. Any of them names the whole cluster: an active/active cluster's " +
			"every EVS is upgraded, whichever one is named. Changing it replaces the resource.",
		PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()}, Validators: serverValidators()}
	attrs["nodes"] = schema.ListNestedAttribute{Optional: true,
		MarkdownDescription: "The cluster's nodes. Default: the nodes the cluster reports (read through the cluster name). " +
			"When given, they must be exactly the cluster's nodes.",
		NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
			"server":  schema.StringAttribute{Required: true, MarkdownDescription: "The node's name.", Validators: serverValidators()},
			"address": schema.StringAttribute{Optional: true, MarkdownDescription: "Where to connect; default: the provider's `addresses`, else the name."},
		}},
		Validators: []validator.List{listvalidator.SizeAtLeast(2)}}
	attrs["service_pack"] = schema.Int64Attribute{Required: true,
		MarkdownDescription: "The service pack level every node must run.",
		Validators:          []validator.Int64{int64validator.Between(0, 4)}}
	attrs["update_rollup"] = schema.StringAttribute{Optional: true,
		MarkdownDescription: "Exchange 2007: an update rollup to install after the service pack, on each node only while it is passive: `latest`, a number (`9`), a re-release (`8-v3`).",
		Validators:          []validator.String{rollupValidator{}}}
	attrs["media_path"] = schema.StringAttribute{Optional: true, MarkdownDescription: "The service pack setup media, reachable from every node.",
		Validators: pathValidators()}
	attrs["node_media_paths"] = schema.MapAttribute{Optional: true, ElementType: types.StringType,
		MarkdownDescription: "Per node (by name), setup media where `media_path` does not fit.",
		Validators:          []validator.Map{mapvalidator.ValueStringsAre(pathValidators()...)}}
	attrs["package_path"] = schema.StringAttribute{Optional: true, MarkdownDescription: "The update rollup package, reachable from every node.",
		Validators: pathValidators()}
	attrs["node_package_paths"] = schema.MapAttribute{Optional: true, ElementType: types.StringType,
		MarkdownDescription: "Per node (by name), the rollup package where `package_path` does not fit.",
		Validators:          []validator.Map{mapvalidator.ValueStringsAre(pathValidators()...)}}
	attrs["kb"] = schema.StringAttribute{Optional: true, MarkdownDescription: "The rollup's KB where the catalog does not state it.",
		Validators: []validator.String{kbValidator()}}
	attrs["remove_interim_updates"] = schema.ListAttribute{Optional: true, ElementType: types.StringType,
		MarkdownDescription: "Interim updates (KBs) this change may remove on any node.",
		Validators:          []validator.List{listvalidator.ValueStringsAre(kbValidator())}}
	attrs["type"] = schema.StringAttribute{Computed: true, MarkdownDescription: "`ccr`, `scc`, `evs-active-passive`, `evs-active-active` or `cluster-5.5`."}
	attrs["active_node"] = schema.StringAttribute{Computed: true, MarkdownDescription: "The node that owns the clustered server, as last read " +
		"(a cluster of several EVSs called by its own name: the node of its first EVS; see `owners`)."}
	attrs["owners"] = schema.MapAttribute{Computed: true, ElementType: types.StringType,
		MarkdownDescription: "Each clustered server (CMS, EVS) of the cluster and the node that owns it, as last read: an active/active cluster has one EVS per node."}
	attrs["live_builds"] = schema.MapAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Each node's build, as last read."}
	attrs["downtime"] = schema.ListAttribute{Computed: true, ElementType: types.StringType,
		MarkdownDescription: "When the clustered server is unavailable to users: the step range of each downtime window and what happens in it."}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Upgrades every node of an Exchange cluster — a 2007 CCR/SCC clustered mailbox server, a 2000/2003 " +
			"Exchange Virtual Server (active/passive or active/active) or an Exchange 5.5 cluster — node by node in the order " +
			"its version requires. The plan names the node of every step and shows where the downtime falls.",
		Attributes: attrs,
		Blocks:     map[string]schema.Block{"backup": backupBlock(), "timeouts": timeoutsBlock(ctx), "maintenance_window": maintenanceWindowBlock()},
	}
	addNULChecks(resp.Schema.Attributes, resp.Schema.Blocks)
}

// nodeTargets reads the cluster's nodes and their facts. Nodes not given are read through
// the cluster name (the active node answers for it).
func (r *clusterUpgradeResource) nodeFacts(ctx context.Context, m *clusterUpgradeModel, diags *diag.Diagnostics) ([]exchange.Facts, map[string]remote.Target, bool) {
	cluster := m.Cluster.ValueString()
	var targets []remote.Target
	for _, n := range m.Nodes {
		targets = append(targets, targetOf(n.Server, n.Address))
	}
	if len(targets) == 0 {
		f, err := r.data.probes.Facts(ctx, remote.Target{Server: cluster})
		if err != nil {
			diags.Append(remoteDiagnostic(remote.Target{Server: cluster}, err))
			return nil, nil, false
		}
		if f.Cluster == nil {
			diags.AddAttributeError(path.Root("cluster"), fmt.Sprintf("%s is not a cluster", cluster),
				fmt.Sprintf("%s answers as server %s, which reports no cluster membership. Use exchange_service_pack for a server that is not clustered.", cluster, f.Server))
			return nil, nil, false
		}
		r.data.nodeAnswered(remote.Target{Server: cluster}, remote.Target{Server: f.Server}, f) // the active node's own probe, where it is one
		for _, n := range f.Cluster.Nodes {
			targets = append(targets, remote.Target{Server: n})
		}
	}
	facts, err := r.data.probeAll(ctx, targets, 0)
	if err != nil {
		diags.AddError(fmt.Sprintf("Cannot read every node of %s", cluster),
			err.Error()+"\nEvery node must be reachable before a cluster is upgraded: a node that cannot be read cannot be sequenced safely.")
		return nil, nil, false
	}
	byNode := map[string]remote.Target{}
	declared := map[string]bool{}
	for i, f := range facts {
		byNode[strings.ToLower(f.Server)] = targets[i]
		declared[strings.ToLower(f.Server)] = true
		if f.Cluster == nil || (f.Cluster.Key() != "" && !f.Cluster.Names(cluster)) {
			in := "no cluster"
			if f.Cluster != nil {
				in = "cluster " + f.Cluster.Title()
			}
			diags.AddAttributeError(path.Root("nodes"), fmt.Sprintf("%s is not a node of %s", f.Server, cluster),
				fmt.Sprintf("%s reports %s. List the nodes of %s, or leave nodes unset to use the ones the cluster reports.", f.Server, in, cluster))
		}
	}
	if diags.HasError() {
		return nil, nil, false
	}
	// The node list from any node that can read the cluster (one whose cluster service is
	// stopped reports none).
	var reported []string
	for _, f := range facts {
		if f.Cluster != nil && len(f.Cluster.Nodes) > len(reported) {
			reported = f.Cluster.Nodes
		}
	}
	var missing []string
	for _, n := range reported {
		if !declared[strings.ToLower(n)] {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		diags.AddAttributeError(path.Root("nodes"), fmt.Sprintf("nodes does not list every node of %s", cluster),
			fmt.Sprintf("The cluster reports nodes %s; missing: %s. Every node is upgraded: list them all, or leave nodes unset.",
				strings.Join(reported, ", "), strings.Join(missing, ", ")))
		return nil, nil, false
	}
	return facts, byNode, true
}

func (r *clusterUpgradeResource) request(ctx context.Context, m *clusterUpgradeModel, diags *diag.Diagnostics) exchange.ClusterRequest {
	req := exchange.ClusterRequest{
		Cluster:     m.Cluster.ValueString(),
		ServicePack: int(m.ServicePack.ValueInt64()),
		MediaPath:   m.MediaPath.ValueString(),
		PackagePath: m.PackagePath.ValueString(),
		KB:          m.KB.ValueString(),
		Options:     optionsOf(ctx, m.Backup, m.RevocationCheck, m.PreserveOWACustomizations, m.StopServices, m.RemoveInterimUpdates, diags),
	}
	if !m.NodeMediaPaths.IsNull() {
		diags.Append(m.NodeMediaPaths.ElementsAs(ctx, &req.NodeMediaPaths, false)...)
	}
	if !m.NodePackagePaths.IsNull() {
		diags.Append(m.NodePackagePaths.ElementsAs(ctx, &req.NodePackagePaths, false)...)
	}
	switch ru := m.UpdateRollup.ValueString(); {
	case strings.EqualFold(ru, latest):
		req.Latest = true
	case ru != "":
		var err error
		if req.Rollup, req.ReRelease, err = exchange.ParseRollup(ru); err != nil {
			diags.AddAttributeError(path.Root("update_rollup"), "Invalid rollup", err.Error())
		}
	}
	return req
}

// clusterPlan plans the cluster against fresh facts.
// recorded are the facts the refresh recorded (plan_facts.go), nil at apply.
func (r *clusterUpgradeResource) clusterPlan(ctx context.Context, m *clusterUpgradeModel, recorded map[string]exchange.Facts, diags *diag.Diagnostics) (exchange.ClusterPlan, []exchange.Facts, map[string]remote.Target, bool) {
	facts, targets, ok := r.nodeFacts(ctx, m, diags)
	if !ok {
		return exchange.ClusterPlan{}, nil, nil, false
	}
	facts = withRecordedAll(facts, recorded)
	if len(facts) > 0 {
		r.data.checkEvidenceKeys(ctx, m.Backup, targets[strings.ToLower(facts[0].Server)], facts, diags)
	}
	req := r.request(ctx, m, diags)
	if diags.HasError() {
		return exchange.ClusterPlan{}, nil, nil, false
	}
	p, err := exchange.PlanCluster(facts, req, exchange.DefaultCatalog())
	if err != nil {
		refusalDiagnostics(err, clusterFields, diags)
		return p, nil, nil, false
	}
	return p, facts, targets, true
}

// clusterFields are the attributes that set the cluster request's fields.
var clusterFields = rootPaths(map[exchange.Field]string{
	exchange.FieldServicePack:          "service_pack",
	exchange.FieldRollup:               "update_rollup",
	exchange.FieldMediaPath:            "media_path",
	exchange.FieldNodeMediaPaths:       "node_media_paths",
	exchange.FieldPackagePath:          "package_path",
	exchange.FieldNodePackagePaths:     "node_package_paths",
	exchange.FieldKB:                   "kb",
	exchange.FieldRemoveInterimUpdates: "remove_interim_updates",
	exchange.FieldStopServices:         "stop_services",
	exchange.FieldRevocationCheck:      "revocation_check",
	exchange.FieldBackup:               "backup",
})

func (r *clusterUpgradeResource) setLive(ctx context.Context, m *clusterUpgradeModel, facts []exchange.Facts, diags *diag.Diagnostics) {
	builds := map[string]string{}
	owners := map[string]string{}
	active := ""
	for _, f := range facts {
		builds[f.Server] = f.Build
		if f.Cluster == nil || f.Cluster.Key() == "" {
			continue // a node whose cluster service is stopped reads nothing of the cluster
		}
		m.Type = types.StringValue(f.Cluster.Type)
		for _, g := range f.Cluster.GroupsOf() {
			owners[g.Name] = g.Owner
			// The named CMS/EVS's owner; a cluster called by its own name: its first EVS's.
			if strings.EqualFold(g.Name, m.Cluster.ValueString()) || active == "" {
				active = g.Owner
			}
		}
	}
	m.ActiveNode = types.StringValue(active)
	v, d := types.MapValueFrom(ctx, types.StringType, builds)
	diags.Append(d...)
	m.LiveBuilds = v
	o, d := types.MapValueFrom(ctx, types.StringType, owners)
	diags.Append(d...)
	m.Owners = o
}

// downtimeText describes each downtime window for a reviewer.
func downtimeText(p exchange.ClusterPlan) []string {
	out := []string{}
	for _, w := range p.Windows {
		from, to := p.Steps[w[0]-1], p.Steps[w[1]-1]
		out = append(out, fmt.Sprintf("steps %d to %d: %s is unavailable, from \"%s\" (%s) to \"%s\" (%s)",
			w[0], w[1], p.Cluster, from.Description, from.Server, to.Description, to.Server))
	}
	return out
}

func (r *clusterUpgradeResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if r.data == nil {
		return
	}
	ctx = r.data.withClock(ctx)
	if req.Plan.Raw.IsNull() {
		resp.Diagnostics.AddWarning("The cluster stays at its level",
			"Destroying an exchange_cluster_upgrade resource only removes it from Terraform: service packs cannot be uninstalled.")
		return
	}
	var m, state clusterUpgradeModel
	if !readPlanAndState(ctx, req, &m, &state, &resp.Diagnostics) {
		return
	}
	if !configKnown(req.Config) {
		// Values from other resources are known at apply only: the steps are planned then.
		m.PlannedSteps, m.Downtime, m.Warnings = types.ListUnknown(stepType), types.ListUnknown(types.StringType), types.ListUnknown(types.StringType)
		m.ID, m.Type, m.ActiveNode, m.LiveBuilds = m.Cluster, types.StringUnknown(), types.StringUnknown(), types.MapUnknown(types.StringType)
		m.Owners = types.MapUnknown(types.StringType)
		resp.Diagnostics.Append(resp.Plan.Set(ctx, &m)...)
		return
	}
	p, facts, _, ok := r.clusterPlan(ctx, &m, recordedFacts(ctx, req.Private, resp.Private), &resp.Diagnostics)
	if !ok {
		return
	}
	m.ID = m.Cluster
	if !p.Empty() && p.Target.Level.Product != "" {
		// The order check of servers planned after this one (depends_on) counts the nodes
		// as upgraded earlier in this run, as it counts a service pack resource's server.
		for _, f := range facts {
			r.data.registry.reachLevel(f.Server, p.Target.Level)
		}
	}
	addPlanWarnings(&resp.Diagnostics, "Cluster "+p.Cluster, p.Warnings)
	if len(p.Steps) == 0 && !state.PlannedSteps.IsNull() && !state.PlannedSteps.IsUnknown() {
		m.PlannedSteps, m.Downtime, m.Warnings = state.PlannedSteps, state.Downtime, state.Warnings
		m.Type, m.ActiveNode, m.LiveBuilds, m.Owners = state.Type, state.ActiveNode, state.LiveBuilds, state.Owners
	} else {
		m.PlannedSteps = stepsValue(ctx, p.Steps, &resp.Diagnostics)
		m.Downtime = stringsValue(ctx, downtimeText(p), &resp.Diagnostics)
		m.Warnings = stringsValue(ctx, p.Warnings, &resp.Diagnostics)
		if len(p.Steps) > 0 {
			m.Type = types.StringValue(p.Type)
			m.ActiveNode, m.LiveBuilds, m.Owners = types.StringUnknown(), types.MapUnknown(types.StringType), types.MapUnknown(types.StringType)
		} else {
			r.setLive(ctx, &m, facts, &resp.Diagnostics)
		}
	}
	m.ScheduledWindow = r.data.scheduledWindow(ctx, m.MaintenanceWindow, state.ScheduledWindow, len(p.Steps), firstDowntime(p.Steps), &resp.Diagnostics)
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &m)...)
}

func (r *clusterUpgradeResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m clusterUpgradeModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	timeout, d := m.Timeouts.Create(ctx, defaultInstallTimeout)
	resp.Diagnostics.Append(d...)
	r.apply(ctx, &m, timeout, resp.State.Set, resp.Private, &resp.Diagnostics)
}

func (r *clusterUpgradeResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m clusterUpgradeModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	timeout, d := m.Timeouts.Update(ctx, defaultInstallTimeout)
	resp.Diagnostics.Append(d...)
	r.apply(ctx, &m, timeout, resp.State.Set, resp.Private, &resp.Diagnostics)
}

func (r *clusterUpgradeResource) apply(ctx context.Context, m *clusterUpgradeModel, timeout time.Duration,
	set func(context.Context, any) diag.Diagnostics, private privateData, diags *diag.Diagnostics) {
	ctx = r.data.withWindow(ctx, m.MaintenanceWindow, &m.ScheduledWindow, diags)
	if diags.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	p, _, targets, ok := r.clusterPlan(ctx, m, nil, diags)
	if !ok {
		return
	}
	if stepsChanged("Cluster "+p.Cluster, stepsOf(ctx, m.PlannedSteps, diags), stepModelsOf(p.Steps), diags) ||
		r.data.refuseEndedWindow(ctx, "Cluster "+p.Cluster, firstDowntime(p.Steps) != "", diags) {
		return
	}
	if len(p.Steps) > 0 {
		names := make([]string, 0, len(targets))
		for n := range targets {
			names = append(names, n)
		}
		unlock := r.data.lockServers(names)
		rep, err := servicing.ApplyCluster(ctx, r.data.client, targets,
			exchange.Plan{Server: p.Cluster, Steps: p.Steps, Target: p.Target}, r.data.executorOptions(ctx, p.Cluster))
		unlock()
		addUnfinished(diags, rep.Unfinished...)
		for _, t := range targets {
			r.data.probes.Forget(t)
		}
		if err != nil {
			diags.AddError(fmt.Sprintf("Upgrading cluster %s stopped", p.Cluster), err.Error())
			return
		}
	}
	facts, _, ok := r.nodeFacts(ctx, m, diags)
	if !ok {
		return
	}
	m.ID = m.Cluster
	r.setLive(ctx, m, facts, diags)
	recordFacts(ctx, private, diags, facts...)
	diags.Append(set(ctx, m)...)
}

func (r *clusterUpgradeResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m clusterUpgradeModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || r.data == nil {
		return
	}
	facts, _, ok := r.nodeFacts(ctx, &m, &resp.Diagnostics)
	if !ok {
		return
	}
	recordFacts(ctx, resp.Private, &resp.Diagnostics, facts...)
	r.setLive(ctx, &m, facts, &resp.Diagnostics)
	if m.PlannedSteps.IsNull() {
		m.PlannedSteps = stepsValue(ctx, nil, &resp.Diagnostics)
		m.Downtime = stringsValue(ctx, nil, &resp.Diagnostics)
		m.Warnings = stringsValue(ctx, nil, &resp.Diagnostics)
	}
	if m.RevocationCheck.IsNull() {
		m.RevocationCheck = types.StringValue(exchange.RevocationAuto)
	}
	if m.PreserveOWACustomizations.IsNull() {
		m.PreserveOWACustomizations = types.BoolValue(true)
	}
	if m.ServicePack.IsNull() { // imported: the desired level is the lowest node's
		lowest := int64(-1)
		for _, f := range facts {
			if rel, ok := exchange.LiveLevel(f, exchange.DefaultCatalog()); ok && (lowest < 0 || int64(rel.Level.ServicePack) < lowest) {
				lowest = int64(rel.Level.ServicePack)
			}
		}
		if lowest >= 0 {
			m.ServicePack = types.Int64Value(lowest)
		}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (r *clusterUpgradeResource) Delete(context.Context, resource.DeleteRequest, *resource.DeleteResponse) {
}

func (r *clusterUpgradeResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("cluster"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
}
