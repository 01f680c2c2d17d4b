package simulator

import (
	"strings"
	"testing"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
)

// The probe's answer holds a backup only where a real probe.ps1 reads one: 2007 databases'
// LastFullBackup, and a system-state backup taken by NTBackup (Windows 2003) or Windows
// Server Backup (Windows 2008). Everything else the fleet knows stays hidden.
func TestBackupsOnlyThroughTheSourcesTheProbeReads(t *testing.T) {
	fleet, err := ParseFleet(strings.NewReader(`{
  "credentials": {"username": "CONTOSO\\admin", "password": "pw"},
  "servers": [
    {"name": "BE01", "address": "127.0.0.1", "product": "2003", "build": "6.5.7638.2", "roles": ["BackEnd"],
     "last_full_backup": "2024-05-01T23:00:00Z", "last_system_state_backup": "2024-05-01T22:00:00Z"},
    {"name": "MBX08", "address": "127.0.0.2", "product": "2007", "build": "8.3.83.6", "roles": ["Mailbox"],
     "os": {"caption": "Microsoft Windows Server 2008 Enterprise", "version": "6.0.6001", "service_pack": 2},
     "last_full_backup": "2024-05-01T23:00:00Z", "last_system_state_backup": "2024-05-01T22:00:00Z"},
    {"name": "HUB01", "address": "127.0.0.3", "product": "2007", "build": "8.3.83.6", "roles": ["HubTransport"],
     "last_system_state_backup": "2024-05-01T22:00:00Z", "system_state_backup_tool": "other"}
  ],
  "clusters": []
}`))
	if err != nil {
		t.Fatal(err)
	}
	facts := map[string]exchange.BackupFacts{}
	for _, s := range fleet.Servers {
		facts[s.Name] = newHost(s, nil, testBoot).Facts().Backups
	}
	at := func(s string) string {
		t, _ := time.Parse(time.RFC3339, s)
		return t.String()
	}
	if b := facts["BE01"]; b.DatabasesRead || len(b.Databases) != 0 {
		t.Errorf("BE01 (2003): databases %+v read %v; a mounted 2003 database's backup cannot be read", b.Databases, b.DatabasesRead)
	} else if b.SystemState == nil || b.SystemState.String() != at("2024-05-01T22:00:00Z") || b.SystemStateSource != exchange.SystemStateFromNTBackupLog {
		t.Errorf("BE01 (Windows 2003): system state %v from %q, want NTBackup's log", b.SystemState, b.SystemStateSource)
	}
	if b := facts["MBX08"]; !b.DatabasesRead || len(b.Databases) != 1 || b.Databases[0].LastFull == nil {
		t.Errorf("MBX08 (2007): databases %+v, want LastFullBackup read", b.Databases)
	} else if b.SystemState == nil || b.SystemStateSource != exchange.SystemStateFromWbadmin {
		t.Errorf("MBX08 (Windows 2008): system state %v from %q, want wbadmin", b.SystemState, b.SystemStateSource)
	}
	if b := facts["HUB01"]; b.SystemState != nil || b.SystemStateSource != "" {
		t.Errorf("HUB01 (another backup product): system state %v from %q, want none", b.SystemState, b.SystemStateSource)
	}
}
