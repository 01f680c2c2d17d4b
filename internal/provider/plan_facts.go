package provider

import (
	"context"
	"encoding/json"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote"
)

// Why a servicing resource plans from the facts its refresh recorded, not from a fresh probe:
// `terraform apply PLANFILE` plans every change once more in a new provider process before it
// applies it, and refuses with "Provider produced inconsistent final plan" when that plan
// differs from the saved one. Its inputs are the configuration and the refreshed state saved
// in the plan file, private data included. So Read records the facts it read in the private
// data, ModifyPlan plans from them (the same facts at plan and at apply), and the apply
// (applySteps) probes the server again and refuses with "Server X changed since the plan"
// when the steps it would run now differ. A resource without recorded facts (one being
// created, or one last planned by an older provider) is planned from a fresh probe.

// factsKey names the recorded facts in a resource's private data.
const factsKey = "facts"

// privateData is the framework's private state of a resource (req.Private, resp.Private).
type privateData interface {
	GetKey(ctx context.Context, key string) ([]byte, diag.Diagnostics)
	SetKey(ctx context.Context, key string, value []byte) diag.Diagnostics
}

// recordFacts keeps the facts a refresh read for the next plan.
func recordFacts(ctx context.Context, private privateData, f exchange.Facts, diags *diag.Diagnostics) {
	b, err := json.Marshal(f)
	if err != nil {
		diags.AddError("Recording the server's facts failed", err.Error())
		return
	}
	diags.Append(private.SetKey(ctx, factsKey, b)...)
}

// planFacts returns the facts to plan from: those the refresh recorded (prior), else a fresh
// probe. It removes them from the planned private data (planned), so the state an apply
// leaves holds none until the next refresh records what the server runs then.
func (d *providerData) planFacts(ctx context.Context, t remote.Target, prior, planned privateData) (exchange.Facts, error) {
	b, _ := prior.GetKey(ctx, factsKey)
	_ = planned.SetKey(ctx, factsKey, nil) // fails only for a key reserved by the framework
	var f exchange.Facts
	if len(b) > 0 && json.Unmarshal(b, &f) == nil && f.Server != "" {
		return f, nil
	}
	return d.probes.Facts(ctx, t)
}
