package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
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

// targetOf is the server a resource names and, when it gives one, where to reach it. A
// target without an address is resolved by the provider's addresses map, else by name
// (addressBook).
func targetOf(server, address types.String) remote.Target {
	return remote.Target{Server: server.ValueString(), Address: address.ValueString()}
}

// addressBook reaches servers through the remote client, filling in the address of a
// target that has none from the provider's addresses setting.
type addressBook struct {
	client    *remote.Client
	addresses map[string]string // by lower-case server name
}

func (a addressBook) resolve(t remote.Target) remote.Target {
	if t.Address == "" {
		if addr, ok := a.addresses[strings.ToLower(t.Server)]; ok {
			t.Address = addr
		} else {
			t.Address = t.Server
		}
	}
	return t
}

func (a addressBook) Probe(ctx context.Context, t remote.Target) (exchange.Facts, error) {
	return a.client.Probe(ctx, a.resolve(t))
}

func (a addressBook) Run(ctx context.Context, t remote.Target, op string, params []wire.Param, out any) error {
	return a.client.Run(ctx, a.resolve(t), op, params, out)
}
