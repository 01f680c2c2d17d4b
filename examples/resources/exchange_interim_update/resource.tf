# A hotfix that must be on an Exchange 2003 back-end server.
resource "exchange_interim_update" "be01_hotfix" {
  server       = "BE01"
  kb           = "KB123456"
  package_path = "\\\\fileserver\\media\\hotfixes\\KB123456.exe"

  backup {
    max_database_age     = "24h"
    max_system_state_age = "168h"
    # Exchange 2003 cannot tell a mounted database's last backup: from your backup software.
    # (A domain controller's system state is asked for before a service pack only.)
    database_backup_times = { BE01 = "2026-11-20T23:00:00Z" }
  }
}

# One that must not be there.
resource "exchange_interim_update" "mbx_old_iu" {
  server  = "MBX01"
  kb      = "KB654321"
  present = false

  backup {
    max_database_age = "24h"
  }
}
