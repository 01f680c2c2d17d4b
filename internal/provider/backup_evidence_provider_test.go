package provider

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// The provider's backup_evidence is every resource's evidence: a resource that gives none
// plans from it, and the verify_backups step says the time came from the user. What a
// resource's backup block gives for the same key counts instead (here an older time, which
// the age check refuses). A provider key that names no server of the organisation is
// refused once, naming the provider's attribute.
func TestAccProviderBackupEvidence(t *testing.T) {
	sim := startSimulatorWith(t, evidenceFleet(79), fastServicing)
	old := time.Now().Add(-30 * 24 * time.Hour).UTC().Format(time.RFC3339)
	cfg := func(providerEvidence, own string) string {
		return providerConfig(sim, `addresses = { MBX6 = "127.0.79.2" }
  backup_evidence {
    `+providerEvidence+`
  }`) + hub5Rollup(79, own)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config:      cfg(`system_state_backup_times = { HUB5 = "`+evidenceTime+`" }`, `system_state_backup_times = { hub5 = "`+old+`" }`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`Server HUB5: the last system-state backup is 30d old \(.* supplied by the user\), older than the 7d allowed`),
			},
			{
				Config:   cfg(`system_state_backup_times = { HUB5 = "`+evidenceTime+`", HUB55 = "`+evidenceTime+`" }`, ""),
				PlanOnly: true,
				ExpectError: regexp.MustCompile(`(?s)the provider's backup_evidence\.system_state_backup_times names "HUB55", which is no ` +
					`server of the organisation.*servers\s+are:\s+HUB5,\s+MBX6\.`),
			},
			{
				Config: cfg(`system_state_backup_times = { HUB5 = "`+evidenceTime+`", MBX6 = "`+evidenceTime+`" }`, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue("exchange_update_rollup.hub5", tfjsonpath.New("planned_steps"),
						stepMatching("verify_backups", `system state at .* \(supplied by the user\)`)),
				}},
			},
		},
	})
}

// stepMatching checks that planned_steps holds a step of action whose description matches expr.
type stepCheck struct {
	action string
	re     *regexp.Regexp
}

func stepMatching(action, expr string) stepCheck { return stepCheck{action, regexp.MustCompile(expr)} }

func (c stepCheck) CheckValue(v any) error {
	list, _ := v.([]any)
	for _, e := range list {
		step, _ := e.(map[string]any)
		if d, _ := step["description"].(string); step["action"] == c.action && c.re.MatchString(d) {
			return nil
		}
	}
	return fmt.Errorf("no %s step matches %s: %v", c.action, c.re, v)
}

func (c stepCheck) String() string { return fmt.Sprintf("a %s step matching %s", c.action, c.re) }

// The policy adds a resource's evidence to the provider's: the resource's time counts for a
// key it gives, in any case; the provider's fills the others, and its domain controller time
// stands in for the resource's.
func TestBackupPolicyAddsToProviderEvidence(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2026, 12, 1, h, 0, 0, 0, time.UTC) }
	dc := at(1)
	defaults := &providerEvidence{databases: map[string]time.Time{"BE1": at(2), "BE2": at(3)}, domainController: &dc}
	own := &backupModel{DatabaseBackupTimes: types.MapValueMust(types.StringType, map[string]attr.Value{"be1": types.StringValue(at(4).Format(time.RFC3339))}),
		SystemStateBackupTimes: types.MapNull(types.StringType), DomainControllerBackupTime: types.StringNull()}
	p := own.policy(defaults)
	if len(p.DatabaseBackupTimes) != 2 || !p.DatabaseBackupTimes["be1"].Equal(at(4)) || !p.DatabaseBackupTimes["BE2"].Equal(at(3)) {
		t.Errorf("database times: %v", p.DatabaseBackupTimes)
	}
	if p.DomainControllerBackupTime == nil || !p.DomainControllerBackupTime.Equal(dc) {
		t.Errorf("domain controller time: %v", p.DomainControllerBackupTime)
	}
	if p := (*backupModel)(nil).policy(nil); p.DatabaseBackupTimes != nil || p.DomainControllerBackupTime != nil {
		t.Errorf("no block and no provider evidence: %+v", p)
	}
}
