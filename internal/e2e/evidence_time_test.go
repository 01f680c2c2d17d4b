package e2e

import "time"

// evidenceTime stands for a time the user's backup software reports (a database's or a
// domain controller's last backup): an hour before the tests started, fixed for the run so
// that a second plan sees the same configuration.
var evidenceTime = time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
