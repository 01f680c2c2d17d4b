package provider

import (
	"context"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
)

var allFields = []exchange.Field{
	exchange.FieldServicePack, exchange.FieldRollup, exchange.FieldMediaPath, exchange.FieldNodeMediaPaths,
	exchange.FieldPackagePath, exchange.FieldNodePackagePaths, exchange.FieldUMLanguagePackPath, exchange.FieldKB,
	exchange.FieldBackup, exchange.FieldStopServices, exchange.FieldRemoveInterimUpdates, exchange.FieldRevocationCheck,
	exchange.FieldOWALogonFile, exchange.FieldForefrontCompatible,
}

// fieldsOf is a single-server servicing resource's field paths.
func fieldsOf[M any, P servicingKind[M]](t *testing.T, r resource.Resource) fieldPaths {
	t.Helper()
	s, ok := r.(*servicingResource[M, P])
	if !ok {
		t.Fatalf("%T is not a servicingResource", r)
	}
	return s.fields
}

// Every attribute a refusal can be shown on is one the resource has: a path the schema does
// not have shows the error on nothing.
func TestRefusalPathsAreInTheSchema(t *testing.T) {
	ctx := context.Background()
	org := orgFieldPaths([]orgTargetModel{{Product: types.StringValue("2003")}, {Product: types.StringValue("2007")}},
		[]exchange.Facts{{Server: "MBX1", Product: "2007"}})
	for _, tc := range []struct {
		res resource.Resource
		at  fieldPaths
	}{
		{newServicePackResource(), fieldsOf[servicePackModel](t, newServicePackResource())},
		{newUpdateRollupResource(), updateRollupFields},
		{newInterimUpdateResource(), fieldsOf[interimUpdateModel](t, newInterimUpdateResource())},
		{newClusterUpgradeResource(), clusterFields},
		{newOrganizationUpgradeResource(), org},
	} {
		var meta resource.MetadataResponse
		tc.res.Metadata(ctx, resource.MetadataRequest{ProviderTypeName: "exchange"}, &meta)
		var s resource.SchemaResponse
		tc.res.Schema(ctx, resource.SchemaRequest{}, &s)
		mapped := 0
		for _, f := range allFields {
			p, ok := tc.at(exchange.Refusal{Server: "MBX1", Field: f})
			if !ok {
				continue
			}
			mapped++
			if _, d := s.Schema.TypeAtPath(ctx, p); d.HasError() {
				t.Errorf("%s: %s maps to %s, which the schema does not have", meta.TypeName, f, p)
			}
		}
		if mapped == 0 {
			t.Errorf("%s maps no field", meta.TypeName)
		}
	}
	if p, _ := org(exchange.Refusal{Server: "MBX1", Field: exchange.FieldMediaPath}); p.String() != "targets[1].media_path" {
		t.Errorf("the 2007 server's media_path refusal points at %s, want targets[1].media_path", p)
	}
}
