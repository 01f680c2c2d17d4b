package provider

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/datasourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote"
)

func newOrganizationDataSource() datasource.DataSource { return &organizationDataSource{} }

// organizationDataSource reads a whole organisation and the order to service it in.
type organizationDataSource struct {
	data *providerData
}

type serverRefModel struct {
	Server  types.String `tfsdk:"server"`
	Address types.String `tfsdk:"address"`
}

type targetModel struct {
	Product      types.String `tfsdk:"product"`
	ServicePack  types.Int64  `tfsdk:"service_pack"`
	UpdateRollup types.String `tfsdk:"update_rollup"`
}

type orgServerModel struct {
	Server         string   `tfsdk:"server"`
	Product        string   `tfsdk:"product"`
	Build          string   `tfsdk:"build"`
	Level          string   `tfsdk:"level"`
	Roles          []string `tfsdk:"roles"`
	InternetFacing bool     `tfsdk:"internet_facing"`
	Cluster        string   `tfsdk:"cluster"`
}

type waveModel struct {
	Index   int64    `tfsdk:"index"`
	Name    string   `tfsdk:"name"`
	Reason  string   `tfsdk:"reason"`
	Servers []string `tfsdk:"servers"`
}

type organizationModel struct {
	ID              types.String      `tfsdk:"id"`
	DiscoverThrough *serverRefModel   `tfsdk:"discover_through"`
	Servers         []serverRefModel  `tfsdk:"servers"`
	Targets         []targetModel     `tfsdk:"targets"`
	Parallelism     types.Int64       `tfsdk:"parallelism"`
	Found           []orgServerModel  `tfsdk:"found"`
	Waves           []waveModel       `tfsdk:"waves"`
	UpToDate        []string          `tfsdk:"up_to_date"`
	Unplanned       map[string]string `tfsdk:"unplanned"`
}

func (d *organizationDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_organization"
}

func (d *organizationDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = configuredData(req.ProviderData, &resp.Diagnostics)
}

func serverRefAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"server":  schema.StringAttribute{Required: true, MarkdownDescription: "The server's name, as Exchange knows it.", Validators: serverValidators()},
		"address": schema.StringAttribute{Optional: true, MarkdownDescription: "Where to connect; default: the provider's `addresses`, else `server`."},
	}
}

func targetAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"product": schema.StringAttribute{Required: true, MarkdownDescription: "`5.5`, `2000`, `2003` or `2007`.",
			Validators: []validator.String{stringvalidator.OneOf(exchange.Products...)}},
		"service_pack": schema.Int64Attribute{Required: true, MarkdownDescription: "Service pack level (0 = RTM).",
			Validators: []validator.Int64{int64validator.Between(0, 4)}},
		"update_rollup": schema.StringAttribute{Optional: true,
			MarkdownDescription: "Exchange 2007: `latest`, a rollup (`9`, `8-v3`) or `0`. Default `0`: the service pack alone.",
			Validators:          []validator.String{rollupValidator{}}},
	}
}

func (d *organizationDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads an Exchange organisation — discovered through one server, or listed — probing every server " +
			"concurrently (once per run), and returns the **upgrade waves** for target levels in the order the servers " +
			"must be serviced: internet-facing Client Access, other Client Access, Hub Transport, Mailbox (clusters as " +
			"units), Unified Messaging; 2000/2003 front-ends before back-ends, load-balanced 2003 front-ends in one wave; " +
			"every 2003 server at SP2 before any 2007 server goes to SP1.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, MarkdownDescription: "The organisation's servers, joined."},
			"discover_through": schema.SingleNestedAttribute{Optional: true, Attributes: serverRefAttributes(),
				MarkdownDescription: "A server through which to discover the organisation's Exchange servers in Active Directory."},
			"servers": schema.ListNestedAttribute{Optional: true, NestedObject: schema.NestedAttributeObject{Attributes: serverRefAttributes()},
				MarkdownDescription: "The servers, when not discovered.",
				Validators:          []validator.List{listvalidator.SizeAtLeast(1)}},
			"targets": schema.ListNestedAttribute{Optional: true, NestedObject: schema.NestedAttributeObject{Attributes: targetAttributes()},
				MarkdownDescription: "The level each product must reach; without targets no waves are computed."},
			"parallelism": schema.Int64Attribute{Optional: true,
				MarkdownDescription: "How many servers this data source probes at once. Default: the provider's `probe_concurrency`, " +
					"which also bounds it (probes in flight across the whole run never exceed it).",
				Validators: []validator.Int64{int64validator.Between(1, 256)}},
			"found": schema.ListNestedAttribute{Computed: true, MarkdownDescription: "Every server, as read.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"server":          schema.StringAttribute{Computed: true, MarkdownDescription: "Name."},
					"product":         schema.StringAttribute{Computed: true, MarkdownDescription: "Product."},
					"build":           schema.StringAttribute{Computed: true, MarkdownDescription: "Live build."},
					"level":           schema.StringAttribute{Computed: true, MarkdownDescription: "The catalog's name for the build."},
					"roles":           schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Roles."},
					"internet_facing": schema.BoolAttribute{Computed: true, MarkdownDescription: "Internet-facing Client Access or front-end."},
					"cluster":         schema.StringAttribute{Computed: true, MarkdownDescription: "The CMS/EVS it is a node of (a cluster of several EVSs: the cluster's own name, else its EVSs' names); empty if none."},
				}}},
			"waves": schema.ListNestedAttribute{Computed: true, MarkdownDescription: "The servers below their target, in the order they must be serviced.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"index":   schema.Int64Attribute{Computed: true, MarkdownDescription: "1-based position."},
					"name":    schema.StringAttribute{Computed: true, MarkdownDescription: "What the wave is."},
					"reason":  schema.StringAttribute{Computed: true, MarkdownDescription: "Why it is where it is."},
					"servers": schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Its servers; serviced in parallel."},
				}}},
			"up_to_date": schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Servers at or above their target."},
			"unplanned":  schema.MapAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Servers in no wave, with why."},
		},
	}
	addNULChecks(resp.Schema.Attributes, resp.Schema.Blocks)
}

func (d *organizationDataSource) ConfigValidators(context.Context) []datasource.ConfigValidator {
	return []datasource.ConfigValidator{datasourcevalidator.ExactlyOneOf(path.MatchRoot("discover_through"), path.MatchRoot("servers"))}
}

func (d *organizationDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m organizationModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || d.data == nil {
		return
	}
	facts, ok := d.data.organizationFacts(ctx, m.DiscoverThrough, m.Servers, int(m.Parallelism.ValueInt64()), &resp.Diagnostics)
	if !ok {
		return
	}
	targets, ok := organizationTargets(m.Targets, &resp.Diagnostics)
	if !ok {
		return
	}
	var names []string
	m.Found = []orgServerModel{}
	for _, f := range facts {
		level, _, _ := levelOf(f.Build, exchange.DefaultCatalog())
		s := orgServerModel{Server: f.Server, Product: f.Product, Build: f.Build, Level: level.ValueString(),
			Roles: nonNil(f.Roles), InternetFacing: f.InternetFacing}
		if f.Cluster != nil {
			s.Cluster = f.Cluster.Title()
		}
		m.Found = append(m.Found, s)
		names = append(names, f.Server)
	}
	m.ID = types.StringValue(strings.Join(names, ","))
	m.Waves, m.UpToDate, m.Unplanned = []waveModel{}, []string{}, map[string]string{}
	if len(targets) > 0 {
		o, err := exchange.Order(facts, targets, exchange.DefaultCatalog())
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("targets"), "Cannot order the organisation", err.Error())
			return
		}
		for _, w := range o.Waves {
			m.Waves = append(m.Waves, waveModel{Index: int64(w.Index), Name: w.Name, Reason: w.Reason, Servers: nonNil(w.Servers)})
		}
		m.UpToDate = nonNil(o.UpToDate)
		for k, v := range o.Unplanned {
			m.Unplanned[k] = v
		}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// organizationFacts lists (or discovers) the servers and probes them all, sorted by name.
func (d *providerData) organizationFacts(ctx context.Context, through *serverRefModel, listed []serverRefModel, parallelism int, diags *diag.Diagnostics) ([]exchange.Facts, bool) {
	var targets []remote.Target
	if through != nil {
		t := targetOf(through.Server, through.Address)
		var err error
		targets, err = d.discover(ctx, t)
		if err != nil {
			diags.AddAttributeError(path.Root("discover_through"), fmt.Sprintf("Cannot discover the organisation through %s", t.Server),
				fmt.Sprintf("%v. List the servers in `servers` instead.", err))
			return nil, false
		}
	}
	for _, s := range listed {
		targets = append(targets, targetOf(s.Server, s.Address))
	}
	facts, targets, err := d.probeOrganization(ctx, targets, parallelism)
	if err != nil {
		diags.AddError("Cannot read every server of the organisation", err.Error())
		return nil, false
	}
	for i := range facts {
		// Where each server was reached, for the steps an apply runs on it.
		d.rememberTarget(facts[i].Server, targets[i])
	}
	sort.Slice(facts, func(i, j int) bool { return strings.ToLower(facts[i].Server) < strings.ToLower(facts[j].Server) })
	return facts, true
}

// rememberTarget and targetOfServer keep where a server named in an organisation was
// reached, so that its steps go to the same address.
func (d *providerData) rememberTarget(server string, t remote.Target) {
	d.applyMu.Lock()
	defer d.applyMu.Unlock()
	if d.targets == nil {
		d.targets = map[string]remote.Target{}
	}
	d.targets[strings.ToLower(server)] = t
}

func (d *providerData) targetOfServer(server string) remote.Target {
	d.applyMu.Lock()
	defer d.applyMu.Unlock()
	if t, ok := d.targets[strings.ToLower(server)]; ok {
		return t
	}
	return remote.Target{Server: server}
}

// organizationTargets turns the targets attribute into exchange.Targets.
func organizationTargets(in []targetModel, diags *diag.Diagnostics) ([]exchange.Target, bool) {
	var out []exchange.Target
	seen := map[string]bool{}
	for i, t := range in {
		tg := exchange.Target{Product: t.Product.ValueString(), ServicePack: int(t.ServicePack.ValueInt64())}
		if seen[tg.Product] {
			diags.AddAttributeError(path.Root("targets").AtListIndex(i), "Duplicate target",
				fmt.Sprintf("product %s has more than one target: give each product one.", tg.Product))
			return nil, false
		}
		seen[tg.Product] = true
		switch ru := t.UpdateRollup.ValueString(); {
		case strings.EqualFold(ru, latest):
			tg.Latest = true
		case ru != "":
			var err error
			if tg.UpdateRollup, tg.ReRelease, err = exchange.ParseRollup(ru); err != nil {
				diags.AddAttributeError(path.Root("targets").AtListIndex(i).AtName("update_rollup"), "Invalid rollup", err.Error())
				return nil, false
			}
		}
		out = append(out, tg)
	}
	return out, true
}
