package provider

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote"
)

// The evidence maps (system_state_backup_times, database_backup_times) are keyed by server
// names as the plan names servers: a plan takes the keys of its own servers and leaves the
// others, so that one map can serve every resource of an organisation. A key that names no
// server of the organisation at all (a typo, a DNS name, a CMS instead of its nodes) would
// be left by every plan, and the plan then refuses for the backup that seems missing: it is
// refused instead, naming the key and the servers it may name.

// evidenceKey is one key of an evidence map: the attribute, the key, and the server it names;
// provider: the key is the provider's (backup_evidence), not the resource's.
type evidenceKey struct {
	attr, key, server string
	provider          bool
}

// evidenceKeys are the keys of the backup block's evidence maps, in a stable order.
func (b *backupModel) evidenceKeys() []evidenceKey {
	if b == nil {
		return nil
	}
	return evidenceKeysOf(b.SystemStateBackupTimes, b.DatabaseBackupTimes, false)
}

// evidenceKeysOf are the keys of two evidence maps, in a stable order.
func evidenceKeysOf(systemState, databases types.Map, provider bool) []evidenceKey {
	var out []evidenceKey
	add := func(attr string, m types.Map, server func(string) string) {
		if m.IsNull() || m.IsUnknown() {
			return
		}
		for k := range m.Elements() {
			out = append(out, evidenceKey{attr: attr, key: k, server: server(k), provider: provider})
		}
	}
	add("system_state_backup_times", systemState, func(k string) string { return k })
	// "<server>" or "<server>\<storage group>\<database>"
	add("database_backup_times", databases, func(k string) string { s, _, _ := strings.Cut(k, `\`); return s })
	sort.Slice(out, func(i, j int) bool {
		if out[i].attr != out[j].attr {
			return out[i].attr < out[j].attr
		}
		return out[i].key < out[j].key
	})
	return out
}

// providerEvidence is the provider's backup_evidence, read once when it is configured: the
// evidence every servicing resource's backup check adds its own to (backupModel.policy).
type providerEvidence struct {
	systemState, databases map[string]time.Time
	domainController       *time.Time
	// keys are checked against the organisation once per run, by the first plan that
	// checks evidence keys (claim), not by every resource.
	keys    []evidenceKey
	checked sync.Once
}

// newProviderEvidence reads the provider's backup_evidence; nil when the block is not set.
// Its values must be known: a resource's plan could not use evidence known only at apply.
func newProviderEvidence(m *backupEvidenceModel, diags *diag.Diagnostics) *providerEvidence {
	if m == nil {
		return nil
	}
	if m.SystemStateBackupTimes.IsUnknown() || m.DatabaseBackupTimes.IsUnknown() || m.DomainControllerBackupTime.IsUnknown() {
		diags.AddAttributeError(path.Root("backup_evidence"), "backup_evidence is not known at plan",
			"Every servicing resource's plan checks its backups against backup_evidence, so its values must be known when "+
				"Terraform plans: set them from variables, locals or data sources, not from a resource's attributes.")
		return nil
	}
	return &providerEvidence{systemState: backupTimes(m.SystemStateBackupTimes), databases: backupTimes(m.DatabaseBackupTimes),
		domainController: backupTime(m.DomainControllerBackupTime),
		keys:             evidenceKeysOf(m.SystemStateBackupTimes, m.DatabaseBackupTimes, true)}
}

// claim reports whether the caller is the first of the run to check the provider's keys.
func (e *providerEvidence) claim() bool {
	if e == nil {
		return false
	}
	first := false
	e.checked.Do(func() { first = true })
	return first
}

// checkEvidenceKeys refuses evidence keys that name neither a server this plan covers nor
// another server of the organisation (discovered through the server at t, once per run):
// the resource's, and once per run the provider's. When the organisation cannot be read,
// the keys it would have checked get a warning.
func (d *providerData) checkEvidenceKeys(ctx context.Context, b *backupModel, t remote.Target, covered []exchange.Facts, diags *diag.Diagnostics) {
	known := map[string]bool{}
	for _, f := range covered {
		known[strings.ToLower(f.Server)] = true
	}
	keys := b.evidenceKeys()
	if d.evidence.claim() {
		keys = append(keys, d.evidence.keys...)
	}
	var others []evidenceKey
	for _, k := range keys {
		if !known[strings.ToLower(k.server)] {
			others = append(others, k)
		}
	}
	if len(others) == 0 {
		return
	}
	view, err := d.organizationView(ctx, t, covered)
	if err != nil {
		for _, k := range others {
			k.warn(diags, "Backup evidence not checked",
				fmt.Sprintf("%s names %s, which this plan does not cover, and the organisation could not be read through %s to check "+
					"that it is one of its servers (%v): a misspelt name is ignored.", k.where(), k.names(), t.Server, err))
		}
		return
	}
	for _, k := range others {
		if _, ok := view.targets[strings.ToLower(k.server)]; ok {
			continue
		}
		k.refuse(diags,
			fmt.Sprintf("Backup evidence for an unknown server: %s names %s, which is no server of the organisation", k.where(), k.names()),
			fmt.Sprintf("Key the evidence by the server's name as Exchange knows it (a cluster's nodes by their own names, "+
				"not the clustered mailbox server's), not by its DNS name. The organisation's servers are: %s. "+
				"Correct the key or remove it: no plan would use it.", strings.Join(view.serverNames(), ", ")))
	}
}

// where names the key's attribute: the resource's, or the provider's.
func (k evidenceKey) where() string {
	if k.provider {
		return "the provider's backup_evidence." + k.attr
	}
	return k.attr
}

// warn and refuse report on the key: at the resource's attribute, or (the provider's) on
// the resource whose plan checked it, the message naming the provider's attribute.
func (k evidenceKey) warn(diags *diag.Diagnostics, summary, detail string) {
	if k.provider {
		diags.AddWarning(summary, detail)
		return
	}
	diags.AddAttributeWarning(path.Root("backup").AtName(k.attr), summary, detail)
}

func (k evidenceKey) refuse(diags *diag.Diagnostics, summary, detail string) {
	if k.provider {
		diags.AddError(summary, detail)
		return
	}
	diags.AddAttributeError(path.Root("backup").AtName(k.attr), summary, detail)
}

// names is how a message names the key: the server alone, or the server within the key.
func (k evidenceKey) names() string {
	if k.key == k.server {
		return fmt.Sprintf("%q", k.key)
	}
	return fmt.Sprintf("server %q (in %q)", k.server, k.key)
}

// organizationView is the organisation of the servers a plan covers, probed and placed: the
// placed view of the order check, once per run. Its targets are every server as plans name
// them (a CMS or EVS by its nodes), by lower-case name. (Each resource used to list and sort
// the organisation's names to check its keys: O(N log N) per resource, a tenth of the
// provider's CPU at 500 servers.)
func (d *providerData) organizationView(ctx context.Context, t remote.Target, covered []exchange.Facts) (*orgView, error) {
	var also []string
	for _, f := range covered {
		also = append(also, aliases(f)...)
	}
	o, err := d.organizationOf(ctx, t, also...)
	if err != nil {
		return nil, err
	}
	return d.viewOf(ctx, o, t)
}

// serverNames are the view's servers as plans name them, sorted, for a message.
func (v *orgView) serverNames() []string {
	names := make([]string, 0, len(v.facts))
	for _, f := range v.facts {
		names = append(names, f.Server)
	}
	sort.Slice(names, func(i, j int) bool { return strings.ToLower(names[i]) < strings.ToLower(names[j]) })
	return names
}
