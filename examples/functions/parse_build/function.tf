# The level a server reports, in words, for a review or an output.
data "exchange_server" "mbx01" {
  server  = "MBX01"
  address = "mbx01.corp.example"
}

locals {
  mbx01 = provider::exchange::parse_build(data.exchange_server.mbx01.build)
}

output "mbx01_level" {
  # "Exchange 2007 SP3 Update Rollup 8 (re-release v3)"
  value = local.mbx01.name
}

output "mbx01_on_sp3" {
  value = local.mbx01.product == "2007" && local.mbx01.service_pack == 3
}
