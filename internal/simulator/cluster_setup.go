package simulator

import (
	"fmt"
	"strings"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
)

// This file: setup on cluster nodes: /upgradeCMS, the clustered services and what 5.5 setup
// does to its group (cluster.go holds the model).

// planClusterJobLocked decides whether a cluster installer action runs on this node
// (called with h.mu held, from planJobLocked): Setup.com /upgradeCMS (2007), naming its
// CMS in Group. It checks what job_start.ps1 checks, with its messages, and then, as the
// installer would, that the node is upgraded beyond the CMS.
func (h *Host) planClusterJobLocked(spec jobSpec) (*jobRun, string, string) {
	const refused = "refused"
	s := &h.state
	lc := h.cluster
	nodeSP := servicePackOf(s.Product, s.Build)
	build := s.Build
	// setUpgraded marks g, the group the job names, upgraded for this node's build.
	setUpgraded := func(g *clusterGroup) {
		lc.mu.Lock()
		g.upgraded = build
		lc.mu.Unlock()
	}
	// readGroup is Get-ExJobClusterGroup: the group Group names, read from the cluster.
	readGroup := func() (*clusterGroup, string, string) {
		if spec.Group == "" {
			return nil, "invalid", spec.Action + " needs its clustered mailbox server or Exchange virtual server in Group"
		}
		switch {
		case lc == nil:
			return nil, refused, fmt.Sprintf("the cluster cannot be read on %s (is its cluster service running?): Invalid namespace", h.name)
		case !lc.service[strings.ToLower(h.name)]:
			return nil, refused, fmt.Sprintf("the cluster cannot be read on %s (is its cluster service running?): the cluster service is not running", h.name)
		}
		g := lc.findGroupLocked(spec.Group)
		if g == nil {
			return nil, refused, fmt.Sprintf(`the cluster has no group "%s"`, spec.Group)
		}
		return g, "", ""
	}
	lock := func() func() {
		if lc == nil {
			return func() {}
		}
		lc.mu.Lock()
		return lc.mu.Unlock
	}

	if spec.Action == exchange.ActionUpgradeCMS {
		if s.Product != "2007" {
			return nil, refused, "Setup.com /upgradeCMS needs Exchange Server 2007 on this node (no ExSetup.exe under MsiInstallPath)"
		}
		if spec.MediaPath == "" {
			return nil, refused, "no media path: /upgradeCMS runs Setup.com from the service pack media"
		}
		defer lock()()
		g, code, why := readGroup()
		if why != "" {
			return nil, code, why
		}
		setup := joinPath(spec.MediaPath, "Setup.com")
		p, exists := h.packageAtLocked(spec.MediaPath)
		gsp := servicePackOf(lc.product, g.upgraded)
		switch {
		case !strings.EqualFold(g.owner, h.name):
			return nil, refused, fmt.Sprintf("clustered mailbox server %s is owned by %s, not by %s: Setup.com /upgradeCMS runs on the node that owns the stopped CMS (move it here first)",
				g.name, g.owner, h.name)
		case !exchangeOffline(g):
			return nil, refused, fmt.Sprintf("clustered mailbox server %s is %s: Setup.com /upgradeCMS runs on a stopped CMS (Stop-ClusteredMailboxServer first)",
				g.name, groupState(g.resources))
		case !exists:
			return nil, refused, "package not found: " + setup
		// What setup itself refuses (referee).
		case !lc.isExchangeGroup(g):
			return nil, refused, fmt.Sprintf("%s is not a clustered mailbox server: Setup.com /upgradeCMS has nothing to upgrade", g.name)
		case p.Kind != PackageServicePack || p.Product != "2007":
			return nil, refused, fmt.Sprintf("%s holds a %s for Exchange %s, not Exchange 2007 setup media", spec.MediaPath, p.Kind, p.Product)
		case p.ServicePack != nodeSP:
			return nil, refused, fmt.Sprintf("the setup media at %s are Exchange 2007 %s; %s runs %s: /upgradeCMS runs from the media of the node's own service pack",
				spec.MediaPath, spName(p.ServicePack), h.name, spName(nodeSP))
		case nodeSP < gsp:
			return nil, refused, fmt.Sprintf("the version on this computer does not match: %s runs Exchange 2007 %s, older than %s that %s was upgraded for",
				h.name, levelOf(s.Product, build), levelOf(lc.product, g.upgraded), g.name)
		case nodeSP == gsp && !s.StaleCMSKey:
			return nil, refused, fmt.Sprintf("%s was already upgraded for %s, the level %s runs: Setup.com /upgradeCMS has nothing to do (upgrade the node first with Setup.com /mode:upgrade)",
				g.name, levelOf(lc.product, g.upgraded), h.name)
		}
		return &jobRun{command: commandLine(setup, "/upgradeCMS"), logPath: exchangeSetupLog, setup: true,
			apply: func(st *State) (int, bool) {
				setUpgraded(g)
				st.StaleCMSKey = false
				return 0, false
			}}, "", ""
	}

	// "Upgrade Exchange Virtual Server" (2003) has no command line: it is the
	// administrator's, (*LiveCluster).UpgradeVirtualServer.
	return nil, "invalid", fmt.Sprintf(`"%s" is not a cluster installer action`, spec.Action)
}

// clusterJobCheckLocked says why an installer must not run on this cluster node now, or "":
// on Exchange 2000/2003/5.5 a service pack or hotfix needs the node's cluster service
// stopped, except on the 5.5 node that owns the virtual server (its setup runs with the
// group in place, KB 328839); on Exchange 2007 a service pack or update rollup goes only to a passive node.
// Called with h.mu held.
func (h *Host) clusterJobCheckLocked(spec jobSpec) string {
	lc := h.cluster
	if lc == nil {
		return ""
	}
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if h.state.Product == "2007" {
		// A 2007 cluster has one Exchange group, the CMS.
		cms := lc.groups[0]
		owns := strings.EqualFold(cms.owner, h.name)
		switch spec.Action {
		case exchange.ActionInstallServicePack:
			if owns {
				return fmt.Sprintf("%s owns %s: install a service pack only on a passive node; move %s to another node first", h.name, cms.name, cms.name)
			}
		case exchange.ActionInstallUpdateRollup, exchange.ActionUninstallUpdateRollup:
			if owns {
				return fmt.Sprintf("an update rollup goes only to a passive node: %s owns %s; move it to another node first", h.name, cms.name)
			}
		}
		return ""
	}
	switch spec.Action {
	case exchange.ActionInstallServicePack, exchange.ActionInstallInterimUpdate:
		running := lc.service[strings.ToLower(h.name)]
		if running && h.state.Product == "5.5" && strings.EqualFold(lc.groups[0].owner, h.name) {
			// The 5.5 active node: setup runs with the group in place and stops and
			// restarts its services itself (setupStopsGroupLocked).
			return ""
		}
		if running {
			return fmt.Sprintf("the cluster service is running on %s: stop the cluster service on this node first (move its groups to another node, then stop it)", h.name)
		}
	}
	return ""
}

// syncClusteredServicesLocked sets the state of the node's clustered services
// (clusteredServices) from the cluster: Running while the node's cluster service runs and
// it owns a group whose resource of the service's type is online, else Stopped. Called with
// h.mu held (settleLocked) and never with the cluster's mu.
func (h *Host) syncClusteredServicesLocked() {
	lc := h.cluster
	types := clusteredServices(h.state.Product)
	if lc == nil || len(types) == 0 || h.power == powerDown {
		return
	}
	online := map[string]bool{}
	lc.mu.Lock()
	if lc.service[strings.ToLower(h.name)] {
		for _, g := range lc.groups {
			if !strings.EqualFold(g.owner, h.name) {
				continue
			}
			for _, r := range g.resources {
				online[r.Type] = online[r.Type] || r.State == StateOnline
			}
		}
	}
	lc.mu.Unlock()
	for i := range h.state.Services {
		svc := &h.state.Services[i]
		if typ, ok := types[svc.Name]; ok {
			svc.State = "Stopped"
			if online[typ] {
				svc.State = "Running"
			}
		}
	}
}

// clusteredServiceLocked names the group and resource that run service name on this node
// when it is one of the node's clustered services (clusteredServices), else "".
func (h *Host) clusteredServiceLocked(name string) string {
	lc := h.cluster
	if lc == nil {
		return ""
	}
	for svc, typ := range clusteredServices(h.state.Product) {
		if !strings.EqualFold(svc, name) {
			continue
		}
		lc.mu.Lock()
		defer lc.mu.Unlock()
		for _, g := range lc.groups {
			for _, r := range g.resources {
				if r.Type == typ {
					return fmt.Sprintf("the resource %q of group %s", r.Name, g.name)
				}
			}
		}
		return "a resource of the Exchange virtual server"
	}
	return ""
}

// clusteredStartRefusal is why the simulator refuses to start clustered service svc
// directly (what says the resource that runs it): on a real node the service control
// manager would try, and the service would fail on a node that does not own the group (the
// group's disk and network name are elsewhere) or run outside the cluster's control on the
// one that does. The refusal itself is our model of that.
func clusteredStartRefusal(host, svc, what string) string {
	return fmt.Sprintf("%s on %s is %s: a clustered Exchange service comes online only through the cluster (bring the group online, or move it to this node), not by starting the service (the simulator refuses what a real node would do outside the cluster's control)",
		svc, host, what)
}

// setupStopsGroupLocked is what an Exchange 5.5 service pack's setup does on the node that
// owns the virtual server, its cluster service running: it stops the Exchange services,
// which takes the group's Exchange resources offline (an outage for users) while the group
// stays on the node ( (KB 328839): "5.5 setup itself stops the Exchange services and restarts them
// when it finishes"). It returns the group, or nil when the node is not such
// a node. Called with h.mu held, from job_start.
func (h *Host) setupStopsGroupLocked() *clusterGroup {
	lc := h.cluster
	if lc == nil || h.state.Product != "5.5" {
		return nil
	}
	lc.mu.Lock()
	defer lc.mu.Unlock()
	g := lc.groups[0]
	if !lc.service[strings.ToLower(h.name)] || !strings.EqualFold(g.owner, h.name) {
		return nil
	}
	for i := range g.resources {
		if isExchange(g.resources[i]) {
			g.resources[i].State = StateOffline
		}
	}
	h.env.journal.record(Entry{Server: h.name, Operation: operationSystem, Outcome: outcomeOK,
		Detail: fmt.Sprintf("setup stopped the Exchange services of %s: its Exchange resources are offline on %s (%s); the group stays on %s", g.name, h.name, groupState(g.resources), h.name)})
	return g
}

// setupRestartsGroupLocked: the 5.5 setup that stopped g's services (setupStopsGroupLocked)
// ends and starts them again: g's resources come online on this node if it still owns it,
// at this node's level (a 5.5 virtual server takes the level of the node it comes online
// on). Called with h.mu held, as the job ends.
func (h *Host) setupRestartsGroupLocked(g *clusterGroup) {
	lc := h.cluster
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if !lc.service[strings.ToLower(h.name)] || !strings.EqualFold(g.owner, h.name) {
		return
	}
	v := nodeView{name: h.name, build: h.state.Build, sp: servicePackOf(lc.product, h.state.Build), up: true}
	run := &clusterRun{views: map[string]nodeView{strings.ToLower(h.name): v}}
	wanted := map[string]bool{}
	for _, r := range g.resources {
		wanted[r.Name] = true
	}
	g.resume = nil
	lc.placeLocked(g, wanted, run)
	h.env.journal.record(Entry{Server: h.name, Operation: operationSystem, Outcome: outcomeOK,
		Detail: fmt.Sprintf("setup started the Exchange services of %s again: %s on %s", g.name, groupState(g.resources), h.name)})
}
