package wire

import (
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
)

// The operations the provider runs and their parameters and results. The script of an
// operation is internal/remote/scripts/<name>.ps1. Each operation's parameters and result
// type are its request type in requests.go: the executor sends it (remote.Call), the
// simulator decodes it (DecodeParams), and both sides encode the result types below.
const (
	// OpProbe reads exchange.Facts. Params: Server.
	OpProbe = "probe"

	// OpLock takes or releases the servicing lock. Params: Owner (string), TTLSeconds
	// (int), Release (bool), TakeOver (string), KeepServiceRecord (bool, with Release).
	// Taking succeeds when the lock is free, expired, already Owner's, or still TakeOver's
	// (an owner the caller proved dead); result LockResult.
	OpLock = "lock"

	// OpService stops or starts one service and waits for it. Params: Name (string),
	// Action ("stop" or "start"). Idempotent; result ServiceResult. Fault "not_found".
	OpService = "service"

	// OpExchangeServices sets every Exchange service that is Disabled to Automatic and
	// starts every Exchange service not running. No params; result ExchangeServicesResult.
	OpExchangeServices = "exchange_services"

	// OpRevocationCheck turns the publisher's certificate revocation check on or off for
	// the connecting account. Params: Enabled (bool). Result SettingResult.
	OpRevocationCheck = "revocation_check"

	// OpRemoteStreamingBackup sets "Enable Remote Streaming Backup". Params: Enabled
	// (bool). Result SettingResult.
	OpRemoteStreamingBackup = "remote_streaming_backup"
	// OpFirewall starts the Windows Firewall service, recording how it was, or puts it back
	// as recorded. Params: Action ("start" or "restore"). Idempotent; result FirewallResult.
	OpFirewall = "firewall"

	// OpFrontEnd takes an Exchange 2000/2003 front-end server out of service for its clients
	// (ActionOffline: its World Wide Web Publishing service W3SVC Disabled and stopped, its
	// start mode recorded first) or back (ActionOnline: the recorded start mode back, W3SVC
	// started, the record removed). Params: Action. Idempotent; result FrontEndResult.
	OpFrontEnd = "front_end"

	// OpCustomizations saves (moves aside) or restores the customisations an update
	// overwrites. Params: Action ("save" or "restore"), LogonFile (a Logon.aspx the user
	// made for the new build, put in place by restore and checked readable by save; "" for
	// none). Restore never copies the saved page over the update's new one. Idempotent;
	// result CustomizationsResult.
	OpCustomizations = "customizations"

	// OpOWACheck asks the server's own OWA for its logon page,
	// https://localhost/owa/auth/logon.aspx, without credentials, and reports what came back.
	// No params; result OWACheckResult. Read-only; no faults (the caller judges the answer).
	OpOWACheck = "owa_check"

	// OpPreflight checks, before an apply changes anything, what its steps will read.
	// Params: Checks (PreflightChecks: one exchange.PreflightCheck a line). For each
	// installer check it finds the installer as job_start does (Find-ExInstaller,
	// prelude.ps1) and opens it, and each folder it reads, for reading; a check whose job
	// (JobID) runs or succeeded is skipped, as job_start attaches to that job and starts
	// nothing. A PreflightFile check opens the file. Where the server lets a script read it,
	// it also compares service pack media and update packages with the server (architecture,
	// Exchange language). Read-only; result PreflightResult (the caller judges it). Fault
	// "invalid" (a check that cannot be right).
	OpPreflight = "preflight"

	// OpJobStart starts an installer detached from the WinRM connection, recording a job
	// under its ID; if a job with that ID exists (running or finished) it is returned
	// instead and nothing is started — unless that job failed: then a new run starts under
	// the same ID (the failed run's log stays where it was). A job whose record says
	// running while its installer process is gone (a reboot interrupted it) is failed
	// first. Params: ID, Action (an exchange.Action* installing action), MediaPath,
	// PackagePath, PatchCode, KB, Language, Group (strings; "" when not used). The cluster
	// installer action exchange.ActionUpgradeCMS (Setup.com /upgradeCMS from MediaPath)
	// names its CMS in Group. Result exchange.Job. Faults: "setup_running" (another setup
	// runs), "watermark" (an interrupted setup must be cleared first), "refused" (the
	// installer refuses: wrong SP for a rollup, package not found, ...).
	OpJobStart = "job_start"

	// OpJobStatus reads one job record. Params: ID. Result exchange.Job; fault "not_found".
	OpJobStatus = "job_status"

	// OpJobClear removes every finished (not running) job record. No params; result
	// JobClearResult. An apply that ran its whole plan clears them, so a record still
	// present tells the next plan that an apply stopped after that install.
	OpJobClear = "job_clear"

	// OpCluster changes the cluster the server is a node of. Params: Action (one of the
	// Cluster* actions below), Group (the CMS/EVS or cluster group name), Node (the target
	// node for moves; "" otherwise). Every action is idempotent and waits, bounded, for the
	// cluster to settle; result ClusterResult. Faults: "not_clustered", "not_found" (group
	// or node), "refused" (what the cluster or Exchange refuses, with its message: e.g. an
	// EVS that cannot come online on a node with an older service pack), "timeout".
	OpCluster = "cluster"

	// OpReboot asks Windows to restart in a few seconds. No params; result RebootResult.
	// The caller then waits until a probe answers with a newer boot time.
	OpReboot = "reboot"

	// OpDiscover lists the Exchange servers of the organisation as the server it runs on
	// sees them in Active Directory: the Exchange server objects of the configuration
	// partition, sorted by name ignoring case. Params: Server (string; not "": also probe this
	// host as OpProbe with that Server does, in the same process, so that the server
	// discovery goes through costs one PowerShell process, not two). Result DiscoverResult,
	// its Probe the probe's answer: a probe that fails or faults is reported there and never
	// fails the discovery. Read-only: nothing on any server changes. A clustered mailbox
	// server (2007) or Exchange Virtual Server (2000/2003) is one server object named after
	// its network name, and its nodes have none: probe that name to learn the nodes
	// (exchange.Facts.Cluster). (The simulator lists the fleet's servers, cluster nodes
	// included.) Faults: "not_found"
	// (Active Directory holds no Exchange organisation), "unavailable" (Active Directory
	// cannot be read from there, e.g. WinRM passed no credentials for a second hop: name the
	// servers explicitly instead).
	OpDiscover = "discover"

	// OpSetupWatermark clears an interrupted Exchange 2007 setup's Action/Watermark values
	// on the user's opt-in. Params: Action (SetupWatermarkCheck, SetupWatermarkExport or
	// SetupWatermarkRemove), Key (a subkey of HKLM\SOFTWARE\Microsoft\Exchange\v8.0, e.g.
	// MailboxRole; "" for check), File (export: the file name in
	// %SystemRoot%\Temp\ExchangeProvider\setup_keys, e.g. MailboxRole-0a1b2c3d.reg; "" else).
	// check: nothing runs; export: reg.exe export of the key to the file, skipped when the
	// file exists; remove: the key's Action and Watermark values deleted, nothing else, a
	// no-op when they are gone. Export and remove check first that nothing runs too, all
	// under the provider's mutex. Result SetupWatermarkResult. Faults: "invalid" (a key or
	// file name that cannot be right), "setup_running" (as OpJobStart's), "not_found" (export:
	// no such key), "failed" (reg.exe or the registry refused).
	OpSetupWatermark = "setup_watermark"
)

// Actions of OpSetupWatermark.
const (
	SetupWatermarkCheck  = "check"
	SetupWatermarkExport = "export"
	SetupWatermarkRemove = "remove"
)

// SetupWatermarkResult answers OpSetupWatermark.
type SetupWatermarkResult struct {
	// Key is the whole registry key ("" for check); File the export's whole path (export).
	Key  string `json:"key"`
	File string `json:"file"`
	// Exported: export wrote File; false when it existed already (an earlier run's).
	Exported bool `json:"exported"`
	// Removed lists the values remove deleted ("Action = Install", ...); empty when none
	// was there.
	Removed []string `json:"removed"`
}

// Cluster actions of OpCluster.
const (
	ClusterMoveGroup           = "move_group"            // Group to Node
	ClusterStopService         = "stop_service"          // the cluster service on this node
	ClusterStartService        = "start_service"         // the cluster service on this node
	ClusterStopCMS             = "stop_cms"              // 2007: Stop-ClusteredMailboxServer
	ClusterStartCMS            = "start_cms"             // 2007: Start-ClusteredMailboxServer
	ClusterOfflineEVSResources = "offline_evs_resources" // all but IP address, physical disk, network name
	ClusterOnlineGroup         = "online_group"          // every resource of Group
	ClusterBlockFailover       = "block_failover"        // keep Group from failing over
	ClusterAllowFailover       = "allow_failover"        // undo block_failover
)

// ClusterResult answers OpCluster: the cluster as it is after the action.
type ClusterResult struct {
	Group      string                     `json:"group"`
	Owner      string                     `json:"owner"`
	GroupState string                     `json:"group_state"`
	Resources  []exchange.ClusterResource `json:"resources"`
	// ClusterServiceRunning is the cluster service's state on the node the op ran on.
	ClusterServiceRunning bool `json:"cluster_service_running"`
}

// Service actions of OpService and customisation actions of OpCustomizations.
const (
	ActionStop    = "stop"
	ActionStart   = "start"
	ActionSave    = "save"
	ActionRestore = "restore"
)

// LockResult answers OpLock.
type LockResult struct {
	// Held: the caller holds the lock now (false after a release, or when another owns it).
	Held bool `json:"held"`
	// Owner holds the lock now ("" when free).
	Owner   string    `json:"owner"`
	Expires time.Time `json:"expires"`
}

// ServiceResult answers OpService.
type ServiceResult struct {
	Name      string `json:"name"`
	Before    string `json:"before"`
	After     string `json:"after"`
	StartMode string `json:"start_mode"`
}

// ExchangeServicesResult answers OpExchangeServices.
type ExchangeServicesResult struct {
	// Enabled lists services whose start mode went from Disabled to Auto.
	Enabled []string `json:"enabled"`
	// Started lists services that were started.
	Started []string `json:"started"`
	// Failed lists services that would not start, with the reason.
	Failed []string `json:"failed"`
	// LeftToCluster lists, on a cluster node, the Exchange services that start Manual (on
	// 2000/2003/5.5 the virtual server's resources) and were not started: the cluster
	// brings them online where the group runs.
	LeftToCluster []string                `json:"left_to_cluster"`
	Services      []exchange.ServiceFacts `json:"services"`
}

// FirewallResult answers OpFirewall.
type FirewallResult struct {
	// Service is the Windows Firewall service: MpsSvc (Windows Server 2008) or SharedAccess
	// (Windows Server 2003).
	Service string `json:"service"`
	Before  string `json:"before"`
	After   string `json:"after"`
	// Recorded: start found it stopped and recorded it (RecordedState, RecordedStartMode);
	// restore found that record and put the service back to it (the record is then gone).
	Recorded          bool   `json:"recorded"`
	RecordedState     string `json:"recorded_state"`
	RecordedStartMode string `json:"recorded_start_mode"`
}

// Front-end actions of OpFrontEnd.
const (
	ActionOffline = "offline"
	ActionOnline  = "online"
)

// FrontEndResult answers OpFrontEnd.
type FrontEndResult struct {
	// Service is the web service taken offline or brought back (W3SVC); Before and After
	// its state, StartMode its start mode after the operation.
	Service   string `json:"service"`
	Before    string `json:"before"`
	After     string `json:"after"`
	StartMode string `json:"start_mode"`
	// RecordedStartMode is the start mode offline recorded (and online put back); "" when
	// there is no record (online then changes nothing).
	RecordedStartMode string `json:"recorded_start_mode"`
}

// SettingResult answers OpRevocationCheck and OpRemoteStreamingBackup.
type SettingResult struct {
	Before bool `json:"before"`
	After  bool `json:"after"`
}

// CustomizationsResult answers OpCustomizations.
type CustomizationsResult struct {
	// Items lists what was saved or restored (e.g. "owa_logon"); empty when nothing was to do.
	Items []string `json:"items"`
}

// OWACheckResult answers OpOWACheck.
type OWACheckResult struct {
	URL string `json:"url"`
	// Status is the HTTP status code; 0 when nothing answered (Error says why).
	Status int `json:"status"`
	// LogonForm: the body holds an HTML form (the logon page rendered); false with status
	// 200 is the blank page.
	LogonForm bool `json:"logon_form"`
	// Length is the body's length in characters.
	Length int    `json:"length"`
	Error  string `json:"error"`
	// CertificateErrors is what validating the server's certificate found ("None", or e.g.
	// "RemoteCertificateNameMismatch"): accepted for this loopback request, and reported.
	CertificateErrors string `json:"certificate_errors"`
}

// PreflightResult answers OpPreflight: one item per check, in order.
type PreflightResult struct {
	Items []PreflightItem `json:"items"`
}

// PreflightItem is what OpPreflight found for one check.
type PreflightItem struct {
	// Found lists what the check opened and could read (the installer, the folder it
	// reads, the file).
	Found []string `json:"found"`
	// Skipped says why the check was not made ("" when it was): its job exists.
	Skipped string `json:"skipped"`
	// Problem is why the step would fail ("" when none): what is missing or unreadable, or
	// how the media does not match the server.
	Problem string `json:"problem"`
}

// JobClearResult answers OpJobClear.
type JobClearResult struct {
	// Cleared are the ids of the records removed.
	Cleared []string `json:"cleared"`
}

// RebootResult answers OpReboot.
type RebootResult struct {
	// BootTime is the boot time before the restart; a later probe shows a newer one.
	BootTime time.Time `json:"boot_time"`
}

// DiscoverResult answers OpDiscover.
type DiscoverResult struct {
	// Organization is the Exchange organisation's name.
	Organization string `json:"organization"`
	// Servers are sorted by name, ignoring case; never nil.
	Servers []DiscoveredServer `json:"servers"`
	// Probe is the answer of the probe DiscoverRequest.Server asked for; nil when none was.
	Probe *ProbeAnswer `json:"probe,omitempty"`
}

// ProbeAnswer is a probe read inside another operation: its facts, or the fault it ended
// with (a probe fault such as wrong_server, or "unexpected" for an error nobody caught).
type ProbeAnswer struct {
	Facts *exchange.Facts `json:"facts,omitempty"`
	Fault *Fault          `json:"fault,omitempty"`
}

// DiscoveredServer is one Exchange server object of Active Directory.
type DiscoveredServer struct {
	// Name is the computer name as Exchange knows it (the server object's name; for a
	// cluster, the CMS or EVS network name).
	Name string `json:"name"`
	// FQDN is the DNS name Exchange records for the server (its ncacn_ip_tcp network
	// address); "" when Active Directory records none.
	FQDN string `json:"fqdn"`
	// Product is "5.5", "2000", "2003" or "2007", from the version Active Directory records
	// (serialNumber, what AdminDisplayVersion shows); "" when none is recorded or it is
	// another version (Exchange 2010 and later, which this provider does not service).
	Product string `json:"product"`
	// Roles are spelled as exchange.Facts.Roles: ClientAccess, HubTransport, Mailbox,
	// UnifiedMessaging, Edge (2007, in this order); FrontEnd or BackEnd (2000/2003). Empty
	// (never nil) when Active Directory does not say, always for Exchange 5.5.
	Roles []string `json:"roles"`
	// Site is the Active Directory site (2007) or routing group (2000/2003) of the server;
	// "" when unknown.
	Site string `json:"site"`
}
