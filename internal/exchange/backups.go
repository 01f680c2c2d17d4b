package exchange

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Backups: where each backup age of a plan comes from. A real server lets a
// script read only some of them:
//   - Exchange 2007 databases: Get-MailboxDatabase / Get-PublicFolderDatabase -Status,
//     LastFullBackup (the probe's management snap-in).
//   - Exchange 5.5/2000/2003 databases: the database header holds the last backup (eseutil
//     /mh), which cannot be read while the database is mounted: nothing to read.
//   - The server's system state: only the backup tool's own traces. The probe reads
//     NTBackup's backup report logs on Windows 2000/2003 and `wbadmin get versions` on
//     Windows 2008 (probe.ps1 names the sources); a backup taken by another product leaves
//     no record the server shows.
//   - A domain controller's system state: an Exchange server cannot read it at all. It is
//     asked for before a service pack only: KB 328839 ("How to apply Exchange service packs
//     and hotfixes") asks, before a service pack, for a system-state backup of the Exchange
//     server and of a domain controller of its domain, since going back means restoring
//     both as they were; "How to Install the Latest Service Pack or Update Rollup for
//     Exchange 2007" asks, before a service pack or an update rollup, for the databases and
//     the server's system state only. KB 328839 covers Exchange 5.5, 2000 and 2003; asking
//     for it before an Exchange 2007 service pack too is our reading, as such a service
//     pack changes Active Directory as well (it runs PrepareAD and PrepareDomain where they
//     were not run first: "Service Packs für Exchange 2007", msxfaq).
// What cannot be read, the user supplies from their backup system (BackupPolicy), and the
// plan checks it exactly like a read one, saying in the verify_backups step where each age
// came from.

const suppliedByUser = "supplied by the user"

// backupEvidence is one backup a plan measures: its time and where that time came from.
type backupEvidence struct {
	name    string     // the database ("First Storage Group\Mailbox Database", "every database of BE01")
	subject string     // for messages: `the last full backup of database "…"`, "the last system-state backup"
	at      *time.Time // nil: no backup known
	source  string     // "read from the server: …" or suppliedByUser
}

func databaseEvidence(name string, at *time.Time, source string) backupEvidence {
	return backupEvidence{name: name, subject: fmt.Sprintf("the last full backup of database %q", name), at: at, source: source}
}

// readFrom is the source text of a value the probe read from the server.
func readFrom(means string) string { return "read from the server: " + means }

// systemStateSourceText names a probe source for the plan.
func systemStateSourceText(source string) string {
	switch source {
	case SystemStateFromNTBackupLog:
		return readFrom("NTBackup's backup log")
	case SystemStateFromWbadmin:
		return readFrom("wbadmin get versions")
	}
	return readFrom("unknown source")
}

// newer is the newer of a read and a supplied time, with its source; either may be nil.
func newer(read *time.Time, readSource string, supplied *time.Time) (*time.Time, string) {
	switch {
	case supplied == nil:
		return read, readSource
	case read == nil || supplied.After(*read):
		return supplied, suppliedByUser
	}
	return read, readSource
}

// suppliedFor is the user's time for key on this server: "<server>" or
// "<server>\<database>", compared case-insensitively as Exchange compares names.
func suppliedFor(times map[string]time.Time, key string) *time.Time {
	for k, t := range times {
		if strings.EqualFold(k, key) {
			t := t
			return &t
		}
	}
	return nil
}

// suppliedDatabases are the user's per-database times for this server, by database name.
func (p *planning) suppliedDatabases() map[string]time.Time {
	out := map[string]time.Time{}
	for k, t := range p.opts.Backup.DatabaseBackupTimes {
		server, db, ok := strings.Cut(k, `\`)
		if ok && strings.EqualFold(server, p.server) && db != "" {
			out[db] = t
		}
	}
	return out
}

// databaseBackups are the databases' last full backups, each with its source. When the
// server does not let the probe read them, they are what the user supplied for it: one
// time for every database ("<server>") or per database; none at all is a nil list.
func (p *planning) databaseBackups() (list []backupEvidence, read bool, unknown []string) {
	b := p.f.Backups
	perServer := suppliedFor(p.opts.Backup.DatabaseBackupTimes, p.server)
	perDB := p.suppliedDatabases()
	if !b.DatabasesRead {
		if perServer != nil {
			list = append(list, backupEvidence{name: "every database of " + p.server,
				subject: "the last full backup of every database of " + p.server, at: perServer, source: suppliedByUser})
		}
		names := make([]string, 0, len(perDB))
		for n := range perDB {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			t := perDB[n]
			list = append(list, databaseEvidence(n, &t, suppliedByUser))
		}
		return list, false, nil
	}
	known := map[string]bool{}
	for _, db := range b.Databases {
		known[strings.ToLower(db.Name)] = true
		supplied := perServer
		for n, t := range perDB {
			if strings.EqualFold(n, db.Name) && (supplied == nil || t.After(*supplied)) {
				t := t
				supplied = &t
			}
		}
		at, src := newer(db.LastFull, readFrom("Get-MailboxDatabase -Status, LastFullBackup"), supplied)
		list = append(list, databaseEvidence(db.Name, at, src))
	}
	for n := range perDB {
		if !known[strings.ToLower(n)] {
			unknown = append(unknown, n)
		}
	}
	sort.Strings(unknown)
	return list, true, unknown
}

func databaseNames(dbs []DatabaseBackup) string {
	if len(dbs) == 0 {
		return "none"
	}
	names := make([]string, len(dbs))
	for i, db := range dbs {
		names[i] = db.Name
	}
	return strings.Join(names, ", ")
}

// systemStateBackup is the server's last system-state backup: read from the backup tool's
// traces, or supplied by the user, whichever is newer.
func (p *planning) systemStateBackup() backupEvidence {
	at, src := newer(p.f.Backups.SystemState, systemStateSourceText(p.f.Backups.SystemStateSource),
		suppliedFor(p.opts.Backup.SystemStateBackupTimes, p.server))
	return backupEvidence{name: "system state", subject: "the last system-state backup", at: at, source: src}
}

// checkDatabaseBackups refuses every database whose last full backup is unknown or older
// than the policy allows.
func (p *planning) checkDatabaseBackups(maxAge time.Duration) {
	list, read, unknown := p.databaseBackups()
	for _, n := range unknown {
		p.refuse(FieldBackup, fmt.Sprintf(`database_backup_times names database %q of %s, which the server does not have (it has %s)`,
			n, p.server, databaseNames(p.f.Backups.Databases)),
			"correct the name (as \"<server>\\\\<storage group>\\\\<database>\") or remove it")
	}
	if !read && len(list) == 0 {
		why := "the provider cannot read them on Exchange 5.5, 2000 or 2003: the database header holds the last backup, and eseutil /mh cannot read it while the database is mounted"
		if p.f.Product == "2007" {
			why = "the probe could not use the Exchange 2007 management snap-in (Get-MailboxDatabase -Status) or reach a domain controller"
		}
		p.refuse(FieldBackup, fmt.Sprintf("the last full backups of the databases on %s could not be read (%s), so max_database_age cannot be checked", p.server, why),
			fmt.Sprintf(`set database_backup_times = { %q = "<RFC 3339 time>" } in the backup block (or the provider's backup_evidence) to the last full backup of every database on %s, from your backup software (or set waiver_reason saying what you checked)`, p.server, p.server))
		return
	}
	for _, e := range list {
		take := fmt.Sprintf("take a full backup of %q before the install", e.name)
		if e.at == nil {
			p.refuse(FieldBackup, fmt.Sprintf("database %q has never had a full backup", e.name), take+" (or set the backup waiver with a reason)")
			continue
		}
		p.checkAge(e, maxAge, "max_database_age", take)
	}
}

// checkSystemStateBackups refuses a server system state, and before a service pack a
// domain controller system state, that is unknown or older than the policy allows.
func (p *planning) checkSystemStateBackups(maxAge time.Duration, servicePack bool) {
	ss := p.systemStateBackup()
	if ss.at == nil {
		p.refuse(FieldBackup, fmt.Sprintf("no system-state backup of %s was found: the provider reads NTBackup's backup logs (Windows 2000/2003) and wbadmin get versions (Windows 2008), and a backup taken by another product leaves no record on the server", p.server),
			fmt.Sprintf(`take a system-state backup of the server before the install, or set system_state_backup_times = { %q = "<RFC 3339 time>" } in the backup block (or the provider's backup_evidence) from your backup software (or set the backup waiver with a reason)`, p.server))
	} else {
		p.checkAge(ss, maxAge, "max_system_state_age", "take a system-state backup of the server before the install")
	}
	if !servicePack {
		return
	}
	dc := p.domainControllerBackup()
	if dc.at == nil {
		p.refuse(FieldBackup, "the system-state backup of a domain controller of the server's domain (KB 328839 asks for one before a service pack) cannot be read from an Exchange server",
			`set domain_controller_backup_time = "<RFC 3339 time>" in the backup block (or the provider's backup_evidence) to the last system-state backup of a domain controller of the domain, from your backup software (or set the backup waiver with a reason)`)
		return
	}
	p.checkAge(dc, maxAge, "max_system_state_age", "take a system-state backup of a domain controller of the domain before the install")
}

func (p *planning) domainControllerBackup() backupEvidence {
	return backupEvidence{name: "domain controller's system state", subject: "the last system-state backup of a domain controller",
		at: p.opts.Backup.DomainControllerBackupTime, source: suppliedByUser}
}

// checkAge refuses e when it is older than maxAge, or later than now (a supplied time from
// the future is a typo, not evidence).
func (p *planning) checkAge(e backupEvidence, maxAge time.Duration, maxAttr, take string) {
	age := p.opts.Now.Sub(*e.at)
	switch {
	case age < -time.Minute:
		p.refuse(FieldBackup, fmt.Sprintf("%s is at %s, which is in the future (%s)", e.subject, fmtTime(*e.at), e.source),
			"correct the time (RFC 3339, with its time zone)")
	case age >= maxAge:
		p.refuse(FieldBackup, fmt.Sprintf("%s is %s old (%s, %s), older than the %s allowed",
			e.subject, fmtDuration(age), fmtTime(*e.at), e.source, fmtDuration(maxAge)),
			fmt.Sprintf("%s (or raise %s, or set the backup waiver with a reason)", take, maxAttr))
	}
}

// backupsFound summarises the backups the plan measures, each with where it came from:
// oldest and newest database backup, the system state, and before a service pack the
// domain controller's.
func (p *planning) backupsFound(servicePack bool) string {
	dbs, read, _ := p.databaseBackups()
	var dated []backupEvidence
	var never []string
	for _, db := range dbs {
		if db.at == nil {
			never = append(never, db.name)
		} else {
			dated = append(dated, db)
		}
	}
	sort.SliceStable(dated, func(i, j int) bool { return dated[i].at.Before(*dated[j].at) })
	var parts []string
	switch len(dated) {
	case 0:
	case 1:
		name := "database " + dated[0].name
		if strings.HasPrefix(dated[0].subject, "the last full backup of every database") {
			name = dated[0].name
		}
		parts = append(parts, fmt.Sprintf("%s last backed up %s", name, p.evidence(dated[0])))
	default:
		o, n := dated[0], dated[len(dated)-1]
		parts = append(parts, fmt.Sprintf("oldest database backup %s %s, newest %s %s", o.name, p.evidence(o), n.name, p.evidence(n)))
	}
	if len(never) > 0 {
		parts = append(parts, "never backed up: "+strings.Join(never, ", "))
	}
	switch {
	case !read && len(dbs) == 0:
		parts = append(parts, "databases' backups not readable on the server")
	case read && len(dbs) == 0:
		parts = append(parts, "no databases on this server")
	}
	if ss := p.systemStateBackup(); ss.at != nil {
		parts = append(parts, "system state "+p.evidence(ss))
	} else {
		parts = append(parts, "no system-state backup found")
	}
	if dc := p.domainControllerBackup(); dc.at != nil && servicePack {
		parts = append(parts, "domain controller's system state "+p.evidence(dc))
	}
	return "found: " + strings.Join(parts, "; ")
}

// evidence is "at 2024-05-01 22:00 UTC (read from the server: …)".
func (p *planning) evidence(e backupEvidence) string {
	return p.when(*e.at) + " (" + e.source + ")"
}
