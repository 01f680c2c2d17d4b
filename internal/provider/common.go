package provider

import (
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/buildlevel/terraform-provider-exchange/internal/remote"
)

// configuredData reads what Configure handed over; nil until the provider is configured
// (Terraform validates data sources before that).
func configuredData(v any, diags *diag.Diagnostics) *providerData {
	if v == nil {
		return nil
	}
	d, ok := v.(*providerData)
	if !ok {
		diags.AddError("Unexpected provider data", fmt.Sprintf("expected *providerData, got %T: please report this bug", v))
		return nil
	}
	return d
}

// targetOf is where to reach a server: its address, or its name when no address is given.
func targetOf(server, address types.String) remote.Target {
	t := remote.Target{Server: server.ValueString(), Address: address.ValueString()}
	if t.Address == "" {
		t.Address = t.Server
	}
	return t
}
