# Discovered through one server, as the configuration's discover_through; the targets are
# not on the servers: the first plan adds them from the configuration and plans no step
# where the servers are at their targets.
import {
  to = exchange_organization_upgrade.org
  id = "CAS01" # or "CAS01@10.0.20.11"; a list of servers: "MBX01,MBX02@10.0.20.32"
}
