# Exchange 2007 RTM -> SP3 on a non-clustered server, then the newest rollup of SP3.
resource "exchange_service_pack" "hub01" {
  server       = "HUB01"
  service_pack = 3
  media_path   = "\\\\fileserver\\media\\Exchange2007-SP3"

  # Interim updates must be removed before a service pack; name the ones you accept to lose.
  remove_interim_updates = ["KB123456"]
  # Default: every running third-party service the server reports.
  stop_services = ["BackupExecAgentAccelerator"]

  backup {
    max_database_age     = "24h"
    max_system_state_age = "168h"
    # From your backup software: an Exchange server cannot read a domain controller's backup.
    domain_controller_backup_time = "2026-11-20T22:00:00Z"
  }

  timeouts {
    create = "4h"
    update = "4h"
  }
}

resource "exchange_update_rollup" "hub01" {
  server = "HUB01"
  rollup = "latest"
  # Referencing the service pack orders this rollup after it: no slipstream.
  service_pack = exchange_service_pack.hub01.service_pack
  package_path = "\\\\fileserver\\media\\Exchange2007-SP3-RU23-x64.msp"

  backup {
    max_database_age     = "24h"
    max_system_state_age = "168h"
    # From your backup software: an Exchange server cannot read a domain controller's backup.
    domain_controller_backup_time = "2026-11-20T22:00:00Z"
  }
}

output "hub01_steps" {
  value = [for s in exchange_service_pack.hub01.planned_steps : s.description]
}
