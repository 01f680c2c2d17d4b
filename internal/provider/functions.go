package provider

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
)

// Provider-defined functions (Terraform 1.8 and later, OpenTofu 1.7 and later). Like the
// exchange_build data source they read only the built-in catalog and talk to no server.
// An argument error is made with NewArgumentFuncError: the CLI then names the parameter
// ("Invalid value for "build" parameter: ..."), so the text itself does not repeat it.

func newParseBuildFunction() function.Function    { return parseBuildFunction{} }
func newCompareBuildsFunction() function.Function { return compareBuildsFunction{} }
func newNewestRollupFunction() function.Function  { return newestRollupFunction{} }

// parseBuildFunction: parse_build("8.1.393.1") is the catalog's release of that build.
type parseBuildFunction struct{}

// parsedBuild is parse_build's result.
type parsedBuild struct {
	Product     string `tfsdk:"product"`
	ServicePack int64  `tfsdk:"service_pack"`
	Rollup      int64  `tfsdk:"rollup"`
	ReRelease   int64  `tfsdk:"re_release"`
	Name        string `tfsdk:"name"`
	Build       string `tfsdk:"build"`
}

var parsedBuildTypes = map[string]attr.Type{
	"product":      types.StringType,
	"service_pack": types.Int64Type,
	"rollup":       types.Int64Type,
	"re_release":   types.Int64Type,
	"name":         types.StringType,
	"build":        types.StringType,
}

func (parseBuildFunction) Metadata(_ context.Context, _ function.MetadataRequest, resp *function.MetadataResponse) {
	resp.Name = "parse_build"
}

func (parseBuildFunction) Definition(_ context.Context, _ function.DefinitionRequest, resp *function.DefinitionResponse) {
	resp.Definition = function.Definition{
		Summary: "Looks a build up in the build catalog.",
		MarkdownDescription: "Returns the release of an Exchange build from the provider's built-in catalog: " +
			"`product` (`5.5`, `2000`, `2003`, `2007`), `service_pack` (0 = RTM), `rollup` (the update rollup number, " +
			"0 when none), `re_release` (0, or 2/3 for a re-released rollup), `name` and `build` (the build as the catalog " +
			"writes it: `6.5.7638.2` gives `6.5.7638`). A build that is malformed, not in the catalog, or ambiguous " +
			"without its revision is an error that says what to write instead.",
		Parameters: []function.Parameter{function.StringParameter{
			Name:                "build",
			MarkdownDescription: "An Exchange build, `major.minor.build[.revision]`, e.g. `8.1.393.1` or `6.5.7638.2`.",
		}},
		Return: function.ObjectReturn{AttributeTypes: parsedBuildTypes},
	}
}

func (parseBuildFunction) Run(ctx context.Context, req function.RunRequest, resp *function.RunResponse) {
	var build string
	resp.Error = req.Arguments.Get(ctx, &build)
	if resp.Error != nil {
		return
	}
	rel, err := exchange.DefaultCatalog().LookupString(build)
	if err != nil {
		resp.Error = function.NewArgumentFuncError(0, err.Error())
		return
	}
	resp.Error = resp.Result.Set(ctx, parsedBuild{
		Product:     rel.Level.Product,
		ServicePack: int64(rel.Level.ServicePack),
		Rollup:      int64(rel.Level.UpdateRollup),
		ReRelease:   int64(rel.Level.ReRelease),
		Name:        rel.Level.String(),
		Build:       rel.Build.String(),
	})
}

// compareBuildsFunction: compare_builds(a, b) is -1, 0 or 1, numerically.
type compareBuildsFunction struct{}

func (compareBuildsFunction) Metadata(_ context.Context, _ function.MetadataRequest, resp *function.MetadataResponse) {
	resp.Name = "compare_builds"
}

func (compareBuildsFunction) Definition(_ context.Context, _ function.DefinitionRequest, resp *function.DefinitionResponse) {
	resp.Definition = function.Definition{
		Summary: "Orders two builds.",
		MarkdownDescription: "Returns `-1` when build `a` is older than `b`, `0` when they are the same build, `1` when " +
			"`a` is newer. Builds compare part by part as numbers (`8.3.83.6` is older than `8.3.279.6`). A revision " +
			"that only one side states is ignored, so `6.5.7638` and `6.5.7638.2` are the same build, as the catalog " +
			"treats them. The builds need not be in the catalog; a malformed one is an error naming the argument.",
		Parameters: []function.Parameter{
			function.StringParameter{Name: "a", MarkdownDescription: "A build, e.g. `8.3.83.6`."},
			function.StringParameter{Name: "b", MarkdownDescription: "A build, e.g. `8.3.279.6`."},
		},
		Return: function.Int64Return{},
	}
}

func (compareBuildsFunction) Run(ctx context.Context, req function.RunRequest, resp *function.RunResponse) {
	var a, b string
	resp.Error = req.Arguments.Get(ctx, &a, &b)
	if resp.Error != nil {
		return
	}
	var builds [2]exchange.Build
	for i, s := range []string{a, b} {
		parsed, err := exchange.ParseBuild(s)
		if err != nil {
			resp.Error = function.ConcatFuncErrors(resp.Error,
				function.NewArgumentFuncError(int64(i), err.Error()))
		}
		builds[i] = parsed
	}
	if resp.Error != nil {
		return
	}
	var order int64
	if !builds[0].SameBuild(builds[1]) {
		order = int64(builds[0].Compare(builds[1]))
	}
	resp.Error = resp.Result.Set(ctx, order)
}

// newestRollupFunction: newest_rollup("2007", 3) is the build to recommend at SP3.
type newestRollupFunction struct{}

func (newestRollupFunction) Metadata(_ context.Context, _ function.MetadataRequest, resp *function.MetadataResponse) {
	resp.Name = "newest_rollup"
}

func (newestRollupFunction) Definition(_ context.Context, _ function.DefinitionRequest, resp *function.DefinitionResponse) {
	resp.Definition = function.Definition{
		Summary: "The newest build of a service pack in the build catalog.",
		MarkdownDescription: "Returns the build of the newest update rollup of a service pack in the provider's built-in " +
			"catalog (its latest re-release), the same as the `exchange_build` data source with `update_rollup = \"latest\"`. " +
			"For a service pack without rollups (every product but 2007, and post-SP hotfix rollups are not counted) " +
			"it is the service pack's own build.",
		Parameters: []function.Parameter{
			function.StringParameter{Name: "product", MarkdownDescription: "`5.5`, `2000`, `2003` or `2007`."},
			function.Int64Parameter{Name: "service_pack", MarkdownDescription: "The service pack level, 0 for RTM."},
		},
		Return: function.StringReturn{},
	}
}

func (newestRollupFunction) Run(ctx context.Context, req function.RunRequest, resp *function.RunResponse) {
	var product string
	var sp int64
	resp.Error = req.Arguments.Get(ctx, &product, &sp)
	if resp.Error != nil {
		return
	}
	if !slices.Contains(exchange.Products, product) {
		resp.Error = function.NewArgumentFuncError(0, fmt.Sprintf("unknown product %q; known: %s", product, strings.Join(exchange.Products, ", ")))
		return
	}
	rel, err := exchange.DefaultCatalog().Newest(product, int(sp))
	if err != nil {
		resp.Error = function.NewArgumentFuncError(1, err.Error())
		return
	}
	resp.Error = resp.Result.Set(ctx, rel.Build.String())
}
