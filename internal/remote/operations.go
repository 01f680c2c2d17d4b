package remote

import (
	"context"
	"fmt"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
)

// Runner runs one operation: *Client, or a stand-in for it (the executor's Remote).
type Runner interface {
	Run(ctx context.Context, t Target, op string, params []wire.Param, out any) error
}

// Call runs req's operation on t through r and returns its result, of the type the request
// names: the one typed contract of an operation (wire/requests.go), which the simulator
// decodes too. A script's fault is reachable with errors.As(err, **wire.Fault) (Code
// "not_found", "setup_running", ...).
func Call[Res any](ctx context.Context, r Runner, t Target, req wire.Request[Res]) (Res, error) {
	var res Res
	err := r.Run(ctx, t, req.Op(), wire.Params(req), &res)
	return res, err
}

// The methods below are shorthands of Call for one operation each.

// Lock takes the servicing lock of t for owner, or refreshes owner's lock, for ttl (whole
// seconds, at least one). Held is false when another owner holds an unexpired lock.
func (c *Client) Lock(ctx context.Context, t Target, owner string, ttl time.Duration) (wire.LockResult, error) {
	secs := int64((ttl + time.Second - 1) / time.Second) // round up: never shorter than asked
	if secs < 1 {
		return wire.LockResult{}, fmt.Errorf("remote: lock TTL %s is not positive", ttl)
	}
	return Call(ctx, c, t, wire.LockRequest{Owner: owner, TTLSeconds: secs})
}

// Unlock releases owner's servicing lock on t. Releasing a lock owner does not hold (free,
// or another's) changes nothing and is not an error.
func (c *Client) Unlock(ctx context.Context, t Target, owner string) error {
	_, err := Call(ctx, c, t, wire.LockRequest{Owner: owner, Release: true})
	return err
}

// Service stops or starts the service name on t (action wire.ActionStop or
// wire.ActionStart) and waits for it.
func (c *Client) Service(ctx context.Context, t Target, name, action string) (wire.ServiceResult, error) {
	return Call(ctx, c, t, wire.ServiceRequest{Name: name, Action: action})
}

// ExchangeServices gives every disabled Exchange service on t a start mode again and starts
// those that should run.
func (c *Client) ExchangeServices(ctx context.Context, t Target) (wire.ExchangeServicesResult, error) {
	return Call(ctx, c, t, wire.ExchangeServicesRequest{})
}

// RevocationCheck turns the publisher's certificate revocation check on (enabled) or off
// for the account the provider connects as.
func (c *Client) RevocationCheck(ctx context.Context, t Target, enabled bool) (wire.SettingResult, error) {
	return Call(ctx, c, t, wire.RevocationCheckRequest{Enabled: enabled})
}

// RemoteStreamingBackup sets "Enable Remote Streaming Backup" on t.
func (c *Client) RemoteStreamingBackup(ctx context.Context, t Target, enabled bool) (wire.SettingResult, error) {
	return Call(ctx, c, t, wire.RemoteStreamingBackupRequest{Enabled: enabled})
}

// Customizations saves (wire.ActionSave: moves aside) or restores (wire.ActionRestore) the
// customisations an update overwrites.
func (c *Client) Customizations(ctx context.Context, t Target, action string) (wire.CustomizationsResult, error) {
	return Call(ctx, c, t, wire.CustomizationsRequest{Action: action})
}

// JobSpec is one installer run for JobStart: wire.JobStartRequest.
type JobSpec = wire.JobStartRequest

// JobStart starts spec's installer on t detached from the connection, or returns the job
// recorded under spec.ID if there is one (then nothing is started).
func (c *Client) JobStart(ctx context.Context, t Target, spec JobSpec) (exchange.Job, error) {
	return Call(ctx, c, t, spec)
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
	return Call(ctx, c, t, wire.ClusterRequest{Action: action, Group: group, Node: node})
}

// JobStatus reads the job recorded under id on t.
func (c *Client) JobStatus(ctx context.Context, t Target, id string) (exchange.Job, error) {
	return Call(ctx, c, t, wire.JobStatusRequest{ID: id})
}

// Reboot asks t to restart in a few seconds and returns the boot time before it. It is
// never re-sent once the server accepted it: on an error with MayHaveRun the server may be
// restarting all the same, so wait for the boot time to change before trying again.
func (c *Client) Reboot(ctx context.Context, t Target) (wire.RebootResult, error) {
	return Call(ctx, c, t, wire.RebootRequest{})
}

// Discover lists the Exchange servers of the organisation as t sees them in Active
// Directory. t may be any server of the organisation; nothing changes anywhere. The fault
// "unavailable" (errors.As, *wire.Fault) means t cannot read Active Directory, e.g. WinRM
// gave it no credentials for a second hop: name the servers explicitly then; "not_found"
// means Active Directory holds no Exchange organisation. A clustered mailbox server or
// Exchange Virtual Server is listed under its network name, not its nodes (wire.OpDiscover).
func (c *Client) Discover(ctx context.Context, t Target) (wire.DiscoverResult, error) {
	return Call(ctx, c, t, wire.DiscoverRequest{})
}
