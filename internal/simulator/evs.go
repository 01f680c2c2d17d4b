package simulator

import (
	"fmt"
	"strings"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
)

// The Exchange 2003 virtual server upgrade (domain.md §6 "Exchange 2003" step 6; KB 328839
// steps 11–12): after a service pack, an EVS must be upgraded in Cluster Administrator
// (right-click the System Attendant resource, "Upgrade Exchange Virtual Server"), which
// updates its server object in Active Directory to the new version; until then its System
// Attendant does not come online on the upgraded node (MSExchangeCluster event 1025). No
// command line for the task is documented, so no script can do it: the simulator offers
// it as an administrator's control, UpgradeVirtualServer, for tests and the demo.

// operationAdministrator names the journal entries of what an administrator does by hand
// through a control of the simulator (UpgradeVirtualServer), not through a script.
const operationAdministrator = "administrator"

// setADVersions fills in each Exchange 2000/2003 virtual server's ADVersion: the
// serialNumber of its Exchange server object in Active Directory, which says the build it
// was last upgraded for (probe.ps1 Get-ExVirtualServerVersions reads it).
func (c *LiveCluster) setADVersions(f *exchange.ClusterFacts) {
	if f == nil || (c.product != "2000" && c.product != "2003") {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range f.Groups {
		if g := c.findGroupLocked(f.Groups[i].Name); c.isExchangeGroup(g) {
			f.Groups[i].ADVersion = exchange.FormatADVersion(g.upgraded, servicePackOf(c.product, g.upgraded))
		}
	}
}

// UpgradeVirtualServer is what an administrator does in Cluster Administrator on node on:
// right-click the System Attendant resource of Exchange 2003 virtual server evs and choose
// "Upgrade Exchange Virtual Server" (KB 328839 step 11). It refuses as Exchange does, with
// error c1037b44 ("the version of Exchange on this computer does not match"), unless every
// precondition of KB 328839's troubleshooting holds: the EVS on a node with a newer service
// pack than the one it was upgraded for, Cluster Administrator run on such a node, the
// System Attendant offline, only IP address, network name and physical disk online in the
// group, a Distributed Transaction Coordinator online. Then the EVS is recorded at its
// node's build (its ADVersion); its resources stay as they are: bringing them online is
// KB 328839 step 12. The control is journaled (operation "administrator", Action upgrade_evs) on node on.
func (c *LiveCluster) UpgradeVirtualServer(evs, on string) error {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	views := c.views()
	c.mu.Lock()
	detail, err := c.upgradeVirtualServerLocked(evs, on, views)
	c.mu.Unlock()
	journal := func(outcome string) {
		if h := c.hosts[strings.ToLower(on)]; h != nil {
			h.env.journal.record(Entry{Server: h.name, Operation: operationAdministrator,
				Params: map[string]any{"Action": exchange.ActionUpgradeEVS, "Group": evs}, Outcome: outcome, Detail: detail})
		}
	}
	if err != nil {
		detail = err.Error()
		journal(outcomeRejected)
		return err
	}
	journal(outcomeOK)
	return nil
}

func (c *LiveCluster) upgradeVirtualServerLocked(evs, on string, views map[string]nodeView) (string, error) {
	node, ok := c.node(on)
	switch {
	case c.product != "2003":
		return "", fmt.Errorf("simulator: cluster %s runs Exchange %s: Upgrade Exchange Virtual Server is an Exchange 2003 task (KB 328839)", c.name, c.product)
	case !ok:
		return "", fmt.Errorf("simulator: %s is not a node of cluster %s", on, c.name)
	}
	self := views[strings.ToLower(node)]
	if !c.serviceUp(self) {
		return "", fmt.Errorf("simulator: Cluster Administrator on %s cannot open the cluster: the cluster service is not running there", node)
	}
	g := c.findGroupLocked(evs)
	if !c.isExchangeGroup(g) {
		return "", fmt.Errorf("simulator: cluster %s has no Exchange virtual server %q", c.name, evs)
	}
	owner := views[strings.ToLower(g.owner)]
	gsp := servicePackOf(c.product, g.upgraded)
	var problems []string
	switch {
	case owner.sp == gsp:
		problems = append(problems, fmt.Sprintf("the virtual server is on %s, which runs %s, the level it was upgraded for: there is nothing to upgrade it to",
			g.owner, levelOf(c.product, owner.build)))
	case owner.sp < gsp:
		problems = append(problems, fmt.Sprintf("the virtual server is on %s, which runs %s, older than %s that it was upgraded for",
			g.owner, levelOf(c.product, owner.build), levelOf(c.product, g.upgraded)))
	}
	if self.sp < owner.sp {
		problems = append(problems, fmt.Sprintf("Cluster Administrator runs on %s, which runs %s, a node not yet upgraded", node, levelOf(c.product, self.build)))
	}
	var online []string
	for _, r := range g.resources {
		switch {
		case strings.Contains(r.Type, "System Attendant") && r.State != StateOffline:
			problems = append(problems, fmt.Sprintf("its System Attendant resource %s is %s, not offline", r.Name, r.State))
		case !isBase(r) && !strings.Contains(r.Type, "System Attendant") && r.State == StateOnline:
			online = append(online, r.Name)
		}
	}
	if len(online) > 0 {
		problems = append(problems, "resources other than IP address, network name and physical disk are online: "+strings.Join(online, ", "))
	}
	dtc := false
	for _, grp := range c.allGroupsLocked() {
		for _, r := range grp.resources {
			dtc = dtc || r.Type == ResourceMSDTC && r.State == StateOnline && c.service[strings.ToLower(grp.owner)]
		}
	}
	if !dtc {
		problems = append(problems, "no Distributed Transaction Coordinator (MSDTC) resource is online in the cluster")
	}
	if len(problems) > 0 {
		return "", fmt.Errorf("simulator: Upgrade Exchange Virtual Server %s on %s: the version of Exchange on this computer does not match the version of Exchange on server '%s' (ID no: %s): %s",
			g.name, node, g.name, EventVersionMismatch, strings.Join(problems, "; "))
	}
	g.upgraded = owner.build
	return fmt.Sprintf("Cluster Administrator on %s: Upgrade Exchange Virtual Server %s: Active Directory now records %s",
		node, g.name, exchange.FormatADVersion(g.upgraded, servicePackOf(c.product, g.upgraded))), nil
}
