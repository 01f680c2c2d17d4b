package provider

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/buildlevel/terraform-provider-exchange/internal/simulator"
)

// A refusal of one server's target points at that target's attribute (targets[1], the 2007
// target, for the 2007 server here), not at a root attribute the organisation upgrade does
// not have. Terraform's own output shows the resource block for either path, so this reads
// the path the provider sends back to Terraform.
func TestOrganizationRefusalPointsAtTarget(t *testing.T) {
	t.Parallel() // its servers' addresses are no other parallel test's
	fleet := fmt.Sprintf(`{%s,
  "servers": [
    {"name": "BE1", "address": "127.0.63.1", "product": "2003", "build": "6.5.7226", "roles": ["BackEnd"],
     "last_full_backup": %q, "last_system_state_backup": %q},
    {"name": "MBX1", "address": "127.0.63.2", "product": "2007", "build": "8.2.176.2", "roles": ["Mailbox"],
     "last_full_backup": %q, "last_system_state_backup": %q}
  ],
  "clusters": []
}`, credentialsJSON(), hoursAgo(1), hoursAgo(1), hoursAgo(1), hoursAgo(1))
	sim := startSimulator(t, fleet)
	s := configuredServer(t, sim, map[string]any{"BE1": "127.0.63.1", "MBX1": "127.0.63.2"})
	diags := planResource(t, s, "exchange_organization_upgrade", map[string]any{
		"servers": []any{map[string]any{"server": "BE1"}, map[string]any{"server": "MBX1"}},
		"targets": []any{
			map[string]any{"product": "2003", "service_pack": 2, "media_path": `E:\E2003SP2`},
			map[string]any{"product": "2007", "service_pack": 2, "update_rollup": "1", "package_path": `D:\RU1.msp`, "kb": "KB123456"},
		},
		"backup": map[string]any{"waiver_reason": "change ticket CHG-1234"},
	})
	want := tftypes.NewAttributePath().WithAttributeName("targets").WithElementKeyInt(1).WithAttributeName("kb")
	for _, d := range diags {
		if strings.Contains(d.Summary, `kb = "KB123456"`) {
			if !d.Attribute.Equal(want) {
				t.Errorf("the kb refusal points at %v, want %v", d.Attribute, want)
			}
			return
		}
	}
	t.Errorf("no kb refusal in %v", diags)
}

// configuredServer is the provider, configured for sim with these addresses, as Terraform
// talks to it.
func configuredServer(t *testing.T, sim *simulator.Simulator, addresses map[string]any) tfprotov6.ProviderServer {
	t.Helper()
	s, err := testProviders["exchange"]()
	if err != nil {
		t.Fatal(err)
	}
	schemas, err := s.GetProviderSchema(context.Background(), &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	typ := schemas.Provider.ValueType()
	cfg := dynamicValue(t, typ, map[string]any{
		"username": testUser, "password": testPassword, "port": sim.HTTPSPort(), "timeout": "20s",
		"poll_interval": "100ms", "ca_certificate": string(sim.CACertPEM()), "addresses": addresses,
	})
	resp, err := s.ConfigureProvider(context.Background(), &tfprotov6.ConfigureProviderRequest{TerraformVersion: "1.9.0", Config: &cfg})
	if err != nil || len(resp.Diagnostics) > 0 {
		t.Fatalf("configuring the provider: %v %v", err, resp.Diagnostics)
	}
	return s
}

// planResource plans creating a resource from config (attributes not given are null) and
// returns the diagnostics.
func planResource(t *testing.T, s tfprotov6.ProviderServer, typeName string, config map[string]any) []*tfprotov6.Diagnostic {
	t.Helper()
	schemas, err := s.GetProviderSchema(context.Background(), &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	typ := schemas.ResourceSchemas[typeName].ValueType()
	cfg := dynamicValue(t, typ, config)
	prior := dynamicValue(t, typ, nil)
	resp, err := s.PlanResourceChange(context.Background(), &tfprotov6.PlanResourceChangeRequest{
		TypeName: typeName, PriorState: &prior, ProposedNewState: &cfg, Config: &cfg})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Diagnostics
}

func dynamicValue(t *testing.T, typ tftypes.Type, v any) tfprotov6.DynamicValue {
	t.Helper()
	dv, err := tfprotov6.NewDynamicValue(typ, tfValue(t, typ, v))
	if err != nil {
		t.Fatal(err)
	}
	return dv
}

// tfValue is v as a value of typ: a map for an object (attributes it does not give are
// null), a slice for a list, a map for a map, a Go value otherwise; nil is null.
func tfValue(t *testing.T, typ tftypes.Type, v any) tftypes.Value {
	t.Helper()
	if v == nil {
		return tftypes.NewValue(typ, nil)
	}
	switch typ := typ.(type) {
	case tftypes.Object:
		given, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%v for an object: want a map[string]any", v)
		}
		vals := map[string]tftypes.Value{}
		for name, at := range typ.AttributeTypes {
			vals[name] = tfValue(t, at, given[name])
		}
		return tftypes.NewValue(typ, vals)
	case tftypes.List:
		given, ok := v.([]any)
		if !ok {
			t.Fatalf("%v for a list: want a []any", v)
		}
		var elems []tftypes.Value
		for _, e := range given {
			elems = append(elems, tfValue(t, typ.ElementType, e))
		}
		return tftypes.NewValue(typ, elems)
	case tftypes.Map:
		given, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%v for a map: want a map[string]any", v)
		}
		elems := map[string]tftypes.Value{}
		for k, e := range given {
			elems[k] = tfValue(t, typ.ElementType, e)
		}
		return tftypes.NewValue(typ, elems)
	}
	return tftypes.NewValue(typ, v)
}
