package simulator

import (
	"slices"
	"strconv"
	"strings"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
)

// Backups as a real server lets probe.ps1 see them (docs/simulator.md, "What real servers do
// that the simulator models"). The fleet states the truth (when the last
// backups were taken, and by which tool); the probe's answer holds only what the script
// really reads:
//   - Exchange 2007 databases: LastFullBackup from Get-MailboxDatabase -Status.
//   - Exchange 5.5/2000/2003 databases: nothing (the header of a mounted database cannot be
//     read), so databases_read is false on a server that holds stores.
//   - The system state: only when the tool that took it leaves the trace probe.ps1 reads,
//     NTBackup's backup log on Windows 2000/2003, `wbadmin get versions` on Windows 2008; a
//     backup taken by another product ("other") leaves none.

// The system_state_backup_tool values of a fleet server.
const (
	BackupToolNTBackup            = "ntbackup"
	BackupToolWindowsServerBackup = "windows_server_backup"
	BackupToolOther               = "other"
)

// windowsNT6 reports whether the OS is Windows Server 2008 or later (version 6.x and up).
func windowsNT6(os exchange.OSFacts) bool {
	major, _, _ := strings.Cut(os.Version, ".")
	n, err := strconv.Atoi(major)
	return err == nil && n >= 6
}

// systemStateTool resolves system_state_backup_tool: default the tool the server's Windows
// ships (NTBackup up to 2003, Windows Server Backup from 2008); a tool its Windows does not
// have is a fleet error.
func (v *validator) systemStateTool(at string, tool *string, os exchange.OSFacts) string {
	builtIn := BackupToolNTBackup
	if windowsNT6(os) {
		builtIn = BackupToolWindowsServerBackup
	}
	if tool == nil {
		return builtIn
	}
	switch t := *tool; {
	case t == BackupToolOther || t == builtIn:
		return t
	case t == BackupToolNTBackup || t == BackupToolWindowsServerBackup:
		v.add("%s: system_state_backup_tool %q is not part of %s (os version %s): use %q or %q", at, t, os.Caption, os.Version, builtIn, BackupToolOther)
	default:
		v.add("%s: system_state_backup_tool %q is not one of %q, %q, %q", at, t, BackupToolNTBackup, BackupToolWindowsServerBackup, BackupToolOther)
	}
	return builtIn
}

// backupFacts are the backups as probe.ps1 reads them from the host's state.
func (s State) backupFacts() exchange.BackupFacts {
	b := exchange.BackupFacts{Databases: []exchange.DatabaseBackup{}, DatabasesRead: true}
	holdsStores := s.Product == "5.5" || slices.Contains(s.Roles, "Mailbox") || slices.Contains(s.Roles, "BackEnd")
	if s.Product == "2007" {
		b.Databases = nonNil(s.Databases)
	} else if holdsStores {
		b.DatabasesRead = false
	}
	if s.SystemStateBackup != nil {
		switch s.SystemStateBackupTool {
		case BackupToolNTBackup:
			b.SystemState, b.SystemStateSource = clonePtr(s.SystemStateBackup), exchange.SystemStateFromNTBackupLog
		case BackupToolWindowsServerBackup:
			b.SystemState, b.SystemStateSource = clonePtr(s.SystemStateBackup), exchange.SystemStateFromWbadmin
		}
	}
	return b
}
