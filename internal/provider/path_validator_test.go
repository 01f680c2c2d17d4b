package provider

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	tfresource "github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// A path the installer would refuse (a double quote, CR, LF, tab or NUL) is refused at plan,
// naming the attribute, and nothing reaches a server: before, the plan passed and the apply
// removed interim updates and stopped services before job_start refused the installer.
func TestAccPathRefusedAtPlan(t *testing.T) {
	sim := startSimulatorWith(t, refusalFleet(), fastServicing)
	bad := []struct{ hcl, name string }{
		{`\"`, `a\s+double\s+quote`}, {`\r`, `a\s+carriage\s+return`}, {`\n`, `a\s+line\s+feed`},
		{`\u0000`, `a\s+NUL\s+character`}, {`\t`, `a\s+tab`},
	}
	cluster := func(path string) string {
		return `resource "exchange_cluster_upgrade" "x" {
  cluster = "CMS1"
  nodes = [{ server = "A", address = "127.0.52.1" }, { server = "B", address = "127.0.52.2" }]
  service_pack = 3
  ` + path + `
}`
	}
	org := func(path string) string {
		return `resource "exchange_organization_upgrade" "x" {
  servers = [{ server = "SP1SRV", address = "127.0.52.2" }]
  targets = [{ product = "2007", service_pack = 3, ` + path + ` }]
}`
	}
	cases := []struct{ attr, config string }{
		{"media_path", `resource "exchange_service_pack" "x" {
  server = "SP1SRV"
  address = "127.0.52.2"
  service_pack = 3
  media_path = "D:\\SP3%s"
}`},
		{"um_language_pack_path", `resource "exchange_service_pack" "x" {
  server = "SP1SRV"
  address = "127.0.52.2"
  service_pack = 3
  media_path = "D:\\SP3"
  um_language_pack_path = "D:\\UM%s"
}`},
		{"package_path", `resource "exchange_update_rollup" "x" {
  server = "SP3SRV"
  address = "127.0.52.1"
  rollup = "5"
  package_path = "D:\\RU5%s.msp"
}`},
		{"package_path", `resource "exchange_interim_update" "x" {
  server = "IUSRV"
  address = "127.0.52.5"
  kb = "KB400004"
  package_path = "D:\\KB400004%s.msp"
}`},
		{"media_path", cluster(`media_path = "D:\\SP3%s"`)},
		{"package_path", cluster(`package_path = "D:\\RU%s.msp"`)},
		{`node_media_paths\["A"\]`, cluster(`node_media_paths = { A = "D:\\SP3%s" }`)},
		{`node_package_paths\["B"\]`, cluster(`node_package_paths = { B = "D:\\RU%s.msp" }`)},
		{`targets\[0\]\.media_path`, org(`media_path = "D:\\SP3%s"`)},
		{`targets\[0\]\.package_path`, org(`package_path = "D:\\RU%s.msp"`)},
		{`targets\[0\]\.um_language_pack_path`, org(`um_language_pack_path = "D:\\UM%s"`)},
		{"owa_logon_file", `resource "exchange_update_rollup" "x" {
  server = "SP3SRV"
  address = "127.0.52.1"
  rollup = "5"
  package_path = "D:\\RU5.msp"
  owa_logon_file = "D:\\OWA\\logon%s.aspx"
}`},
	}
	for i := range cases { // with backups, so the path is the one thing wrong
		cases[i].config = strings.TrimSuffix(cases[i].config, "}") + freshBackups + "\n}"
	}
	var steps []tfresource.TestStep
	refused := func(attr, config, hcl, name string) {
		steps = append(steps, tfresource.TestStep{Config: providerConfig(sim, "") + fmt.Sprintf(config, hcl), PlanOnly: true,
			ExpectError: regexp.MustCompile(`(?s)Invalid path.*` + attr + ` ".*` + name + `.*at\s+character.*remove\s+it`)})
	}
	// Every character on the first attribute, then each attribute with the characters in turn.
	for _, b := range bad {
		refused(cases[0].attr, cases[0].config, b.hcl, b.name)
	}
	for i, c := range cases[1:] {
		refused(c.attr, c.config, bad[i%len(bad)].hcl, bad[i%len(bad)].name)
	}
	tfresource.Test(t, tfresource.TestCase{ProtoV6ProviderFactories: testProviders, Steps: steps})
	onlyReads(t, sim)
}

// Every path attribute of every resource carries the path rule, so a new one cannot miss it.
func TestPathAttributesValidated(t *testing.T) {
	p := New("test")()
	found := 0
	for _, f := range p.Resources(context.Background()) {
		r := f()
		var resp resource.SchemaResponse
		r.Schema(context.Background(), resource.SchemaRequest{}, &resp)
		var walk func(prefix string, attrs map[string]schema.Attribute)
		walk = func(prefix string, attrs map[string]schema.Attribute) {
			for name, a := range attrs {
				switch a := a.(type) {
				case schema.ListNestedAttribute:
					walk(prefix+name+".", a.NestedObject.Attributes)
				case schema.StringAttribute:
					if strings.HasSuffix(name, "_path") && !a.Computed {
						found++
						if !describes(a.Validators) {
							t.Errorf("%T %s%s has no pathValidator", r, prefix, name)
						}
					}
				case schema.MapAttribute:
					if strings.HasSuffix(name, "_paths") {
						found++
						if !describes(a.Validators) {
							t.Errorf("%T %s%s has no pathValidator on its values", r, prefix, name)
						}
					}
				}
			}
		}
		walk("", resp.Schema.Attributes)
	}
	if found < 11 {
		t.Errorf("found %d path attributes, want at least 11", found)
	}
}

// describes tells whether one of the validators is, or applies to each value, pathValidator.
func describes[V interface{ Description(context.Context) string }](vs []V) bool {
	want := pathValidator{}.Description(context.Background())
	for _, v := range vs {
		if strings.Contains(v.Description(context.Background()), want) {
			return true
		}
	}
	return false
}
