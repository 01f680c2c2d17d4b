package provider

import (
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"
)

// Functions talk to no server, but Terraform must know the provider: a bare block names it.
const functionsRequired = bareProvider

// functionsCLI: provider-defined functions exist from Terraform 1.8 (OpenTofu 1.7).
var functionsCLI = []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_8_0)}

func TestAccFunctions(t *testing.T) {
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		TerraformVersionChecks:   functionsCLI,
		Steps: []resource.TestStep{{
			Config: functionsRequired + `
locals {
  ru9  = provider::exchange::parse_build("8.1.393.1")
  e03  = provider::exchange::parse_build("6.5.7638.2")
  v3   = provider::exchange::parse_build("8.3.279.6")
}
output "ru9_product"      { value = local.ru9.product }
output "ru9_service_pack" { value = local.ru9.service_pack }
output "ru9_rollup"       { value = local.ru9.rollup }
output "ru9_name"         { value = local.ru9.name }
output "e03_build"        { value = local.e03.build }
output "e03_name"         { value = local.e03.name }
output "v3_re_release"    { value = local.v3.re_release }
output "v3_rollup"        { value = local.v3.rollup }

output "older"    { value = provider::exchange::compare_builds("8.3.83.6", "8.3.279.6") }
output "newer"    { value = provider::exchange::compare_builds("8.3.279.6", "8.3.83.6") }
output "same"     { value = provider::exchange::compare_builds("6.5.7638", "6.5.7638.2") }
output "numeric"  { value = provider::exchange::compare_builds("8.1.99.0", "8.1.100.0") }

output "sp3_newest"  { value = provider::exchange::newest_rollup("2007", 3) }
output "e03_newest"  { value = provider::exchange::newest_rollup("2003", 2) }
output "upgrade_due" { value = provider::exchange::compare_builds("8.3.83.6", provider::exchange::newest_rollup("2007", 3)) < 0 }
`,
			Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckOutput("ru9_product", "2007"),
				resource.TestCheckOutput("ru9_service_pack", "1"),
				resource.TestCheckOutput("ru9_rollup", "9"),
				resource.TestCheckOutput("ru9_name", "Exchange 2007 SP1 Update Rollup 9"),
				resource.TestCheckOutput("e03_build", "6.5.7638"),
				resource.TestCheckOutput("e03_name", "Exchange 2003 SP2"),
				resource.TestCheckOutput("v3_re_release", "3"),
				resource.TestCheckOutput("v3_rollup", "8"),
				resource.TestCheckOutput("older", "-1"),
				resource.TestCheckOutput("newer", "1"),
				resource.TestCheckOutput("same", "0"),
				resource.TestCheckOutput("numeric", "-1"),
				resource.TestCheckOutput("sp3_newest", "8.3.517.0"),
				resource.TestCheckOutput("e03_newest", "6.5.7638"),
				resource.TestCheckOutput("upgrade_due", "true"),
			),
		}},
	})
}

// Bad input is a function error that names the argument and says what to write instead.
func TestAccFunctionsRefuseBadInput(t *testing.T) {
	// The CLI wraps long messages, so the words of each expected message may be split by
	// any white space.
	cases := []struct{ call, parameter, message string }{
		{`parse_build("8.1")`, "build", `build "8.1" is not of the form major.minor.build[.revision], e.g. 8.3.83.6`},
		{`parse_build("8.1.999.0")`, "build", `build 8.1.999.0 is not in the catalog; known Exchange 2007 SP1 builds are`},
		{`parse_build("8.3.279")`, "build", `build 8.3.279 matches several releases`},
		{`parse_build("8.3.279")`, "build", `give the build with its revision`},
		{`compare_builds("8.3.83.6", "eight")`, "b", `build "eight" is not of the form`},
		{`compare_builds("x", "8.3.83.6")`, "a", `build "x" is not of the form`},
		{`newest_rollup("2010", 1)`, "product", `unknown product "2010"; known: 5.5, 2000, 2003, 2007`},
		{`newest_rollup("2003", 3)`, "service_pack", `Exchange 2003 has no SP3; known: RTM, SP1, SP2`},
	}
	for _, c := range cases {
		words := strings.Fields(regexp.QuoteMeta(c.message))
		want := regexp.MustCompile(`(?s)Invalid value for "` + c.parameter + `" parameter:.*` + strings.Join(words, `\s+`))
		t.Run(c.call, func(t *testing.T) {
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviders,
				TerraformVersionChecks:   functionsCLI,
				Steps: []resource.TestStep{{
					Config:      functionsRequired + `output "x" { value = provider::exchange::` + c.call + " }\n",
					ExpectError: want,
				}},
			})
		})
	}
}
