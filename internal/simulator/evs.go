package simulator

import (
	"fmt"
	"strings"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
)

// The Exchange 2003 virtual server upgrade (KB 328839
// steps 11–12): after a service pack, an EVS must be upgraded in Cluster Administrator
// (right-click the System Attendant resource, "Upgrade Exchange Virtual Server"), which
// updates its server object in Active Directory to the new version; until then its System
// Attendant does not come online on the upgraded node (MSExchangeCluster event 1025). No
// command line for the task is documented, so no script can do it: the simulator offers
// it as an administrator's control, UpgradeVirtualServer, for tests and the demo, also over
// HTTP (control.go, `exchange-sim upgrade-evs`).

// operationAdministrator names the journal entries of what an administrator does by hand
// through a control of the simulator (UpgradeVirtualServer), not through a script.
const operationAdministrator = "administrator"

// controlUpgradeEVS is the journal's Action of UpgradeVirtualServer.
const controlUpgradeEVS = "upgrade_evs"

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
	_, err := c.upgradeVirtualServer(evs, on)
	return err
}

// journalUpgrade journals the administrator's Upgrade Exchange Virtual Server of evs on node.
func (c *LiveCluster) journalUpgrade(node, evs, outcome, detail string) {
	if h := c.hosts[strings.ToLower(node)]; h != nil {
		h.env.journal.record(Entry{Server: h.name, Operation: operationAdministrator,
			Params: map[string]any{"Action": controlUpgradeEVS, "Group": evs}, Outcome: outcome, Detail: detail})
	}
}

// StandBy puts an administrator at Cluster Administrator (on, true) or sends them away: from
// then on, before every cluster operation and probe, each Exchange 2003 EVS whose upgrade would
// succeed (UpgradeVirtualServer's preconditions, run on the node that owns it) is upgraded
// at once, journaled as UpgradeVirtualServer is. For tests about something else than the
// manual step, whose apply then runs through; the manual step's own tests do not use it.
func (c *LiveCluster) StandBy(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.standingBy = on
}

// administer is the standing-by administrator's turn before a probe.
func (c *LiveCluster) administer() {
	c.mu.Lock()
	on := c.standingBy
	c.mu.Unlock()
	if !on {
		return
	}
	c.opMu.Lock()
	defer c.opMu.Unlock()
	c.administerLocked(c.views())
}

// administerLocked is the standing-by administrator's turn, between operations: before a
// cluster operation or a probe (called with opMu held and views read).
func (c *LiveCluster) administerLocked(views map[string]nodeView) {
	type done struct{ node, group, detail string }
	var upgraded []done
	c.mu.Lock()
	if !c.standingBy {
		c.mu.Unlock()
		return
	}
	if c.product == "2003" {
		for _, g := range c.groups {
			owner := views[strings.ToLower(g.owner)]
			if owner.sp <= servicePackOf(c.product, g.upgraded) {
				continue
			}
			if detail, err := c.upgradeVirtualServerLocked(g.name, g.owner, views); err == nil {
				upgraded = append(upgraded, done{g.owner, g.name, detail})
			}
		}
	}
	c.mu.Unlock()
	for _, u := range upgraded {
		c.journalUpgrade(u.node, u.group, outcomeOK, u.detail)
	}
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
