package simulator

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
)

// This file: the fleet file's rules, each server and cluster checked and given its defaults
// (fleet.go holds the validated Fleet).

type validator struct{ problems []string }

func (v *validator) add(format string, args ...any) {
	v.problems = append(v.problems, fmt.Sprintf(format, args...))
}

// A NetBIOS computer name: what Windows allows, so the fleet cannot name a server that
// could not exist.
var (
	netbiosRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,14}$`)
	kbRE       = regexp.MustCompile(exchange.KBPattern)
	cultureRE  = regexp.MustCompile(`^[a-z]{2}-[A-Z]{2}$`)
	allDigitRE = regexp.MustCompile(`^[0-9]+$`)
)

// product is what the simulator knows of one Exchange version.
type product struct {
	major, minor int // minor < 0: any
	exampleBuild string
	roles        []string         // canonical order
	os           exchange.OSFacts // the default Windows
	windows      windowsRule      // the Windows it runs on (fleet_os.go)
}

var windows2000 = exchange.OSFacts{Caption: "Microsoft Windows 2000 Server", Version: "5.0.2195", ServicePack: 4}

var products = map[string]product{
	"5.5":  {5, 5, "5.5.2653", []string{"BackEnd"}, windows2000, windowsFor55},
	"2000": {6, 0, "6.0.6249", []string{"FrontEnd", "BackEnd"}, windows2000, windowsFor2000},
	"2003": {6, 5, "6.5.7638", []string{"FrontEnd", "BackEnd"},
		exchange.OSFacts{Caption: "Microsoft Windows Server 2003 Enterprise Edition", Version: "5.2.3790", ServicePack: 2}, windowsFor2003},
	"2007": {8, -1, "8.3.83.6", []string{"ClientAccess", "HubTransport", "Mailbox", "UnifiedMessaging", "Edge"},
		exchange.OSFacts{Caption: "Microsoft Windows Server 2003 R2 Enterprise x64 Edition", Version: "5.2.3790", ServicePack: 2}, windowsFor2007},
}

const defaultDomain = "contoso.local"

// name checks a computer or network name of field at: present (else missing says what to
// do), a Windows name of kind ("computer", "network"), and not yet in names, compared
// ignoring case (dupWhy ends the message when it is); a good name is recorded in names as
// where. It reports whether the name is good.
func (v *validator) name(at, field, value, missing, kind, dupWhy, where string, names map[string]string) bool {
	switch {
	case value == "":
		v.add("%s: %s", at, missing)
	case !netbiosRE.MatchString(value) || allDigitRE.MatchString(value):
		v.add("%s: %s %q is not a Windows %s name: use 1 to 15 letters, digits or hyphens, not all digits", at, field, value, kind)
	default:
		key := strings.ToLower(value)
		if prev, dup := names[key]; dup {
			v.add("%s: %s %q is already used by %s%s", at, field, value, prev, dupWhy)
			return false
		}
		names[key] = where
		return true
	}
	return false
}

func (v *validator) server(at string, d serverDoc, names, addresses map[string]string) (Server, bool) {
	before := len(v.problems)
	s := Server{Name: d.Name, Product: d.Product}

	v.name(at, "name", d.Name, `name is missing: give every server its computer name, e.g. "name": "EX01"`, "computer",
		" (names are compared ignoring case): rename one of them", at, names)

	if d.Address == "" {
		v.add(`%s: address is missing: give the server its own loopback address, e.g. "address": "127.0.10.11"`, at)
	} else {
		s.Address = v.address(at, d.Address, addresses)
	}

	p, known := products[d.Product]
	if !known {
		if d.Product == "" {
			v.add(`%s: product is missing: set "product" to one of "5.5", "2000", "2003", "2007"`, at)
		} else {
			v.add(`%s: product %q is not known: use one of "5.5", "2000", "2003", "2007"`, at, d.Product)
		}
		// Everything else depends on the product.
		return s, false
	}

	if d.Build == "" {
		v.add(`%s: build is missing: set the live build, e.g. "build": %q`, at, p.exampleBuild)
	} else if b, err := exchange.ParseBuild(d.Build); err != nil {
		v.add("%s: %v", at, err)
	} else if b.Major != p.major || (p.minor >= 0 && b.Minor != p.minor) {
		v.add("%s: build %q does not fit product %q: Exchange %s builds start with %s (e.g. %s); fix the build or the product",
			at, d.Build, d.Product, d.Product, buildPrefix(p), p.exampleBuild)
	} else {
		s.Build = b
	}

	s.Roles = v.roles(at, d, p)
	s.InternetFacing = d.InternetFacing
	if d.InternetFacing && !slices.Contains(s.Roles, "ClientAccess") && !slices.Contains(s.Roles, "FrontEnd") {
		v.add("%s: internet_facing is true but the server has neither the ClientAccess nor the FrontEnd role: remove internet_facing or add the role", at)
	}

	s.InterimUpdates = v.uniqueList(at, "interim_updates", d.InterimUpdates, func(kb string) string {
		if !kbRE.MatchString(kb) {
			return fmt.Sprintf("%q is not a KB number: write it as KB followed by digits, e.g. KB970543", kb)
		}
		return ""
	})

	s.UMLanguagePacks = v.uniqueList(at, "um_language_packs", d.UMLanguagePacks, func(c string) string {
		if !cultureRE.MatchString(c) {
			return fmt.Sprintf("%q is not a culture name: write it like de-DE", c)
		}
		return ""
	})
	if len(s.UMLanguagePacks) > 0 && !slices.Contains(s.Roles, "UnifiedMessaging") {
		v.add("%s: um_language_packs are listed but the server has no UnifiedMessaging role: remove them or add the role", at)
	}

	holdsStores := d.Product == "5.5" || slices.Contains(s.Roles, "Mailbox") || slices.Contains(s.Roles, "BackEnd")
	switch {
	case d.Databases == nil && holdsStores:
		s.Databases = []string{defaultDatabase(d.Product, d.Name)}
	case len(d.Databases) > 0 && !holdsStores:
		v.add("%s: databases are listed but the server has no Mailbox or BackEnd role: remove them or add the role", at)
	default:
		s.Databases = v.uniqueList(at, "databases", d.Databases, func(n string) string {
			if strings.TrimSpace(n) == "" {
				return "a database name is empty"
			}
			return ""
		})
	}

	s.LastFullBackup = v.time(at, "last_full_backup", d.LastFullBackup)
	s.LastSystemStateBackup = v.time(at, "last_system_state_backup", d.LastSystemStateBackup)

	services := exchangeServices(d.Product, s.Roles)
	s.ThirdPartyServices = v.uniqueList(at, "third_party_services", d.ThirdPartyServices, func(n string) string {
		if strings.TrimSpace(n) == "" {
			return "a service name is empty"
		}
		if slices.ContainsFunc(services, func(e string) bool { return strings.EqualFold(e, n) }) {
			return fmt.Sprintf("%q is an Exchange service, not a third-party one: remove it", n)
		}
		return ""
	})
	for _, n := range d.DisabledServices {
		i := slices.IndexFunc(services, func(e string) bool { return strings.EqualFold(e, n) })
		if i < 0 {
			v.add("%s: disabled_services: %q is not an Exchange service of this server: use one of %s", at, n, strings.Join(services, ", "))
			continue
		}
		if !slices.Contains(s.DisabledServices, services[i]) {
			s.DisabledServices = append(s.DisabledServices, services[i])
		}
	}

	if d.SetupWatermark != nil {
		switch role := *d.SetupWatermark; {
		case d.Product != "2007":
			v.add("%s: setup_watermark is an Exchange 2007 setup state; Exchange %s has none: remove it", at, d.Product)
		case !slices.Contains(s.Roles, role):
			v.add("%s: setup_watermark %q is not a role of this server: name one of %s", at, role, strings.Join(s.Roles, ", "))
		default:
			s.SetupWatermark = role
		}
	}
	if d.StaleCMSKey && d.Product != "2007" {
		v.add("%s: stale_cms_key is an Exchange 2007 cluster state; Exchange %s has no CMS key: remove it", at, d.Product)
	}
	s.SetupRunning = d.SetupRunning
	s.StaleCMSKey = d.StaleCMSKey
	s.PendingReboot = d.PendingReboot
	s.OWACustomized = d.OWACustomized
	s.ForefrontVersion, s.ReceiveConnectors, s.RunningProcesses = d.ForefrontVersion, d.ReceiveConnectors, d.RunningProcesses
	s.DiagnosticLogging = d.DiagnosticLogging
	s.InternetAccess = d.InternetAccess == nil || *d.InternetAccess
	s.RevocationCheck = d.RevocationCheck == nil || *d.RevocationCheck
	s.RemoteStreamingBackup = d.RemoteStreamingBackup
	switch d.Firewall {
	case "", "running", "stopped", "disabled":
		s.Firewall = d.Firewall
	default:
		v.add(`%s: firewall %q is none of "running", "stopped", "disabled"`, at, d.Firewall)
	}

	s.OS = p.os
	if d.os.Caption != nil {
		s.OS.Caption = *d.os.Caption
	}
	if d.os.Version != nil {
		s.OS.Version = *d.os.Version
	}
	if d.os.ServicePack != nil {
		if *d.os.ServicePack < 0 {
			v.add("%s: os: service_pack %d is negative: use 0 for no service pack", at, *d.os.ServicePack)
		}
		s.OS.ServicePack = *d.os.ServicePack
	}
	if why := windowsProblem(s.Product, p.windows, s.OS); why != "" {
		v.add("%s: os: %s", at, why)
	}
	s.SystemStateBackupTool = v.systemStateTool(at, d.SystemStateBackupTool, s.OS)

	s.Prerequisites = v.prerequisites(at, d, s.Build)

	for j, f := range d.faults {
		n, err := f.normalize()
		if err != nil {
			v.add("%s: faults[%d]: %v", at, j, err)
			continue
		}
		s.Faults = append(s.Faults, n)
	}
	s.MissingPaths = v.uniqueList(at, "missing_paths", d.MissingPaths, func(p string) string {
		if strings.TrimSpace(p) == "" {
			return "a path is empty"
		}
		return ""
	})
	if d.DisabledAfterInstall != nil {
		s.DisabledAfterInstall = []string{}
		for _, n := range d.DisabledAfterInstall {
			i := slices.IndexFunc(services, func(e string) bool { return strings.EqualFold(e, n) })
			if i < 0 {
				v.add("%s: disabled_after_install: %q is not an Exchange service of this server: use one of %s", at, n, strings.Join(services, ", "))
				continue
			}
			if !slices.Contains(s.DisabledAfterInstall, services[i]) {
				s.DisabledAfterInstall = append(s.DisabledAfterInstall, services[i])
			}
		}
	}

	s.Site = DefaultSite
	if d.Site != nil {
		if p := siteProblem(*d.Site); p != "" {
			v.add("%s: site %q %s", at, *d.Site, p)
		}
		s.Site = *d.Site
	}
	s.ADUnreachable = d.ADUnreachable
	if s.Product == "2007" {
		s.Architecture, s.ExchangeLanguage = "x64", DefaultExchangeLanguage
	}
	if d.Architecture != nil {
		if !slices.Contains(architectures, *d.Architecture) {
			v.add(`%s: architecture %q is not known: use "x64" or "x86"`, at, *d.Architecture)
		}
		s.Architecture = *d.Architecture
	}
	if d.ExchangeLanguage != nil {
		s.ExchangeLanguage = *d.ExchangeLanguage
	}
	if (d.Architecture != nil || d.ExchangeLanguage != nil) && s.Product != "2007" {
		v.add("%s: architecture and exchange_language are for Exchange 2007 servers (the preflight compares media with them there only)", at)
	}

	switch {
	case d.FQDN == nil && s.Prerequisites.FQDNSet:
		s.FQDN = strings.ToLower(d.Name) + "." + defaultDomain
	case d.FQDN == nil:
		// No primary DNS suffix: the FQDN Windows reports is the bare name.
		s.FQDN = strings.ToLower(d.Name)
	case !s.Prerequisites.FQDNSet:
		v.add("%s: fqdn is given but prerequisites.fqdn_set is false: remove fqdn (the server then reports its bare name) or set fqdn_set", at)
	case !strings.HasPrefix(strings.ToLower(*d.FQDN), strings.ToLower(d.Name)+"."):
		v.add("%s: fqdn %q does not start with the server's name and a dot: write it like %s.%s", at, *d.FQDN, strings.ToLower(d.Name), defaultDomain)
	default:
		s.FQDN = *d.FQDN
	}

	return s, len(v.problems) == before
}

// organizationRE is what Exchange 2007 setup accepts as an organisation name: letters,
// digits, spaces and hyphens, at most 64, neither starting nor ending with a space.
var organizationRE = regexp.MustCompile(`^[A-Za-z0-9-]([A-Za-z0-9 -]{0,62}[A-Za-z0-9-])?$`)

func (v *validator) organization(name *string) string {
	if name == nil {
		return DefaultOrganization
	}
	if !organizationRE.MatchString(*name) {
		v.add(`organization %q is not an Exchange organisation name: use 1 to 64 letters, digits, spaces or hyphens, not starting or ending with a space, e.g. "Contoso"`, *name)
	}
	return *name
}

// siteProblem says what is wrong with a site or routing group name, or "". "" is allowed:
// discover then reports the site as unknown.
func siteProblem(site string) string {
	switch {
	case strings.TrimSpace(site) != site:
		return "starts or ends with a space: remove it"
	case utf8.RuneCountInString(site) > 64:
		return "is longer than 64 characters: shorten it"
	case strings.IndexFunc(site, unicode.IsControl) >= 0:
		return "holds a control character: remove it"
	}
	return ""
}

func buildPrefix(p product) string {
	if p.minor < 0 {
		return fmt.Sprintf("%d.", p.major)
	}
	return fmt.Sprintf("%d.%d.", p.major, p.minor)
}

// defaultDatabase is the store that setup creates, named as each version names it.
func defaultDatabase(product, server string) string {
	switch product {
	case "2007":
		return `First Storage Group\Mailbox Database`
	case "5.5":
		return "Private Information Store"
	default:
		return `First Storage Group\Mailbox Store (` + server + `)`
	}
}

func (v *validator) roles(at string, d serverDoc, p product) []string {
	if d.Roles == nil {
		switch d.Product {
		case "2007":
			v.add(`%s: roles are missing: an Exchange 2007 server holds at least one of %s`, at, strings.Join(p.roles, ", "))
			return []string{}
		case "2000", "2003":
			// A 2000/2003 server is a back-end unless it was made a front-end.
			return []string{"BackEnd"}
		default:
			return []string{}
		}
	}
	got := map[string]bool{}
	for _, r := range d.Roles {
		if !slices.Contains(p.roles, r) {
			v.add("%s: role %q is not an Exchange %s role: use %s (spelled exactly so)", at, r, d.Product, strings.Join(p.roles, ", "))
			continue
		}
		if got[r] {
			v.add("%s: role %q is listed twice: list it once", at, r)
		}
		got[r] = true
	}
	var roles []string
	for _, r := range p.roles {
		if got[r] {
			roles = append(roles, r)
		}
	}
	switch {
	case d.Product == "2007" && len(roles) == 0 && len(d.Roles) == 0:
		v.add(`%s: roles are empty: an Exchange 2007 server holds at least one of %s`, at, strings.Join(p.roles, ", "))
	case got["Edge"] && len(roles) > 1:
		v.add("%s: the Edge role cannot share a server with other roles: make the Edge Transport server its own server", at)
	case got["FrontEnd"] && got["BackEnd"]:
		v.add("%s: a server is either FrontEnd or BackEnd, not both: keep one", at)
	}
	if roles == nil {
		roles = []string{}
	}
	return roles
}

// uniqueList checks each item with check (which returns a problem or "") and that no item
// repeats; it returns the list, never nil.
func (v *validator) uniqueList(at, field string, items []string, check func(string) string) []string {
	out := []string{}
	for _, it := range items {
		if p := check(it); p != "" {
			v.add("%s: %s: %s", at, field, p)
			continue
		}
		if slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, it) }) {
			v.add("%s: %s: %q is listed twice: list it once", at, field, it)
			continue
		}
		out = append(out, it)
	}
	return out
}

func (v *validator) time(at, field string, s *string) *time.Time {
	if s == nil {
		return nil
	}
	t, err := time.Parse(time.RFC3339, *s)
	if err != nil {
		v.add(`%s: %s %q is not an RFC 3339 time: write it like "2024-05-01T22:00:00Z", or null for never`, at, field, *s)
		return nil
	}
	t = t.UTC()
	return &t
}

func (v *validator) prerequisites(at string, d serverDoc, build exchange.Build) exchange.PrerequisiteFacts {
	// Defaults: every prerequisite satisfied, so a fleet states only what is wrong.
	// Exchange 2007 SP2 and later run on .NET 2.0 SP2.
	p := exchange.PrerequisiteFacts{
		DotNet20ServicePack:  1,
		WindowsInstaller:     "4.5.6001.22159",
		TimeZoneUpdate931836: true,
		FQDNSet:              true,
		SingleLabelDomain:    false,
		LocalAdministrator:   true,

		IISCompressionHotfix831464: true,
	}
	if d.Product == "2007" && build.Major == 8 && build.Minor >= 2 {
		p.DotNet20ServicePack = 2
	}
	q := d.prereq
	if q.DotNet20ServicePack != nil {
		if *q.DotNet20ServicePack < -1 {
			v.add("%s: prerequisites: dotnet20_service_pack %d is not a level: use -1 (not installed), 0, 1 or 2", at, *q.DotNet20ServicePack)
		}
		p.DotNet20ServicePack = *q.DotNet20ServicePack
	}
	if q.WindowsInstaller != nil {
		if _, err := exchange.ParseBuild(*q.WindowsInstaller); err != nil {
			v.add(`%s: prerequisites: windows_installer %q is not a version: write it like "4.5.6001.22159"`, at, *q.WindowsInstaller)
		}
		p.WindowsInstaller = *q.WindowsInstaller
	}
	set := func(dst *bool, src *bool) {
		if src != nil {
			*dst = *src
		}
	}
	set(&p.TimeZoneUpdate931836, q.TimeZoneUpdate931836)
	set(&p.FQDNSet, q.FQDNSet)
	set(&p.SingleLabelDomain, q.SingleLabelDomain)
	set(&p.LocalAdministrator, q.LocalAdministrator)
	set(&p.IISCompressionHotfix831464, q.IISCompressionHotfix831464)
	return p
}

// clusterTypes maps each cluster type to the product its nodes run.
var clusterTypes = map[string]string{
	"ccr":                "2007",
	"scc":                "2007",
	"evs-active-passive": "2000/2003",
	"evs-active-active":  "2000/2003",
	"cluster-5.5":        "5.5",
}

// address checks the loopback address raw of what is at and records it in addresses (address
// -> where it was defined): servers and virtual names each need their own.
func (v *validator) address(at, raw string, addresses map[string]string) netip.Addr {
	switch addr, err := netip.ParseAddr(raw); {
	case err != nil || !addr.Is4():
		v.add("%s: address %q is not an IPv4 address: use one in 127.0.0.0/8, e.g. 127.0.10.11", at, raw)
	case !netip.MustParsePrefix("127.0.0.0/8").Contains(addr):
		v.add("%s: address %q is not in 127.0.0.0/8: the simulator listens on loopback addresses only; use e.g. 127.0.10.11", at, raw)
	default:
		if prev, dup := addresses[addr.String()]; dup {
			v.add("%s: address %s is already used by %s: every server and virtual name needs its own address", at, addr, prev)
		} else {
			addresses[addr.String()] = at
		}
		return addr
	}
	return netip.Addr{}
}

func (v *validator) cluster(at string, d clusterDoc, fleet *Fleet, names, addresses map[string]string, failed map[string]bool, inCluster map[string]string) (Cluster, bool) {
	before := len(v.problems)
	c := Cluster{Name: d.Name, Type: d.Type, Active: d.Active}
	if d.Address != "" {
		c.Address = v.address(at, d.Address, addresses)
	}

	v.name(at, "name", d.Name, `name is missing: give the CMS or EVS its network name, e.g. "name": "CMS01"`, "network",
		": a cluster's network name differs from every server and cluster name", at, names)

	if d.ClusterName != nil && v.name(at, "cluster_name", *d.ClusterName,
		`cluster_name is empty: give the Windows cluster's own name, e.g. "cluster_name": "EXCL01", or remove it`, "network",
		": the cluster's own name differs from every server, cluster and virtual server name", at+" cluster_name", names) {
		c.ClusterName = *d.ClusterName
	}

	wantProduct, knownType := clusterTypes[d.Type]
	if !knownType {
		v.add(`%s: type %q is not known: use one of "ccr", "scc", "evs-active-passive", "evs-active-active", "cluster-5.5"`, at, d.Type)
	}

	var nodes []Server
	for _, n := range d.Nodes {
		if failed[strings.ToLower(n)] {
			// The server has problems of its own, already reported.
			continue
		}
		s, ok := fleet.Server(n)
		if !ok {
			v.add("%s: node %q is not a server in this fleet: add it to servers or remove it from nodes", at, n)
			continue
		}
		if slices.ContainsFunc(nodes, func(o Server) bool { return o.Name == s.Name }) {
			v.add("%s: node %q is listed twice: list it once", at, n)
			continue
		}
		if prev, dup := inCluster[strings.ToLower(s.Name)]; dup {
			v.add("%s: node %q is already a node of %s: a server belongs to one cluster", at, n, prev)
		} else {
			inCluster[strings.ToLower(s.Name)] = at
		}
		nodes = append(nodes, s)
		c.Nodes = append(c.Nodes, s.Name)
	}
	if len(d.Nodes) < 2 {
		v.add("%s: a cluster needs at least two nodes; nodes lists %d", at, len(d.Nodes))
	}
	if d.Type == "ccr" && len(d.Nodes) > 2 {
		v.add("%s: a CCR cluster has exactly two nodes; nodes lists %d: use type scc for more", at, len(d.Nodes))
	}

	switch {
	case d.Active == "":
		v.add("%s: active is missing: name the node that owns %s now", at, orName(d.Name, "the cluster"))
	case !slices.ContainsFunc(d.Nodes, func(n string) bool { return strings.EqualFold(n, d.Active) }):
		v.add("%s: active %q is not one of nodes (%s): name one of them", at, d.Active, strings.Join(d.Nodes, ", "))
	default:
		if s, ok := fleet.Server(d.Active); ok {
			c.Active = s.Name
		}
	}

	if len(d.virtualServers) > 0 && knownType && !strings.HasPrefix(d.Type, "evs-") {
		one := "clustered mailbox server"
		if d.Type == "cluster-5.5" {
			one = "virtual server"
		}
		v.add("%s: virtual_servers: a %s cluster runs one %s, %s: remove virtual_servers (only evs-active-active and evs-active-passive clusters run several Exchange Virtual Servers)",
			at, d.Type, one, orName(d.Name, "its name"))
	} else {
		for j, vd := range d.virtualServers {
			c.VirtualServers = append(c.VirtualServers, v.virtualServer(at+": "+virtualServerAt(j, vd.Name), at+" "+virtualServerAt(j, vd.Name), vd, d.Nodes, fleet, names, addresses))
		}
	}

	if knownType {
		for _, s := range nodes {
			if !strings.Contains(wantProduct, s.Product) {
				v.add("%s: node %q runs Exchange %s, but a %s cluster needs Exchange %s nodes", at, s.Name, s.Product, d.Type, wantProduct)
				continue
			}
			switch {
			case wantProduct == "2007" && !slices.Equal(s.Roles, []string{"Mailbox"}):
				v.add("%s: node %q holds roles %s, but a clustered mailbox server's nodes hold the Mailbox role only", at, s.Name, strings.Join(s.Roles, ", "))
			case wantProduct == "2000/2003" && !slices.Contains(s.Roles, "BackEnd"):
				v.add("%s: node %q is a front-end server; Exchange Virtual Servers run on back-end servers only", at, s.Name)
			}
		}
	}
	return c, len(v.problems) == before
}

// virtualServer checks one further EVS of a cluster whose nodes are nodes; where is how
// names records it.
func (v *validator) virtualServer(at, where string, d virtualServerDoc, nodes []string, fleet *Fleet, names, addresses map[string]string) VirtualServer {
	vs := VirtualServer{Name: d.Name, Active: d.Active}
	if d.Address != "" {
		vs.Address = v.address(at, d.Address, addresses)
	}
	v.name(at, "name", d.Name, `name is missing: give the EVS its network name, e.g. "name": "EVS02"`, "network",
		": a virtual server's network name differs from every server and cluster name", where, names)
	switch {
	case d.Active == "":
		v.add("%s: active is missing: name the node that owns %s now", at, orName(d.Name, "the virtual server"))
	case !slices.ContainsFunc(nodes, func(n string) bool { return strings.EqualFold(n, d.Active) }):
		v.add("%s: active %q is not one of nodes (%s): name one of them", at, d.Active, strings.Join(nodes, ", "))
	default:
		if s, ok := fleet.Server(d.Active); ok {
			vs.Active = s.Name
		}
	}
	return vs
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func orName(name, fallback string) string {
	if name == "" {
		return fallback
	}
	return name
}
