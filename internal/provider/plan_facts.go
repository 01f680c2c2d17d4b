package provider

import (
	"context"
	"encoding/json"
	"strings"
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

// factsKey names the recorded facts in a resource's private data: a JSON object of each
// server's facts by lower-case name (one server for a servicing resource, every node for a
// cluster upgrade, every server read for an organisation upgrade).
const factsKey = "facts"

// privateData is the framework's private state of a resource (req.Private, resp.Private).
type privateData interface {
	GetKey(ctx context.Context, key string) ([]byte, diag.Diagnostics)
	SetKey(ctx context.Context, key string, value []byte) diag.Diagnostics
}

// recordFacts keeps the facts a refresh or an apply read for the next plan, less what
// changes on its own.
func recordFacts(ctx context.Context, private privateData, diags *diag.Diagnostics, facts ...exchange.Facts) {
	byServer := map[string]exchange.Facts{}
	for _, f := range facts {
		f.Backups, f.BootTime, f.OtherServices = exchange.BackupFacts{}, time.Time{}, nil
		byServer[strings.ToLower(f.Server)] = f
	}
	b, err := json.Marshal(byServer)
	if err != nil {
		diags.AddError("Recording the servers' facts failed", err.Error())
		return
	}
	diags.Append(private.SetKey(ctx, factsKey, b)...)
}

// recordedFacts reads the facts a refresh recorded (prior) and removes them from the planned
// private data (planned): the apply records what the servers run afterwards.
func recordedFacts(ctx context.Context, prior, planned privateData) map[string]exchange.Facts {
	b, _ := prior.GetKey(ctx, factsKey)
	_ = planned.SetKey(ctx, factsKey, nil) // fails only for a key reserved by the framework
	var byServer map[string]exchange.Facts
	if len(b) == 0 || json.Unmarshal(b, &byServer) != nil {
		return nil
	}
	return byServer
}

// withRecorded returns the facts to plan from for a server: those recorded for it with what
// changes on its own from the fresh probe, else the fresh probe.
func withRecorded(fresh exchange.Facts, recorded map[string]exchange.Facts) exchange.Facts {
	f, ok := recorded[strings.ToLower(fresh.Server)]
	if !ok || f.Server == "" {
		return fresh
	}
	f.Backups, f.BootTime, f.OtherServices = fresh.Backups, fresh.BootTime, fresh.OtherServices
	return f
}

// withRecordedAll is withRecorded for each server of a cluster or an organisation, in place.
func withRecordedAll(fresh []exchange.Facts, recorded map[string]exchange.Facts) []exchange.Facts {
	for i := range fresh {
		fresh[i] = withRecorded(fresh[i], recorded)
	}
	return fresh
}

// planFacts returns the facts to plan a servicing resource's server from (withRecorded).
func (d *providerData) planFacts(ctx context.Context, t remote.Target, prior, planned privateData,
	read func(context.Context, remote.Target) (exchange.Facts, error)) (exchange.Facts, error) {
	recorded := recordedFacts(ctx, prior, planned)
	fresh, err := read(ctx, t)
	if err != nil {
		return fresh, err
	}
	return withRecorded(fresh, recorded), nil
}
