package provider

import (
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
)

// fieldPaths is where a resource's configuration sets the request field a refusal names
// (the planner knows requests, not attributes); false where the resource has no such
// attribute, and the refusal is then an error of the resource as a whole.
type fieldPaths func(exchange.Refusal) (path.Path, bool)

// rootPaths maps fields to root attributes.
func rootPaths(attrs map[exchange.Field]string) fieldPaths {
	return func(r exchange.Refusal) (path.Path, bool) {
		name, ok := attrs[r.Field]
		return path.Root(name), ok
	}
}

// servicingFields are the request options every single-server servicing resource sets
// (servicingModel), with the resource's own fields added.
func servicingFields(own map[exchange.Field]string) fieldPaths {
	attrs := map[exchange.Field]string{
		exchange.FieldBackup:          "backup",
		exchange.FieldStopServices:    "stop_services",
		exchange.FieldRevocationCheck: "revocation_check",
		exchange.FieldOWALogonFile:    "owa_logon_file",
	}
	for f, name := range own {
		attrs[f] = name
	}
	return rootPaths(attrs)
}

// refusalDiagnostics turns the planner's refusals into one error each, on the attribute at
// fault where there is one.
func refusalDiagnostics(err error, at fieldPaths, diags *diag.Diagnostics) {
	var rs exchange.Refusals
	switch e := err.(type) {
	case exchange.Refusals:
		rs = e
	case exchange.Refusal:
		rs = exchange.Refusals{e}
	default:
		diags.AddError("Cannot plan the change", err.Error())
		return
	}
	for _, r := range rs {
		summary := fmt.Sprintf("Server %s: %s", r.Server, r.Problem)
		if p, ok := at(r); ok && r.Field != "" {
			diags.AddAttributeError(p, summary, r.Action)
		} else {
			diags.AddError(summary, r.Action)
		}
	}
}

// orgFieldPaths maps an organisation upgrade's refusals: a target's fields to that target
// (targets[i], by the product of the refused server or cluster), the options to the root.
func orgFieldPaths(targets []orgTargetModel, facts []exchange.Facts) fieldPaths {
	inTarget := map[exchange.Field]string{
		exchange.FieldServicePack:        "service_pack",
		exchange.FieldRollup:             "update_rollup",
		exchange.FieldMediaPath:          "media_path",
		exchange.FieldPackagePath:        "package_path",
		exchange.FieldUMLanguagePackPath: "um_language_pack_path",
		exchange.FieldKB:                 "kb",
	}
	root := rootPaths(map[exchange.Field]string{
		exchange.FieldBackup:                "backup",
		exchange.FieldStopServices:          "stop_services",
		exchange.FieldRemoveInterimUpdates:  "remove_interim_updates",
		exchange.FieldRevocationCheck:       "revocation_check",
		exchange.FieldForefrontCompatible:   "forefront_compatible",
		exchange.FieldClearSetupWatermark:   "clear_setup_watermark",
		exchange.FieldLoadBalancedFrontEnds: "load_balanced_front_ends",
	})
	// The product of every server, and of every cluster by the name its refusals give.
	product := map[string]string{}
	keys := exchange.ClusterKeys(facts)
	readers := exchange.ClusterReaders(facts, keys)
	for i, f := range facts {
		product[strings.ToLower(f.Server)] = f.Product
		if c := readers[keys[i]]; keys[i] != "" && c != nil {
			product[strings.ToLower(c.Title())] = f.Product
		}
	}
	return func(r exchange.Refusal) (path.Path, bool) {
		name, ok := inTarget[r.Field]
		if !ok {
			return root(r)
		}
		for i, t := range targets {
			if t.Product.ValueString() == product[strings.ToLower(r.Server)] {
				return path.Root("targets").AtListIndex(i).AtName(name), true
			}
		}
		return path.Root("targets"), true
	}
}
