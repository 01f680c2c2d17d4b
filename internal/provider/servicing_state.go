package provider

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote"
)

// defaultInstallTimeout bounds one apply of a servicing resource; a service pack on a large
// mailbox server can take hours.
const defaultInstallTimeout = 6 * time.Hour

func kbValidator() validator.String {
	return stringvalidator.RegexMatches(regexp.MustCompile(exchange.KBPattern), "must be a KB number, KB then 4 to 8 digits, such as KB123456")
}

// applyPlanToModel puts a plan into the planned model. With steps, the plan shows them (and
// each resource marks what it reads from the server unknown until the apply has run).
// Without steps, planned_steps keeps the state's value (the steps of the last apply), so a
// server at its level plans no change.
func applyPlanToModel(ctx context.Context, m, state *servicingModel, p exchange.Plan, diags *diag.Diagnostics) {
	m.ID = m.Server
	m.Warnings = stringsValue(ctx, p.Warnings, diags)
	addPlanWarnings(diags, "Server "+p.Server, p.Warnings)
	if p.Empty() {
		if !state.PlannedSteps.IsNull() && !state.PlannedSteps.IsUnknown() {
			m.PlannedSteps = state.PlannedSteps
			m.Warnings = state.Warnings
		} else {
			m.PlannedSteps = stepsValue(ctx, nil, diags)
		}
		return
	}
	m.PlannedSteps = stepsValue(ctx, p.Steps, diags)
	// The same steps as the last apply (the server was put back by hand) would be hidden by
	// Terraform's diff as unchanged: say them here so the reviewer sees them.
	if now := stepModelsOf(p.Steps); sameSteps(stepsOf(ctx, state.PlannedSteps, diags), now) {
		diags.AddWarning("Server "+p.Server+": the planned steps are the same as the last apply's",
			"The server no longer matches the configuration (changed by hand?). This apply will run:"+describeSteps(now))
	}
}

// addPlanWarnings adds one resource's plan warnings as diagnostics: the warning as the
// summary, the server or cluster (of) in the detail. Most warnings are the same for every
// server of a release (the Exchange Trusted Subsystem group, the rollup level starting again
// after SP3), and Terraform shows warnings of the same summary once, saying how many more
// there are; with the server in the summary it showed each, about a thousand at 500 servers,
// each rendered with the configuration around it, parsing the whole configuration file
// again for each: a third of Terraform's CPU of the plan, by profile (docs/performance.md).
// Each resource's warnings attribute in the plan still lists its own.
func addPlanWarnings(diags *diag.Diagnostics, of string, warnings []string) {
	for _, w := range warnings {
		diags.AddWarning(w, of+". The warnings attribute of each resource lists its own.")
	}
}

// live is what a resource reads from the server into its plan: unknown when the plan has
// steps (the apply changes it), the state's value when the plan has none (only a refresh
// updates what was read), the fresh value when there is no state yet.
func live[T interface{ IsNull() bool }](p exchange.Plan, state, fresh, unknown T) T {
	switch {
	case !p.Empty():
		return unknown
	case !state.IsNull():
		return state
	default:
		return fresh
	}
}

// read refreshes the live attributes: `terraform plan -refresh-only` shows a server changed
// by hand as a change of live_build.
// It records the facts it read in the private data, for the next plan (plan_facts.go).
func (d *providerData) read(ctx context.Context, m *servicingModel, private privateData, diags *diag.Diagnostics) (exchange.Facts, bool) {
	t := m.target()
	facts, err := d.probes.Facts(ctx, t)
	if err != nil {
		diags.Append(remoteDiagnostic(t, err))
		return facts, false
	}
	recordFacts(ctx, private, diags, facts)
	if m.ID.IsNull() {
		m.ID = m.Server
	}
	if m.PlannedSteps.IsNull() {
		m.PlannedSteps = stepsValue(ctx, nil, diags)
	}
	if m.Warnings.IsNull() {
		m.Warnings = stringsValue(ctx, nil, diags)
	}
	if m.RevocationCheck.IsNull() {
		m.RevocationCheck = types.StringValue(exchange.RevocationAuto)
	}
	if m.PreserveOWACustomizations.IsNull() {
		m.PreserveOWACustomizations = types.BoolValue(true)
	}
	return facts, true
}

// importServer imports a servicing resource by server name, or SERVER@ADDRESS for a
// server whose name does not resolve from where Terraform runs.
func importServer(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	server, ok := importTarget(req.ID, "SERVER or SERVER@ADDRESS, e.g. EX01 or EX01@10.0.0.5", &resp.Diagnostics)
	if !ok {
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), server.Server)...)
	setImportTarget(ctx, server, resp)
}

// importTarget reads SERVER or SERVER@ADDRESS.
func importTarget(id, form string, diags *diag.Diagnostics) (remote.Target, bool) {
	server, address, _ := strings.Cut(id, "@")
	if server == "" || strings.ContainsAny(server, "/@ ") {
		diags.AddError("Invalid import id", fmt.Sprintf("%q is not %s.", id, form))
		return remote.Target{}, false
	}
	return remote.Target{Server: server, Address: address}, true
}

func setImportTarget(ctx context.Context, t remote.Target, resp *resource.ImportStateResponse) {
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("server"), t.Server)...)
	if t.Address != "" {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("address"), t.Address)...)
	}
}
