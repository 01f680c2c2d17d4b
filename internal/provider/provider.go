// Package provider is the Terraform glue: schemas, plan-time checks and diagnostics. It
// never builds PowerShell (internal/remote does) and never decides what servicing is
// allowed (internal/exchange does).
package provider

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/buildlevel/terraform-provider-exchange/internal/remote"
)

// New returns the provider factory for providerserver.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &exchangeProvider{version: version} }
}

type exchangeProvider struct {
	version string
	// clock is "now" for the maintenance window; nil: the wall clock. Only tests set it
	// (newWithClock), in-process: no setting or environment variable moves it.
	clock func() time.Time
}

var _ provider.ProviderWithFunctions = (*exchangeProvider)(nil)

type providerModel struct {
	Username              types.String         `tfsdk:"username"`
	Password              types.String         `tfsdk:"password"`
	HTTPS                 types.Bool           `tfsdk:"https"`
	Port                  types.Int64          `tfsdk:"port"`
	Insecure              types.Bool           `tfsdk:"insecure"`
	AllowUnencrypted      types.Bool           `tfsdk:"allow_unencrypted"`
	CACertificate         types.String         `tfsdk:"ca_certificate"`
	Auth                  types.String         `tfsdk:"auth"`
	Timeout               types.String         `tfsdk:"timeout"`
	MaxConnectionsPerHost types.Int64          `tfsdk:"max_connections_per_host"`
	PollInterval          types.String         `tfsdk:"poll_interval"`
	ProbeConcurrency      types.Int64          `tfsdk:"probe_concurrency"`
	Addresses             types.Map            `tfsdk:"addresses"`
	MaintenanceWindow     *windowModel         `tfsdk:"maintenance_window"`
	BackupEvidence        *backupEvidenceModel `tfsdk:"backup_evidence"`
	PlanTimestamp         types.String         `tfsdk:"plan_timestamp"`
}

func (m providerModel) addresses(ctx context.Context, diags *diag.Diagnostics) map[string]string {
	out := map[string]string{}
	if !m.Addresses.IsNull() && !m.Addresses.IsUnknown() {
		diags.Append(m.Addresses.ElementsAs(ctx, &out, false)...)
	}
	return out
}

// Defaults, and the environment variables that stand in for unset attributes.
const (
	defaultTimeout               = 5 * time.Minute
	defaultMaxConnectionsPerHost = 2
	defaultPollInterval          = 15 * time.Second
)

func (p *exchangeProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "exchange"
	resp.Version = p.version
}

func (p *exchangeProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Keeps Microsoft Exchange servers at a declared build level. " +
			"The provider reaches every server over WinRM (WS-Management) with the settings below; " +
			"each attribute can also come from the environment variable named in its description.",
		Attributes: map[string]schema.Attribute{
			"username": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Account used for WinRM on every server, e.g. `CORP\\\\svc-exchange` " +
					"(a local administrator with read access to the Exchange organisation). Env: `EXCHANGE_USERNAME`.",
			},
			"password": schema.StringAttribute{
				Optional:            true,
				Sensitive:           true,
				MarkdownDescription: "Password of `username`. Never logged. Env: `EXCHANGE_PASSWORD`.",
			},
			"https": schema.BoolAttribute{
				Optional:            true,
				MarkdownDescription: "Use WinRM over HTTPS. Default `true`. Env: `EXCHANGE_HTTPS`.",
			},
			"port": schema.Int64Attribute{
				Optional:            true,
				MarkdownDescription: "WinRM port. Default `5986` with HTTPS, `5985` without. Env: `EXCHANGE_PORT`.",
				Validators:          []validator.Int64{int64validator.Between(1, 65535)},
			},
			"insecure": schema.BoolAttribute{
				Optional: true,
				MarkdownDescription: "Skip verification of the servers' TLS certificates. Default `false`; " +
					"use `ca_certificate` instead wherever you can. Env: `EXCHANGE_INSECURE`.",
			},
			"allow_unencrypted": schema.BoolAttribute{
				Optional: true,
				MarkdownDescription: "Accept `auth = \"basic\"` with `https = false`, which sends the password and every message " +
					"unencrypted. Default `false`: that combination is refused, and when allowed every run warns. " +
					"Over HTTP use `auth = \"ntlm\"` instead (WinRM seals every message). Env: `EXCHANGE_ALLOW_UNENCRYPTED`.",
			},
			"ca_certificate": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "PEM-encoded CA certificate(s) that issued the servers' WinRM certificates, e.g. `file(\"corp-ca.pem\")`. " +
					"When set, these are the only trusted roots (the system's trust store is not consulted). Env: `EXCHANGE_CA_CERTIFICATE`.",
			},
			"auth": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "WinRM authentication: `basic` or `ntlm`. Default `basic`. Env: `EXCHANGE_AUTH`.",
				Validators:          []validator.String{stringvalidator.OneOf(string(remote.AuthBasic), string(remote.AuthNTLM))},
			},
			"timeout": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Budget for one remote operation including retries of transient failures, " +
					"as a Go duration (`90s`, `5m`). Default `5m`. Env: `EXCHANGE_TIMEOUT`.",
				Validators: []validator.String{durationValidator{timeoutBounds}},
			},
			"max_connections_per_host": schema.Int64Attribute{
				Optional: true,
				MarkdownDescription: "Most WinRM shells the provider opens at once on one server. Default `2`; " +
					"keep it below the server's `MaxShellsPerUser` (5 on Windows Server 2008 R2). " +
					"Env: `EXCHANGE_MAX_CONNECTIONS_PER_HOST`.",
				Validators: []validator.Int64{int64validator.Between(1, 4)},
			},
			"addresses": schema.MapAttribute{
				Optional:    true,
				ElementType: types.StringType,
				MarkdownDescription: "Where to reach servers whose names do not resolve from where Terraform runs: server " +
					"name => host name or IP address. Used by every resource and data source that names the server " +
					"without an `address` of its own, and for servers `exchange_organization` discovers.",
			},
			"poll_interval": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "How often an apply checks a running installer or a rebooting server, as a Go duration. " +
					"Default `15s`. Env: `EXCHANGE_POLL_INTERVAL`.",
				Validators: []validator.String{durationValidator{pollIntervalBounds}},
			},
			"probe_concurrency": schema.Int64Attribute{
				Optional: true,
				MarkdownDescription: fmt.Sprintf("How many servers are read (probed) at once, across the whole run: by the order check of "+
					"the servicing resources, `exchange_organization` and `exchange_organization_upgrade`. Default `%d`, at most `%d`. "+
					"Env: `EXCHANGE_PROBE_CONCURRENCY`.", defaultProbeConcurrency, maxProbeConcurrency),
				Validators: []validator.Int64{int64validator.Between(1, maxProbeConcurrency)},
			},
			"plan_timestamp": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Set it to `plantimestamp()` (Terraform 1.5+, OpenTofu 1.6+): the time of the plan, from which " +
					"each resource's `scheduled_window` is chosen (the window open then, or the next). Terraform gives the apply of a " +
					"saved plan the plan's time again, so the apply plans the same window and, when that window has ended, the provider " +
					"refuses the apply before anything runs (\"this plan was made for the maintenance window ...\"; plan again). " +
					"Unset, the window is chosen from the clock, and a saved plan applied in a later window ends in Terraform's " +
					"\"Provider produced inconsistent final plan\", with nothing done either. An RFC 3339 time. See the " +
					"[maintenance window guide](guides/maintenance-window.md).",
				Validators: []validator.String{rfc3339Validator()},
			},
		},
		Blocks: map[string]schema.Block{"maintenance_window": providerWindowBlock(), "backup_evidence": providerEvidenceBlock()},
	}
	addNULChecks(resp.Schema.Attributes, resp.Schema.Blocks)
}

// maxProbeConcurrency bounds probe_concurrency: each probe holds a WinRM shell and a
// PowerShell process on its server, and a connection here.
const maxProbeConcurrency = 256

// probeConcurrency is probe_concurrency, else EXCHANGE_PROBE_CONCURRENCY, else the default.
func (m providerModel) probeConcurrency(diags *diag.Diagnostics) int {
	n, ok := intOr(m.ProbeConcurrency, "EXCHANGE_PROBE_CONCURRENCY", defaultProbeConcurrency, diags, "probe_concurrency")
	if ok && (n < 1 || n > maxProbeConcurrency) {
		diags.AddAttributeError(path.Root("probe_concurrency"), "Invalid probe_concurrency",
			fmt.Sprintf("probe_concurrency (or EXCHANGE_PROBE_CONCURRENCY) is %d: use a whole number from 1 to %d.", n, maxProbeConcurrency))
	}
	return int(n)
}

func (p *exchangeProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var m providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	cfg, diags := m.remoteConfig()
	pollInterval := defaultPollInterval
	if p := stringOr(m.PollInterval, "EXCHANGE_POLL_INTERVAL", ""); p != "" {
		d, err := pollIntervalBounds.parse(p)
		if err != nil {
			diags.AddAttributeError(path.Root("poll_interval"), "Invalid poll_interval", "poll_interval (or EXCHANGE_POLL_INTERVAL): "+err.Error())
		}
		pollInterval = d
	}
	probes := m.probeConcurrency(&diags)
	defaultWindow := m.MaintenanceWindow.window(ctx, &diags)
	evidence := newProviderEvidence(m.BackupEvidence, &diags)
	var planTime time.Time
	if !m.PlanTimestamp.IsNull() && !m.PlanTimestamp.IsUnknown() { // unknown only outside a plan or apply
		var err error
		if planTime, err = time.Parse(time.RFC3339, m.PlanTimestamp.ValueString()); err != nil {
			diags.AddAttributeError(path.Root("plan_timestamp"), "Invalid plan_timestamp",
				fmt.Sprintf("plan_timestamp = %q is not an RFC 3339 time: set it to plantimestamp().", m.PlanTimestamp.ValueString()))
		}
	}
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	client, err := remote.New(cfg)
	if err != nil {
		resp.Diagnostics.AddError("Invalid WinRM settings", err.Error())
		return
	}
	track(client) // its shells are deleted when the process ends (Shutdown)
	book := addressBook{client: client, addresses: map[string]string{}}
	for name, addr := range m.addresses(ctx, &resp.Diagnostics) {
		book.addresses[strings.ToLower(name)] = addr
	}
	data := &providerData{client: book, probes: newProbeCache(book, probes), registry: newPlanRegistry(),
		lockOwner: lockOwner(), pollInterval: pollInterval, probeConcurrency: probes,
		window: defaultWindow, clock: p.clock, evidence: evidence, planTime: planTime}
	resp.DataSourceData = data
	resp.ResourceData = data
}

// remoteConfig merges the attributes with their environment variables and defaults.
func (m providerModel) remoteConfig() (remote.Config, diag.Diagnostics) {
	var diags diag.Diagnostics
	cfg := remote.Config{
		Username:              stringOr(m.Username, "EXCHANGE_USERNAME", ""),
		Password:              stringOr(m.Password, "EXCHANGE_PASSWORD", ""),
		CACertificate:         []byte(stringOr(m.CACertificate, "EXCHANGE_CA_CERTIFICATE", "")),
		Auth:                  remote.Auth(stringOr(m.Auth, "EXCHANGE_AUTH", string(remote.AuthBasic))),
		MaxConnectionsPerHost: defaultMaxConnectionsPerHost,
		Timeout:               defaultTimeout,
	}
	var ok bool
	if cfg.HTTPS, ok = boolOr(m.HTTPS, "EXCHANGE_HTTPS", true, &diags, "https"); !ok {
		return cfg, diags
	}
	if cfg.Insecure, ok = boolOr(m.Insecure, "EXCHANGE_INSECURE", false, &diags, "insecure"); !ok {
		return cfg, diags
	}
	if cfg.AllowUnencrypted, ok = boolOr(m.AllowUnencrypted, "EXCHANGE_ALLOW_UNENCRYPTED", false, &diags, "allow_unencrypted"); !ok {
		return cfg, diags
	}
	transportSecurity(cfg, &diags)
	defaultPort := int64(5986)
	if !cfg.HTTPS {
		defaultPort = 5985
	}
	port, ok := intOr(m.Port, "EXCHANGE_PORT", defaultPort, &diags, "port")
	if !ok {
		return cfg, diags
	}
	cfg.Port = int(port)
	conns, ok := intOr(m.MaxConnectionsPerHost, "EXCHANGE_MAX_CONNECTIONS_PER_HOST", defaultMaxConnectionsPerHost, &diags, "max_connections_per_host")
	if !ok {
		return cfg, diags
	}
	cfg.MaxConnectionsPerHost = int(conns)
	if t := stringOr(m.Timeout, "EXCHANGE_TIMEOUT", ""); t != "" {
		d, err := timeoutBounds.parse(t)
		if err != nil {
			diags.AddAttributeError(path.Root("timeout"), "Invalid timeout", "timeout (or EXCHANGE_TIMEOUT): "+err.Error())
			return cfg, diags
		}
		cfg.Timeout = d
	}
	if cfg.Username == "" {
		diags.AddAttributeError(path.Root("username"), "Missing WinRM username",
			"Set username in the provider block or the EXCHANGE_USERNAME environment variable.")
	}
	if cfg.Password == "" {
		diags.AddAttributeError(path.Root("password"), "Missing WinRM password",
			"Set password in the provider block (from a variable marked sensitive) or the EXCHANGE_PASSWORD environment variable.")
	}
	return cfg, diags
}

// transportSecurity refuses Basic over HTTP unless allowed, and warns about every setting that
// weakens the connection: once per run, so that it is not forgotten.
func transportSecurity(cfg remote.Config, diags *diag.Diagnostics) {
	basicOverHTTP := !cfg.HTTPS && cfg.Auth == remote.AuthBasic
	switch {
	case basicOverHTTP && !cfg.AllowUnencrypted:
		diags.AddAttributeError(path.Root("allow_unencrypted"), "Basic authentication over unencrypted HTTP",
			remote.BasicOverHTTPRefusal+" (or EXCHANGE_ALLOW_UNENCRYPTED=true).")
	case basicOverHTTP:
		diags.AddAttributeWarning(path.Root("allow_unencrypted"), "WinRM passwords and messages travel unencrypted",
			`auth = "basic" with https = false and allow_unencrypted = true: the password (base64) and every message `+
				`go over the network in the clear. Use auth = "ntlm" (WinRM seals every message over HTTP) or https = true.`)
	}
	if cfg.Insecure && cfg.HTTPS {
		diags.AddAttributeWarning(path.Root("insecure"), "TLS certificates are not verified",
			"insecure = true: any host can pose as the servers and receive the WinRM password. "+
				"Set ca_certificate to the CA that issued the servers' certificates instead.")
	}
}

// insecureWithCA refuses insecure = true together with ca_certificate: one skips the
// verification the other configures, so the configuration says two things at once.
type insecureWithCA struct{}

func (insecureWithCA) Description(context.Context) string {
	return "insecure = true and ca_certificate cannot both be set"
}

func (v insecureWithCA) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (insecureWithCA) ValidateProvider(ctx context.Context, req provider.ValidateConfigRequest, resp *provider.ValidateConfigResponse) {
	var insecure types.Bool
	var ca types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("insecure"), &insecure)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("ca_certificate"), &ca)...)
	if insecure.ValueBool() && !ca.IsNull() {
		resp.Diagnostics.AddAttributeError(path.Root("insecure"), "insecure and ca_certificate are both set",
			"insecure = true skips the certificate verification that ca_certificate configures. "+
				"Remove insecure to verify against ca_certificate (recommended), or remove ca_certificate.")
	}
}

func (p *exchangeProvider) ConfigValidators(context.Context) []provider.ConfigValidator {
	return []provider.ConfigValidator{insecureWithCA{}}
}

var _ provider.ProviderWithConfigValidators = (*exchangeProvider)(nil)

func stringOr(v types.String, env, def string) string {
	if !v.IsNull() && !v.IsUnknown() {
		return v.ValueString()
	}
	if e, ok := os.LookupEnv(env); ok && e != "" {
		return e
	}
	return def
}

func boolOr(v types.Bool, env string, def bool, diags *diag.Diagnostics, attr string) (bool, bool) {
	if !v.IsNull() && !v.IsUnknown() {
		return v.ValueBool(), true
	}
	if e, ok := os.LookupEnv(env); ok && e != "" {
		b, err := strconv.ParseBool(e)
		if err != nil {
			diags.AddAttributeError(path.Root(attr), "Invalid "+env,
				fmt.Sprintf("%s=%q is not a boolean: use true or false.", env, e))
			return false, false
		}
		return b, true
	}
	return def, true
}

func intOr(v types.Int64, env string, def int64, diags *diag.Diagnostics, attr string) (int64, bool) {
	if !v.IsNull() && !v.IsUnknown() {
		return v.ValueInt64(), true
	}
	if e, ok := os.LookupEnv(env); ok && e != "" {
		n, err := strconv.ParseInt(e, 10, 64)
		if err != nil || n < 1 || n > 65535 {
			diags.AddAttributeError(path.Root(attr), "Invalid "+env,
				fmt.Sprintf("%s=%q is not a valid %s: use a whole number.", env, e, attr))
			return 0, false
		}
		return n, true
	}
	return def, true
}

func (p *exchangeProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{
		newServicePackResource,
		newUpdateRollupResource,
		newInterimUpdateResource,
		newOrganizationUpgradeResource,
		newClusterUpgradeResource,
	}
}

func (p *exchangeProvider) Functions(context.Context) []func() function.Function {
	return []func() function.Function{
		newParseBuildFunction,
		newCompareBuildsFunction,
		newNewestRollupFunction,
	}
}

func (p *exchangeProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{
		newServerDataSource,
		newBuildDataSource,
		newOrganizationDataSource,
	}
}
