data "exchange_server" "mbx" {
  server  = "MBX01A"
  address = "mbx01a.contoso.local" # optional; default: server
}

output "mbx_level" {
  value = "${data.exchange_server.mbx.level} (${data.exchange_server.mbx.build})"
}

# Stop a pipeline early when setup was left half-done on the server.
check "no_interrupted_setup" {
  assert {
    condition     = length(data.exchange_server.mbx.setup.watermarks) == 0
    error_message = "MBX01A has an interrupted Exchange setup: finish or roll it back before servicing."
  }
}
