package provider

import (
	"context"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
)

func newServerDataSource() datasource.DataSource { return &serverDataSource{} }

// serverDataSource reads one Exchange server: every probe fact as typed attributes.
type serverDataSource struct {
	data *providerData
}

type serverModel struct {
	ID                    types.String           `tfsdk:"id"`
	Server                types.String           `tfsdk:"server"`
	Address               types.String           `tfsdk:"address"`
	FQDN                  types.String           `tfsdk:"fqdn"`
	Product               types.String           `tfsdk:"product"`
	Build                 types.String           `tfsdk:"build"`
	Level                 types.String           `tfsdk:"level"`
	ServicePack           types.Int64            `tfsdk:"service_pack"`
	UpdateRollup          types.Int64            `tfsdk:"update_rollup"`
	BootTime              types.String           `tfsdk:"boot_time"`
	OS                    osModel                `tfsdk:"os"`
	Prerequisites         prerequisitesModel     `tfsdk:"prerequisites"`
	UpdateRollups         []installedUpdateModel `tfsdk:"update_rollups"`
	InterimUpdates        []installedUpdateModel `tfsdk:"interim_updates"`
	Roles                 []string               `tfsdk:"roles"`
	InternetFacing        types.Bool             `tfsdk:"internet_facing"`
	FrontEnd              types.Bool             `tfsdk:"front_end"`
	Cluster               *clusterModel          `tfsdk:"cluster"`
	Setup                 setupModel             `tfsdk:"setup"`
	PendingReboot         []string               `tfsdk:"pending_reboot"`
	Backups               backupsModel           `tfsdk:"backups"`
	Services              []serviceModel         `tfsdk:"services"`
	ThirdPartyServices    []serviceModel         `tfsdk:"third_party_services"`
	UMLanguagePacks       []string               `tfsdk:"um_language_packs"`
	OWALogonCustomized    types.Bool             `tfsdk:"owa_logon_customized"`
	RevocationCheck       types.Bool             `tfsdk:"revocation_check"`
	InternetAccess        types.Bool             `tfsdk:"internet_access"`
	RemoteStreamingBackup types.Bool             `tfsdk:"remote_streaming_backup"`
}

type osModel struct {
	Caption     string `tfsdk:"caption"`
	Version     string `tfsdk:"version"`
	ServicePack int64  `tfsdk:"service_pack"`
}

type prerequisitesModel struct {
	DotNet20ServicePack  int64  `tfsdk:"dotnet20_service_pack"`
	WindowsInstaller     string `tfsdk:"windows_installer"`
	TimeZoneUpdate931836 bool   `tfsdk:"time_zone_update_931836"`
	FQDNSet              bool   `tfsdk:"fqdn_set"`
	SingleLabelDomain    bool   `tfsdk:"single_label_domain"`
	LocalAdministrator   bool   `tfsdk:"local_administrator"`
}

type installedUpdateModel struct {
	KB          string `tfsdk:"kb"`
	DisplayName string `tfsdk:"display_name"`
	PatchCode   string `tfsdk:"patch_code"`
}

type clusterModel struct {
	Name                  string   `tfsdk:"name"`
	Type                  string   `tfsdk:"type"`
	Nodes                 []string `tfsdk:"nodes"`
	ActiveNode            string   `tfsdk:"active_node"`
	Active                bool     `tfsdk:"active"`
	ClusterServiceRunning bool     `tfsdk:"cluster_service_running"`
}

type setupModel struct {
	Watermarks  []watermarkModel `tfsdk:"watermarks"`
	Running     bool             `tfsdk:"running"`
	StaleCMSKey bool             `tfsdk:"stale_cms_key"`
}

type watermarkModel struct {
	Role      string `tfsdk:"role"`
	Action    string `tfsdk:"action"`
	Watermark string `tfsdk:"watermark"`
}

type backupsModel struct {
	Databases     []databaseBackupModel `tfsdk:"databases"`
	DatabasesRead bool                  `tfsdk:"databases_read"`
	SystemState   types.String          `tfsdk:"system_state"`
	// SystemStateSource: exchange.SystemStateFrom*, null when none was found.
	SystemStateSource types.String `tfsdk:"system_state_source"`
}

type databaseBackupModel struct {
	Name     string       `tfsdk:"name"`
	LastFull types.String `tfsdk:"last_full"`
}

type serviceModel struct {
	Name      string `tfsdk:"name"`
	State     string `tfsdk:"state"`
	StartMode string `tfsdk:"start_mode"`
}

func (d *serverDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_server"
}

func (d *serverDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = configuredData(req.ProviderData, &resp.Diagnostics)
}

func (d *serverDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	str := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, MarkdownDescription: desc}
	}
	boolean := func(desc string) schema.BoolAttribute {
		return schema.BoolAttribute{Computed: true, MarkdownDescription: desc}
	}
	strList := func(desc string) schema.ListAttribute {
		return schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: desc}
	}
	updates := func(desc string) schema.ListNestedAttribute {
		return schema.ListNestedAttribute{Computed: true, MarkdownDescription: desc,
			NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
				"kb":           str("Knowledge Base number, e.g. `KB953469`."),
				"display_name": str("Name as Windows lists it among installed updates."),
				"patch_code":   str("Windows Installer patch code (GUID), used to uninstall; empty when unknown."),
			}}}
	}
	services := func(desc string) schema.ListNestedAttribute {
		return schema.ListNestedAttribute{Computed: true, MarkdownDescription: desc,
			NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
				"name":       str("Service name, e.g. `MSExchangeIS`."),
				"state":      str("`Running`, `Stopped`, `StartPending`, `StopPending` or `Paused`."),
				"start_mode": str("`Auto`, `Manual` or `Disabled`."),
			}}}
	}
	attrs := map[string]schema.Attribute{
		"id":      str("The server name."),
		"server":  schema.StringAttribute{Required: true, MarkdownDescription: "The Exchange server's name, as Exchange and the cluster know it.", Validators: serverValidators()},
		"address": schema.StringAttribute{Optional: true, MarkdownDescription: "Where to connect (host name or IP address). Default: `server`."},
		"fqdn":    str("Fully qualified domain name of the server."),
		"product": str("Exchange product: `5.5`, `2000`, `2003` or `2007`."),
		"build":   str("Live build: the file version of `ExSetup.exe` (2007) or `STORE.EXE` (5.5, 2000, 2003), e.g. `8.1.393.1`."),
		"level": str("The build catalog's name for the live build, e.g. `Exchange 2007 SP1 Update Rollup 9`. " +
			"A build the catalog does not list exactly is named after the nearest lower release and marked as such."),
		"service_pack":  schema.Int64Attribute{Computed: true, MarkdownDescription: "Service pack level of the live build (0 = RTM); null when the build is not in the catalog."},
		"update_rollup": schema.Int64Attribute{Computed: true, MarkdownDescription: "Update rollup number of the live build (0 = none); null when the build is not in the catalog."},
		"boot_time":     str("Last boot time, RFC 3339."),
		"os": schema.SingleNestedAttribute{Computed: true, MarkdownDescription: "Windows on the server.",
			Attributes: map[string]schema.Attribute{
				"caption":      str("Windows edition, e.g. `Microsoft Windows Server 2003 R2 Enterprise x64 Edition`."),
				"version":      str("Windows version, e.g. `5.2.3790`."),
				"service_pack": schema.Int64Attribute{Computed: true, MarkdownDescription: "Windows service pack level."},
			}},
		"prerequisites": schema.SingleNestedAttribute{Computed: true, MarkdownDescription: "Setup prerequisites of the server.",
			Attributes: map[string]schema.Attribute{
				"dotnet20_service_pack":   schema.Int64Attribute{Computed: true, MarkdownDescription: ".NET Framework 2.0 service pack level; -1 when .NET 2.0 is not installed."},
				"windows_installer":       str("Windows Installer (msi.dll) version; Exchange 2007 SP2 and later need 4.5."),
				"time_zone_update_931836": boolean("Time-zone update 931836 is installed."),
				"fqdn_set":                boolean("The computer's primary DNS suffix is set (setup hangs without it)."),
				"single_label_domain":     boolean("The Active Directory domain has a single-label DNS name (not supported)."),
				"local_administrator":     boolean("The WinRM account is a local administrator."),
			}},
		"update_rollups":  updates("Installed update rollups (Exchange 2007)."),
		"interim_updates": updates("Installed interim updates (2007) and hotfixes (5.5, 2000, 2003). They must be removed before an update rollup or service pack is installed."),
		"roles":           strList("Server roles: `ClientAccess`, `HubTransport`, `Mailbox`, `UnifiedMessaging`, `Edge` (2007); `FrontEnd`, `BackEnd` (2000, 2003)."),
		"internet_facing": boolean("An internet-facing Client Access or front-end server (CAS-CAS proxy: upgraded before the others)."),
		"front_end":       boolean("A 2000/2003 front-end server (upgraded before any back-end server)."),
		"cluster": schema.SingleNestedAttribute{Computed: true, MarkdownDescription: "Cluster membership; null for a server that is not clustered.",
			Attributes: map[string]schema.Attribute{
				"name":                    str("Clustered mailbox server (2007) or Exchange Virtual Server (2000/2003)."),
				"type":                    str("`ccr`, `scc`, `evs-active-passive`, `evs-active-active` or `cluster-5.5`."),
				"nodes":                   strList("Node names."),
				"active_node":             str("The node that owns the clustered server now."),
				"active":                  boolean("This server is the active node."),
				"cluster_service_running": boolean("The cluster service runs on this node."),
			}},
		"setup": schema.SingleNestedAttribute{Computed: true, MarkdownDescription: "Whether Exchange setup is healthy, interrupted or running.",
			Attributes: map[string]schema.Attribute{
				"watermarks": schema.ListNestedAttribute{Computed: true,
					MarkdownDescription: "Roles whose setup was interrupted (an `Action` or `Watermark` value under `HKLM\\SOFTWARE\\Microsoft\\Exchange\\v8.0\\<Role>`). Setup refuses to start again until this is cleared (by hand, or by `exchange_service_pack` with `clear_setup_watermark`).",
					NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
						"role":      str("The role."),
						"action":    str("The `Action` value."),
						"watermark": str("The `Watermark` value."),
					}}},
				"running":       boolean("An Exchange setup process runs now."),
				"stale_cms_key": boolean("The `CMS` setup key remains: `/upgradeCMS` was forgotten."),
			}},
		"pending_reboot": strList("Why a reboot is pending (`PendingFileRenameOperations`, `CBS RebootPending`, `WindowsUpdate RebootRequired`); empty when none."),
		"backups": schema.SingleNestedAttribute{Computed: true, MarkdownDescription: "Last backups.",
			Attributes: map[string]schema.Attribute{
				"databases": schema.ListNestedAttribute{Computed: true, MarkdownDescription: "Last full backup of each database.",
					NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
						"name":      str("Database, e.g. `First Storage Group\\Mailbox Database`."),
						"last_full": str("Last full backup, RFC 3339; null when never backed up."),
					}}},
				"databases_read": boolean("Whether the databases' backups could be read. `false` (Exchange 2007 without its management " +
					"snap-in, or 5.5/2000/2003) means `databases` says nothing: a `max_database_age` check then needs " +
					"`database_backup_times` from your backup software, or a waiver."),
				"system_state": str("Last system-state backup found on the server, RFC 3339; null when none was found (never, or " +
					"taken by a backup product that leaves no record the provider reads)."),
				"system_state_source": str("Where `system_state` was read: `ntbackup_log` (NTBackup's backup report log, " +
					"Windows 2000/2003) or `wbadmin` (`wbadmin get versions`, Windows Server 2008); null when none was found."),
			}},
		"services":                services("Exchange and IIS services."),
		"third_party_services":    services("Services that hook into Exchange (backup agents, file-level antivirus, SNMP, monitoring); an install stops them first."),
		"um_language_packs":       strList("Unified Messaging language packs, e.g. `de-DE` (removed before a service pack, re-added after)."),
		"owa_logon_customized":    boolean("OWA `Logon.aspx` was customised (an update overwrites it)."),
		"revocation_check":        boolean("\"Check for publisher's certificate revocation\" is on for the WinRM account (an install without internet access waits on it)."),
		"internet_access":         boolean("The server reaches the internet."),
		"remote_streaming_backup": boolean("`Enable Remote Streaming Backup` (needed by CCR reseeding; reset by 2007 SP1); null when absent."),
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads one Exchange server over WinRM: product, build and its catalog name, " +
			"installed updates, roles, cluster membership, setup state, pending reboot, prerequisites, backups, " +
			"services and the customisations an update overwrites. The server is probed once per Terraform run " +
			"however many resources and data sources name it.",
		Attributes: attrs,
	}
	addNULChecks(resp.Schema.Attributes, resp.Schema.Blocks)
}

func (d *serverDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	// Only server and address come from configuration; the rest is computed.
	var m serverModel
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("server"), &m.Server)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("address"), &m.Address)...)
	if resp.Diagnostics.HasError() || d.data == nil {
		return
	}
	target := targetOf(m.Server, m.Address)
	facts, err := d.data.probes.Facts(ctx, target)
	if err != nil {
		resp.Diagnostics.Append(remoteDiagnostic(target, err))
		return
	}
	m.fill(facts, exchange.DefaultCatalog())
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// fill copies facts into the model; lists are never null so that length() works in HCL.
func (m *serverModel) fill(f exchange.Facts, cat *exchange.Catalog) {
	m.ID = types.StringValue(m.Server.ValueString())
	m.FQDN = types.StringValue(f.FQDN)
	m.Product = types.StringValue(f.Product)
	m.Build = types.StringValue(f.Build)
	m.Level, m.ServicePack, m.UpdateRollup = levelOf(f.Build, cat)
	m.BootTime = timeValue(&f.BootTime)
	m.OS = osModel{Caption: f.OS.Caption, Version: f.OS.Version, ServicePack: int64(f.OS.ServicePack)}
	p := f.Prerequisites
	m.Prerequisites = prerequisitesModel{
		DotNet20ServicePack: int64(p.DotNet20ServicePack), WindowsInstaller: p.WindowsInstaller,
		TimeZoneUpdate931836: p.TimeZoneUpdate931836, FQDNSet: p.FQDNSet,
		SingleLabelDomain: p.SingleLabelDomain, LocalAdministrator: p.LocalAdministrator,
	}
	m.UpdateRollups = updatesOf(f.UpdateRollups)
	m.InterimUpdates = updatesOf(f.InterimUpdates)
	m.Roles = nonNil(f.Roles)
	m.InternetFacing = types.BoolValue(f.InternetFacing)
	m.FrontEnd = types.BoolValue(f.HasRole("FrontEnd"))
	m.Cluster = nil
	if c := f.Cluster; c != nil {
		m.Cluster = &clusterModel{Name: c.Name, Type: c.Type, Nodes: nonNil(c.Nodes), ActiveNode: c.ActiveNode,
			Active: c.Active, ClusterServiceRunning: c.ClusterServiceRunning}
	}
	m.Setup = setupModel{Watermarks: []watermarkModel{}, Running: f.Setup.Running, StaleCMSKey: f.Setup.StaleCMSKey}
	for _, w := range f.Setup.Watermarks {
		m.Setup.Watermarks = append(m.Setup.Watermarks, watermarkModel(w))
	}
	m.PendingReboot = nonNil(f.PendingReboot)
	m.Backups = backupsModel{Databases: []databaseBackupModel{}, DatabasesRead: f.Backups.DatabasesRead, SystemState: timeValue(f.Backups.SystemState),
		SystemStateSource: types.StringNull()}
	if f.Backups.SystemStateSource != "" {
		m.Backups.SystemStateSource = types.StringValue(f.Backups.SystemStateSource)
	}
	for _, db := range f.Backups.Databases {
		m.Backups.Databases = append(m.Backups.Databases, databaseBackupModel{Name: db.Name, LastFull: timeValue(db.LastFull)})
	}
	m.Services = servicesOf(f.Services)
	m.ThirdPartyServices = servicesOf(f.ThirdPartyServices)
	m.UMLanguagePacks = nonNil(f.UMLanguagePacks)
	m.OWALogonCustomized = types.BoolValue(f.OWALogonCustomized)
	m.RevocationCheck = types.BoolValue(f.RevocationCheck)
	m.InternetAccess = types.BoolValue(f.InternetAccess)
	m.RemoteStreamingBackup = types.BoolPointerValue(f.RemoteStreamingBackup)
}

// levelOf names a live build from the catalog. SP and RU are stated only for a build the
// catalog lists exactly: an in-between build (an interim update's) is named, not guessed.
func levelOf(build string, cat *exchange.Catalog) (types.String, types.Int64, types.Int64) {
	b, err := exchange.ParseBuild(build)
	if err != nil {
		return types.StringValue("unknown build " + build), types.Int64Null(), types.Int64Null()
	}
	if r, ok := cat.Lookup(b); ok {
		return types.StringValue(r.Level.String()), types.Int64Value(int64(r.Level.ServicePack)), types.Int64Value(int64(r.Level.UpdateRollup))
	}
	return types.StringValue(cat.Describe(b)), types.Int64Null(), types.Int64Null()
}

func timeValue(t *time.Time) types.String {
	if t == nil || t.IsZero() {
		return types.StringNull()
	}
	return types.StringValue(t.UTC().Format(time.RFC3339))
}

func updatesOf(in []exchange.InstalledUpdate) []installedUpdateModel {
	out := []installedUpdateModel{}
	for _, u := range in {
		out = append(out, installedUpdateModel(u))
	}
	return out
}

func servicesOf(in []exchange.ServiceFacts) []serviceModel {
	out := []serviceModel{}
	for _, s := range in {
		out = append(out, serviceModel(s))
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
