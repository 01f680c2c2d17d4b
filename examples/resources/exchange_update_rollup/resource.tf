resource "exchange_update_rollup" "cas01" {
  server       = "CAS01"
  rollup       = "23" # or "latest", or a re-release such as "8-v3"
  package_path = "\\\\fileserver\\media\\Exchange2007-SP3-RU23-x64.msp"
  # kb is taken from the build catalog (SP3 RU23 is KB4011325); set it only for a rollup the
  # catalog has no KB for (Exchange 2007 RTM Update Rollups 5 and 6).

  remove_interim_updates = ["KB123456"]

  backup {
    # No backup agent on a Client Access server: say why the check is waived.
    waiver_reason = "CAS01 holds no databases; system state is rebuilt from the build document (CHG-1234)"
  }

  # This change's approved windows (RFC 3339, with offsets), instead of the provider's default.
  maintenance_window {
    intervals = [
      { start = "2026-12-05T22:00:00+01:00", end = "2026-12-06T02:00:00+01:00" },
      { start = "2026-12-12T22:00:00+01:00", end = "2026-12-13T02:00:00+01:00" },
    ]
  }
}
