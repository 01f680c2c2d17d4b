# Refuse a configuration that would declare a build older than the one a server runs.
variable "target_build" {
  type    = string
  default = "8.3.279.6"
}

data "exchange_server" "mbx01" {
  server  = "MBX01"
  address = "mbx01.corp.example"
}

check "not_a_downgrade" {
  assert {
    condition     = provider::exchange::compare_builds(var.target_build, data.exchange_server.mbx01.build) >= 0
    error_message = "target_build ${var.target_build} is older than the build MBX01 runs (${data.exchange_server.mbx01.build})."
  }
}
