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

  backup {
    max_database_age     = "24h"
    max_system_state_age = "168h"
  }

  timeouts {
    create = "24h"
    update = "24h"
  }
}
