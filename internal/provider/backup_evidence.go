package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	provschema "github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// Evidence from the user's backup system for what a server does not let the probe read
// (internal/exchange/backups.go): the backup block's *_backup_time(s) attributes.

func parseBackupTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time: write it like 2024-05-01T22:00:00Z (or with its offset, 2024-05-02T00:00:00+02:00)", s)
	}
	return t.UTC(), nil
}

// backupTimeValidator checks a string holds an RFC 3339 time.
type backupTimeValidator struct{}

func (backupTimeValidator) Description(context.Context) string {
	return "must be an RFC 3339 time such as 2024-05-01T22:00:00Z"
}

func (v backupTimeValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (backupTimeValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := parseBackupTime(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid backup time", err.Error())
	}
}

// evidenceSpec is one evidence attribute, in the resources' backup block and the provider's
// backup_evidence block: a map of times by key, or one time.
type evidenceSpec struct {
	desc string
	one  bool // a single time, not a map
}

func evidenceSpecs() map[string]evidenceSpec {
	return map[string]evidenceSpec{
		"system_state_backup_times": {desc: "Last system-state backup of each server, by server name, as your backup software records " +
			"it (RFC 3339, e.g. `{ EX01 = \"2024-05-01T22:00:00Z\" }`). Needed where the server keeps no record the provider " +
			"reads (a backup product other than NTBackup or Windows Server Backup); checked against `max_system_state_age` " +
			"like a read one, the newer of the two counts. Keys of other servers of the organisation are left to their plans; " +
			"a key that names no server of the organisation is refused."},
		"database_backup_times": {desc: "Last full backup of databases, as your backup software records it (RFC 3339): by server name " +
			"for every database of the server (`{ BE01 = \"...\" }`), or by `<server>\\\\<storage group>\\\\<database>` for one. " +
			"Needed on Exchange 2000/2003 (a mounted database's backup time cannot be read) and on Exchange 2007 when its " +
			"management tools cannot be used; checked against `max_database_age` like a read one, the newer of the two counts. " +
			"Keys of other servers of the organisation are left to their plans; one whose server is no server of the " +
			"organisation is refused."},
		"domain_controller_backup_time": {one: true, desc: "Last system-state backup of a domain controller of the servers' domain, RFC 3339, from your " +
			"backup software: an Exchange server cannot read it. Required with `max_system_state_age` when the plan installs " +
			"a service pack (or waive the check): KB 328839, \"How to apply Exchange service packs and hotfixes\", asks for " +
			"one before a service pack; before an update rollup or an interim update it is not checked (\"How to Install the " +
			"Latest Service Pack or Update Rollup for Exchange 2007\" asks for the server's backups only)."},
	}
}

func timesValidators() []validator.Map {
	return []validator.Map{mapvalidator.ValueStringsAre(backupTimeValidator{})}
}

// backupEvidenceAttributes are the backup block's evidence attributes.
func backupEvidenceAttributes() map[string]schema.Attribute {
	out := map[string]schema.Attribute{}
	for name, s := range evidenceSpecs() {
		if s.one {
			out[name] = schema.StringAttribute{Optional: true, Validators: []validator.String{backupTimeValidator{}},
				MarkdownDescription: s.desc + " When set, it counts instead of the provider's `backup_evidence`."}
		} else {
			out[name] = schema.MapAttribute{Optional: true, ElementType: types.StringType, Validators: timesValidators(),
				MarkdownDescription: s.desc + " Adds to the provider's `backup_evidence`; for the same key, this one counts."}
		}
	}
	return out
}

// providerEvidenceBlock is the provider's backup_evidence block.
func providerEvidenceBlock() provschema.Block {
	attrs := map[string]provschema.Attribute{}
	for name, s := range evidenceSpecs() {
		if s.one {
			attrs[name] = provschema.StringAttribute{Optional: true, MarkdownDescription: s.desc, Validators: []validator.String{backupTimeValidator{}}}
		} else {
			attrs[name] = provschema.MapAttribute{Optional: true, ElementType: types.StringType, MarkdownDescription: s.desc, Validators: timesValidators()}
		}
	}
	return provschema.SingleNestedBlock{Attributes: attrs,
		MarkdownDescription: "Evidence from your backup software for every servicing resource's backup check (`exchange_service_pack`, " +
			"`exchange_update_rollup`, `exchange_interim_update`, `exchange_cluster_upgrade`, `exchange_organization_upgrade`), as if " +
			"each gave it in its `backup` block, where what a resource gives for the same key counts. The ages stay each resource's " +
			"(`max_database_age`, `max_system_state_age`). Give the organisation's evidence here once rather than the same map " +
			"in every resource: Terraform carries a resource's whole value through its plan, so a map of every server in each of " +
			"N resources is N times N entries to plan and compare (at 500 servers, more than a third of the plan's CPU; " +
			"docs/performance.md). Its values must be known at plan (variables, locals, data sources)."}
}

// backupTimes reads a map of RFC 3339 times (validated by the schema).
func backupTimes(m types.Map) map[string]time.Time {
	if m.IsNull() || m.IsUnknown() {
		return nil
	}
	out := map[string]time.Time{}
	for k, v := range m.Elements() {
		if s, ok := v.(types.String); ok && !s.IsNull() && !s.IsUnknown() {
			if t, err := parseBackupTime(s.ValueString()); err == nil {
				out[k] = t
			}
		}
	}
	return out
}

// backupTime reads one RFC 3339 time; nil when null.
func backupTime(s types.String) *time.Time {
	if s.IsNull() || s.IsUnknown() {
		return nil
	}
	t, err := parseBackupTime(s.ValueString())
	if err != nil {
		return nil
	}
	return &t
}

// ageOrWaiver is on max_database_age: the block needs it or a waiver_reason. (On the block
// itself, AtLeastOneOf passes as soon as the block is set, and so never checked this.)
func ageOrWaiver() validator.String {
	return stringvalidator.AtLeastOneOf(path.MatchRoot("backup").AtName("waiver_reason"))
}
