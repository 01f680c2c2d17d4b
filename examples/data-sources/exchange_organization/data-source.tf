# The whole organisation, discovered in Active Directory through one server, and the
# order in which it must be brought to the targets.
data "exchange_organization" "org" {
  discover_through = { server = "CAS01" }
  targets = [
    { product = "2003", service_pack = 2 },
    { product = "2007", service_pack = 3, update_rollup = "latest" },
  ]
}

output "waves" {
  value = [for w in data.exchange_organization.org.waves : "${w.index}. ${w.name}: ${join(", ", w.servers)}"]
}
