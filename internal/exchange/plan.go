package exchange

import (
	"fmt"
	"strings"
	"time"
)

// Step actions: stable, machine-readable names a policy over `terraform show -json` can use.
// Each step of a plan is one of these; the executor runs it idempotently. The Params named
// below are the keys planned_steps shows; each kind's typed data is in steps.go.
const (
	// ActionPreflight checks on the server, before any step changes it, that every media,
	// package and file the later steps read is there and readable (Params: the attributes
	// and their paths), and that service pack media matches the server where that can be
	// read. It changes nothing.
	ActionPreflight = "preflight"
	// ActionVerifyBackups re-checks the backup precondition at apply time.
	ActionVerifyBackups = "verify_backups"
	// ActionReboot restarts the server (Params["when"]: "always" or "if_required") and waits
	// until it answers with a new boot time.
	ActionReboot = "reboot"
	// ActionSaveCustomizations moves OWA Logon.aspx (and the other customisations an
	// update overwrites) aside; ActionRestoreCustomizations puts them back.
	ActionSaveCustomizations    = "save_customizations"
	ActionRestoreCustomizations = "restore_customizations"
	// ActionRemoveInterimUpdate uninstalls an interim update/hotfix (Params: kb, patch_code).
	ActionRemoveInterimUpdate = "remove_interim_update"
	// ActionInstallInterimUpdate installs one (Params: kb, package_path).
	ActionInstallInterimUpdate = "install_interim_update"
	// ActionRemoveUMLanguagePack / ActionAddUMLanguagePack (Params: language, path).
	ActionRemoveUMLanguagePack = "remove_um_language_pack"
	ActionAddUMLanguagePack    = "add_um_language_pack"
	// ActionStopService / ActionStartService stop and start a third-party service (Params: service).
	ActionStopService  = "stop_service"
	ActionStartService = "start_service"
	// ActionDisableRevocationCheck / ActionEnableRevocationCheck for the installing account.
	ActionDisableRevocationCheck = "disable_revocation_check"
	ActionEnableRevocationCheck  = "enable_revocation_check"
	// ActionInstallServicePack runs Setup.com /mode:upgrade (Params: service_pack, media_path, build).
	ActionInstallServicePack = "install_service_pack"
	// ActionInstallUpdateRollup installs the rollup .msp (Params: rollup, package_path, build, kb).
	ActionInstallUpdateRollup = "install_update_rollup"
	// ActionUninstallUpdateRollup removes an installed rollup (Params: kb, patch_code, build).
	ActionUninstallUpdateRollup = "uninstall_update_rollup"
	// ActionStartExchangeServices sets every Exchange service an install left Disabled back
	// to Automatic and starts every Exchange service that is not running.
	ActionStartExchangeServices = "start_exchange_services"
	// ActionSetRemoteStreamingBackup re-applies "Enable Remote Streaming Backup" = 1.
	ActionSetRemoteStreamingBackup = "set_remote_streaming_backup"
	// ActionVerifyOWA asks the server's own OWA for its logon page after the install
	// ("How to install the latest Service Pack or Update Rollup for Exchange 2007": log on to OWA to check that it works).
	ActionVerifyOWA = "verify_owa"
	// ActionStartFirewall starts the Windows Firewall service before setup on a CCR passive
	// node, recording how it was; ActionRestoreFirewall puts it back afterwards ("Service Packs für Exchange 2007").
	ActionStartFirewall   = "start_firewall"
	ActionRestoreFirewall = "restore_firewall"
	// ActionTakeFrontEndOffline takes an Exchange 2003 front-end of a load-balanced group out
	// of service for its clients before any of the group is upgraded, recording how it was;
	// ActionBringFrontEndOnline brings it back once every one is upgraded [KB 328839].
	ActionTakeFrontEndOffline = "take_front_end_offline"
	ActionBringFrontEndOnline = "bring_front_end_online"
	// ActionVerifyBuild reads the build again and compares it with Params["build"].
	ActionVerifyBuild = "verify_build"
	// An interrupted Exchange 2007 setup's Action/Watermark values, cleared on the user's
	// opt-in (clear_setup_watermark): ActionCheckNoSetupRunning refuses while any setup or
	// installer runs; ActionExportSetupKey exports the role's key (Params key) to the file
	// Params file with reg.exe export, skipped when that file exists; ActionRemoveSetupWatermark
	// removes only the Action and Watermark values of the key, a no-op when they are gone.
	ActionCheckNoSetupRunning  = "check_no_setup_running"
	ActionExportSetupKey       = "export_setup_key"
	ActionRemoveSetupWatermark = "remove_setup_watermark"

	// Cluster steps. Server is the node the step runs on.
	//
	// ActionMoveClusterGroup moves a cluster group (Params group: the CMS/EVS or the
	// cluster group; to: the node) and waits until it is online there or, for an offline
	// group, owned there.
	ActionMoveClusterGroup = "move_cluster_group"
	// ActionStopClusterService / ActionStartClusterService stop and start the cluster
	// service on the step's node (installs on 2000/2003/5.5 nodes need it stopped).
	ActionStopClusterService  = "stop_cluster_service"
	ActionStartClusterService = "start_cluster_service"
	// ActionStopClusteredServer / ActionStartClusteredServer take the clustered mailbox
	// server (2007, Params group) offline and online: the downtime of a CCR/SCC upgrade.
	ActionStopClusteredServer  = "stop_clustered_server"
	ActionStartClusteredServer = "start_clustered_server"
	// ActionUpgradeCMS runs Setup.com /upgradeCMS on the node that owns the stopped CMS
	// (Params group, media_path, build). An installer job.
	ActionUpgradeCMS = "upgrade_cms"
	// ActionTakeEVSResourcesOffline takes every resource of the EVS group offline except
	// IP address, physical disk and network name (Params group): the precondition of an
	// EVS upgrade on 2000/2003.
	ActionTakeEVSResourcesOffline = "take_evs_resources_offline"
	// ActionUpgradeEVSManually is "Upgrade Exchange Virtual Server" on an Exchange 2003 EVS
	// (Params group, build, manual = "true"): SP only, not for a hotfix. A manual step: no
	// command line for it is documented, so the apply checks whether
	// Active Directory records the EVS at the target build and, when it does not, stops
	// there with the administrator's instructions; the next apply continues after it.
	ActionUpgradeEVSManually = "upgrade_evs_manually"
	// ActionBringGroupOnline brings every resource of a group online (Params group).
	ActionBringGroupOnline = "bring_group_online"
	// ActionFailoverTest moves a group to another node and back (Params group, to) and
	// checks it comes online on each.
	ActionFailoverTest = "failover_test"
	// ActionBlockFailover / ActionAllowFailover keep a group from failing over while a
	// node is serviced (5.5: the active node is upgraded with no failover) and allow it again.
	ActionBlockFailover = "block_failover"
	ActionAllowFailover = "allow_failover"
)

// Step is one thing an apply does to one server, in order.
type Step struct {
	// Kind is what the step does, with its typed data (steps.go); Action() names it.
	Kind StepKind
	// Server is the server (or cluster node) the step touches.
	Server string
	// Description is what a reviewer reads, e.g. "remove interim update KB123456".
	Description string
	// Downtime: the step interrupts the server's Exchange service.
	Downtime bool
	// Reboot: the step restarts (or may restart) the server.
	Reboot bool
}

func (s Step) String() string { return s.Server + ": " + s.Description }

// Plan is the ordered steps that bring one server from its facts to the desired level.
type Plan struct {
	Server string
	Steps  []Step
	// Warnings are advisable but not enforced (e.g. a waived backup check).
	Warnings []string
	// Target is the release the server reaches; zero when nothing is installed.
	Target Release
	// After is what the server's facts will be once the plan has run, for a later plan in
	// the same Terraform run (an update rollup after a service pack on the same server).
	After Facts
}

// Empty reports whether the plan changes nothing.
func (p Plan) Empty() bool { return len(p.Steps) == 0 }

// ChecksOnly reports whether every step of the plan only reads the server (IsCheck): such
// a plan (an organisation's preflight, a front-end group's checks) has no job of its own,
// so its apply leaves the job records of other plans alone.
func (p Plan) ChecksOnly() bool {
	for _, s := range p.Steps {
		if !IsCheck(s.Action()) {
			return false
		}
	}
	return true
}

// IsCheck reports whether steps of action read the server and change nothing, so that a
// plan can run them before its other steps: the preflight, the backup check and the check
// that no setup runs.
func IsCheck(action string) bool {
	return action == ActionPreflight || action == ActionVerifyBackups || action == ActionCheckNoSetupRunning
}

// Actions lists the steps' actions, for tests and compact logs.
func (p Plan) Actions() []string {
	out := make([]string, len(p.Steps))
	for i, s := range p.Steps {
		out[i] = s.Action()
	}
	return out
}

// Field names a part of a request (ServicePackRequest, UpdateRollupRequest, ClusterRequest,
// OrganizationRequest, their Options): a refusal names the one at fault, each caller maps it to where the user
// set it. Its value is the request's field name.
type Field string

const (
	FieldServicePack          Field = "ServicePack"
	FieldRollup               Field = "Rollup" // Rollup, ReRelease and Latest: the rollup to reach
	FieldMediaPath            Field = "MediaPath"
	FieldNodeMediaPaths       Field = "NodeMediaPaths"
	FieldPackagePath          Field = "PackagePath"
	FieldNodePackagePaths     Field = "NodePackagePaths"
	FieldUMLanguagePackPath   Field = "UMLanguagePackPath"
	FieldKB                   Field = "KB"
	FieldBackup               Field = "Options.Backup"
	FieldStopServices         Field = "Options.StopServices"
	FieldRemoveInterimUpdates Field = "Options.RemoveInterimUpdates"
	FieldRevocationCheck      Field = "Options.RevocationCheck"
	FieldOWALogonFile         Field = "Options.OWALogonFile"
	FieldForefrontCompatible  Field = "Options.ForefrontCompatible"
	FieldClearSetupWatermark  Field = "Options.ClearSetupWatermarkReason"
	// FieldLoadBalancedFrontEnds is OrganizationRequest's.
	FieldLoadBalancedFrontEnds Field = "LoadBalancedFrontEnds"
)

// Refusal is why a plan cannot be made: what is wrong on which server, and what to do.
type Refusal struct {
	Server string
	// Field is the part of the request at fault, when one is (FieldServicePack); the
	// provider shows the refusal on the attribute that sets it.
	Field Field
	// Problem says what is wrong; Action says what the user should do.
	Problem, Action string
}

func (r Refusal) Error() string {
	return fmt.Sprintf("server %s: %s. %s", r.Server, r.Problem, r.Action)
}

// Refusals are every reason a plan was refused, so a user fixes them all in one round.
type Refusals []Refusal

func (rs Refusals) Error() string {
	msgs := make([]string, len(rs))
	for i, r := range rs {
		msgs[i] = r.Error()
	}
	return strings.Join(msgs, "\n")
}

// BackupPolicy is the backup precondition of a servicing change.
type BackupPolicy struct {
	// MaxDatabaseAge: every database's last full backup must be younger; 0 = not checked.
	MaxDatabaseAge time.Duration
	// MaxSystemStateAge: the last system-state backup must be younger; 0 = not checked.
	MaxSystemStateAge time.Duration
	// WaiverReason, when set, waives the check; the reason is kept and shown as a warning.
	WaiverReason string

	// Evidence from the user's backup system, for what a server does not let the probe read
	// (backups.go), checked like a read time; where both exist the newer one counts.
	// SystemStateBackupTimes: last system-state backup by server name.
	SystemStateBackupTimes map[string]time.Time
	// DatabaseBackupTimes: last full backup by "<server>" (every database of the server) or
	// "<server>\<storage group>\<database>" (one database).
	DatabaseBackupTimes map[string]time.Time
	// DomainControllerBackupTime: last system-state backup of a domain controller of the
	// servers' domain (KB 328839); nil when not supplied.
	DomainControllerBackupTime *time.Time
}

// RevocationCheck modes for the installing account.
const (
	RevocationAuto   = "auto"   // turn the check off only when the server has no internet access
	RevocationAlways = "always" // always turn it off for the install and back on after
	RevocationNever  = "never"  // leave it as it is
)

// Options are what every servicing request shares.
type Options struct {
	Backup BackupPolicy
	// StopServices are third-party services to stop before and start after the install.
	// nil means every running third-party service the probe found.
	StopServices []string
	// RemoveInterimUpdates are the KBs the user allows the apply to remove.
	RemoveInterimUpdates []string
	// RevocationCheck is RevocationAuto, RevocationAlways or RevocationNever ("" = auto).
	RevocationCheck string
	// PreserveOWACustomizations moves a customised Logon.aspx aside and back (default true
	// in the provider).
	PreserveOWACustomizations bool
	// OWALogonFile is a Logon.aspx the user customised for the new build (on the server or
	// a share it reads), put in place after the install; "" keeps the update's new page.
	OWALogonFile string
	// ForefrontCompatible, when set, is the user's statement that the installed Forefront
	// Security for Exchange Server is a version compatible with the service pack ("Service Packs für Exchange 2007").
	ForefrontCompatible string
	// ClearSetupWatermarkReason, when set, is the user's reason for letting a service pack
	// plan clear an interrupted setup's Action/Watermark values (after checking no setup
	// runs and exporting the key) and run setup again; "" refuses such a server.
	ClearSetupWatermarkReason string
	// Now is the time backups are measured against.
	Now time.Time
}

// ServicePackRequest asks for a service pack level on one server.
type ServicePackRequest struct {
	Server      string
	ServicePack int
	// MediaPath is the SP setup media (folder with Setup.com) on the server or a share.
	MediaPath string
	// UMLanguagePackPath is the folder with the UM language packs for the new SP; needed
	// when the server has UM language packs (they are removed before and re-added after).
	UMLanguagePackPath string
	// RollupFollows says a rollup is planned right after the service pack (as an
	// organisation upgrade does): the plan does not advise adding one.
	RollupFollows bool
	// RollupAdvice is how the warning after an Exchange 2007 service pack says to install the
	// newest rollup; "" is the exchange_service_pack resource's way (rollupResourceAdvice).
	RollupAdvice string
	Options
}

// UpdateRollupRequest asks for an update rollup on one server.
type UpdateRollupRequest struct {
	Server string
	// ServicePack is the SP level the rollup is for; -1 means the server's live level.
	ServicePack int
	// Rollup and ReRelease name the rollup ("8-v3" is 8, 3); Latest asks for the newest.
	Rollup, ReRelease int
	Latest            bool
	// PackagePath is the rollup's .msp on the server or a share.
	PackagePath string
	// KB is the rollup's KB when the catalog does not state one (user-supplied).
	KB string
	Options
}

// InterimUpdateRequest asks for an interim update or hotfix to be present or absent.
type InterimUpdateRequest struct {
	Server  string
	KB      string
	Present bool
	// PackagePath is the update's package (.msp/.exe); needed when Present.
	PackagePath string
	Options
}

// ClusterRequest asks for a service pack (and optionally an update rollup, 2007) on every
// node of one clustered mailbox server (2007 CCR/SCC), Exchange Virtual Server (2000/2003)
// or Exchange 5.5 cluster.
type ClusterRequest struct {
	// Cluster is the CMS / EVS / cluster name.
	Cluster string
	// ServicePack is the level every node must reach.
	ServicePack int
	// Rollup/ReRelease/Latest name an update rollup to install after the service pack
	// (2007 only); zero and !Latest: none.
	Rollup, ReRelease int
	Latest            bool
	// MediaPath is the SP setup media; NodeMediaPaths overrides it per node.
	MediaPath      string
	NodeMediaPaths map[string]string
	// PackagePath is the rollup package; NodePackagePaths overrides it per node.
	PackagePath      string
	NodePackagePaths map[string]string
	// KB of the rollup where the catalog does not state one.
	KB string
	// RollupAdvice is how the warning after a service pack without a rollup says to install
	// the newest one; "" is the exchange_cluster_upgrade resource's way (clusterRollupAdvice).
	RollupAdvice string
	Options
}
