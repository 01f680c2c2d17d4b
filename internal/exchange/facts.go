package exchange

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Facts is what one probe reads from a live server. It is also the wire
// format: the probe script writes it as JSON and the simulator encodes it from its host
// model, so the two sides share these tags and cannot drift apart.
type Facts struct {
	// Server is the computer name as Exchange and the cluster know it.
	Server string `json:"server"`
	FQDN   string `json:"fqdn"`
	// Product is "5.5", "2000", "2003" or "2007".
	Product string `json:"product"`
	// Build is the live build: ExSetup.exe (2007) or STORE.EXE (5.5/2000/2003) file version.
	Build string `json:"build"`
	// BootTime changes on every reboot; apply uses it to see a reboot happen.
	BootTime time.Time `json:"boot_time"`

	OS            OSFacts           `json:"os"`
	Prerequisites PrerequisiteFacts `json:"prerequisites"`

	// UpdateRollups are the installed rollup patches (2007) as Windows Installer lists them.
	UpdateRollups []InstalledUpdate `json:"update_rollups"`
	// InterimUpdates are interim updates (2007) and hotfixes (5.5/2000/2003), by KB.
	InterimUpdates []InstalledUpdate `json:"interim_updates"`

	// Roles: ClientAccess, HubTransport, Mailbox, UnifiedMessaging, Edge (2007);
	// FrontEnd, BackEnd (2000/2003).
	Roles          []string `json:"roles"`
	InternetFacing bool     `json:"internet_facing"`

	Cluster *ClusterFacts `json:"cluster"`
	Setup   SetupFacts    `json:"setup"`

	// PendingReboot lists why a reboot is pending: PendingFileRenameOperations,
	// CBS RebootPending, WindowsUpdate RebootRequired. Empty: none.
	PendingReboot []string `json:"pending_reboot"`

	Backups BackupFacts `json:"backups"`

	// Services are the Exchange and IIS services.
	Services []ServiceFacts `json:"services"`
	// ThirdPartyServices hook into Exchange: backup agents, file-level antivirus, SNMP, monitoring.
	ThirdPartyServices []ServiceFacts `json:"third_party_services"`
	// OtherServices are every other Windows service on the server (neither an Exchange or
	// IIS service nor one the probe's list recognises as third-party). The probe's list is
	// a hint for the default of stop_services, not a gate: a service the user names in
	// stop_services is found here when the list does not know it (the ScanMail of "Service Packs für Exchange 2007").
	OtherServices []ServiceFacts `json:"other_services"`

	UMLanguagePacks []string `json:"um_language_packs"`
	// OWALogonCustomized: Logon.aspx differs from the one setup installed.
	OWALogonCustomized bool `json:"owa_logon_customized"`
	// RevocationCheck is true when "check for publisher's certificate revocation" is on for
	// the probing account (WinTrust State without bit 0x200).
	RevocationCheck bool `json:"revocation_check"`
	InternetAccess  bool `json:"internet_access"`
	// RemoteStreamingBackup is "Enable Remote Streaming Backup" (MSExchangeIS ParametersSystem);
	// nil when the value is absent.
	RemoteStreamingBackup *bool `json:"remote_streaming_backup"`

	// Procedure is what the pre-checks around an install read (rules_procedures.go).
	Procedure ProcedureFacts `json:"procedure"`

	// Jobs are the installer runs this provider started on the server (from their job
	// records under HKLM\SOFTWARE\BuildLevel\ExchangeProvider\Jobs). An apply attaches to
	// a running or finished job with the same id instead of starting setup twice.
	Jobs []Job `json:"jobs"`
	// Lock is the servicing lock an apply holds on the server; nil when free.
	Lock *Lock `json:"lock"`
	// Leftovers is what an earlier apply changed and has not put back, because it was
	// interrupted (HKLM\SOFTWARE\BuildLevel\ExchangeProvider\Leftovers). The next plan
	// puts it back.
	Leftovers Leftovers `json:"leftovers"`
}

// Leftovers are an interrupted apply's changes that are still in place.
type Leftovers struct {
	// StoppedServices were stopped by an apply and not started again.
	StoppedServices []string `json:"stopped_services"`
	// SavedCustomizations: customisations were moved aside and not restored.
	SavedCustomizations bool `json:"saved_customizations"`
	// RevocationCheckOff: an apply turned the revocation check off and not back on.
	RevocationCheckOff bool `json:"revocation_check_off"`
	// FirewallStarted: an apply started the Windows Firewall service (start_firewall) and has
	// not put it back (restore_firewall). Cluster plans only: not part of Empty.
	FirewallStarted bool `json:"firewall_started"`
	// FrontEndOffline: an organisation upgrade took this front-end out of service for its
	// clients (take_front_end_offline) and has not brought it back (bring_front_end_online).
	// Organisation plans only: not part of Empty.
	FrontEndOffline bool `json:"front_end_offline"`
	// SetupWatermarksRemoved are the setup keys (subkeys of SetupKeyRoot, e.g. MailboxRole)
	// whose interrupted setup's Action/Watermark values an apply removed
	// (remove_setup_watermark records each before it deletes the values) with no apply
	// having run its whole plan since (job_clear forgets the record). With the values gone
	// nothing of Exchange's own shows that setup did not finish (the build may already read
	// as the service pack's): this record does, so that the next plan runs setup again.
	SetupWatermarksRemoved []string `json:"setup_watermarks_removed"`
}

// Empty reports whether nothing is left over.
func (l Leftovers) Empty() bool {
	return len(l.StoppedServices) == 0 && !l.SavedCustomizations && !l.RevocationCheckOff && len(l.SetupWatermarksRemoved) == 0
}

// Job states.
const (
	JobRunning   = "running"
	JobSucceeded = "succeeded"
	JobFailed    = "failed"
)

// Job is the record of one detached installer run on a server.
type Job struct {
	// ID is derived from the step (action and target), so the same step always has the
	// same id: see JobID.
	ID     string `json:"id"`
	Action string `json:"action"`
	State  string `json:"state"`
	// ExitCode of the installer; meaningful once not running.
	ExitCode int    `json:"exit_code"`
	LogPath  string `json:"log_path"`
	// Error is the failure the installer reported, e.g. "FileInUse: STORE.EXE".
	Error    string     `json:"error"`
	Started  time.Time  `json:"started"`
	Finished *time.Time `json:"finished"`
	// RebootRequired: the installer asked for a reboot (exit code 3010 or its log).
	RebootRequired bool `json:"reboot_required"`
}

// Lock is the servicing lock on a server.
type Lock struct {
	Owner    string    `json:"owner"`
	Acquired time.Time `json:"acquired"`
	Expires  time.Time `json:"expires"`
}

// JobID names the job of an installing step: the action and what it installs or removes
// (its kind's InstallJob.Key), e.g. "install_service_pack-8.3.83.6" or
// "remove_interim_update-KB123456". A step that is not an Installer has its action.
func JobID(s Step) string {
	if in, ok := s.Kind.(Installer); ok {
		if key := in.Job().Key; key != "" {
			return s.Action() + "-" + key
		}
	}
	return s.Action()
}

// Job returns the job with id, if the server has its record.
func (f Facts) Job(id string) (Job, bool) {
	for _, j := range f.Jobs {
		if j.ID == id {
			return j, true
		}
	}
	return Job{}, false
}

// OSFacts describes Windows.
type OSFacts struct {
	Caption     string `json:"caption"`
	Version     string `json:"version"`
	ServicePack int    `json:"service_pack"`
}

// PrerequisiteFacts are the setup prerequisites.
type PrerequisiteFacts struct {
	// DotNet20ServicePack is the .NET Framework 2.0 service pack level, -1 when not installed.
	DotNet20ServicePack int `json:"dotnet20_service_pack"`
	// WindowsInstaller is msi.dll's version, e.g. "4.5.6001.22159".
	WindowsInstaller string `json:"windows_installer"`
	// TimeZoneUpdate931836 is installed.
	TimeZoneUpdate931836 bool `json:"time_zone_update_931836"`
	// FQDNSet: the computer's primary DNS suffix is set.
	FQDNSet bool `json:"fqdn_set"`
	// SingleLabelDomain: the AD domain has a single-label DNS name (unsupported).
	SingleLabelDomain bool `json:"single_label_domain"`
	// LocalAdministrator: the connecting account is in the local Administrators group.
	LocalAdministrator bool `json:"local_administrator"`
	// IISCompressionHotfix831464: the IIS 6.0 compression hotfix 831464 is installed,
	// which an Exchange 2003 cluster on Windows 2003 needs before its SP.
	IISCompressionHotfix831464 bool `json:"iis_compression_hotfix_831464"`
}

// InstalledUpdate is one installed patch or hotfix.
type InstalledUpdate struct {
	KB          string `json:"kb"`
	DisplayName string `json:"display_name"`
	// PatchCode is the Windows Installer patch GUID (2007 rollups and interim updates).
	PatchCode string `json:"patch_code,omitempty"`
}

// ClusterFacts places a server in a cluster.
//
// Name, ActiveNode, Active, GroupState, Resources and FailoverBlocked describe one Exchange
// group: the one the probe was addressed by, else the one this node owns, else the first.
// Groups lists every Exchange group of the cluster (an active/active cluster has one EVS
// per node); facts without Groups describe the single group above only.
type ClusterFacts struct {
	// Name is the clustered mailbox server (2007) or Exchange Virtual Server (2000/2003).
	Name string `json:"name"`
	// ClusterName is the Windows cluster's own name (MSCluster_Cluster); "" when unread.
	ClusterName string `json:"cluster_name"`
	// Groups are every Exchange group of the cluster as this node's cluster service reads
	// them, in the cluster's order; empty while that service is stopped.
	Groups []ClusterGroupFacts `json:"groups"`
	// Type is ccr, scc, evs-active-passive, evs-active-active or cluster-5.5.
	Type  string   `json:"type"`
	Nodes []string `json:"nodes"`
	// ActiveNode owns the CMS/EVS now.
	ActiveNode string `json:"active_node"`
	// Active is true when this server is ActiveNode.
	Active bool `json:"active"`
	// ClusterServiceRunning is the state of the cluster service on this node.
	ClusterServiceRunning bool `json:"cluster_service_running"`
	// GroupState is the state of the CMS/EVS group: Online, Offline, PartialOnline,
	// Failed, Pending.
	GroupState string `json:"group_state"`
	// Resources are the resources of the CMS/EVS group with their type and state.
	Resources []ClusterResource `json:"resources"`
	// FailoverBlocked: the group is kept from failing over (an apply set it so).
	FailoverBlocked bool `json:"failover_blocked"`
	// NodeBuilds is the Exchange build each node reports to the cluster, by node name;
	// an EVS cannot move to a node with an older service pack once upgraded.
	NodeBuilds map[string]string `json:"node_builds"`
	// Events are the cluster-relevant Exchange events logged since the last boot, by id:
	// 1025 (MSExchangeCluster: "must be upgraded before coming online") and c1037b44
	// ("version on this computer does not match").
	Events []string `json:"events"`
}

// ClusterGroupFacts is one Exchange group of a cluster: a CMS, an EVS or a 5.5 virtual
// server.
type ClusterGroupFacts struct {
	// Name is its network name (the CMS/EVS name).
	Name string `json:"name"`
	// Owner is the node that owns it now.
	Owner string `json:"owner"`
	// State is Online, Offline, PartialOnline, Failed or Pending.
	State     string            `json:"state"`
	Resources []ClusterResource `json:"resources"`
	// FailoverBlocked: the group is kept from failing over (an apply set it so).
	FailoverBlocked bool `json:"failover_blocked"`
	// PreferredOwners are the nodes the group prefers (MSCluster_ResourceGroupToPreferredNode,
	// a set: WMI gives no order): where an active/active cluster runs it.
	PreferredOwners []string `json:"preferred_owners"`
	// ADVersion is the serialNumber of the virtual server's Exchange server object in
	// Active Directory (Exchange 2000/2003 EVS), e.g. "Version 6.5 (Build 7638.2: Service
	// Pack 2)"; "" when it could not be read. "Upgrade Exchange Virtual Server" updates it
	// (ParseADVersion).
	ADVersion string `json:"ad_version,omitempty"`
}

// adVersionRE reads the serialNumber attribute of an msExchExchangeServer object: "Version
// 6.5 (Build 7638.2: Service Pack 2)", "Version 6.5 (Build 6944.4)". The Exchange Server
// Analyzer documents the attribute as the server's version and service pack ("Version 5.5",
// "6.0", "6.5", "8.0"); Exchange System Manager shows it on the server's General tab, where
// KB 328839 (step 18) checks the version after the upgrade.
var adVersionRE = regexp.MustCompile(`(?i)^\s*Version\s+(\d+)\.(\d+)\s*\(\s*Build\s+(\d+)(?:\.(\d+))?`)

// FormatADVersion is the serialNumber Exchange 2000/2003 writes for build b at service
// pack sp: "Version 6.5 (Build 7638.2: Service Pack 2)", "Version 6.5 (Build 6944.4)".
func FormatADVersion(b Build, sp int) string {
	build := fmt.Sprint(b.Build)
	if b.Revision >= 0 {
		build += fmt.Sprintf(".%d", b.Revision)
	}
	text := fmt.Sprintf("Version %d.%d (Build %s", b.Major, b.Minor, build)
	if sp > 0 {
		text += fmt.Sprintf(": Service Pack %d", sp)
	}
	return text + ")"
}

// ParseADVersion reads the build from an Exchange server object's serialNumber (see
// ClusterGroupFacts.ADVersion); false when the text is not of that form.
func ParseADVersion(serial string) (Build, bool) {
	m := adVersionRE.FindStringSubmatch(serial)
	if m == nil {
		return Build{}, false
	}
	text := m[1] + "." + m[2] + "." + m[3]
	if m[4] != "" {
		text += "." + m[4]
	}
	b, err := ParseBuild(text)
	return b, err == nil
}

// GroupsOf returns the Exchange groups the facts describe: Groups, or, for facts that list
// none, the single group of Name (none while the node's cluster service is stopped).
func (cf *ClusterFacts) GroupsOf() []ClusterGroupFacts {
	if cf == nil {
		return nil
	}
	if len(cf.Groups) > 0 {
		return cf.Groups
	}
	if cf.Name == "" {
		return nil
	}
	return []ClusterGroupFacts{{Name: cf.Name, Owner: cf.ActiveNode, State: cf.GroupState, Resources: cf.Resources, FailoverBlocked: cf.FailoverBlocked}}
}

// ServedBy is the Exchange group (CMS, EVS) node owns that is up (Online, PartialOnline or
// Pending: restarting node takes it down); false when node owns none, or only ones offline
// or failed.
func (cf *ClusterFacts) ServedBy(node string) (ClusterGroupFacts, bool) {
	for _, g := range cf.GroupsOf() {
		if SameHost(g.Owner, node) && (g.State == groupOnline || g.State == groupPartialOnline || g.State == groupPending) {
			return g, true
		}
	}
	return ClusterGroupFacts{}, false
}

// Names reports whether name is one of the cluster's Exchange groups or its own name: what
// a user may call the cluster by. Names are compared by their first DNS label, ignoring case.
func (cf *ClusterFacts) Names(name string) bool {
	if cf == nil || name == "" {
		return false
	}
	if SameHost(cf.ClusterName, name) {
		return true
	}
	for _, g := range cf.GroupsOf() {
		if SameHost(g.Name, name) {
			return true
		}
	}
	return false
}

// SameHost reports whether two host names name the same computer: their first DNS labels
// are equal, ignoring case (NetBIOS names are unique in a domain; suffixes vary).
func SameHost(a, b string) bool {
	label := func(s string) string {
		s = strings.TrimSpace(s)
		if i := strings.IndexByte(s, '.'); i > 0 {
			s = s[:i]
		}
		return s
	}
	return a != "" && strings.EqualFold(label(a), label(b))
}

// Title names the cluster for messages: its one CMS/EVS; a cluster of several EVSs by its
// own name, else by theirs.
func (cf *ClusterFacts) Title() string {
	if cf == nil {
		return ""
	}
	var names []string
	for _, g := range cf.GroupsOf() {
		names = append(names, g.Name)
	}
	switch {
	case len(names) == 1:
		return names[0]
	case cf.ClusterName != "":
		return cf.ClusterName
	case len(names) > 1:
		return strings.Join(names, " and ")
	}
	return cf.Name
}

// Key identifies the cluster the same way on every node: its nodes, sorted, in lower case
// (a server is a node of one cluster at most). "" when the nodes are unread.
func (cf *ClusterFacts) Key() string {
	if cf == nil || len(cf.Nodes) == 0 {
		return ""
	}
	nodes := make([]string, len(cf.Nodes))
	for i, n := range cf.Nodes {
		nodes[i] = strings.ToLower(n)
	}
	sort.Strings(nodes)
	return strings.Join(nodes, ",")
}

// ClusterResource is one resource of a cluster group.
type ClusterResource struct {
	Name string `json:"name"`
	// Type: "IP Address", "Physical Disk", "Network Name", "Microsoft Exchange System
	// Attendant", "Microsoft Exchange Information Store", "MSDTC", ...
	Type string `json:"type"`
	// State: Online, Offline, Failed, OnlinePending, OfflinePending.
	State string `json:"state"`
}

// SetupFacts tells whether setup is healthy, interrupted or running.
type SetupFacts struct {
	// Watermarks lists roles whose setup key holds an Action or Watermark value.
	Watermarks []SetupWatermark `json:"watermarks"`
	// Running: an ExSetup / setup process runs now.
	Running bool `json:"running"`
	// StaleCMSKey: the CMS key remains (a forgotten /upgradeCMS).
	StaleCMSKey bool `json:"stale_cms_key"`
}

// SetupWatermark is one interrupted role setup.
type SetupWatermark struct {
	Role      string `json:"role"`
	Action    string `json:"action"`
	Watermark string `json:"watermark"`
}

// SetupActionUpgrade is the Action value an interrupted Setup.com /mode:upgrade (a service
// pack, "build to build") leaves under a role's setup key: setup names the mode it was
// running, and reports an interrupted role upgrade as the previous action
// "buildToBuildUpgrade" (an Exchange 2007 Client Access role upgrade that stopped,
// http://blog.5dmail.net/go.asp?logid=2523). The other modes setup has (a role install or
// uninstall, a disaster recovery) are not a service pack's, and neither domain.md nor a
// seed says what finishing them takes: the planner refuses them by name (checkSetupState).
const SetupActionUpgrade = "BuildToBuildUpgrade"

// Upgrade reports whether w was left by an interrupted service pack upgrade (Action
// BuildToBuildUpgrade, in any case: the message above spells it with a small b).
func (w SetupWatermark) Upgrade() bool { return strings.EqualFold(w.Action, SetupActionUpgrade) }

// SetupKeyRoot is where Exchange 2007 setup keeps its state, one subkey per role.
const SetupKeyRoot = `HKLM\SOFTWARE\Microsoft\Exchange\v8.0`

// SetupKey is the registry key of a role's setup state, as probe.ps1 maps them:
// SetupKeyRoot\<Role>Role (Edge: GatewayRole); another key the probe found a watermark
// under (AdminTools) is named as it is.
func SetupKey(role string) string { return SetupKeyRoot + `\` + SetupKeyName(role) }

// SetupKeyName is the subkey of SetupKeyRoot that holds role's setup state.
func SetupKeyName(role string) string {
	switch role {
	case "ClientAccess", "HubTransport", "Mailbox", "UnifiedMessaging":
		return role + "Role"
	case "Edge":
		return "GatewayRole"
	}
	return role
}

// SetupKeyExportFolder is where export_setup_key puts a setup key's export on the server.
const SetupKeyExportFolder = `%SystemRoot%\Temp\ExchangeProvider\setup_keys`

// SetupKeyExportFile names the export of w's key: the key's name and a digest of the values
// being removed, so that the export of the same values is found again after an interrupted
// apply (and not made twice), while a later, different watermark gets its own file.
func SetupKeyExportFile(w SetupWatermark) string {
	sum := sha256.Sum256([]byte(SetupKeyName(w.Role) + "\x00" + w.Action + "\x00" + w.Watermark))
	return SetupKeyName(w.Role) + "-" + hex.EncodeToString(sum[:4]) + ".reg"
}

// InterruptedSetupAdvice is what to do about an interrupted setup's Action/Watermark values
// under key (msxfaq.de, "Service Packs für Exchange 2007", section "Registry Action": setup
// refuses to start while they exist, taking them for another setup still running), so
// running it again cannot clear them.
func InterruptedSetupAdvice(key string) string {
	return fmt.Sprintf(`make sure no Exchange setup runs on the server (no ExSetup or setup process, no other session installing), `+
		`export the key %s to a file (reg export) so that it can be put back, delete its Action and Watermark values: then setup can run again`, key)
}

// BackupFacts are the last backups. A nil time means never.
type BackupFacts struct {
	Databases []DatabaseBackup `json:"databases"`
	// DatabasesRead: the databases' last backups were read. False means the probe could not
	// read them (Exchange 2007 without its management snap-in or a reachable domain
	// controller; Exchange 5.5/2000/2003, whose backups only ESM shows): an empty
	// Databases list then says nothing, and a backup check cannot pass on it.
	DatabasesRead bool `json:"databases_read"`
	// SystemState is the last system-state backup found in the backup tool's traces, and
	// SystemStateSource the trace it was read from (SystemStateFrom*, "" when none).
	SystemState       *time.Time `json:"system_state"`
	SystemStateSource string     `json:"system_state_source"`
}

// The system-state sources the probe reads (BackupFacts.SystemStateSource).
const (
	// SystemStateFromNTBackupLog: a "System State" backup that NTBackup's backup report
	// log (backupNN.log in the backup account's profile) says completed; Windows 2000/2003.
	SystemStateFromNTBackupLog = "ntbackup_log"
	// SystemStateFromWbadmin: a backup version that `wbadmin get versions` lists as able to
	// recover the system state; Windows Server 2008.
	SystemStateFromWbadmin = "wbadmin"
)

// DatabaseBackup is the last full backup of one database.
type DatabaseBackup struct {
	Name     string     `json:"name"`
	LastFull *time.Time `json:"last_full"`
}

// ServiceFacts is one Windows service.
type ServiceFacts struct {
	Name string `json:"name"`
	// State: Running, Stopped, StartPending, StopPending, Paused.
	State string `json:"state"`
	// StartMode: Auto, Manual, Disabled.
	StartMode string `json:"start_mode"`
}

// HasRole reports whether the server holds role.
func (f Facts) HasRole(role string) bool {
	for _, r := range f.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// ProcedureFacts are what the pre-checks of rules_procedures.go read (KB 328839,
// "Changes to Exchange 2007 SP2 setup", "Service Packs für Exchange 2007").
type ProcedureFacts struct {
	// Forefront lists the Add/Remove Programs entries of Forefront Security for Exchange
	// Server (DisplayName contains "Forefront Security"), with their DisplayVersion.
	Forefront []InstalledProduct `json:"forefront"`
	// Domain is the server's DNS domain (its primary DNS suffix).
	Domain string `json:"domain"`
	// ReceiveConnectors are the names of the server's receive connectors (2007 Hub
	// Transport/Edge, Get-ReceiveConnector); ReceiveConnectorsRead: they were read.
	ReceiveConnectors     []string `json:"receive_connectors"`
	ReceiveConnectorsRead bool     `json:"receive_connectors_read"`
	// EventLogLevels are the diagnostic-logging categories (Get-EventLogLevel) whose level
	// is not Lowest; EventLogLevelsRead: they were read (2007 with its snap-in).
	EventLogLevels     []EventLogLevel `json:"event_log_levels"`
	EventLogLevelsRead bool            `json:"event_log_levels_read"`
	// InstallerProcesses are running processes named update or xcopy (KB 328839: several
	// setup, update or Xcopy instances block a service pack); setup itself is Setup.Running.
	InstallerProcesses []string `json:"installer_processes"`
}

// InstalledProduct is one Add/Remove Programs entry.
type InstalledProduct struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// EventLogLevel is one diagnostic-logging category and its level (Lowest, Low, Medium,
// High, Expert), as Get-EventLogLevel names them.
type EventLogLevel struct {
	Identity string `json:"identity"`
	Level    string `json:"level"`
}
