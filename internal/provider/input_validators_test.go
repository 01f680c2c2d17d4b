package provider

import (
	"context"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	tfresource "github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// Empty, quoted, code-like and control-character server names stop the plan naming the
// attribute, for every kind of resource and data source that takes one; a NUL in any other
// string does too; and nothing but reads reaches a server.
func TestAccBadInputRefusedAtPlan(t *testing.T) {
	sim := startSimulatorWith(t, refusalFleet(), fastServicing)
	servers := []struct{ attr, config string }{
		{"server", `resource "exchange_service_pack" "x" {
  server = "%s"
  address = "127.0.52.2"
  service_pack = 3
}`},
		{"server", `resource "exchange_update_rollup" "x" {
  server = "%s"
  rollup = "5"
}`},
		{"server", `resource "exchange_interim_update" "x" {
  server = "%s"
  kb = "KB400004"
}`},
		{"server", `data "exchange_server" "x" { server = "%s" }`},
		{`nodes\[1\]\.server`, `resource "exchange_cluster_upgrade" "x" {
  cluster = "CMS1"
  nodes = [{ server = "A", address = "127.0.52.1" }, { server = "%s", address = "127.0.52.2" }]
  service_pack = 3
}`},
		{"cluster", `resource "exchange_cluster_upgrade" "x" {
  cluster = "%s"
  service_pack = 3
}`},
		{`servers\[0\]\.server`, `resource "exchange_organization_upgrade" "x" {
  servers = [{ server = "%s", address = "127.0.52.2" }]
  targets = [{ product = "2007", service_pack = 3 }]
}`},
		{`servers\[0\]\.server`, `data "exchange_organization" "x" {
  servers = [{ server = "%s", address = "127.0.52.2" }]
  targets = [{ product = "2007", service_pack = 3 }]
}`},
	}
	// HCL escapes of the payloads, and what the error says of each.
	bad := []struct{ hcl, says string }{
		{``, `is\s+empty`},
		{`EX'A`, `holds\s+'\\''`}, {`EX\u2019A`, `U\+2019`}, {`EX\u201cA`, `U\+201C`}, {`EX\"A`, `holds\s+'"'`},
		{`EX$${x}A`, `'\$'`}, {`EX$(Get-Date)`, `'\$'`}, {"EX`A", "'`'"}, {`EX;A`, `';'`}, {`EX|A`, `'\|'`},
		{`EX&A`, `'&'`}, {`EX\rA`, `U\+000D`}, {`EX\nA`, `U\+000A`}, {`EX\u0000A`, `NUL`}, {`EX A`, `' '`},
		{strings.Repeat("A", 100000), `100000\s+bytes`},
	}
	var steps []tfresource.TestStep
	refused := func(attr, config, hcl, says string) {
		steps = append(steps, tfresource.TestStep{Config: providerConfig(sim, "") + fmt.Sprintf(config, hcl), PlanOnly: true,
			ExpectError: regexp.MustCompile(`(?s)Invalid server name.*` + attr + `\s.*` + says)})
	}
	for _, b := range bad {
		refused(servers[0].attr, servers[0].config, b.hcl, b.says)
	}
	for i, c := range servers[1:] {
		refused(c.attr, c.config, bad[i%len(bad)].hcl, bad[i%len(bad)].says)
	}
	// A NUL anywhere else.
	for _, c := range []struct{ attr, config string }{
		{"forefront_compatible", `resource "exchange_service_pack" "x" {
  server = "SP1SRV"
  address = "127.0.52.2"
  service_pack = 3
  forefront_compatible = "checked FSE 10.2\u0000"
}`},
		{`stop_services\[1\]`, `resource "exchange_update_rollup" "x" {
  server = "SP3SRV"
  rollup = "5"
  stop_services = ["BackupExecAgentAccelerator", "x\u0000"]
}`},
		{`backup\.waiver_reason`, `resource "exchange_interim_update" "x" {
  server = "IUSRV"
  kb = "KB400004"
  backup { waiver_reason = "CAS\u0000" }
}`},
	} {
		steps = append(steps, tfresource.TestStep{Config: providerConfig(sim, "") + c.config, PlanOnly: true,
			ExpectError: regexp.MustCompile(`(?s)NUL character in a value.*` + c.attr + `\s+holds\s+a\s+NUL`)})
	}
	tfresource.Test(t, tfresource.TestCase{ProtoV6ProviderFactories: testProviders, Steps: steps})
	for _, e := range sim.Journal() {
		if e.Operation != "probe" && e.Operation != "discover" {
			t.Fatalf("a refused plan touched a server: %+v", e)
		}
	}
}

// settable is one string a user can set: an attribute of type string, or the elements of a
// list, set or map of strings, at Where ("exchange_service_pack.backup.waiver_reason").
type settable struct {
	Where, Name string
	Validators  reflect.Value
}

// settableStrings finds every settable string of the provider, its resources and its data
// sources from their schemas.
func settableStrings() []settable {
	ctx := context.Background()
	p := New("test")()
	type schemaOf struct {
		name         string
		attrs, block any
	}
	var all []schemaOf
	var ps provider.SchemaResponse
	p.Schema(ctx, provider.SchemaRequest{}, &ps)
	all = append(all, schemaOf{"provider", ps.Schema.Attributes, ps.Schema.Blocks})
	for _, f := range p.Resources(ctx) {
		var meta resource.MetadataResponse
		f().Metadata(ctx, resource.MetadataRequest{ProviderTypeName: "exchange"}, &meta)
		var resp resource.SchemaResponse
		f().Schema(ctx, resource.SchemaRequest{}, &resp)
		all = append(all, schemaOf{meta.TypeName, resp.Schema.Attributes, resp.Schema.Blocks})
	}
	for _, f := range p.DataSources(ctx) {
		var meta datasource.MetadataResponse
		f().Metadata(ctx, datasource.MetadataRequest{ProviderTypeName: "exchange"}, &meta)
		var resp datasource.SchemaResponse
		f().Schema(ctx, datasource.SchemaRequest{}, &resp)
		all = append(all, schemaOf{"data." + meta.TypeName, resp.Schema.Attributes, resp.Schema.Blocks})
	}
	var found []settable
	var walk func(where string, m reflect.Value)
	walk = func(where string, m reflect.Value) {
		if m.Kind() != reflect.Map {
			return
		}
		for _, k := range m.MapKeys() {
			v := m.MapIndex(k)
			if v.Kind() == reflect.Interface {
				v = v.Elem()
			}
			at := where + k.String()
			if v.Kind() != reflect.Struct {
				continue
			}
			settable := !v.FieldByName("Computed").IsValid() || !v.FieldByName("Computed").Bool() ||
				v.FieldByName("Optional").Bool()
			if vs := v.FieldByName("Validators"); vs.IsValid() && settable {
				elem := v.FieldByName("ElementType")
				if vs.Type() == reflect.TypeOf([]validator.String(nil)) ||
					(elem.IsValid() && !elem.IsNil() && elem.Interface() == types.StringType) {
					found = append(found, settableOf(at, k.String(), vs))
				}
			}
			walk(at+".", v.FieldByName("Attributes"))
			walk(at+".", v.FieldByName("Blocks"))
			if obj := v.FieldByName("NestedObject"); obj.IsValid() {
				walk(at+".", obj.FieldByName("Attributes"))
				walk(at+".", obj.FieldByName("Blocks"))
			}
		}
	}
	for _, s := range all {
		walk(s.name+".", reflect.ValueOf(s.attrs))
		walk(s.name+".", reflect.ValueOf(s.block))
	}
	return found
}

func settableOf(where, name string, vs reflect.Value) settable {
	return settable{Where: where, Name: name, Validators: vs}
}

// Every string a user can set, in every resource, data source and the provider, carries the
// NUL check, and every server or cluster name the server-name rule: found from the schemas,
// so a new attribute cannot miss them.
func TestEveryStringAttributeChecked(t *testing.T) {
	ctx := context.Background()
	nul := noNULValidator{}.Description(ctx)
	server := serverNameValidator{}.Description(ctx)
	all := settableStrings()
	names := 0
	for _, s := range all {
		if !hasValidator(s.Validators, nul) {
			t.Errorf("%s has no NUL check", s.Where)
		}
		if s.Name == "server" || s.Name == "cluster" {
			names++
			if !hasValidator(s.Validators, server) {
				t.Errorf("%s has no server-name rule", s.Where)
			}
		}
	}
	if len(all) < 40 || names < 8 {
		t.Errorf("found %d settable strings and %d server names: the walk misses attributes", len(all), names)
	}
}

func hasValidator(vs reflect.Value, desc string) bool {
	for i := 0; i < vs.Len(); i++ {
		d, ok := vs.Index(i).Interface().(interface{ Description(context.Context) string })
		if ok && strings.Contains(d.Description(context.Background()), desc) {
			return true
		}
	}
	return false
}

func TestServerNameRule(t *testing.T) {
	for name, ok := range map[string]bool{"MBX01": true, "mbx01.contoso.local": true, "EX-2003_A": true, "SERVEUR-Ä": true, "ЕХ01": true,
		"": false, "-EX": false, "EX 01": false, "EX'": false, "EX\u2018": false, "EX\u201b": false, "EX\u201d": false, "EX$(x)": false,
		"EX`": false, "EX;": false, "EX|": false, "EX&": false, "EX\r": false, "EX\n": false, "EX\x00": false, "EX\\A": false,
		strings.Repeat("A", 255): true, strings.Repeat("A", 256): false} {
		if got := serverNameProblem(name) == ""; got != ok {
			t.Errorf("serverNameProblem(%q) accepts: %v, want %v (%s)", name, got, ok, serverNameProblem(name))
		}
	}
}

func TestDurationBounds(t *testing.T) {
	for _, c := range []struct {
		b    durationBounds
		s    string
		want time.Duration
	}{
		{pollIntervalBounds, "15s", 15 * time.Second}, {pollIntervalBounds, "100ms", 100 * time.Millisecond},
		{pollIntervalBounds, "99ms", 0}, {pollIntervalBounds, "6m", 0}, {pollIntervalBounds, "15", 0},
		{timeoutBounds, "5m", 5 * time.Minute}, {timeoutBounds, "500ms", 0}, {timeoutBounds, "25h", 0},
		{backupAgeBounds, "168h", 168 * time.Hour}, {backupAgeBounds, "8761h", 0}, {backupAgeBounds, "-1h", 0},
	} {
		d, err := c.b.parse(c.s)
		if d != c.want || (err == nil) != (c.want != 0) {
			t.Errorf("bounds %s, %q: %v, %v; want %v", c.b, c.s, d, err, c.want)
		}
	}
}
