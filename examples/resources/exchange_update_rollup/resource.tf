resource "exchange_update_rollup" "cas01" {
  server       = "CAS01"
  rollup       = "23" # or "latest", or a re-release such as "8-v3"
  package_path = "\\\\fileserver\\media\\Exchange2007-SP3-RU23-x64.msp"
  # The build catalog states no verified KB for SP1-SP3 rollups: give the rollup's KB from its
  # release notes (placeholder here), so the installed patch is named and found by it.
  kb = "KB0000000"

  remove_interim_updates = ["KB123456"]

  backup {
    # No backup agent on a Client Access server: say why the check is waived.
    waiver_reason = "CAS01 holds no databases; system state is rebuilt from the build document (CHG-1234)"
  }
}
