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
  }
}

output "cms01_downtime" {
  value = exchange_cluster_upgrade.cms01.downtime
}
