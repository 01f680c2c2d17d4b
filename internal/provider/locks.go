package provider

import "github.com/buildlevel/terraform-provider-exchange/internal/servicing"

// lockServer is serverLock by server name (servicing.OrganizationOptions.Lock).
func (d *providerData) lockServer(server string) (unlock func()) {
	return d.serverLock(d.targetOfServer(server))
}

// lockServers takes serverLock of every server in servicing.LockOrder, the one order every
// apply that holds several servers uses (exchange_cluster_upgrade, and each cluster of
// exchange_organization_upgrade through servicing.ApplyOrganization).
func (d *providerData) lockServers(servers []string) (unlock func()) {
	return servicing.LockAll(servers, d.lockServer)
}
