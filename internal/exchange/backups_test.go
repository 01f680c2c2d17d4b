package exchange

import (
	"strings"
	"testing"
	"time"
)

// backEnd2003 is an Exchange 2003 back-end as the probe reads it on a real server: its
// databases' backups unreadable (mounted databases), its system state from NTBackup's log.
func backEnd2003(f *Facts) {
	f.Product, f.Build, f.Roles = "2003", "6.5.7226", []string{"BackEnd"}
	f.Backups = BackupFacts{DatabasesRead: false, Databases: []DatabaseBackup{}, SystemState: ago(2 * day), SystemStateSource: SystemStateFromNTBackupLog}
}

func withBackup(mod func(*BackupPolicy)) func(*ServicePackRequest) {
	return func(r *ServicePackRequest) { mod(&r.Backup) }
}

// Where a server does not let the probe read a backup, the user's evidence is checked
// like a read one, and the verify_backups step says where every age came from.
func TestBackupEvidence(t *testing.T) {
	for _, tc := range []struct {
		name  string
		facts Facts
		req   ServicePackRequest
		desc  []string
	}{
		{"2007: everything read from the server", server("2007", "8.2.176.2"), spRequest(3),
			[]string{"the system state of the server and of a domain controller younger than 7d",
				"oldest database backup Public Folder Database at 2024-05-01 10:00 UTC (read from the server: Get-MailboxDatabase -Status, LastFullBackup)",
				"system state at 2024-04-30 06:00 UTC (read from the server: NTBackup's backup log)",
				"domain controller's system state at 2024-05-01 06:00 UTC (supplied by the user)"}},
		{"Windows 2008: the system state from wbadmin", server("2007", "8.2.176.2", func(f *Facts) { f.Backups.SystemStateSource = SystemStateFromWbadmin }),
			spRequest(3), []string{"system state at 2024-04-30 06:00 UTC (read from the server: wbadmin get versions)"}},
		{"2003 back-end: every database's backup supplied for the server", server("2003", "6.5.7226", backEnd2003),
			spRequest(2, withBackup(func(b *BackupPolicy) { b.DatabaseBackupTimes = map[string]time.Time{"ex01": *ago(3 * time.Hour)} })),
			[]string{"every database of EX01 last backed up at 2024-05-02 03:00 UTC (supplied by the user)"}},
		{"2003 back-end: databases supplied one by one", server("2003", "6.5.7226", backEnd2003),
			spRequest(2, withBackup(func(b *BackupPolicy) {
				b.DatabaseBackupTimes = map[string]time.Time{`EX01\SG1\Mailbox Store`: *ago(3 * time.Hour), `EX01\SG1\Public Folder Store`: *ago(5 * time.Hour),
					`EX02\SG1\Mailbox Store`: *ago(30 * day)} // another server's: not this plan's business
			})),
			[]string{`oldest database backup SG1\Public Folder Store at 2024-05-02 01:00 UTC (supplied by the user), newest SG1\Mailbox Store at 2024-05-02 03:00 UTC (supplied by the user)`}},
		{"system state by another product: supplied", server("2007", "8.2.176.2", func(f *Facts) { f.Backups.SystemState, f.Backups.SystemStateSource = nil, "" }),
			spRequest(3, withBackup(func(b *BackupPolicy) { b.SystemStateBackupTimes = map[string]time.Time{"EX01": *ago(day)} })),
			[]string{"system state at 2024-05-01 06:00 UTC (supplied by the user)"}},
		{"a supplied time older than the read one: the read one counts", server("2007", "8.2.176.2"),
			spRequest(3, withBackup(func(b *BackupPolicy) { b.SystemStateBackupTimes = map[string]time.Time{"EX01": *ago(6 * day)} })),
			[]string{"system state at 2024-04-30 06:00 UTC (read from the server: NTBackup's backup log)"}},
		{"a supplied time newer than a read one replaces it", server("2007", "8.2.176.2", func(f *Facts) { f.Backups.Databases[0].LastFull = ago(3 * day) }),
			spRequest(3, withBackup(func(b *BackupPolicy) {
				b.DatabaseBackupTimes = map[string]time.Time{`EX01\Mailbox Database`: *ago(2 * time.Hour)}
			})),
			[]string{"newest Mailbox Database at 2024-05-02 04:00 UTC (supplied by the user)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustPlan(t)(PlanServicePack(tc.facts, tc.req, DefaultCatalog()))
			wantContains(t, "verify_backups", step(t, p, ActionVerifyBackups, 0).Description, tc.desc...)
		})
	}
}

// What can be neither read nor was supplied is refused, with the attribute to set; every
// reason at once.
func TestBackupEvidenceRefusals(t *testing.T) {
	for _, tc := range []struct {
		name      string
		facts     Facts
		req       ServicePackRequest
		fragments [][]string
	}{
		{"2003 back-end without evidence", server("2003", "6.5.7226", backEnd2003), spRequest(2),
			[][]string{{"the last full backups of the databases on EX01 could not be read", "eseutil /mh cannot read it while the database is mounted",
				`database_backup_times = { "EX01" = "<RFC 3339 time>" }`}}},
		{"2007 without the management snap-in", server("2007", "8.2.176.2", func(f *Facts) { f.Backups.DatabasesRead, f.Backups.Databases = false, nil }), spRequest(3),
			[][]string{{"Get-MailboxDatabase -Status", `database_backup_times = { "EX01"`}}},
		{"system state left by another product, no evidence", server("2007", "8.2.176.2", func(f *Facts) { f.Backups.SystemState, f.Backups.SystemStateSource = nil, "" }), spRequest(3),
			[][]string{{"no system-state backup of EX01 was found", "NTBackup's backup logs", "wbadmin get versions", `system_state_backup_times = { "EX01"`}}},
		{"no domain controller backup supplied, and a supplied server time too old",
			server("2007", "8.2.176.2", func(f *Facts) { f.Backups.SystemState, f.Backups.SystemStateSource = nil, "" }),
			spRequest(3, withBackup(func(b *BackupPolicy) {
				b.DomainControllerBackupTime = nil
				b.SystemStateBackupTimes = map[string]time.Time{"EX01": *ago(8 * day)}
			})),
			[][]string{
				{"domain controller", "KB 328839", `domain_controller_backup_time = "<RFC 3339 time>"`},
				{"the last system-state backup is 8d old (2024-04-24 06:00 UTC, supplied by the user), older than the 7d allowed"}}},
		{"domain controller backup too old", server("2007", "8.2.176.2"),
			spRequest(3, withBackup(func(b *BackupPolicy) { b.DomainControllerBackupTime = ago(10 * day) })),
			[][]string{{"the last system-state backup of a domain controller is 10d old", "supplied by the user", "take a system-state backup of a domain controller"}}},
		{"a supplied time in the future", server("2007", "8.2.176.2"),
			spRequest(3, withBackup(func(b *BackupPolicy) { f := now.Add(48 * time.Hour); b.DomainControllerBackupTime = &f })),
			[][]string{{"in the future", "correct the time"}}},
		{"a supplied database the server does not have", server("2007", "8.2.176.2"),
			spRequest(3, withBackup(func(b *BackupPolicy) {
				b.DatabaseBackupTimes = map[string]time.Time{`EX01\Mailbox Databse`: *ago(time.Hour)}
			})),
			[][]string{{`names database "Mailbox Databse" of EX01, which the server does not have`, "Mailbox Database, Public Folder Database"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := PlanServicePack(tc.facts, tc.req, DefaultCatalog())
			if err == nil {
				t.Fatal("planned instead of refusing")
			}
			rs := refusals(t, err)
			seen := map[string]bool{}
			for _, r := range rs {
				if seen[r.Problem] {
					t.Errorf("refused twice: %s", r.Problem)
				}
				seen[r.Problem] = true
			}
			for _, frags := range tc.fragments {
				if !hasRefusal(rs, FieldBackup, frags...) {
					t.Errorf("no backup refusal with %q in:\n%v", frags, err)
				}
			}
		})
	}
}

// A waiver still covers everything the provider cannot read.
func TestBackupWaiverCoversUnreadableBackups(t *testing.T) {
	p := mustPlan(t)(PlanServicePack(server("2003", "6.5.7226", backEnd2003),
		spRequest(2, withBackup(func(b *BackupPolicy) {
			b.WaiverReason, b.DomainControllerBackupTime = "checked in the backup console, CHG-1", nil
		})),
		DefaultCatalog()))
	if d := step(t, p, ActionVerifyBackups, 0).Description; !strings.HasPrefix(d, "backup check waived: checked in the backup console") {
		t.Errorf("verify_backups %q", d)
	}
	wantWarning(t, p, "the backup check is waived")
}

// KB 328839 ("How to apply Exchange service packs and hotfixes") asks for a system-state
// backup of a domain controller before a service pack; "How to Install the Latest Service
// Pack or Update Rollup for Exchange 2007" asks, before an update rollup, only for the
// server's databases and its system state. So a rollup or an interim update plans without
// domain_controller_backup_time, and does not check one that is supplied; a service pack
// without it is refused.
func TestDomainControllerBackupOnlyBeforeAServicePack(t *testing.T) {
	noDC := func(o *Options) { o.Backup.DomainControllerBackupTime = nil }
	staleDC := func(o *Options) { o.Backup.DomainControllerBackupTime = ago(30 * day) }
	f := server("2007", "8.3.83.6")
	for name, plan := range map[string]func(func(*Options)) (Plan, error){
		"update rollup": func(mod func(*Options)) (Plan, error) {
			return PlanUpdateRollup(f, ruRequest(0, func(r *UpdateRollupRequest) { r.Latest, r.Options = true, options(mod) }), DefaultCatalog())
		},
		"interim update": func(mod func(*Options)) (Plan, error) {
			return PlanInterimUpdate(f, InterimUpdateRequest{KB: "KB888888", Present: true, PackagePath: `\\files\iu\KB888888.msp`, Options: options(mod)}, DefaultCatalog())
		},
	} {
		for _, mod := range []func(*Options){noDC, staleDC} {
			p := mustPlan(t)(plan(mod))
			d := step(t, p, ActionVerifyBackups, 0).Description
			wantContains(t, name+" verify_backups", d, "the system state of the server younger than 7d",
				"system state at 2024-04-30 06:00 UTC (read from the server: NTBackup's backup log)")
			if strings.Contains(d, "domain controller") {
				t.Errorf("%s: verify_backups mentions a domain controller: %s", name, d)
			}
		}
	}

	_, err := PlanServicePack(server("2003", "6.5.7226", backEnd2003), spRequest(2, func(r *ServicePackRequest) {
		noDC(&r.Options)
		r.Backup.DatabaseBackupTimes = map[string]time.Time{"EX01": *ago(time.Hour)}
	}), DefaultCatalog())
	if rs := refusals(t, err); !hasRefusal(rs, "backup", "domain controller", "KB 328839", "before a service pack", `domain_controller_backup_time = "<RFC 3339 time>"`) {
		t.Errorf("a service pack without a domain controller's backup: %v", err)
	}
}
