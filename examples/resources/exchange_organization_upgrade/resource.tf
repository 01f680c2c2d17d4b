# Every server of the organisation to Exchange 2007 SP3 (and 2003 SP2 first), wave by wave:
# internet-facing Client Access, other Client Access, Hub Transport, Mailbox, Unified
# Messaging; two servers of a wave at a time.
resource "exchange_organization_upgrade" "org" {
  discover_through = { server = "CAS01" }
  parallelism      = 2

  targets = [
    { product = "2003", service_pack = 2, media_path = "\\\\files\\media\\E2003SP2" },
    { product = "2007", service_pack = 3, media_path = "\\\\files\\media\\E2007SP3" },
  ]
  remove_interim_updates = ["KB123456"]
  # FE01 and FE02 share a load balancer: upgraded in one downtime window (KB 328839).
  load_balanced_front_ends = [["FE01", "FE02"]]

  backup {
    max_database_age     = "24h"
    max_system_state_age = "168h"
    # From your backup software: an Exchange server cannot read a domain controller's backup.
    domain_controller_backup_time = "2026-11-20T22:00:00Z"
    # Exchange 2003 back-ends cannot tell a mounted database's last backup: each one's from
    # your backup software. A server whose system state another product backs up (no
    # NTBackup log, no Windows Server Backup version on it) needs system_state_backup_times.
    database_backup_times     = { BE01 = "2026-11-20T23:00:00Z" }
    system_state_backup_times = { HUB01 = "2026-11-20T22:00:00Z" }
  }

  timeouts {
    create = "24h"
    update = "24h"
  }
}
