package simulator

import (
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
)

// Host is one simulated server: the state its probe answers come from. It is safe for
// concurrent use; operations and tests read and change it through its methods.
type Host struct {
	name    string
	address netip.Addr
	// cluster is shared by the nodes of one cluster; nil when the host is not clustered.
	cluster *LiveCluster

	mu    sync.Mutex
	state State

	// What the host lives in: clock, journal, durations, packages. Shared by the hosts of
	// one simulator; a host made outside Start gets one of its own.
	env *env
	// endpoint and net are set by Start; nil for a host without listeners (unit tests),
	// where faults and reboots touch only the state.
	endpoint endpointControl
	net      netControl

	// Servicing, guarded by mu.
	jobs   map[string]*jobRun // running installer jobs by ID
	faults []Fault            // armed faults, in the order they were injected
	// missing are normalised paths that are not there on this host (Options.MissingPaths,
	// the fleet's missing_paths, SetPathMissing).
	missing map[string]bool
	// disabledAfterInstall: Exchange services an SP or RU install leaves Disabled; nil
	// means the simulator's default (Options.DisabledAfterInstall).
	disabledAfterInstall []string
	power                power
	// served is what the host last showed its clients (front-ends only: noteServingLocked).
	served serving

	// What discover reports of the host and whether discover run on it reaches Active
	// Directory (the fleet's site and ad_unreachable); fixed at start.
	site          string
	adUnreachable bool

	// What the preflight reads of the installed Exchange 2007 (Server.Architecture,
	// Server.ExchangeLanguage); fixed at start.
	architecture, exchangeLanguage string
	// winrm: whether the host listens for WinRM at all (servesWinRM); fixed at start.
	winrm bool
}

// State is everything a host is, as the probe reads it. Later operations (installs,
// reboots, cluster moves) change it; tests change it "by hand" through (*Host).Update.
type State struct {
	FQDN    string
	Product string
	Build   exchange.Build
	// BootTime changes on every reboot.
	BootTime      time.Time
	OS            exchange.OSFacts
	Prerequisites exchange.PrerequisiteFacts

	Roles          []string
	InternetFacing bool

	// InterimUpdates are installed interim updates (2007) or hotfixes (5.5/2000/2003), by KB.
	// A 2007 interim update's patch code is InterimUpdatePatchCode(kb).
	InterimUpdates []string
	// UpdateRollups are the installed 2007 rollup patches. At load they are derived from the
	// build (RollupsFor); installs and uninstalls change them. Setting Build by hand does
	// not: use (*Host).SetBuild to change both.
	UpdateRollups []exchange.InstalledUpdate

	// Databases and SystemStateBackup are the backups taken; what the probe sees of them is
	// backupFacts (backups.go).
	Databases             []exchange.DatabaseBackup
	SystemStateBackup     *time.Time
	SystemStateBackupTool string

	Services []exchange.ServiceFacts
	// WindowsServices are the host's other services (the fleet's third_party_services):
	// the probe reports those its list recognises (probe.ps1 $thirdPartyPatterns) as third
	// party and the rest as other services, as a real probe does.
	WindowsServices []exchange.ServiceFacts

	SetupWatermarks []exchange.SetupWatermark
	// PartlyConfigured: a setup broke off after copying its files and before it finished
	// configuring the roles (a watermark's "partially configured" role): the build, read
	// from ExSetup.exe, is already the new one, and that service pack's setup, run again
	// once it may start, completes it. Removing the watermark does not change it. Set from
	// the fleet's setup_watermark; the probe does not read it.
	PartlyConfigured bool
	SetupRunning     bool
	StaleCMSKey      bool
	// SetupKeyExports are the files setup_watermark's export wrote (reg.exe export of a
	// setup key), in the order written.
	SetupKeyExports []SetupKeyExport
	// LeftoverWatermarksRemoved are the setup keys whose values setup_watermark's remove
	// deleted, as it records them (...\Leftovers, SetupWatermarksRemoved) before deleting,
	// until job_clear forgets them (the probe's leftovers.setup_watermarks_removed).
	LeftoverWatermarksRemoved []string

	// PendingReboot holds the reasons a reboot is pending (PendingFileRenameOperations, ...).
	PendingReboot []string

	UMLanguagePacks    []string
	OWALogonCustomized bool
	// Procedure is what the probe's pre-check reads answer (Get-ExProcedureFacts), from
	// the fleet's forefront_version, receive_connectors, diagnostic_logging and
	// running_processes.
	Procedure exchange.ProcedureFacts
	// OWALogonAbsent: the live OWA logon page was moved aside (customizations save) and
	// not yet replaced by an install or a restore.
	OWALogonAbsent bool
	// OWALogonSaved: a saved copy of the logon page exists; OWALogonSavedCustomized: it
	// is a customised one; OWALogonSavedFor: the build it was saved at (made for).
	OWALogonSaved    bool
	OWALogonSavedFor exchange.Build
	// OWALogonStale: the live page is a customised one made for an earlier build, which
	// the update did not replace or which was copied back over the update's page: OWA
	// answers with a blank page ("How to install the latest Service Pack or Update Rollup for Exchange 2007").
	OWALogonStale bool
	// LeftoverStopped are the services the service operation stopped and has not started
	// again; LeftoverRevocationOff: the revocation check operation turned the check off
	// (service.ps1 and revocation_check.ps1 record both under ...\Leftovers).
	LeftoverStopped       []string
	LeftoverRevocationOff bool
	// Firewall is the Windows Firewall service (State and StartMode as Win32_Service says
	// them); FirewallRecord is what firewall.ps1 recorded when it started a stopped one
	// (nil: no record; the probe's leftovers.firewall_started).
	Firewall                exchange.ServiceFacts
	FirewallRecord          *exchange.ServiceFacts
	OWALogonSavedCustomized bool
	RevocationCheck         bool
	InternetAccess          bool
	RemoteStreamingBackup   *bool

	// FrontEndStartMode is the start mode front_end.ps1 recorded for W3SVC when it took the
	// front-end offline ("": no record; the probe's leftovers.front_end_offline).
	FrontEndStartMode string

	// Jobs are the records of the installer jobs started on the host (job_start), in the
	// order they were started; a running job's record is updated when it finishes.
	Jobs []exchange.Job
	// Lock is the servicing lock, nil when never taken or released. An expired lock is
	// free: the probe then reports none.
	Lock *exchange.Lock
	// LockServices are the Exchange services as they were when the lock was first taken
	// (lock.ps1's ServiceStartModes): exchange_services puts services back by them. Kept
	// while the lock is expired and when it is released with KeepServiceRecord, dropped
	// when it is released otherwise.
	LockServices []exchange.ServiceFacts
}

// newHost makes the host of server s, a node of cluster c (nil when not clustered).
func newHost(s Server, c *LiveCluster, boot time.Time) *Host {
	st := State{
		FQDN:                  s.FQDN,
		Product:               s.Product,
		Build:                 s.Build,
		BootTime:              boot,
		OS:                    s.OS,
		Prerequisites:         s.Prerequisites,
		Roles:                 slices.Clone(s.Roles),
		InternetFacing:        s.InternetFacing,
		InterimUpdates:        slices.Clone(s.InterimUpdates),
		UpdateRollups:         RollupsFor(s.Product, s.Build),
		Databases:             []exchange.DatabaseBackup{},
		SystemStateBackup:     clonePtr(s.LastSystemStateBackup),
		SystemStateBackupTool: s.SystemStateBackupTool,
		Services:              []exchange.ServiceFacts{},
		WindowsServices:       []exchange.ServiceFacts{},
		SetupWatermarks:       []exchange.SetupWatermark{},
		SetupRunning:          s.SetupRunning,
		StaleCMSKey:           s.StaleCMSKey,
		PendingReboot:         []string{},
		UMLanguagePacks:       slices.Clone(s.UMLanguagePacks),
		OWALogonCustomized:    s.OWACustomized,
		RevocationCheck:       s.RevocationCheck,
		InternetAccess:        s.InternetAccess,
		RemoteStreamingBackup: clonePtr(s.RemoteStreamingBackup),
		Firewall:              firewallService(s),
	}
	for _, db := range s.Databases {
		st.Databases = append(st.Databases, exchange.DatabaseBackup{Name: db, LastFull: clonePtr(s.LastFullBackup)})
	}
	var clustered map[string]string
	if c != nil {
		clustered = clusteredServices(s.Product)
	}
	for _, name := range exchangeServices(s.Product, s.Roles) {
		svc := exchange.ServiceFacts{Name: name, State: "Running", StartMode: "Auto"}
		if _, ok := clustered[name]; ok {
			// A resource of the virtual server: the cluster runs it (syncClusteredServicesLocked).
			svc.StartMode = "Manual"
		}
		if slices.Contains(s.DisabledServices, name) {
			svc.State, svc.StartMode = "Stopped", "Disabled"
		}
		st.Services = append(st.Services, svc)
	}
	for _, name := range s.ThirdPartyServices {
		st.WindowsServices = append(st.WindowsServices, exchange.ServiceFacts{Name: name, State: "Running", StartMode: "Auto"})
	}
	st.Procedure = procedureFacts(s)
	if s.SetupWatermark != "" {
		// Illustrative values: what matters is that the role's setup key
		// holds an Action and a Watermark at all.
		st.SetupWatermarks = append(st.SetupWatermarks, exchange.SetupWatermark{
			Role: s.SetupWatermark, Action: "BuildToBuildUpgrade", Watermark: "InstallFiles",
		})
		st.PartlyConfigured = true
	}
	if s.PendingReboot {
		st.PendingReboot = append(st.PendingReboot, pendingRebootReason)
	}
	h := &Host{name: s.Name, address: s.Address, cluster: c, state: st, env: newEnv(Options{}, nil),
		jobs: map[string]*jobRun{}, missing: map[string]bool{}, site: s.Site, adUnreachable: s.ADUnreachable,
		architecture: s.Architecture, exchangeLanguage: s.ExchangeLanguage, winrm: servesWinRM(s.OS)}
	for _, f := range s.Faults {
		if n, err := f.normalize(); err == nil {
			h.faults = append(h.faults, n)
		}
	}
	for _, p := range s.MissingPaths {
		h.missing[normalizePath(p)] = true
	}
	if s.DisabledAfterInstall != nil {
		h.disabledAfterInstall = slices.Clone(s.DisabledAfterInstall)
	}
	if c != nil {
		c.attach(h)
	}
	h.served = h.servingLocked()
	return h
}

// firewallService is the Windows Firewall service of server s as the fleet states it: MpsSvc
// on Windows Server 2008 and later (version 6+), SharedAccess on Windows Server 2003.
func firewallService(s Server) exchange.ServiceFacts {
	name := "SharedAccess"
	if strings.HasPrefix(s.OS.Version, "6.") {
		name = "MpsSvc"
	}
	switch s.Firewall {
	case "stopped":
		return exchange.ServiceFacts{Name: name, State: "Stopped", StartMode: "Manual"}
	case "disabled":
		return exchange.ServiceFacts{Name: name, State: "Stopped", StartMode: "Disabled"}
	}
	return exchange.ServiceFacts{Name: name, State: "Running", StartMode: "Auto"}
}

// pendingRebootReason is how the simulator reports a pending reboot.
const pendingRebootReason = "PendingFileRenameOperations"

// Name is the computer name as the fleet spells it.
func (h *Host) Name() string { return h.name }

// Address is the loopback address the host listens on.
func (h *Host) Address() netip.Addr { return h.address }

// State returns a copy of the host's state, with every job that is due finished first.
func (h *Host) State() State {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.settleLocked()
	return h.state.clone()
}

// Update changes the host's state under its lock, e.g. a test setting a build by hand:
//
//	sim.Host("EX01").Update(func(s *simulator.State) { s.Build = exchange.MustParseBuild("8.1.436.0") })
func (h *Host) Update(fn func(s *State)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.settleLocked()
	fn(&h.state)
}

// SetBuild sets the live build and the installed update rollups that go with it
// (RollupsFor), as if the server had been installed at b.
func (h *Host) SetBuild(b exchange.Build) {
	h.Update(func(s *State) {
		s.Build = b
		s.UpdateRollups = RollupsFor(s.Product, b)
	})
}

// Facts is what the probe operation answers: the host's state in the wire format. Slices
// are never nil, so the JSON shows [] rather than null, as the real probe writes. On a
// cluster node the cluster's single-group fields describe the Exchange group the node owns,
// else the first (as a probe addressed by the node's own name).
func (h *Host) Facts() exchange.Facts { return h.factsFor("") }

// factsFor is Facts as a probe addressed by the CMS/EVS called group answers it: the
// cluster's single-group fields describe that group ("": as Facts).
func (h *Host) factsFor(group string) exchange.Facts {
	h.mu.Lock()
	h.settleLocked()
	s := h.state.clone()
	now := h.env.clock.Now()
	h.mu.Unlock()
	f := exchange.Facts{
		Server:             h.name,
		FQDN:               s.FQDN,
		Product:            s.Product,
		Build:              s.Build.String(),
		BootTime:           s.BootTime,
		OS:                 s.OS,
		Prerequisites:      s.Prerequisites,
		UpdateRollups:      nonNil(s.UpdateRollups),
		InterimUpdates:     []exchange.InstalledUpdate{},
		Roles:              nonNil(s.Roles),
		InternetFacing:     s.InternetFacing,
		Setup:              exchange.SetupFacts{Watermarks: nonNil(s.SetupWatermarks), Running: s.SetupRunning, StaleCMSKey: s.StaleCMSKey},
		PendingReboot:      nonNil(s.PendingReboot),
		Backups:            s.backupFacts(),
		Services:           nonNil(s.Services),
		ThirdPartyServices: []exchange.ServiceFacts{},
		OtherServices:      []exchange.ServiceFacts{},
		UMLanguagePacks:    nonNil(s.UMLanguagePacks),
		OWALogonCustomized: s.OWALogonCustomized,
		RevocationCheck:    s.RevocationCheck,
		InternetAccess:     s.InternetAccess,

		RemoteStreamingBackup: s.RemoteStreamingBackup,
		Procedure:             s.Procedure,

		Jobs: nonNil(s.Jobs),
		// What an apply changed and has not put back, as the scripts record it.
		Leftovers: exchange.Leftovers{
			StoppedServices:     nonNil(slices.Clone(s.LeftoverStopped)),
			SavedCustomizations: s.OWALogonSaved,
			RevocationCheckOff:  s.LeftoverRevocationOff,
			FirewallStarted:     s.FirewallRecord != nil,
			FrontEndOffline:     s.FrontEndStartMode != "",

			SetupWatermarksRemoved: nonNil(slices.Clone(s.LeftoverWatermarksRemoved)),
		},
	}
	// As the probe lists the job records: by id, ignoring case.
	sort.SliceStable(f.Jobs, func(i, j int) bool { return strings.ToLower(f.Jobs[i].ID) < strings.ToLower(f.Jobs[j].ID) })
	if s.Lock != nil && now.Before(s.Lock.Expires) {
		f.Lock = s.Lock
	}
	for _, svc := range s.WindowsServices {
		if recognisedThirdParty(svc.Name) {
			f.ThirdPartyServices = append(f.ThirdPartyServices, svc)
		} else {
			f.OtherServices = append(f.OtherServices, svc)
		}
	}
	for _, kb := range s.InterimUpdates {
		u := exchange.InstalledUpdate{KB: kb, DisplayName: interimUpdateName(s.Product, kb)}
		if s.Product == "2007" {
			u.PatchCode = InterimUpdatePatchCode(kb)
		}
		f.InterimUpdates = append(f.InterimUpdates, u)
	}
	if c := h.cluster; c != nil {
		f.Cluster = c.clusterFacts(h.name, s.Build, group)
		if !h.adUnreachable {
			c.setADVersions(f.Cluster)
		}
	}
	return f
}

// interimUpdateName is the display name under which Add/Remove Programs lists the update.
func interimUpdateName(product, kb string) string {
	if product == "2007" {
		return "Interim Update for Exchange Server 2007 (" + kb + ")"
	}
	return "Hotfix for Exchange Server " + product + " (" + kb + ")"
}

func (s State) clone() State {
	c := s
	c.Roles = slices.Clone(s.Roles)
	c.InterimUpdates = slices.Clone(s.InterimUpdates)
	c.UpdateRollups = slices.Clone(s.UpdateRollups)
	c.Databases = make([]exchange.DatabaseBackup, len(s.Databases))
	for i, db := range s.Databases {
		c.Databases[i] = exchange.DatabaseBackup{Name: db.Name, LastFull: clonePtr(db.LastFull)}
	}
	c.SystemStateBackup = clonePtr(s.SystemStateBackup)
	c.Services = slices.Clone(s.Services)
	c.WindowsServices = slices.Clone(s.WindowsServices)
	c.SetupWatermarks = slices.Clone(s.SetupWatermarks)
	c.SetupKeyExports = slices.Clone(s.SetupKeyExports)
	c.LeftoverWatermarksRemoved = slices.Clone(s.LeftoverWatermarksRemoved)
	c.PendingReboot = slices.Clone(s.PendingReboot)
	c.UMLanguagePacks = slices.Clone(s.UMLanguagePacks)
	c.RemoteStreamingBackup = clonePtr(s.RemoteStreamingBackup)
	c.FirewallRecord = clonePtr(s.FirewallRecord)
	c.Jobs = make([]exchange.Job, len(s.Jobs))
	for i, j := range s.Jobs {
		j.Finished = clonePtr(j.Finished)
		c.Jobs[i] = j
	}
	if s.Jobs == nil {
		c.Jobs = nil
	}
	c.Lock = clonePtr(s.Lock)
	c.LockServices = slices.Clone(s.LockServices)
	return c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
