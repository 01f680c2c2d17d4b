package provider

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/objectvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote"
	"github.com/buildlevel/terraform-provider-exchange/internal/servicing"
)

// The servicing resources (service pack, update rollup, interim update) share this: the
// backup precondition, service handling, the computed plan, and the apply loop. Each
// resource adds what it installs and asks the planner (internal/exchange) for the steps.

// servicingModel holds the attributes every servicing resource has.
type servicingModel struct {
	ID                        types.String   `tfsdk:"id"`
	Server                    types.String   `tfsdk:"server"`
	Address                   types.String   `tfsdk:"address"`
	Backup                    *backupModel   `tfsdk:"backup"`
	StopServices              types.List     `tfsdk:"stop_services"`
	RevocationCheck           types.String   `tfsdk:"revocation_check"`
	PreserveOWACustomizations types.Bool     `tfsdk:"preserve_owa_customizations"`
	OWALogonFile              types.String   `tfsdk:"owa_logon_file"`
	PlannedSteps              types.List     `tfsdk:"planned_steps"`
	Warnings                  types.List     `tfsdk:"warnings"`
	Timeouts                  timeouts.Value `tfsdk:"timeouts"`
	MaintenanceWindow         *windowModel   `tfsdk:"maintenance_window"`
	ScheduledWindow           types.Object   `tfsdk:"scheduled_window"`
}

type backupModel struct {
	MaxDatabaseAge    types.String `tfsdk:"max_database_age"`
	MaxSystemStateAge types.String `tfsdk:"max_system_state_age"`
	WaiverReason      types.String `tfsdk:"waiver_reason"`
	// Evidence from the user's backup system (backup_evidence.go), as in backupEvidenceModel.
	SystemStateBackupTimes     types.Map    `tfsdk:"system_state_backup_times"`
	DatabaseBackupTimes        types.Map    `tfsdk:"database_backup_times"`
	DomainControllerBackupTime types.String `tfsdk:"domain_controller_backup_time"`
}

// backupEvidenceModel is the provider's backup_evidence: the evidence attributes of a
// resource's backup block, for every resource.
type backupEvidenceModel struct {
	SystemStateBackupTimes     types.Map    `tfsdk:"system_state_backup_times"`
	DatabaseBackupTimes        types.Map    `tfsdk:"database_backup_times"`
	DomainControllerBackupTime types.String `tfsdk:"domain_controller_backup_time"`
}

// stepModel is one planned step as planned_steps shows it.
type stepModel struct {
	Action      string            `tfsdk:"action"`
	Server      string            `tfsdk:"server"`
	Description string            `tfsdk:"description"`
	Downtime    bool              `tfsdk:"downtime"`
	Reboot      bool              `tfsdk:"reboot"`
	Params      map[string]string `tfsdk:"params"`
}

var stepAttrTypes = map[string]attr.Type{
	"action":      types.StringType,
	"server":      types.StringType,
	"description": types.StringType,
	"downtime":    types.BoolType,
	"reboot":      types.BoolType,
	"params":      types.MapType{ElemType: types.StringType},
}

var stepType = types.ObjectType{AttrTypes: stepAttrTypes}

func stepModelOf(s exchange.Step) stepModel {
	params := s.Params()
	if params == nil {
		params = map[string]string{}
	}
	return stepModel{Action: s.Action(), Server: s.Server, Description: s.Description,
		Downtime: s.Downtime, Reboot: s.Reboot, Params: params}
}

// withAttr is m and one more entry, for a nested object that adds a field to a shared one.
func withAttr[V any](m map[string]V, name string, v V) map[string]V {
	out := maps.Clone(m)
	out[name] = v
	return out
}

// stepAttributes are the schema of one planned step (stepModel).
func stepAttributes() map[string]schema.Attribute {
	computedString := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, MarkdownDescription: desc}
	}
	return map[string]schema.Attribute{
		"action":      computedString("Machine-readable action."),
		"server":      computedString("The server the step touches."),
		"description": computedString("What the step does, for a reviewer."),
		"downtime":    schema.BoolAttribute{Computed: true, MarkdownDescription: "The step interrupts Exchange service."},
		"reboot":      schema.BoolAttribute{Computed: true, MarkdownDescription: "The step restarts (or may restart) the server."},
		"params":      schema.MapAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "The step's parameters (KB, build, path, service)."},
	}
}

// servicingAttributes are the schema attributes of servicingModel.
func servicingAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"id": schema.StringAttribute{Computed: true, MarkdownDescription: "The resource's id.",
			PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
		"server": schema.StringAttribute{Required: true,
			MarkdownDescription: "The Exchange server's name, as Exchange knows it. Changing it replaces the resource.",
			Validators:          serverValidators(),
			PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()}},
		"address": schema.StringAttribute{Optional: true,
			MarkdownDescription: "Where to connect (host name or IP address). Default: `server`."},
		"stop_services": schema.ListAttribute{Optional: true, ElementType: types.StringType,
			MarkdownDescription: "Services that hook into Exchange (backup agents, file-level antivirus, monitoring) to stop before the " +
				"install and start again after it, by their Windows service name: any service on the server, whether or not " +
				"the provider's list of third-party services knows it. Default: every running third-party service the server " +
				"reports (`third_party_services` of `exchange_server`). `[]` stops none.",
			Validators: []validator.List{listvalidator.UniqueValues(), listvalidator.ValueStringsAre(serviceNameValidators()...)}},
		"revocation_check": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(exchange.RevocationAuto),
			MarkdownDescription: "Publisher's certificate revocation check of the installing account during the install: " +
				"`auto` (default) turns it off only when the server has no internet access (the installer would wait on every " +
				"signed file), `always` turns it off, `never` leaves it. It is turned back on afterwards.",
			Validators: []validator.String{stringvalidator.OneOf(exchange.RevocationAuto, exchange.RevocationAlways, exchange.RevocationNever)}},
		"preserve_owa_customizations": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(true),
			MarkdownDescription: "Move a customised OWA `Logon.aspx` aside before the install (an update " +
				"does not replace a customised one, and OWA then shows a blank page), and keep the update's new page afterwards: " +
				"the moved page is kept on the server as `%SystemRoot%\\Temp\\ExchangeProvider\\customizations\\owa_logon\\previous\\logon.aspx`, " +
				"never copied back over the new one (that brings the blank page back). Default `true`."},
		"owa_logon_file": schema.StringAttribute{Optional: true,
			MarkdownDescription: "A `Logon.aspx` with your customisations re-created for the new build (Exchange 2007 Client Access), " +
				"on the server or a share it can read: put in place after the install (the update's page is kept as " +
				"`...\\owa_logon\\setup\\logon.aspx`), then OWA is checked. The preflight checks first that it can be read.",
			Validators: pathValidators()},
		"planned_steps": schema.ListNestedAttribute{Computed: true,
			MarkdownDescription: "The ordered steps an apply runs on the server, as the plan shows them for review. " +
				"After an apply it holds the steps that ran. Each step has a stable `action` (e.g. `remove_interim_update`, " +
				"`install_service_pack`, `reboot`) for policy checks over `terraform show -json`.",
			NestedObject: schema.NestedAttributeObject{Attributes: stepAttributes()}},
		"warnings": schema.ListAttribute{Computed: true, ElementType: types.StringType,
			MarkdownDescription: "What is advisable but not enforced for the planned change (also shown as plan warnings)."},
		"scheduled_window": scheduledWindowAttribute(),
	}
}

// removeInterimUpdatesAttribute lists the interim updates a change that installs what may
// remove.
func removeInterimUpdatesAttribute(what string) schema.ListAttribute {
	return schema.ListAttribute{Optional: true, ElementType: types.StringType,
		MarkdownDescription: "Interim updates (KBs) this change may remove: an interim update must be removed before " + what +
			" is installed. One installed and not listed here stops the plan.",
		Validators: []validator.List{listvalidator.ValueStringsAre(kbValidator())}}
}

func backupBlock() schema.Block {
	attrs := backupEvidenceAttributes()
	for name, a := range map[string]schema.Attribute{
		"max_database_age": schema.StringAttribute{Optional: true,
			MarkdownDescription: "Maximum age of every database's last full backup, e.g. `24h`. Required unless `waiver_reason` is set.",
			Validators:          []validator.String{durationValidator{backupAgeBounds}, ageOrWaiver()}},
		"max_system_state_age": schema.StringAttribute{Optional: true,
			MarkdownDescription: "Maximum age of the last system-state backup of the server and, before a service pack, " +
				"of a domain controller of its domain (`domain_controller_backup_time`), e.g. `168h`.",
			Validators: []validator.String{durationValidator{backupAgeBounds}}},
		"waiver_reason": schema.StringAttribute{Optional: true,
			MarkdownDescription: "Waives the backup check; say why (e.g. the change ticket). Shown as a warning in every plan.",
			Validators:          []validator.String{stringvalidator.LengthAtLeast(10)}},
	} {
		attrs[name] = a
	}
	return schema.SingleNestedBlock{
		MarkdownDescription: "Backup precondition, checked at plan and again at apply: the last full backup of every " +
			"database on the server, the last system-state backup of the server and (before a service pack) of a domain controller of its domain " +
			"must be younger than these ages. Each age is read from the server where it can be (Exchange 2007 databases; " +
			"NTBackup's logs or Windows Server Backup for the system state) or taken from the `*_backup_time(s)` evidence " +
			"you supply from your backup software; the `verify_backups` step says which. Required: set `max_database_age`, or waive " +
			"the check with a written `waiver_reason`, which is kept in state.",
		Attributes: attrs,
		Validators: []validator.Object{objectvalidator.IsRequired()},
	}
}

func timeoutsBlock(ctx context.Context) schema.Block {
	return timeouts.Block(ctx, timeouts.Opts{Create: true, Update: true, Delete: true})
}

// policy reads the backup block.
// policy is the block's policy, its evidence added to the provider's (what the block gives for
// a key counts); defaults is the provider's backup_evidence, nil when none.
func (b *backupModel) policy(defaults *providerEvidence) exchange.BackupPolicy {
	var p exchange.BackupPolicy
	if b != nil {
		p.MaxDatabaseAge, _ = parseDuration(b.MaxDatabaseAge.ValueString())
		p.MaxSystemStateAge, _ = parseDuration(b.MaxSystemStateAge.ValueString())
		p.WaiverReason = b.WaiverReason.ValueString()
		p.SystemStateBackupTimes = backupTimes(b.SystemStateBackupTimes)
		p.DatabaseBackupTimes = backupTimes(b.DatabaseBackupTimes)
		p.DomainControllerBackupTime = backupTime(b.DomainControllerBackupTime)
	}
	if defaults != nil {
		p.SystemStateBackupTimes = overTimes(defaults.systemState, p.SystemStateBackupTimes)
		p.DatabaseBackupTimes = overTimes(defaults.databases, p.DatabaseBackupTimes)
		if p.DomainControllerBackupTime == nil {
			p.DomainControllerBackupTime = defaults.domainController
		}
	}
	return p
}

// overTimes is defaults with own's times over them: a key of own replaces the default of the
// same key in any case (the planner matches keys without regard to case).
func overTimes(defaults, own map[string]time.Time) map[string]time.Time {
	if len(defaults) == 0 {
		return own
	}
	if len(own) == 0 {
		return defaults
	}
	mine := make(map[string]bool, len(own))
	for k := range own {
		mine[strings.ToLower(k)] = true
	}
	out := make(map[string]time.Time, len(defaults)+len(own))
	for k, t := range defaults {
		if !mine[strings.ToLower(k)] {
			out[k] = t
		}
	}
	maps.Copy(out, own)
	return out
}

// optionsOf builds the planner's shared options from the attributes every servicing
// resource has; removeIUs is null for a resource without remove_interim_updates.
func optionsOf(ctx context.Context, backup *backupModel, revocation types.String, preserveOWA types.Bool,
	stopServices, removeIUs types.List, diags *diag.Diagnostics) exchange.Options {
	o := exchange.Options{
		Backup:                    backup.policy(evidenceOf(ctx)),
		RevocationCheck:           revocation.ValueString(),
		PreserveOWACustomizations: preserveOWA.IsNull() || preserveOWA.ValueBool(),
		Now:                       nowOf(ctx).UTC(),
	}
	if !stopServices.IsNull() {
		o.StopServices = []string{} // an explicit [] stops none; null means the default
		diags.Append(stopServices.ElementsAs(ctx, &o.StopServices, false)...)
	}
	if !removeIUs.IsNull() {
		diags.Append(removeIUs.ElementsAs(ctx, &o.RemoveInterimUpdates, false)...)
	}
	return o
}

// options builds the planner's shared options from the model.
func (m *servicingModel) options(ctx context.Context, removeIUs types.List, diags *diag.Diagnostics) exchange.Options {
	o := optionsOf(ctx, m.Backup, m.RevocationCheck, m.PreserveOWACustomizations, m.StopServices, removeIUs, diags)
	o.OWALogonFile = m.OWALogonFile.ValueString()
	return o
}

func (m *servicingModel) target() remote.Target { return targetOf(m.Server, m.Address) }

// configKnown reports whether every input of the resource is known at plan time, from the
// whole configuration value: any attribute or block (the backup block, revocation_check,
// a target's path) that takes a value known only at apply defers the steps to the apply.
// A list of attributes kept by hand missed some, and an unknown string then read as "".
func configKnown(c tfsdk.Config) bool {
	return c.Raw.IsFullyKnown()
}

func stepsValue(ctx context.Context, steps []exchange.Step, diags *diag.Diagnostics) types.List {
	v, d := types.ListValueFrom(ctx, stepType, stepModelsOf(steps))
	diags.Append(d...)
	return v
}

func stepsOf(ctx context.Context, v types.List, diags *diag.Diagnostics) []stepModel {
	var out []stepModel
	if v.IsNull() || v.IsUnknown() {
		return out
	}
	diags.Append(v.ElementsAs(ctx, &out, false)...)
	return out
}

func stringsValue(ctx context.Context, s []string, diags *diag.Diagnostics) types.List {
	if s == nil {
		s = []string{}
	}
	v, d := types.ListValueFrom(ctx, types.StringType, s)
	diags.Append(d...)
	return v
}

func stepModelsOf(steps []exchange.Step) []stepModel {
	models := make([]stepModel, len(steps))
	for i, s := range steps {
		models[i] = stepModelOf(s)
	}
	return models
}

// reviewedStep is a step as a plan shows it (stepModel, or orgStepModel with its wave).
type reviewedStep[S any] interface {
	same(S) bool
	describe() string
}

// same compares what the steps do (action, server, parameters), not their wording, which
// may mention times that move between plan and apply.
func (s stepModel) same(o stepModel) bool {
	return s.Action == o.Action && strings.EqualFold(s.Server, o.Server) && maps.Equal(s.Params, o.Params)
}

func (s stepModel) describe() string { return s.Description }

// sameSteps reports whether two lists of steps do the same, step by step.
func sameSteps[S reviewedStep[S]](a, b []S) bool {
	return slices.EqualFunc(a, b, func(x, y S) bool { return x.same(y) })
}

// stepsChanged refuses an apply whose steps now differ from the reviewed plan's, listing
// both; subject names what changed ("Server EX01"). It reports whether it refused.
func stepsChanged[S reviewedStep[S]](subject string, reviewed, now []S, diags *diag.Diagnostics) bool {
	if sameSteps(reviewed, now) {
		return false
	}
	diags.AddError(subject+" changed since the plan",
		fmt.Sprintf("The steps this apply would run differ from the plan you reviewed, so nothing was done. "+
			"Run terraform plan again and review the new steps.\nReviewed:%s\nNow:%s",
			describeSteps(reviewed), orNone(describeSteps(now))))
	return true
}

func describeSteps[S reviewedStep[S]](steps []S) string {
	var b strings.Builder
	for i, s := range steps {
		fmt.Fprintf(&b, "\n  %d. %s", i+1, s.describe())
	}
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return " (nothing to do)"
	}
	return s
}

// planRegistry remembers, within one Terraform run, what is planned for each server: so an
// update rollup that references the service pack resource of its server (and so is
// planned after it) plans against the server as the service pack leaves it, a rollup
// planned before a service pack on the same server is caught, and the order guard knows
// which servers this run upgrades before the one being planned.
type planRegistry struct {
	mu           sync.Mutex
	servicePacks map[string]exchange.Plan
	rollups      map[string]bool
	reaches      map[string][]exchange.Level // levels plans of this run bring each server to
	// passed are the predecessors a plan's order check found at a target or planned to it
	// (predecessorGuard): both stay true for the rest of the run (a server's level only
	// rises, a plan is not taken back), so the next server of the wave does not check them
	// again. Every Mailbox server has every Client Access and Hub Transport server before it:
	// checked anew for each, that was a check per pair of servers (O(N^2); 5% of the
	// provider's CPU at 500 servers).
	passed map[passedKey]bool
}

type passedKey struct {
	server string // lower case
	target exchange.Target
}

func newPlanRegistry() *planRegistry {
	return &planRegistry{servicePacks: map[string]exchange.Plan{}, rollups: map[string]bool{}, reaches: map[string][]exchange.Level{},
		passed: map[passedKey]bool{}}
}

// hasPassed reports whether an order check of this run found server at t or planned to it.
func (r *planRegistry) hasPassed(server string, t exchange.Target) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.passed[passedKey{strings.ToLower(server), t}]
}

// pass records that server is at t or planned to it (hasPassed).
func (r *planRegistry) pass(server string, t exchange.Target) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.passed[passedKey{strings.ToLower(server), t}] = true
}

func (r *planRegistry) addServicePack(server string, p exchange.Plan) (rollupPlannedFirst bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.servicePacks[strings.ToLower(server)] = p
	r.reachLocked(server, p)
	return r.rollups[strings.ToLower(server)]
}

func (r *planRegistry) addRollup(server string) (exchange.Plan, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rollups[strings.ToLower(server)] = true
	p, ok := r.servicePacks[strings.ToLower(server)]
	return p, ok
}

// reach records the level a plan of this run brings a server to.
func (r *planRegistry) reach(server string, p exchange.Plan) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reachLocked(server, p)
}

func (r *planRegistry) reachLocked(server string, p exchange.Plan) {
	if !p.Empty() && p.Target.Level.Product != "" {
		key := strings.ToLower(server)
		r.reaches[key] = append(r.reaches[key], p.Target.Level)
	}
}

// reachLevel records the level a cluster plan of this run brings a node to.
func (r *planRegistry) reachLevel(server string, l exchange.Level) {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := strings.ToLower(server)
	r.reaches[key] = append(r.reaches[key], l)
}

// plannedTo reports whether a plan of this run (made before now) brings server to t, a
// concrete level (a "latest" target is resolved by the caller).
func (r *planRegistry) plannedTo(server string, t exchange.Target) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	want := [3]int{t.ServicePack, t.UpdateRollup, t.ReRelease}
	for _, l := range r.reaches[strings.ToLower(server)] {
		got := [3]int{l.ServicePack, l.UpdateRollup, l.ReRelease}
		if l.Product == t.Product && slices.Compare(got[:], want[:]) >= 0 {
			return true
		}
	}
	return false
}

// executorOptions are how the provider runs plans on servers.
func (d *providerData) executorOptions(ctx context.Context, server string) servicing.Options {
	return servicing.Options{
		Owner:        d.lockOwner,
		TakeOver:     takeOverDeadOwner,
		PollInterval: d.pollInterval,
		Window:       windowOf(ctx),
		Now:          d.now,
		Log: func(s exchange.Step, msg string) {
			tflog.Info(ctx, msg, map[string]any{"server": server, "action": s.Action()})
		},
	}
}
