// Package benchfleet generates the organisations and configurations of `make bench`
// (tools/bench, docs/performance.md) and of the tests that hold one plan to its budget of
// remote operations and WinRM requests per server (internal/e2e): a fleet of any size with
// every role of the order rules, Exchange 2003 front-end and back-end
// servers and CCR mailbox clusters, and the four ways users plan a whole organisation.
package benchfleet

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/simulator"
)

// Credentials of the generated fleets (simulated servers only).
const (
	Username = `BENCH\svc-exchange`
	Password = "bench-only-not-a-secret"
)

// Server is one generated server.
type Server struct {
	Name, Address, Product, Build string
	Roles                         []string
	InternetFacing                bool
	Cluster                       string // the CMS the server is a node of, "" when none
	Wave                          int    // its place in the order (waveNames)
}

// Fleet is a generated organisation.
type Fleet struct {
	Servers  []Server
	Clusters map[string][]string // CMS -> its two nodes, the first active
}

// The waves of the servicing configuration: Exchange 2003 front-ends, then back-ends; then
// Exchange 2007 internet-facing Client Access, other Client Access, Hub Transport, Mailbox
// (clusters included), Unified Messaging.
var waveNames = []string{"fe2003", "be2003", "cas_internet", "cas", "hub", "mailbox", "um"}

// slot says what the i-th server of every twenty is: each role of the order rules, a
// multi-role server, two 2003 roles and one CCR pair.
type slot struct {
	product        string
	roles          []string
	internetFacing bool
	ccr            int // 1: first node of a pair, 2: second
	wave           int
}

const (
	build2007SP1     = "8.1.240.6" // Exchange 2007 SP1 (internal/exchange/catalog.json)
	build2003SP1     = "6.5.7226"  // Exchange 2003 SP1
	build2007SP3RU23 = "8.3.517.0" // Exchange 2007 SP3 Update Rollup 23, the newest of the catalog
	build2003SP2     = "6.5.7638"  // Exchange 2003 SP2
)

var slots = []slot{
	{product: "2007", roles: []string{"ClientAccess"}, internetFacing: true, wave: 2},
	{product: "2007", roles: []string{"ClientAccess"}, wave: 3},
	{product: "2007", roles: []string{"ClientAccess", "HubTransport"}, wave: 3},
	{product: "2007", roles: []string{"HubTransport"}, wave: 4},
	{product: "2007", roles: []string{"HubTransport"}, wave: 4},
	{product: "2007", roles: []string{"Mailbox"}, wave: 5},
	{product: "2007", roles: []string{"Mailbox"}, wave: 5},
	{product: "2007", roles: []string{"Mailbox"}, wave: 5},
	{product: "2007", roles: []string{"Mailbox"}, wave: 5},
	{product: "2007", roles: []string{"Mailbox"}, wave: 5},
	{product: "2007", roles: []string{"Mailbox"}, ccr: 1, wave: 5},
	{product: "2007", roles: []string{"Mailbox"}, ccr: 2, wave: 5},
	{product: "2007", roles: []string{"UnifiedMessaging"}, wave: 6},
	{product: "2007", roles: []string{"Mailbox"}, wave: 5},
	{product: "2003", roles: []string{"FrontEnd"}, internetFacing: true, wave: 0},
	{product: "2003", roles: []string{"BackEnd"}, wave: 1},
	{product: "2003", roles: []string{"BackEnd"}, wave: 1},
	{product: "2003", roles: []string{"BackEnd"}, wave: 1},
	{product: "2007", roles: []string{"Mailbox"}, wave: 5},
	{product: "2007", roles: []string{"HubTransport"}, wave: 4},
}

// New generates an organisation of n servers on loopback addresses 127.<net>.x.y (net
// keeps fleets of concurrent runs apart).
func New(n int, net int) Fleet {
	f := Fleet{Clusters: map[string][]string{}}
	for i := 0; i < n; i++ {
		sl := slots[i%len(slots)]
		s := Server{
			Name:           fmt.Sprintf("EX%04d", i+1),
			Address:        fmt.Sprintf("127.%d.%d.%d", net, i/250, i%250+1),
			Product:        sl.product,
			Roles:          sl.roles,
			InternetFacing: sl.internetFacing,
			Wave:           sl.wave,
		}
		s.Build = build2007SP1
		if s.Product == "2003" {
			s.Build = build2003SP1
		}
		switch {
		case sl.ccr == 1 && i+1 < n:
			s.Cluster = fmt.Sprintf("CMS%04d", i+1)
		case sl.ccr == 2:
			s.Cluster = fmt.Sprintf("CMS%04d", i)
		}
		if s.Cluster != "" {
			f.Clusters[s.Cluster] = append(f.Clusters[s.Cluster], s.Name)
		}
		f.Servers = append(f.Servers, s)
	}
	return f
}

// AtTarget is the same organisation with every server at the targets of the
// configurations already (as after an apply that reached them).
func (f Fleet) AtTarget() Fleet {
	out := Fleet{Clusters: f.Clusters, Servers: append([]Server(nil), f.Servers...)}
	for i := range out.Servers {
		out.Servers[i].Build = build2007SP3RU23
		if out.Servers[i].Product == "2003" {
			out.Servers[i].Build = build2003SP2
		}
	}
	return out
}

// SimulatorFleet is the fleet file of the organisation, its backups taken an hour ago.
func (f Fleet) SimulatorFleet() (*simulator.Fleet, error) {
	backup := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	type server struct {
		Name           string   `json:"name"`
		Address        string   `json:"address"`
		Product        string   `json:"product"`
		Build          string   `json:"build"`
		Roles          []string `json:"roles"`
		InternetFacing bool     `json:"internet_facing,omitempty"`
		FullBackup     string   `json:"last_full_backup"`
		SystemState    string   `json:"last_system_state_backup"`
	}
	type cluster struct {
		Name   string   `json:"name"`
		Type   string   `json:"type"`
		Nodes  []string `json:"nodes"`
		Active string   `json:"active"`
	}
	// Basic over HTTPS (the provider's EXCHANGE_* settings in Config): a real WinRM service
	// has Basic off until an administrator enables it, so the fleet says it is on.
	doc := struct {
		Credentials map[string]string `json:"credentials"`
		WinRM       map[string]bool   `json:"winrm"`
		Servers     []server          `json:"servers"`
		Clusters    []cluster         `json:"clusters"`
	}{Credentials: map[string]string{"username": Username, "password": Password}, WinRM: map[string]bool{"basic": true}, Clusters: []cluster{}}
	for _, s := range f.Servers {
		doc.Servers = append(doc.Servers, server{s.Name, s.Address, s.Product, s.Build, s.Roles, s.InternetFacing, backup, backup})
	}
	for _, cms := range f.clusterNames() {
		nodes := f.Clusters[cms]
		doc.Clusters = append(doc.Clusters, cluster{cms, "ccr", nodes, nodes[0]})
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return simulator.ParseFleet(strings.NewReader(string(raw)))
}

// Media paths of the configurations (as their values, after HCL's escapes).
const (
	media2007SP3   = `\\files\media\E2007SP3`
	media2003SP2   = `\\files\media\E2003SP2`
	package2007RU  = `\\files\media\E2007SP3-RU-latest-x64.msp`
	latest2007SP3U = 23 // Update Rollup 23 for Exchange 2007 SP3, the newest of the catalog
)

// RegisterMedia tells the simulator what the configurations' media and packages install,
// so that an apply of them runs (a path the simulator does not know is a package that is
// not there, as on a real server).
func RegisterMedia(sim *simulator.Simulator) error {
	for path, p := range map[string]simulator.Package{
		media2007SP3:  {Kind: simulator.PackageServicePack, Product: "2007", ServicePack: 3},
		media2003SP2:  {Kind: simulator.PackageServicePack, Product: "2003", ServicePack: 2},
		package2007RU: {Kind: simulator.PackageUpdateRollup, Product: "2007", ServicePack: 3, UpdateRollup: latest2007SP3U},
	} {
		if err := sim.RegisterPackage(path, p); err != nil {
			return fmt.Errorf("benchfleet: %s: %w", path, err)
		}
	}
	return nil
}

func (f Fleet) clusterNames() []string {
	var names []string
	for cms := range f.Clusters {
		names = append(names, cms)
	}
	sort.Strings(names)
	return names
}

// Configuration names, in the order of the table.
const (
	OrganizationList = "exchange_organization (list)"
	OrganizationUpgr = "exchange_organization_upgrade"
	ServerForEach    = "exchange_server for_each"
	ServicingWaves   = "exchange_service_pack + exchange_update_rollup (waves by depends_on)"
	ServicingGated   = "exchange_service_pack + exchange_update_rollup (waves through a terraform_data gate)"
)

// Configurations lists the configuration names in order.
var Configurations = []string{OrganizationList, OrganizationUpgr, ServerForEach, ServicingWaves, ServicingGated}

// Config is the Terraform configuration name plans for the organisation. The provider block
// sets the addresses (every server, and each CMS at its active node), probe_concurrency and
// the backup evidence of the whole organisation (backup_evidence); the credentials, port
// and CA come from EXCHANGE_* variables.
func (f Fleet) Config(name string, probeConcurrency int) (string, error) {
	var b strings.Builder
	b.WriteString("terraform {\n  required_providers {\n    exchange = { source = \"buildlevel/exchange\" }\n  }\n}\n\n")
	b.WriteString("provider \"exchange\" {\n  probe_concurrency = " + fmt.Sprint(probeConcurrency) + "\n  addresses = {\n")
	addr := map[string]string{}
	for _, s := range f.Servers {
		fmt.Fprintf(&b, "    %s = %q\n", s.Name, s.Address)
		addr[s.Name] = s.Address
	}
	for _, cms := range f.clusterNames() {
		fmt.Fprintf(&b, "    %s = %q\n", cms, addr[f.Clusters[cms][0]])
	}
	b.WriteString("  }\n" + f.evidenceBlock() + "}\n\n")
	switch name {
	case OrganizationList:
		b.WriteString("data \"exchange_organization\" \"org\" {\n" + f.serverList() + "  targets = [\n    { product = \"2003\", service_pack = 2 },\n" +
			"    { product = \"2007\", service_pack = 3, update_rollup = \"latest\" },\n  ]\n}\n\n" +
			"output \"waves\" {\n  value = length(data.exchange_organization.org.waves)\n}\n")
	case OrganizationUpgr:
		b.WriteString("resource \"exchange_organization_upgrade\" \"org\" {\n" + f.serverList() + "  targets = [\n" +
			"    { product = \"2003\", service_pack = 2, media_path = \"\\\\\\\\files\\\\media\\\\E2003SP2\" },\n" +
			"    { product = \"2007\", service_pack = 3, media_path = \"\\\\\\\\files\\\\media\\\\E2007SP3\" },\n  ]\n" +
			f.backupBlock() + "}\n")
	case ServerForEach:
		b.WriteString("data \"exchange_server\" \"all\" {\n  for_each = toset([\n")
		for _, s := range f.Servers {
			fmt.Fprintf(&b, "    %q,\n", s.Name)
		}
		b.WriteString("  ])\n  server = each.key\n}\n\noutput \"levels\" {\n  value = length([for s in data.exchange_server.all : s.level])\n}\n")
	case ServicingWaves:
		f.servicingWaves(&b, false)
	case ServicingGated:
		f.servicingWaves(&b, true)
	default:
		return "", fmt.Errorf("benchfleet: no configuration %q", name)
	}
	return b.String(), nil
}

// serverList is the servers attribute listing every server.
func (f Fleet) serverList() string {
	var b strings.Builder
	b.WriteString("  servers = [\n")
	for _, s := range f.Servers {
		fmt.Fprintf(&b, "    { server = %q },\n", s.Name)
	}
	return b.String() + "  ]\n"
}

// backupBlock is the backup precondition of every servicing resource: the ages. The
// evidence is the provider's (evidenceBlock).
func (f Fleet) backupBlock() string {
	return "  backup {\n    max_database_age     = \"24h\"\n    max_system_state_age = \"168h\"\n  }\n"
}

// evidenceBlock is the provider's backup_evidence: what a real server does not let the probe
// read, the configuration states, as a user's would from their backup software, once for
// every resource: a domain controller's system-state backup (KB 328839) and the databases of
// the Exchange 2003 servers (their last backup is in the database header).
func (f Fleet) evidenceBlock() string {
	at := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Hour).Format(time.RFC3339)
	var b strings.Builder
	b.WriteString("  backup_evidence {\n    domain_controller_backup_time = \"" + at + "\"\n    database_backup_times = {\n")
	for _, s := range f.Servers {
		if s.Product != "2007" {
			fmt.Fprintf(&b, "      %s = %q\n", s.Name, at)
		}
	}
	b.WriteString("    }\n  }\n")
	return b.String()
}

// servicingWaves writes, per wave of the order, an exchange_service_pack for each of its
// servers (and an exchange_update_rollup after it on Exchange 2007) or an
// exchange_cluster_upgrade for each of its clusters, each wave depending on the one
// before it of its product: the way the order check asks users to write it. gated: each wave
// depends on one terraform_data resource that depends on the wave before, so Terraform's
// graph has an edge per instance, not one per pair of instances of two waves
// (docs/guides/organisations-at-scale.md).
func (f Fleet) servicingWaves(b *strings.Builder, gated bool) {
	prev := map[string][]string{}   // product -> the resources of its last wave
	prevWave := map[string]string{} // product -> the name of its last wave
	for w, wave := range waveNames {
		var servers, clusters []string
		product := ""
		seen := map[string]bool{}
		for _, s := range f.Servers {
			if s.Wave != w {
				continue
			}
			product = s.Product
			if s.Cluster == "" {
				servers = append(servers, s.Name)
			} else if !seen[s.Cluster] {
				seen[s.Cluster] = true
				clusters = append(clusters, s.Cluster)
			}
		}
		if product == "" {
			continue
		}
		sp, media, rollup := 3, `\\\\files\\media\\E2007SP3`, product == "2007"
		if product == "2003" {
			sp, media = 2, `\\\\files\\media\\E2003SP2`
		}
		dependsOn := ""
		if len(prev[product]) > 0 {
			dependsOn = "  depends_on = [" + strings.Join(prev[product], ", ") + "]\n"
		}
		if gated && len(prev[product]) > 0 {
			gate := "after_" + prevWave[product]
			fmt.Fprintf(b, "resource \"terraform_data\" %q {\n%s}\n\n", gate, dependsOn)
			dependsOn = "  depends_on = [terraform_data." + gate + "]\n"
		}
		var mine []string
		if len(servers) > 0 {
			fmt.Fprintf(b, "resource \"exchange_service_pack\" %q {\n  for_each = toset(%s)\n  server = each.key\n  service_pack = %d\n  media_path = \"%s\"\n%s%s}\n\n",
				wave, hclList(servers), sp, media, f.backupBlock(), dependsOn)
			mine = append(mine, "exchange_service_pack."+wave)
			if rollup {
				// Its servers from the list, the service pack's level by reference (the order):
				// for_each over the service pack resource is evaluated again, whole, for every
				// instance (docs/guides/organisations-at-scale.md).
				fmt.Fprintf(b, "resource \"exchange_update_rollup\" %q {\n  for_each = toset(%s)\n  server = each.key\n"+
					"  rollup = \"latest\"\n  service_pack = exchange_service_pack.%s[each.key].service_pack\n  package_path = \"\\\\\\\\files\\\\media\\\\E2007SP3-RU-latest-x64.msp\"\n%s}\n\n",
					wave, hclList(servers), wave, f.backupBlock())
				mine = append(mine, "exchange_update_rollup."+wave)
			}
		}
		if len(clusters) > 0 {
			ru := ""
			if rollup {
				ru = "  update_rollup = \"latest\"\n  package_path = \"\\\\\\\\files\\\\media\\\\E2007SP3-RU-latest-x64.msp\"\n"
			}
			fmt.Fprintf(b, "resource \"exchange_cluster_upgrade\" %q {\n  for_each = toset(%s)\n  cluster = each.key\n  service_pack = %d\n  media_path = \"%s\"\n%s%s%s}\n\n",
				wave, hclList(clusters), sp, media, ru, f.backupBlock(), dependsOn)
			mine = append(mine, "exchange_cluster_upgrade."+wave)
		}
		prev[product], prevWave[product] = mine, wave
	}
}

func hclList(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = fmt.Sprintf("%q", n)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// PerServer is what one plan cost one server.
type PerServer struct {
	Operations   map[string]int // by kind, from the journal
	HTTPRequests int
	Processes    int
}

// Measure reads what the simulator saw since its counts were reset and the journal had
// journalFrom entries: per server, operations by kind, HTTP requests and processes.
func Measure(sim *simulator.Simulator, f Fleet, journalFrom int) map[string]*PerServer {
	out := map[string]*PerServer{}
	for _, s := range f.Servers {
		c := sim.Counts(s.Name)
		out[s.Name] = &PerServer{Operations: map[string]int{}, HTTPRequests: c.HTTPRequests, Processes: c.Processes}
	}
	for _, e := range sim.Journal()[journalFrom:] {
		if p, ok := out[e.Server]; ok && e.Operation != "installer" && e.Operation != "system" {
			p.Operations[e.Operation]++
		}
	}
	return out
}
