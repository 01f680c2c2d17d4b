package remote

import (
	"context"
	"fmt"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
)

// Typed wrappers of the operations of wire/ops.go: each only runs its operation with the
// parameters the operation documents and decodes its result. A script's fault is reachable
// with errors.As(err, **wire.Fault) (Code "not_found", "setup_running", ...).

// Lock takes the servicing lock of t for owner, or refreshes owner's lock, for ttl (whole
// seconds, at least one). Held is false when another owner holds an unexpired lock.
func (c *Client) Lock(ctx context.Context, t Target, owner string, ttl time.Duration) (wire.LockResult, error) {
	var res wire.LockResult
	secs := int64((ttl + time.Second - 1) / time.Second) // round up: never shorter than asked
	if secs < 1 {
		return res, fmt.Errorf("remote: lock TTL %s is not positive", ttl)
	}
	err := c.Run(ctx, t, wire.OpLock, []wire.Param{
		{Name: "Owner", Value: owner},
		{Name: "TTLSeconds", Value: secs},
		{Name: "Release", Value: false},
	}, &res)
	return res, err
}

// Unlock releases owner's servicing lock on t. Releasing a lock owner does not hold (free,
// or another's) changes nothing and is not an error.
func (c *Client) Unlock(ctx context.Context, t Target, owner string) error {
	return c.Run(ctx, t, wire.OpLock, []wire.Param{
		{Name: "Owner", Value: owner},
		{Name: "TTLSeconds", Value: int64(0)},
		{Name: "Release", Value: true},
	}, nil)
}

// Service stops or starts the service name on t (action wire.ActionStop or
// wire.ActionStart) and waits for it.
func (c *Client) Service(ctx context.Context, t Target, name, action string) (wire.ServiceResult, error) {
	var res wire.ServiceResult
	err := c.Run(ctx, t, wire.OpService, []wire.Param{
		{Name: "Name", Value: name},
		{Name: "Action", Value: action},
	}, &res)
	return res, err
}

// ExchangeServices gives every disabled Exchange service on t a start mode again and starts
// those that should run.
func (c *Client) ExchangeServices(ctx context.Context, t Target) (wire.ExchangeServicesResult, error) {
	var res wire.ExchangeServicesResult
	err := c.Run(ctx, t, wire.OpExchangeServices, nil, &res)
	return res, err
}

// RevocationCheck turns the publisher's certificate revocation check on (enabled) or off
// for the account the provider connects as.
func (c *Client) RevocationCheck(ctx context.Context, t Target, enabled bool) (wire.SettingResult, error) {
	var res wire.SettingResult
	err := c.Run(ctx, t, wire.OpRevocationCheck, []wire.Param{{Name: "Enabled", Value: enabled}}, &res)
	return res, err
}

// RemoteStreamingBackup sets "Enable Remote Streaming Backup" on t.
func (c *Client) RemoteStreamingBackup(ctx context.Context, t Target, enabled bool) (wire.SettingResult, error) {
	var res wire.SettingResult
	err := c.Run(ctx, t, wire.OpRemoteStreamingBackup, []wire.Param{{Name: "Enabled", Value: enabled}}, &res)
	return res, err
}

// Customizations saves (wire.ActionSave: moves aside) or restores (wire.ActionRestore) the
// customisations an update overwrites.
func (c *Client) Customizations(ctx context.Context, t Target, action, logonFile string) (wire.CustomizationsResult, error) {
	var res wire.CustomizationsResult
	err := c.Run(ctx, t, wire.OpCustomizations, []wire.Param{{Name: "Action", Value: action}, {Name: "LogonFile", Value: logonFile}}, &res)
	return res, err
}

// OWACheck asks the server's own OWA for its logon page (wire.OpOWACheck).
func (c *Client) OWACheck(ctx context.Context, t Target) (wire.OWACheckResult, error) {
	var res wire.OWACheckResult
	err := c.Run(ctx, t, wire.OpOWACheck, nil, &res)
	return res, err
}

// JobSpec is one installer run for JobStart. Strings not used by the action stay "".
type JobSpec struct {
	// ID names the job: exchange.JobID of the step, so the same step always finds its job.
	ID string
	// Action is an installing exchange.Action* (install_service_pack, install_update_rollup,
	// uninstall_update_rollup, install_interim_update, remove_interim_update,
	// remove_um_language_pack, add_um_language_pack, upgrade_cms, upgrade_evs).
	Action string
	// MediaPath is the setup media folder (with Setup.com, or i386\update.exe for Exchange
	// 2000/2003/5.5): service packs and UM language packs.
	MediaPath string
	// PackagePath is the .msp or .exe of a rollup or interim update; for UM language packs,
	// the folder holding the language packs (Setup.com's /s:), MediaPath when "".
	PackagePath string
	// PatchCode is the Windows Installer patch GUID of an update to remove.
	PatchCode string
	// KB is the update's KB number ("KB123456").
	KB string
	// Language is a UM language pack's culture ("de-DE").
	Language string
	// Group is the clustered mailbox server (exchange.ActionUpgradeCMS) or Exchange virtual
	// server (exchange.ActionUpgradeEVS): its cluster group's name or its network name.
	Group string
}

// JobStart starts spec's installer on t detached from the connection, or returns the job
// recorded under spec.ID if there is one (then nothing is started).
func (c *Client) JobStart(ctx context.Context, t Target, spec JobSpec) (exchange.Job, error) {
	var job exchange.Job
	err := c.Run(ctx, t, wire.OpJobStart, []wire.Param{
		{Name: "ID", Value: spec.ID},
		{Name: "Action", Value: spec.Action},
		{Name: "MediaPath", Value: spec.MediaPath},
		{Name: "PackagePath", Value: spec.PackagePath},
		{Name: "PatchCode", Value: spec.PatchCode},
		{Name: "KB", Value: spec.KB},
		{Name: "Language", Value: spec.Language},
		{Name: "Group", Value: spec.Group},
	}, &job)
	return job, err
}

// Cluster runs the cluster action (one of the wire.Cluster* actions) on t, a node of the
// cluster, and returns the group as it is afterwards. group is the CMS/EVS or cluster group
// (its name or network name; "" for wire.ClusterStopService and wire.ClusterStartService),
// node the node wire.ClusterMoveGroup moves it to ("" otherwise). Every action is idempotent
// and waits, bounded, for the cluster to settle. Faults (errors.As, *wire.Fault):
// "not_clustered", "not_found" (group or node), "refused" (with the cluster's or Exchange's
// message), "timeout", "unavailable" (the cluster cannot be read there, or the Exchange 2007
// snap-in is missing), "invalid" (an action or name that cannot be right).
func (c *Client) Cluster(ctx context.Context, t Target, action, group, node string) (wire.ClusterResult, error) {
	var res wire.ClusterResult
	err := c.Run(ctx, t, wire.OpCluster, []wire.Param{
		{Name: "Action", Value: action},
		{Name: "Group", Value: group},
		{Name: "Node", Value: node},
	}, &res)
	return res, err
}

// JobStatus reads the job recorded under id on t.
func (c *Client) JobStatus(ctx context.Context, t Target, id string) (exchange.Job, error) {
	var job exchange.Job
	err := c.Run(ctx, t, wire.OpJobStatus, []wire.Param{{Name: "ID", Value: id}}, &job)
	return job, err
}

// Reboot asks t to restart in a few seconds and returns the boot time before it. It is
// never re-sent once the server accepted it: on an error with MayHaveRun the server may be
// restarting all the same, so wait for the boot time to change before trying again.
func (c *Client) Reboot(ctx context.Context, t Target) (wire.RebootResult, error) {
	var res wire.RebootResult
	err := c.Run(ctx, t, wire.OpReboot, nil, &res)
	return res, err
}

// Discover lists the Exchange servers of the organisation as t sees them in Active
// Directory. t may be any server of the organisation; nothing changes anywhere. The fault
// "unavailable" (errors.As, *wire.Fault) means t cannot read Active Directory, e.g. WinRM
// gave it no credentials for a second hop: name the servers explicitly then; "not_found"
// means Active Directory holds no Exchange organisation. A clustered mailbox server or
// Exchange Virtual Server is listed under its network name, not its nodes (wire.OpDiscover).
func (c *Client) Discover(ctx context.Context, t Target) (wire.DiscoverResult, error) {
	var res wire.DiscoverResult
	err := c.Run(ctx, t, wire.OpDiscover, nil, &res)
	return res, err
}
