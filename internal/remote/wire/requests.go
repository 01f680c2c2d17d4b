package wire

import (
	"fmt"
	"reflect"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
)

// One request type per operation of ops.go: its fields are the operation's parameters,
// each named by its `wire` tag (the script's $Param_<Name>), and its Request type argument
// is the operation's result. The executor builds requests (remote.Call sends them and
// decodes the result); the simulator decodes the parameters it receives into the same type
// (DecodeParams). A parameter is named once, here: renaming a field breaks the build on
// both sides.
//
// Field types are string, int64 and bool, the values Parse gives back.

// Request is the request of an operation whose result is Res.
type Request[Res any] interface {
	// Op is the operation's name (an Op* constant).
	Op() string
	result() Res
}

// ProbeRequest reads the server's facts. Server is the name the caller means ("" checks none).
type ProbeRequest struct {
	Server string `wire:"Server"`
}

// LockRequest takes (or refreshes) Owner's servicing lock for TTLSeconds, or releases it.
type LockRequest struct {
	Owner      string `wire:"Owner"`
	TTLSeconds int64  `wire:"TTLSeconds"`
	Release    bool   `wire:"Release"`
	// TakeOver, when not empty, is the owner of a lock the caller proved dead (its process
	// is gone): taking succeeds when the lock is still exactly TakeOver's, as if it had
	// expired. Any other owner's unexpired lock still refuses.
	TakeOver string `wire:"TakeOver"`
	// KeepServiceRecord, with Release, keeps the record of the Exchange services as they
	// were before the first lock (exchange_services puts them back by it): the apply stopped
	// after it changed the server, so the next one must put the services back as they were
	// before this one, not as this one (or an installer it left running) left them.
	KeepServiceRecord bool `wire:"KeepServiceRecord"`
}

// ServiceRequest stops or starts (Action ActionStop, ActionStart) the service Name.
type ServiceRequest struct {
	Name   string `wire:"Name"`
	Action string `wire:"Action"`
}

// ExchangeServicesRequest starts every Exchange service (no parameters).
type ExchangeServicesRequest struct{}

// RevocationCheckRequest turns the publisher's certificate revocation check on or off.
type RevocationCheckRequest struct {
	Enabled bool `wire:"Enabled"`
}

// RemoteStreamingBackupRequest sets "Enable Remote Streaming Backup".
type RemoteStreamingBackupRequest struct {
	Enabled bool `wire:"Enabled"`
}

// FirewallRequest starts (ActionStart) or restores (ActionRestore) the Windows Firewall
// service.
type FirewallRequest struct {
	Action string `wire:"Action"`
}

// FrontEndRequest takes a front-end out of service for its clients (ActionOffline) or
// brings it back (ActionOnline).
type FrontEndRequest struct {
	Action string `wire:"Action"`
}

// CustomizationsRequest saves or restores (Action ActionSave, ActionRestore) the
// customisations an update overwrites. LogonFile is the Logon.aspx the user made for the
// new build ("" for none): restore puts it in place, save checks it can be read.
type CustomizationsRequest struct {
	Action    string `wire:"Action"`
	LogonFile string `wire:"LogonFile"`
}

// OWACheckRequest asks the server's own OWA for its logon page (no parameters).
type OWACheckRequest struct{}

// PreflightRequest checks what an apply will read (OpPreflight). Checks is
// PreflightChecks of the preflight step's checks.
type PreflightRequest struct {
	Checks string `wire:"Checks"`
}

// JobStartRequest starts (or finds) the installer job ID. Action is an installing
// exchange.Action*; the strings an action does not use stay "" (see OpJobStart).
type JobStartRequest struct {
	// ID names the job: exchange.JobID (ClusterJobID on a cluster) of the step.
	ID     string `wire:"ID"`
	Action string `wire:"Action"`
	// MediaPath is the setup media folder (service packs, UM language packs, upgrade_cms).
	MediaPath string `wire:"MediaPath"`
	// PackagePath is the .msp or .exe of a rollup or interim update.
	PackagePath string `wire:"PackagePath"`
	// PatchCode is the Windows Installer patch GUID of an update to remove; KB its number.
	PatchCode string `wire:"PatchCode"`
	KB        string `wire:"KB"`
	// Language is a UM language pack's culture ("de-DE").
	Language string `wire:"Language"`
	// Group is the CMS upgrade_cms upgrades.
	Group string `wire:"Group"`
}

// JobStatusRequest reads the job record ID.
type JobStatusRequest struct {
	ID string `wire:"ID"`
}

// JobClearRequest removes every finished job record (no parameters).
type JobClearRequest struct{}

// ClusterRequest runs the cluster action (a Cluster* constant) on Group, moving it to
// Node for ClusterMoveGroup; unused strings are "".
type ClusterRequest struct {
	Action string `wire:"Action"`
	Group  string `wire:"Group"`
	Node   string `wire:"Node"`
}

// SetupWatermarkRequest checks that no setup runs, exports a setup key or removes its
// Action and Watermark values (Action a SetupWatermark* constant; see OpSetupWatermark).
type SetupWatermarkRequest struct {
	Action string `wire:"Action"`
	Key    string `wire:"Key"`
	File   string `wire:"File"`
}

// RebootRequest asks Windows to restart (no parameters).
type RebootRequest struct{}

// DiscoverRequest lists the organisation's Exchange servers. Server, when not empty, also
// reads the facts of the host discovery runs on, as ProbeRequest{Server} would, in the same
// PowerShell process (DiscoverResult.Probe); "" reads none.
type DiscoverRequest struct {
	Server string `wire:"Server"`
}

func (ProbeRequest) Op() string                 { return OpProbe }
func (LockRequest) Op() string                  { return OpLock }
func (ServiceRequest) Op() string               { return OpService }
func (ExchangeServicesRequest) Op() string      { return OpExchangeServices }
func (RevocationCheckRequest) Op() string       { return OpRevocationCheck }
func (RemoteStreamingBackupRequest) Op() string { return OpRemoteStreamingBackup }
func (CustomizationsRequest) Op() string        { return OpCustomizations }
func (OWACheckRequest) Op() string              { return OpOWACheck }
func (FirewallRequest) Op() string              { return OpFirewall }
func (PreflightRequest) Op() string             { return OpPreflight }
func (FrontEndRequest) Op() string              { return OpFrontEnd }
func (JobStartRequest) Op() string              { return OpJobStart }
func (JobStatusRequest) Op() string             { return OpJobStatus }
func (JobClearRequest) Op() string              { return OpJobClear }
func (ClusterRequest) Op() string               { return OpCluster }
func (RebootRequest) Op() string                { return OpReboot }
func (DiscoverRequest) Op() string              { return OpDiscover }
func (SetupWatermarkRequest) Op() string        { return OpSetupWatermark }

func (ProbeRequest) result() (r exchange.Facts)                    { return }
func (LockRequest) result() (r LockResult)                         { return }
func (ServiceRequest) result() (r ServiceResult)                   { return }
func (ExchangeServicesRequest) result() (r ExchangeServicesResult) { return }
func (RevocationCheckRequest) result() (r SettingResult)           { return }
func (RemoteStreamingBackupRequest) result() (r SettingResult)     { return }
func (CustomizationsRequest) result() (r CustomizationsResult)     { return }
func (OWACheckRequest) result() (r OWACheckResult)                 { return }
func (FirewallRequest) result() (r FirewallResult)                 { return }
func (PreflightRequest) result() (r PreflightResult)               { return }
func (FrontEndRequest) result() (r FrontEndResult)                 { return }
func (JobStartRequest) result() (r exchange.Job)                   { return }
func (JobStatusRequest) result() (r exchange.Job)                  { return }
func (JobClearRequest) result() (r JobClearResult)                 { return }
func (ClusterRequest) result() (r ClusterResult)                   { return }
func (RebootRequest) result() (r RebootResult)                     { return }
func (DiscoverRequest) result() (r DiscoverResult)                 { return }
func (SetupWatermarkRequest) result() (r SetupWatermarkResult)     { return }

// ParamSpec is one parameter of a request type: its name and Go kind.
type ParamSpec struct {
	Name string
	Kind reflect.Kind // reflect.String, reflect.Int64 or reflect.Bool
}

// ParamSpecs lists the parameters of the request type of req, in field order.
func ParamSpecs(req any) []ParamSpec {
	t := reflect.TypeOf(req)
	out := make([]ParamSpec, 0, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		out = append(out, ParamSpec{Name: f.Tag.Get("wire"), Kind: f.Type.Kind()})
	}
	return out
}

// Params are the parameters req sends, in field order.
func Params(req any) []Param {
	v := reflect.ValueOf(req)
	specs := ParamSpecs(req)
	out := make([]Param, len(specs))
	for i, s := range specs {
		out[i] = Param{Name: s.Name, Value: v.Field(i).Interface()}
	}
	return out
}

// DecodeParams fills the request *dst from the parameters a script received (as Parse
// gives them) and says what does not fit: an unknown or missing parameter, or a value of
// the wrong type.
func DecodeParams(params map[string]any, dst any) error {
	v := reflect.ValueOf(dst).Elem()
	specs := ParamSpecs(v.Interface())
	for name := range params {
		known := false
		for _, s := range specs {
			known = known || s.Name == name
		}
		if !known {
			return fmt.Errorf("unexpected parameter %q", name)
		}
	}
	for i, s := range specs {
		p, ok := params[s.Name]
		if !ok {
			return fmt.Errorf("missing parameter %q", s.Name)
		}
		f := v.Field(i)
		if p == nil || reflect.TypeOf(p).Kind() != s.Kind {
			return fmt.Errorf("parameter %q must be a %s literal, got %T", s.Name, kindName(s.Kind), p)
		}
		f.Set(reflect.ValueOf(p).Convert(f.Type()))
	}
	return nil
}

func kindName(k reflect.Kind) string {
	switch k {
	case reflect.Int64:
		return "int"
	case reflect.Bool:
		return "bool"
	}
	return k.String()
}
