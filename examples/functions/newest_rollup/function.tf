# Report the servers that are below the newest update rollup of their service pack.
data "exchange_server" "mbx01" {
  server  = "MBX01"
  address = "mbx01.corp.example"
}

locals {
  level  = provider::exchange::parse_build(data.exchange_server.mbx01.build)
  newest = provider::exchange::newest_rollup(local.level.product, local.level.service_pack)
}

output "mbx01_rollup_due" {
  value = provider::exchange::compare_builds(data.exchange_server.mbx01.build, local.newest) < 0
}
