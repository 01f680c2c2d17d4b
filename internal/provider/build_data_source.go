package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/datasourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
)

func newBuildDataSource() datasource.DataSource { return &buildDataSource{} }

// buildDataSource looks a release up in the build catalog; it talks to no server.
type buildDataSource struct{}

type buildModel struct {
	ID           types.String `tfsdk:"id"`
	Build        types.String `tfsdk:"build"`
	Product      types.String `tfsdk:"product"`
	ServicePack  types.Int64  `tfsdk:"service_pack"`
	UpdateRollup types.String `tfsdk:"update_rollup"`
	Name         types.String `tfsdk:"name"`
	KB           types.String `tfsdk:"kb"`
	ReleaseDate  types.String `tfsdk:"release_date"`
}

const latest = "latest"

func (d *buildDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_build"
}

func (d *buildDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Looks up the build catalog (Exchange 5.5, 2000, 2003, 2007): by build string, " +
			"or by product and service pack (the newest update rollup, or a given one). Needs no server.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, MarkdownDescription: "The build."},
			"build": schema.StringAttribute{Optional: true, Computed: true,
				MarkdownDescription: "A build to look up, e.g. `8.1.393.1` or `6.5.7638.2`. Set either this or `product`."},
			"product": schema.StringAttribute{Optional: true, Computed: true,
				MarkdownDescription: "Product to look up a level of: `5.5`, `2000`, `2003` or `2007`.",
				Validators:          []validator.String{stringvalidator.OneOf(exchange.Products...)}},
			"service_pack": schema.Int64Attribute{Optional: true, Computed: true,
				MarkdownDescription: "Service pack level (0 = RTM). Required with `product`.",
				Validators:          []validator.Int64{int64validator.Between(0, 4)}},
			"update_rollup": schema.StringAttribute{Optional: true, Computed: true,
				MarkdownDescription: "With `product`: `latest` (default, the newest rollup of that service pack), a number " +
					"(`9`), a re-release (`8-v3`), or `0` for the service pack without rollup. As a result: the rollup of the build in that form."},
			"name": schema.StringAttribute{Computed: true,
				MarkdownDescription: "The release's name, e.g. `Exchange 2007 SP1 Update Rollup 9`."},
			"kb": schema.StringAttribute{Computed: true,
				MarkdownDescription: "Knowledge Base number where the catalog states a verified one; empty otherwise (never guessed)."},
			"release_date": schema.StringAttribute{Computed: true,
				MarkdownDescription: "Release date (YYYY-MM-DD) where the catalog states one; empty otherwise."},
		},
	}
	addNULChecks(resp.Schema.Attributes, resp.Schema.Blocks)
}

func (d *buildDataSource) ConfigValidators(context.Context) []datasource.ConfigValidator {
	return []datasource.ConfigValidator{
		datasourcevalidator.ExactlyOneOf(path.MatchRoot("build"), path.MatchRoot("product")),
		datasourcevalidator.RequiredTogether(path.MatchRoot("product"), path.MatchRoot("service_pack")),
		datasourcevalidator.Conflicting(path.MatchRoot("build"), path.MatchRoot("update_rollup")),
	}
}

func (d *buildDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m buildModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	cat := exchange.DefaultCatalog()
	var (
		rel  exchange.Release
		err  error
		attr = path.Root("build")
	)
	if !m.Build.IsNull() {
		rel, err = cat.LookupString(m.Build.ValueString())
	} else {
		attr = path.Root("update_rollup")
		rel, err = findRelease(cat, m.Product.ValueString(), int(m.ServicePack.ValueInt64()), m.UpdateRollup.ValueString())
	}
	if err != nil {
		resp.Diagnostics.AddAttributeError(attr, "Release not in the build catalog", err.Error())
		return
	}
	m.ID = types.StringValue(rel.Build.String())
	m.Build = types.StringValue(rel.Build.String())
	m.Product = types.StringValue(rel.Level.Product)
	m.ServicePack = types.Int64Value(int64(rel.Level.ServicePack))
	m.UpdateRollup = types.StringValue(exchange.FormatRollup(rel.Level.UpdateRollup, rel.Level.ReRelease))
	m.Name = types.StringValue(rel.Level.String())
	m.KB = types.StringValue(rel.KB)
	m.ReleaseDate = types.StringValue(rel.Date)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// findRelease resolves product + SP + a rollup written as the user writes it.
func findRelease(cat *exchange.Catalog, product string, sp int, rollup string) (exchange.Release, error) {
	if rollup == "" || strings.EqualFold(rollup, latest) {
		return cat.Newest(product, sp)
	}
	ru, rr, err := exchange.ParseRollup(rollup)
	if err != nil {
		return exchange.Release{}, fmt.Errorf("update_rollup: %w", err)
	}
	return cat.Find(product, sp, ru, rr)
}
