# Import through the server the organisation is discovered through.
terraform import exchange_organization_upgrade.org CAS01
