# A CCR clustered mailbox server to SP3: the passive node, then the CMS moved to it and
# upgraded with /upgradeCMS (the downtime), then the old active node.
resource "exchange_cluster_upgrade" "cms01" {
  cluster      = "CMS01"
  service_pack = 3
  media_path   = "\\\\files\\media\\E2007SP3"
  # nodes are read from the cluster when not listed:
  # nodes = [{ server = "MBX01A" }, { server = "MBX01B" }]

  backup {
    max_database_age     = "24h"
    max_system_state_age = "168h"
    # From your backup software: an Exchange server cannot read a domain controller's backup.
    domain_controller_backup_time = "2026-11-20T22:00:00Z"
  }
}

output "cms01_downtime" {
  value = exchange_cluster_upgrade.cms01.downtime
}

# An Exchange 2003 active/active cluster (EVS01 on BE01, EVS02 on BE02) to SP2, named by the
# Windows cluster's own name: both EVSs are upgraded, one at a time, and end on their nodes.
resource "exchange_cluster_upgrade" "be_cluster" {
  cluster      = "BECLUSTER"
  service_pack = 2
  media_path   = "\\\\files\\media\\E2003SP2"

  backup {
    max_database_age     = "24h"
    max_system_state_age = "168h"
    # From your backup software: an Exchange server cannot read a domain controller's backup.
    domain_controller_backup_time = "2026-11-20T22:00:00Z"
    # Exchange 2003 cannot tell a mounted database's last backup: give each node's (every
    # database it holds) from your backup software.
    database_backup_times = {
      BE01 = "2026-11-20T23:00:00Z"
      BE02 = "2026-11-20T23:00:00Z"
    }
  }
}

output "be_cluster_owners" {
  value = exchange_cluster_upgrade.be_cluster.owners
}
