package exchange

// Step kinds: each kind of step is a small struct with its own typed fields, and one list of
// kinds (StepRunner) that the compiler holds the executor to.
//
// To add a step kind:
//  1. Add its Action* constant in plan.go (a stable name: plans, state and job ids show it).
//  2. Add a struct here with the fields the executor needs, and its four methods: Action
//     (the constant), Params (the string map planned_steps shows; once released, its keys and
//     values never change), Check (the fields the executor cannot run without, as a planner
//     bug) and Run (one line: call the StepRunner method for the kind).
//  3. An installer run as a detached job implements Installer too: Job names the job's key
//     (its id is the action, "-" and the key; never change it: a resume after an upgrade
//     looks the job up by it) and what job_start gets; its Run calls r.Install(k).
//  4. Add the kind's method to StepRunner; the build then fails until the executor
//     (servicing/steps.go, stepRun) implements it.

import (
	"errors"
	"strconv"
	"time"
)

// StepKind is what a step does, with its typed data.
type StepKind interface {
	// Action is the kind's stable name (an Action* constant).
	Action() string
	// Params is the data as plan output and state show it (planned_steps params).
	Params() map[string]string
	// Check reports a field the step cannot run without: a planner bug.
	Check() error
	// Run hands the step to the runner's method for its kind.
	Run(r StepRunner) error
}

// Installer is a step kind the executor runs as a detached installer job.
type Installer interface {
	StepKind
	Job() InstallJob
}

// InstallJob is what an installer step's job is named by and started with.
type InstallJob struct {
	// Key names what the job installs or removes: the job id is the action, "-" and Key
	// (the action alone when Key is ""). See JobID.
	Key string
	// MediaPath is the setup media (Setup.com, update.exe); PackagePath the .msp/.exe.
	MediaPath, PackagePath string
	// PatchCode and KB name the update to remove or install; Language a UM language pack.
	PatchCode, KB, Language string
	// Group is the clustered mailbox server an upgrade_cms upgrades; "" otherwise.
	Group string
}

// StepRunner runs each step kind. Every kind's Run calls its method, so the executor that
// implements StepRunner handles every kind, or does not compile.
type StepRunner interface {
	VerifyBackups(VerifyBackups) error
	Reboot(Reboot) error
	SaveCustomizations(SaveCustomizations) error
	RestoreCustomizations(RestoreCustomizations) error
	StopService(StopService) error
	StartService(StartService) error
	DisableRevocationCheck(DisableRevocationCheck) error
	EnableRevocationCheck(EnableRevocationCheck) error
	SetRemoteStreamingBackup(SetRemoteStreamingBackup) error
	StartFirewall(StartFirewall) error
	RestoreFirewall(RestoreFirewall) error
	StartExchangeServices(StartExchangeServices) error
	VerifyBuild(VerifyBuild) error
	VerifyOWA(VerifyOWA) error
	CheckNoSetupRunning(CheckNoSetupRunning) error
	ExportSetupKey(ExportSetupKey) error
	RemoveSetupWatermark(RemoveSetupWatermark) error
	// Install runs every Installer kind.
	Install(Installer) error

	MoveClusterGroup(MoveClusterGroup) error
	StopClusterService(StopClusterService) error
	StartClusterService(StartClusterService) error
	StopClusteredServer(StopClusteredServer) error
	StartClusteredServer(StartClusteredServer) error
	TakeEVSResourcesOffline(TakeEVSResourcesOffline) error
	// UpgradeEVSManually checks the administrator's step and stops the apply when it is
	// not done.
	UpgradeEVSManually(UpgradeEVSManually) error
	BringGroupOnline(BringGroupOnline) error
	FailoverTest(FailoverTest) error
	BlockFailover(BlockFailover) error
	AllowFailover(AllowFailover) error

	TakeFrontEndOffline(TakeFrontEndOffline) error
	BringFrontEndOnline(BringFrontEndOnline) error
}

// Action is the step's action name; "" for a step without a kind.
func (s Step) Action() string {
	if s.Kind == nil {
		return ""
	}
	return s.Kind.Action()
}

// Params is the step's data as plan output and state show it.
func (s Step) Params() map[string]string {
	if s.Kind == nil {
		return nil
	}
	return s.Kind.Params()
}

// missing is the Check error for the first named field whose value is "": name, value, ...
func missing(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			return errors.New("parameter " + pairs[i] + " is missing")
		}
	}
	return nil
}

func buildMissing(b Build) error {
	if b.IsZero() {
		return errors.New("parameter build is missing")
	}
	return nil
}

// --- Single-server steps ---

// VerifyBackups re-checks the backup precondition (the planner did, against fresh facts).
// Its fields are BackupPolicy's (the planner converts one): a field added there that
// planned_steps should not show needs a struct literal in verifyBackups instead.
type VerifyBackups struct {
	MaxDatabaseAge, MaxSystemStateAge time.Duration
	WaiverReason                      string
}

func (VerifyBackups) Action() string { return ActionVerifyBackups }
func (k VerifyBackups) Params() map[string]string {
	p := map[string]string{
		"max_database_age":     durationParam(k.MaxDatabaseAge),
		"max_system_state_age": durationParam(k.MaxSystemStateAge),
	}
	if k.WaiverReason != "" {
		p["waiver_reason"] = k.WaiverReason
	}
	return p
}
func (VerifyBackups) Check() error             { return nil }
func (k VerifyBackups) Run(r StepRunner) error { return r.VerifyBackups(k) }

// RebootWhen is when a reboot step restarts the server.
type RebootWhen string

const (
	RebootAlways     RebootWhen = "always"
	RebootIfRequired RebootWhen = "if_required"
)

// Reboot restarts the server (always, or if the installer or Windows asks for it) and waits
// until it answers with a new boot time.
type Reboot struct{ When RebootWhen }

func (Reboot) Action() string              { return ActionReboot }
func (k Reboot) Params() map[string]string { return map[string]string{"when": string(k.When)} }
func (k Reboot) Check() error {
	if k.When != RebootAlways && k.When != RebootIfRequired {
		return errors.New("parameter when is " + strconv.Quote(string(k.When)) + ", want " +
			strconv.Quote(string(RebootAlways)) + " or " + strconv.Quote(string(RebootIfRequired)))
	}
	return nil
}
func (k Reboot) Run(r StepRunner) error { return r.Reboot(k) }

// SaveCustomizations moves OWA Logon.aspx (and what else an update overwrites) aside.
// LogonFile, when set, is the page the restore will put in place: the save checks first
// that it can be read, so an apply stops before anything is changed.
type SaveCustomizations struct{ LogonFile string }

func (SaveCustomizations) Action() string              { return ActionSaveCustomizations }
func (k SaveCustomizations) Params() map[string]string { return logonFileParams(k.LogonFile) }
func (SaveCustomizations) Check() error                { return nil }
func (k SaveCustomizations) Run(r StepRunner) error    { return r.SaveCustomizations(k) }

// RestoreCustomizations ends the save: it keeps the page the update wrote (or puts
// LogonFile, a page the user made for the new build, in its place) and keeps the saved
// page aside; it copies the saved page back only where no page is live ("How to install the latest Service Pack or Update Rollup for Exchange 2007": copying
// the old page over the new one brings back the blank page).
type RestoreCustomizations struct{ LogonFile string }

func (RestoreCustomizations) Action() string              { return ActionRestoreCustomizations }
func (k RestoreCustomizations) Params() map[string]string { return logonFileParams(k.LogonFile) }
func (RestoreCustomizations) Check() error                { return nil }
func (k RestoreCustomizations) Run(r StepRunner) error    { return r.RestoreCustomizations(k) }

// logonFileParams: no params without a logon file, as before owa_logon_file existed.
func logonFileParams(file string) map[string]string {
	if file == "" {
		return nil
	}
	return map[string]string{"owa_logon_file": file}
}

// StopService stops a third-party service; StartService starts it.
type StopService struct{ Service string }

func (StopService) Action() string              { return ActionStopService }
func (k StopService) Params() map[string]string { return map[string]string{"service": k.Service} }
func (k StopService) Check() error              { return missing("service", k.Service) }
func (k StopService) Run(r StepRunner) error    { return r.StopService(k) }

type StartService struct{ Service string }

func (StartService) Action() string              { return ActionStartService }
func (k StartService) Params() map[string]string { return map[string]string{"service": k.Service} }
func (k StartService) Check() error              { return missing("service", k.Service) }
func (k StartService) Run(r StepRunner) error    { return r.StartService(k) }

// DisableRevocationCheck / EnableRevocationCheck turn the publisher's certificate revocation
// check of the installing account off and on.
type DisableRevocationCheck struct{}

func (DisableRevocationCheck) Action() string            { return ActionDisableRevocationCheck }
func (DisableRevocationCheck) Params() map[string]string { return nil }
func (DisableRevocationCheck) Check() error              { return nil }
func (k DisableRevocationCheck) Run(r StepRunner) error  { return r.DisableRevocationCheck(k) }

type EnableRevocationCheck struct{}

func (EnableRevocationCheck) Action() string            { return ActionEnableRevocationCheck }
func (EnableRevocationCheck) Params() map[string]string { return nil }
func (EnableRevocationCheck) Check() error              { return nil }
func (k EnableRevocationCheck) Run(r StepRunner) error  { return r.EnableRevocationCheck(k) }

// SetRemoteStreamingBackup re-applies "Enable Remote Streaming Backup" = 1.
type SetRemoteStreamingBackup struct{}

func (SetRemoteStreamingBackup) Action() string { return ActionSetRemoteStreamingBackup }
func (SetRemoteStreamingBackup) Params() map[string]string {
	return map[string]string{"value": "1"}
}
func (SetRemoteStreamingBackup) Check() error             { return nil }
func (k SetRemoteStreamingBackup) Run(r StepRunner) error { return r.SetRemoteStreamingBackup(k) }

// StartFirewall starts the Windows Firewall service if it is stopped (setup adds its
// firewall exceptions), recording on the server that it did and the start mode it had.
type StartFirewall struct{}

func (StartFirewall) Action() string            { return ActionStartFirewall }
func (StartFirewall) Params() map[string]string { return nil }
func (StartFirewall) Check() error              { return nil }
func (k StartFirewall) Run(r StepRunner) error  { return r.StartFirewall(k) }

// RestoreFirewall puts the Windows Firewall service back as StartFirewall found it: stopped
// (and Disabled) again when StartFirewall's record says it started it; else nothing.
type RestoreFirewall struct{}

func (RestoreFirewall) Action() string            { return ActionRestoreFirewall }
func (RestoreFirewall) Params() map[string]string { return nil }
func (RestoreFirewall) Check() error              { return nil }
func (k RestoreFirewall) Run(r StepRunner) error  { return r.RestoreFirewall(k) }

// StartExchangeServices sets every Exchange service an install left Disabled back to
// Automatic and starts every Exchange service that is not running. ClusterNode: the step
// is on a node of a cluster plan (planned_steps shows cluster_node = "true").
type StartExchangeServices struct{ ClusterNode bool }

func (StartExchangeServices) Action() string { return ActionStartExchangeServices }
func (k StartExchangeServices) Params() map[string]string {
	if k.ClusterNode {
		return map[string]string{"cluster_node": "true"}
	}
	return nil
}
func (StartExchangeServices) Check() error             { return nil }
func (k StartExchangeServices) Run(r StepRunner) error { return r.StartExchangeServices(k) }

// VerifyOWA asks the server's own OWA for its logon page, https://localhost/owa/auth/logon.aspx,
// and fails unless it answers with the logon form.
type VerifyOWA struct{}

func (VerifyOWA) Action() string            { return ActionVerifyOWA }
func (VerifyOWA) Params() map[string]string { return nil }
func (VerifyOWA) Check() error              { return nil }
func (k VerifyOWA) Run(r StepRunner) error  { return r.VerifyOWA(k) }

// VerifyBuild reads the build again and compares it with Build.
type VerifyBuild struct{ Build Build }

func (VerifyBuild) Action() string              { return ActionVerifyBuild }
func (k VerifyBuild) Params() map[string]string { return map[string]string{"build": k.Build.String()} }
func (k VerifyBuild) Check() error              { return buildMissing(k.Build) }
func (k VerifyBuild) Run(r StepRunner) error    { return r.VerifyBuild(k) }

// CheckNoSetupRunning fails unless no setup or installer runs on the server (no job of
// ours, no ExSetup/setup/update process, no Windows Installer installation).
type CheckNoSetupRunning struct{}

func (CheckNoSetupRunning) Action() string            { return ActionCheckNoSetupRunning }
func (CheckNoSetupRunning) Params() map[string]string { return nil }
func (CheckNoSetupRunning) Check() error              { return nil }
func (k CheckNoSetupRunning) Run(r StepRunner) error  { return r.CheckNoSetupRunning(k) }

// ExportSetupKey exports the setup key Key (a subkey of SetupKeyRoot, e.g. MailboxRole) to
// File, a file name in SetupKeyExportFolder, unless that file exists.
type ExportSetupKey struct{ Key, File string }

func (ExportSetupKey) Action() string { return ActionExportSetupKey }
func (k ExportSetupKey) Params() map[string]string {
	return map[string]string{"key": SetupKeyRoot + `\` + k.Key, "file": SetupKeyExportFolder + `\` + k.File}
}
func (k ExportSetupKey) Check() error           { return missing("key", k.Key, "file", k.File) }
func (k ExportSetupKey) Run(r StepRunner) error { return r.ExportSetupKey(k) }

// RemoveSetupWatermark removes the Action and Watermark values of the setup key Key.
type RemoveSetupWatermark struct{ Key string }

func (RemoveSetupWatermark) Action() string { return ActionRemoveSetupWatermark }
func (k RemoveSetupWatermark) Params() map[string]string {
	return map[string]string{"key": SetupKeyRoot + `\` + k.Key, "values": "Action, Watermark"}
}
func (k RemoveSetupWatermark) Check() error           { return missing("key", k.Key) }
func (k RemoveSetupWatermark) Run(r StepRunner) error { return r.RemoveSetupWatermark(k) }

// --- Installer steps (Installer: run as detached jobs) ---

// InstallServicePack runs the service pack's setup from MediaPath.
type InstallServicePack struct {
	ServicePack int
	MediaPath   string
	Build       Build
}

func (InstallServicePack) Action() string { return ActionInstallServicePack }
func (k InstallServicePack) Params() map[string]string {
	return map[string]string{"service_pack": strconv.Itoa(k.ServicePack), "media_path": k.MediaPath, "build": k.Build.String()}
}
func (k InstallServicePack) Check() error           { return missing("media_path", k.MediaPath) }
func (k InstallServicePack) Run(r StepRunner) error { return r.Install(k) }
func (k InstallServicePack) Job() InstallJob {
	return InstallJob{Key: k.Build.String(), MediaPath: k.MediaPath}
}

// InstallUpdateRollup installs a rollup's .msp. KB may be "" (the catalog states none).
type InstallUpdateRollup struct {
	Rollup, ReRelease int
	PackagePath       string
	Build             Build
	KB                string
}

func (InstallUpdateRollup) Action() string { return ActionInstallUpdateRollup }
func (k InstallUpdateRollup) Params() map[string]string {
	return map[string]string{"rollup": FormatRollup(k.Rollup, k.ReRelease), "package_path": k.PackagePath,
		"build": k.Build.String(), "kb": k.KB}
}
func (k InstallUpdateRollup) Check() error           { return missing("package_path", k.PackagePath) }
func (k InstallUpdateRollup) Run(r StepRunner) error { return r.Install(k) }
func (k InstallUpdateRollup) Job() InstallJob {
	return InstallJob{Key: k.Build.String(), PackagePath: k.PackagePath, KB: k.KB}
}

// UninstallUpdateRollup removes an installed rollup by its patch. Build is the build it
// returns to, zero when the catalog does not know it.
type UninstallUpdateRollup struct {
	KB, PatchCode string
	Build         Build
}

func (UninstallUpdateRollup) Action() string { return ActionUninstallUpdateRollup }
func (k UninstallUpdateRollup) Params() map[string]string {
	p := map[string]string{"kb": k.KB, "patch_code": k.PatchCode}
	if !k.Build.IsZero() {
		p["build"] = k.Build.String()
	}
	return p
}
func (k UninstallUpdateRollup) Check() error           { return patchOrKB(k.PatchCode, k.KB) }
func (k UninstallUpdateRollup) Run(r StepRunner) error { return r.Install(k) }
func (k UninstallUpdateRollup) Job() InstallJob {
	key := k.KB
	if !k.Build.IsZero() {
		key = k.Build.String()
	}
	return InstallJob{Key: key, PatchCode: k.PatchCode, KB: k.KB}
}

func patchOrKB(patchCode, kb string) error {
	if patchCode == "" && kb == "" {
		return errors.New("parameter patch_code or kb is missing")
	}
	return nil
}

// InstallInterimUpdate installs an interim update or hotfix package.
type InstallInterimUpdate struct{ KB, PackagePath string }

func (InstallInterimUpdate) Action() string { return ActionInstallInterimUpdate }
func (k InstallInterimUpdate) Params() map[string]string {
	return map[string]string{"kb": k.KB, "package_path": k.PackagePath}
}
func (k InstallInterimUpdate) Check() error           { return missing("package_path", k.PackagePath) }
func (k InstallInterimUpdate) Run(r StepRunner) error { return r.Install(k) }
func (k InstallInterimUpdate) Job() InstallJob {
	return InstallJob{Key: k.KB, PackagePath: k.PackagePath, KB: k.KB}
}

// RemoveInterimUpdate uninstalls one.
type RemoveInterimUpdate struct{ KB, PatchCode string }

func (RemoveInterimUpdate) Action() string { return ActionRemoveInterimUpdate }
func (k RemoveInterimUpdate) Params() map[string]string {
	return map[string]string{"kb": k.KB, "patch_code": k.PatchCode}
}
func (k RemoveInterimUpdate) Check() error           { return patchOrKB(k.PatchCode, k.KB) }
func (k RemoveInterimUpdate) Run(r StepRunner) error { return r.Install(k) }
func (k RemoveInterimUpdate) Job() InstallJob {
	return InstallJob{Key: k.KB, PatchCode: k.PatchCode, KB: k.KB}
}

// RemoveUMLanguagePack / AddUMLanguagePack run Setup.com for one UM language pack from the
// folder Path.
type RemoveUMLanguagePack struct{ Language, Path string }

func (RemoveUMLanguagePack) Action() string { return ActionRemoveUMLanguagePack }
func (k RemoveUMLanguagePack) Params() map[string]string {
	return map[string]string{"language": k.Language, "path": k.Path}
}
func (k RemoveUMLanguagePack) Check() error           { return missing("language", k.Language) }
func (k RemoveUMLanguagePack) Run(r StepRunner) error { return r.Install(k) }
func (k RemoveUMLanguagePack) Job() InstallJob {
	return InstallJob{Key: k.Language, MediaPath: k.Path, Language: k.Language}
}

type AddUMLanguagePack struct{ Language, Path string }

func (AddUMLanguagePack) Action() string { return ActionAddUMLanguagePack }
func (k AddUMLanguagePack) Params() map[string]string {
	return map[string]string{"language": k.Language, "path": k.Path}
}
func (k AddUMLanguagePack) Check() error           { return missing("language", k.Language, "path", k.Path) }
func (k AddUMLanguagePack) Run(r StepRunner) error { return r.Install(k) }
func (k AddUMLanguagePack) Job() InstallJob {
	return InstallJob{Key: k.Language, MediaPath: k.Path, Language: k.Language}
}

// UpgradeCMS runs Setup.com /upgradeCMS for the stopped clustered mailbox server Group.
type UpgradeCMS struct {
	Group, MediaPath string
	Build            Build
}

func (UpgradeCMS) Action() string { return ActionUpgradeCMS }
func (k UpgradeCMS) Params() map[string]string {
	return map[string]string{"group": k.Group, "media_path": k.MediaPath, "build": k.Build.String()}
}
func (k UpgradeCMS) Check() error           { return missing("group", k.Group, "media_path", k.MediaPath) }
func (k UpgradeCMS) Run(r StepRunner) error { return r.Install(k) }
func (k UpgradeCMS) Job() InstallJob {
	return InstallJob{Key: k.Build.String(), MediaPath: k.MediaPath, Group: k.Group}
}

// UpgradeEVSManually is "Upgrade Exchange Virtual Server" on the Exchange 2003 EVS Group,
// which an administrator does in Cluster Administrator: the executor checks whether it was
// done (the EVS's version in Active Directory at Build) and otherwise stops the apply with
// the instructions. Params carries manual = "true" so that a review or a policy over the
// plan sees it is not the provider's to do.
type UpgradeEVSManually struct {
	Group string
	Build Build
}

func (UpgradeEVSManually) Action() string { return ActionUpgradeEVSManually }
func (k UpgradeEVSManually) Params() map[string]string {
	return map[string]string{"group": k.Group, "build": k.Build.String(), "manual": "true"}
}
func (k UpgradeEVSManually) Check() error {
	if err := missing("group", k.Group); err != nil {
		return err
	}
	return buildMissing(k.Build)
}
func (k UpgradeEVSManually) Run(r StepRunner) error { return r.UpgradeEVSManually(k) }

// --- Cluster steps (the step's Server is the node it runs on) ---

// MoveClusterGroup moves the cluster group Group to node To.
type MoveClusterGroup struct{ Group, To string }

func (MoveClusterGroup) Action() string { return ActionMoveClusterGroup }
func (k MoveClusterGroup) Params() map[string]string {
	return map[string]string{"group": k.Group, "to": k.To}
}
func (k MoveClusterGroup) Check() error           { return missing("group", k.Group, "to", k.To) }
func (k MoveClusterGroup) Run(r StepRunner) error { return r.MoveClusterGroup(k) }

// FailoverTest moves Group to To and back.
type FailoverTest struct{ Group, To string }

func (FailoverTest) Action() string { return ActionFailoverTest }
func (k FailoverTest) Params() map[string]string {
	return map[string]string{"group": k.Group, "to": k.To}
}
func (k FailoverTest) Check() error           { return missing("group", k.Group, "to", k.To) }
func (k FailoverTest) Run(r StepRunner) error { return r.FailoverTest(k) }

// StopClusterService / StartClusterService stop and start the cluster service of the node.
type StopClusterService struct{}

func (StopClusterService) Action() string            { return ActionStopClusterService }
func (StopClusterService) Params() map[string]string { return nil }
func (StopClusterService) Check() error              { return nil }
func (k StopClusterService) Run(r StepRunner) error  { return r.StopClusterService(k) }

type StartClusterService struct{}

func (StartClusterService) Action() string            { return ActionStartClusterService }
func (StartClusterService) Params() map[string]string { return nil }
func (StartClusterService) Check() error              { return nil }
func (k StartClusterService) Run(r StepRunner) error  { return r.StartClusterService(k) }

// StopClusteredServer / StartClusteredServer take the clustered mailbox server Group
// offline and online.
type StopClusteredServer struct{ Group string }

func (StopClusteredServer) Action() string              { return ActionStopClusteredServer }
func (k StopClusteredServer) Params() map[string]string { return groupParam(k.Group) }
func (k StopClusteredServer) Check() error              { return missing("group", k.Group) }
func (k StopClusteredServer) Run(r StepRunner) error    { return r.StopClusteredServer(k) }

type StartClusteredServer struct{ Group string }

func (StartClusteredServer) Action() string              { return ActionStartClusteredServer }
func (k StartClusteredServer) Params() map[string]string { return groupParam(k.Group) }
func (k StartClusteredServer) Check() error              { return missing("group", k.Group) }
func (k StartClusteredServer) Run(r StepRunner) error    { return r.StartClusteredServer(k) }

// TakeEVSResourcesOffline takes every resource of the EVS Group offline but IP address,
// physical disk and network name.
type TakeEVSResourcesOffline struct{ Group string }

func (TakeEVSResourcesOffline) Action() string              { return ActionTakeEVSResourcesOffline }
func (k TakeEVSResourcesOffline) Params() map[string]string { return groupParam(k.Group) }
func (k TakeEVSResourcesOffline) Check() error              { return missing("group", k.Group) }
func (k TakeEVSResourcesOffline) Run(r StepRunner) error    { return r.TakeEVSResourcesOffline(k) }

// BringGroupOnline brings every resource of Group online.
type BringGroupOnline struct{ Group string }

func (BringGroupOnline) Action() string              { return ActionBringGroupOnline }
func (k BringGroupOnline) Params() map[string]string { return groupParam(k.Group) }
func (k BringGroupOnline) Check() error              { return missing("group", k.Group) }
func (k BringGroupOnline) Run(r StepRunner) error    { return r.BringGroupOnline(k) }

// BlockFailover / AllowFailover keep Group from failing over and allow it again.
type BlockFailover struct{ Group string }

func (BlockFailover) Action() string              { return ActionBlockFailover }
func (k BlockFailover) Params() map[string]string { return groupParam(k.Group) }
func (k BlockFailover) Check() error              { return missing("group", k.Group) }
func (k BlockFailover) Run(r StepRunner) error    { return r.BlockFailover(k) }

type AllowFailover struct{ Group string }

func (AllowFailover) Action() string              { return ActionAllowFailover }
func (k AllowFailover) Params() map[string]string { return groupParam(k.Group) }
func (k AllowFailover) Check() error              { return missing("group", k.Group) }
func (k AllowFailover) Run(r StepRunner) error    { return r.AllowFailover(k) }

func groupParam(g string) map[string]string { return map[string]string{"group": g} }
