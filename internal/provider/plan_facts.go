package provider

import (
	"context"
	"encoding/json"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote"
)

// Why a servicing resource plans from the facts its refresh recorded, not from a fresh probe:
// `terraform apply PLANFILE` plans every change once more in a new provider process before it
// applies it, and refuses with "Provider produced inconsistent final plan" when that plan
// differs from the saved one. Its inputs are the configuration and the refreshed state saved
// in the plan file, private data included. So Read (and an apply) records the facts it read
// in the private data, ModifyPlan plans from them (the same facts at plan and at apply), and
// the apply (applySteps) probes the server again and refuses with "Server X changed since the
// plan" when the steps it would run now differ. A resource without recorded facts (one being
// created, or one last planned by an older provider) is planned from a fresh probe.
//
// What changes on its own on a server that nobody touched (backup times, the boot time, the
// state of every other service) is not recorded but taken from the fresh probe: recorded, it
// would make every refresh of an unchanged server change the state, and `terraform plan
// -refresh-only -detailed-exitcode` (the drift check) exit 2. Those facts shape refusals and
// warnings; where one shapes a step (a stop_services entry among the other services starting
// or stopping between plan and apply), Terraform reports the saved plan as inconsistent.

// factsKey names the recorded facts in a resource's private data.
const factsKey = "facts"

// privateData is the framework's private state of a resource (req.Private, resp.Private).
type privateData interface {
	GetKey(ctx context.Context, key string) ([]byte, diag.Diagnostics)
	SetKey(ctx context.Context, key string, value []byte) diag.Diagnostics
}

// recordFacts keeps the facts a refresh or an apply read for the next plan, less what
// changes on its own.
func recordFacts(ctx context.Context, private privateData, f exchange.Facts, diags *diag.Diagnostics) {
	f.Backups, f.BootTime, f.OtherServices = exchange.BackupFacts{}, time.Time{}, nil
	b, err := json.Marshal(f)
	if err != nil {
		diags.AddError("Recording the server's facts failed", err.Error())
		return
	}
	diags.Append(private.SetKey(ctx, factsKey, b)...)
}

// planFacts returns the facts to plan from: those the refresh recorded (prior) with what
// changes on its own from a fresh probe, else the fresh probe. It removes them from the
// planned private data (planned): the apply records what the server runs afterwards.
func (d *providerData) planFacts(ctx context.Context, t remote.Target, prior, planned privateData) (exchange.Facts, error) {
	fresh, err := d.probes.Facts(ctx, t)
	if err != nil {
		return fresh, err
	}
	b, _ := prior.GetKey(ctx, factsKey)
	_ = planned.SetKey(ctx, factsKey, nil) // fails only for a key reserved by the framework
	var f exchange.Facts
	if len(b) == 0 || json.Unmarshal(b, &f) != nil || f.Server == "" {
		return fresh, nil
	}
	f.Backups, f.BootTime, f.OtherServices = fresh.Backups, fresh.BootTime, fresh.OtherServices
	return f, nil
}
