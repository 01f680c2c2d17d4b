package provider

import (
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// exchange_build needs no server, so no simulator: a bare provider block with credentials.
const bareProvider = `
provider "exchange" {
  username = "x"
  password = "y"
}
`

func TestAccBuildDataSource(t *testing.T) {
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: bareProvider + `
data "exchange_build" "by_build" {
  build = "8.1.393.1"
}
data "exchange_build" "sp3_latest" {
  product      = "2007"
  service_pack = 3
}
data "exchange_build" "ru8_v3" {
  product       = "2007"
  service_pack  = 3
  update_rollup = "8-v3"
}
data "exchange_build" "e2003" {
  build = "6.5.7638.2"
}
data "exchange_build" "rtm_ru7" {
  product       = "2007"
  service_pack  = 0
  update_rollup = "7"
}
`,
			Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr("data.exchange_build.by_build", "name", "Exchange 2007 SP1 Update Rollup 9"),
				resource.TestCheckResourceAttr("data.exchange_build.by_build", "service_pack", "1"),
				resource.TestCheckResourceAttr("data.exchange_build.by_build", "update_rollup", "9"),
				resource.TestCheckResourceAttr("data.exchange_build.by_build", "kb", "KB970162"), // Microsoft's build table
				resource.TestCheckResourceAttr("data.exchange_build.sp3_latest", "build", "8.3.517.0"),
				resource.TestCheckResourceAttr("data.exchange_build.sp3_latest", "update_rollup", "23"),
				resource.TestCheckResourceAttr("data.exchange_build.sp3_latest", "release_date", "2017-03-21"),
				resource.TestCheckResourceAttr("data.exchange_build.ru8_v3", "build", "8.3.279.6"),
				resource.TestCheckResourceAttr("data.exchange_build.ru8_v3", "update_rollup", "8-v3"),
				resource.TestCheckResourceAttr("data.exchange_build.e2003", "name", "Exchange 2003 SP2"),
				resource.TestCheckResourceAttr("data.exchange_build.rtm_ru7", "build", "8.0.813.0"),
				resource.TestCheckResourceAttr("data.exchange_build.rtm_ru7", "kb", "KB953469"),
			),
		}},
	})
}

func TestAccBuildDataSourceErrors(t *testing.T) {
	step := func(body, want string) resource.TestStep {
		return resource.TestStep{Config: bareProvider + body, ExpectError: regexp.MustCompile(want)}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			step(`data "exchange_build" "x" { build = "8.1.999.0" }`, `(?s)8\.1\.999\.0.*not in the catalog`),
			step(`data "exchange_build" "x" { build = "eight" }`, `(?s)major\.minor\.build`),
			step(`data "exchange_build" "x" {
  product      = "2007"
  service_pack = 3
  update_rollup = "v3"
}`, `(?s)update_rollup`),
			step(`data "exchange_build" "x" {
  product      = "2003"
  service_pack = 4
}`, `(?s)2003.*SP4|SP4.*2003`),
			step(`data "exchange_build" "x" {
  build   = "8.1.393.1"
  product = "2007"
}`, `(?s)build.*product|product.*build`),
			step(`data "exchange_build" "x" { product = "2010" }`, `(?s)product.*(5\.5|2007)`),
		},
	})
}
