package simulator

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
)

// Fleet is a validated fleet file with every default applied: the organisation the
// simulator plays. docs/simulator.md describes the file format.
type Fleet struct {
	Credentials Credentials
	// WinRM is how every server's WinRM service is configured (the file's `winrm`).
	WinRM WinRMService
	// Organization is the Exchange organisation's name, as discover reports it (the file's
	// top-level `organization`, default "Contoso").
	Organization string
	Servers      []Server
	Clusters     []Cluster
	// Packages says what the installer packages and setup media at each path install
	// (the file's top-level `packages`); paths are compared ignoring case.
	Packages map[string]Package
}

// Credentials are the one account every simulated server accepts (HTTP Basic).
type Credentials struct {
	Username string
	Password string
}

// WinRMService is the part of winrm/config/service the simulator models. The zero value is
// Windows' default ("Installation and configuration for Windows Remote Management",
// Microsoft Learn): Negotiate on, Basic off, AllowUnencrypted false.
type WinRMService struct {
	// Basic is Service/Auth/Basic: accept HTTP Basic (over HTTPS, or with AllowUnencrypted).
	Basic bool `json:"basic"`
	// AllowUnencrypted is Service/AllowUnencrypted: accept clear messages over HTTP.
	AllowUnencrypted bool `json:"allow_unencrypted"`
}

// String keeps the password out of logs and test failure messages.
func (c Credentials) String() string { return fmt.Sprintf("{%s ********}", c.Username) }

// GoString keeps the password out of %#v too.
func (c Credentials) GoString() string {
	return fmt.Sprintf("simulator.Credentials{Username: %q, Password: \"********\"}", c.Username)
}

// Server is one server of the fleet, every optional field resolved to its default.
type Server struct {
	Name    string
	Address netip.Addr
	FQDN    string
	// Product is "5.5", "2000", "2003" or "2007".
	Product string
	Build   exchange.Build
	// Roles are in canonical order (see rolesByProduct).
	Roles          []string
	InternetFacing bool
	// InterimUpdates are KB numbers ("KB123456"): interim updates (2007) or hotfixes.
	InterimUpdates  []string
	UMLanguagePacks []string
	// Databases each carry LastFullBackup.
	Databases             []string
	LastFullBackup        *time.Time
	LastSystemStateBackup *time.Time
	// SystemStateBackupTool took LastSystemStateBackup (BackupTool*): what trace it left.
	SystemStateBackupTool string
	// ThirdPartyServices are the server's other Windows services, each Running and
	// Automatic: the probe reports those its list recognises as third_party_services and
	// the rest (ScanMail, say) as other_services.
	ThirdPartyServices []string
	// DisabledServices are Exchange services left Disabled and Stopped (canonical names).
	DisabledServices []string
	// ForefrontVersion: Forefront Security for Exchange Server is installed at this
	// version; "" when not installed. ReceiveConnectors: the receive connectors' names
	// (nil: setup's "Default <name>" and "Client <name>" on a 2007 Hub Transport).
	// DiagnosticLogging: categories set above Lowest, by identity. RunningProcesses: other
	// processes running now (e.g. "xcopy.exe").
	ForefrontVersion  string
	ReceiveConnectors []string
	DiagnosticLogging map[string]string
	RunningProcesses  []string
	// SetupWatermark is the role whose setup was interrupted, or "".
	SetupWatermark        string
	SetupRunning          bool
	StaleCMSKey           bool
	PendingReboot         bool
	OWACustomized         bool
	InternetAccess        bool
	RevocationCheck       bool
	RemoteStreamingBackup *bool
	// Firewall is the Windows Firewall service: "running" (the default), "stopped" or
	// "disabled" (stopped, start mode Disabled).
	Firewall      string
	OS            exchange.OSFacts
	Prerequisites exchange.PrerequisiteFacts

	// Faults are armed on the host at start (see Fault).
	Faults []Fault
	// MissingPaths are package or media paths absent on this server.
	MissingPaths []string
	// DisabledAfterInstall are the Exchange services an SP or RU install leaves Disabled on
	// this server; nil means the simulator's default (Options.DisabledAfterInstall).
	DisabledAfterInstall []string

	// Site is the Active Directory site (or routing group) discover reports for the server
	// ("" for unknown); default DefaultSite.
	Site string
	// ADUnreachable: discover run on this server cannot read Active Directory and answers
	// the fault "unavailable" (as over a second hop without credentials). The server is
	// still listed when discover runs on another one.
	ADUnreachable bool
}

// Defaults of the fleet's discovery fields.
const (
	DefaultOrganization = "Contoso"
	DefaultSite         = "Default-First-Site-Name"
)

// Cluster is a 2007 clustered mailbox server (CMS) or a 2000/2003 Exchange Virtual Server
// (EVS) or a 5.5 cluster, and the servers that are its nodes.
type Cluster struct {
	Name string
	// Type is ccr, scc, evs-active-passive, evs-active-active or cluster-5.5.
	Type string
	// Nodes are server names as the fleet spells them.
	Nodes []string
	// Active is the node that owns the CMS/EVS.
	Active string
	// Address is the CMS/EVS network name's own IP address (its cluster IP address
	// resource), served by the node that owns the group; invalid (the zero Addr) when the
	// fleet gives none, and then the name has no address of its own.
	Address netip.Addr
	// ClusterName is the Windows cluster's own name (the cluster group's network name);
	// "" when the fleet states none (the probe then reports none).
	ClusterName string
	// VirtualServers are the further Exchange Virtual Servers of an evs-active-active or
	// evs-active-passive cluster, each its own cluster group; the first is Name/Active.
	// Empty for a cluster with one CMS/EVS.
	VirtualServers []VirtualServer
}

// VirtualServer is one further Exchange Virtual Server of a cluster.
type VirtualServer struct {
	// Name is the EVS's network name, which is its cluster group's name too.
	Name string
	// Active is the node that owns it, as the fleet spells the node.
	Active string
	// Address is its network name's own IP address, as Cluster.Address.
	Address netip.Addr
}

// ExchangeGroups are the cluster's Exchange groups in the fleet's order: its own
// Name/Active first, then VirtualServers.
func (c Cluster) ExchangeGroups() []VirtualServer {
	return append([]VirtualServer{{Name: c.Name, Active: c.Active, Address: c.Address}}, c.VirtualServers...)
}

// Server returns the server called name (case-insensitive).
func (f *Fleet) Server(name string) (Server, bool) {
	for _, s := range f.Servers {
		if strings.EqualFold(s.Name, name) {
			return s, true
		}
	}
	return Server{}, false
}

// ClusterOf returns the cluster whose node server is.
func (f *Fleet) ClusterOf(server string) (Cluster, bool) {
	for _, c := range f.Clusters {
		for _, n := range c.Nodes {
			if strings.EqualFold(n, server) {
				return c, true
			}
		}
	}
	return Cluster{}, false
}
