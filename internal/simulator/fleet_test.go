package simulator

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
)

func loadFixture(t *testing.T) *Fleet {
	t.Helper()
	f, err := LoadFleet("testdata/fleet.json")
	if err != nil {
		t.Fatalf("LoadFleet: %v", err)
	}
	return f
}

func TestLoadFleetFixture(t *testing.T) {
	f := loadFixture(t)
	if len(f.Servers) != 10 || len(f.Clusters) != 2 {
		t.Fatalf("got %d servers, %d clusters; want 10, 2", len(f.Servers), len(f.Clusters))
	}
	if f.Credentials.Username != `CONTOSO\svc-exchange` || f.Credentials.Password != "Sim-Passw0rd!" {
		t.Errorf("credentials = %#v", f.Credentials)
	}
	if s := fmt.Sprintf("%v %+v %#v", f.Credentials, f.Credentials, f); strings.Contains(s, "Sim-Passw0rd!") {
		t.Errorf("formatting the fleet shows the password: %s", s)
	}

	ex01, _ := f.Server("ex01")
	if ex01.FQDN != "ex01.contoso.local" || ex01.Address.String() != "127.0.10.11" || !ex01.InternetFacing {
		t.Errorf("EX01 = %+v", ex01)
	}
	if ex01.OS != (exchange.OSFacts{Caption: "Microsoft Windows Server 2003 R2 Enterprise x64 Edition", Version: "5.2.3790", ServicePack: 2}) {
		t.Errorf("EX01 OS default = %+v", ex01.OS)
	}
	wantPrereq := exchange.PrerequisiteFacts{DotNet20ServicePack: 1, WindowsInstaller: "4.5.6001.22159", TimeZoneUpdate931836: true, FQDNSet: true, LocalAdministrator: true,
		IISCompressionHotfix831464: true}
	if ex01.Prerequisites != wantPrereq {
		t.Errorf("EX01 prerequisites default = %+v, want %+v", ex01.Prerequisites, wantPrereq)
	}
	if len(ex01.Databases) != 0 || !ex01.InternetAccess || !ex01.RevocationCheck || ex01.RemoteStreamingBackup != nil {
		t.Errorf("EX01 defaults wrong: %+v", ex01)
	}

	ex04, _ := f.Server("EX04")
	if ex04.InternetAccess || !slices.Equal(ex04.UMLanguagePacks, []string{"de-DE"}) {
		t.Errorf("EX04 = %+v", ex04)
	}
	be01, _ := f.Server("BE01")
	if !slices.Equal(be01.Databases, []string{`First Storage Group\Mailbox Store (BE01)`}) {
		t.Errorf("BE01 databases default = %q", be01.Databases)
	}
	ex2k, _ := f.Server("EX2K01")
	if !slices.Equal(ex2k.Roles, []string{"BackEnd"}) || ex2k.OS.Caption != "Microsoft Windows 2000 Server" || ex2k.LastSystemStateBackup != nil {
		t.Errorf("EX2K01 = %+v", ex2k)
	}
	ex55, _ := f.Server("EX55")
	if !ex55.PendingReboot || !slices.Equal(ex55.DisabledServices, []string{"MSExchangeMTA"}) || len(ex55.Roles) != 0 {
		t.Errorf("EX55 = %+v", ex55)
	}
	ex02, _ := f.Server("EX02")
	if want := time.Date(2024, 5, 1, 23, 30, 0, 0, time.UTC); ex02.LastFullBackup == nil || !ex02.LastFullBackup.Equal(want) {
		t.Errorf("EX02 last full backup = %v", ex02.LastFullBackup)
	}

	cms, ok := f.ClusterOf("EX03")
	if !ok || cms.Name != "CMS01" || cms.Type != "ccr" || cms.Active != "EX02" || !slices.Equal(cms.Nodes, []string{"EX02", "EX03"}) {
		t.Errorf("cluster of EX03 = %+v, %v", cms, ok)
	}
}

func TestLoadFleetFixturePackages(t *testing.T) {
	f := loadFixture(t)
	sp3, ok := f.Packages[`\\files\exchange\2007-SP3`]
	if len(f.Packages) != 6 || !ok || sp3 != (Package{Kind: PackageServicePack, Product: "2007", ServicePack: 3}) {
		t.Errorf("packages %+v", f.Packages)
	}
	ex04, _ := f.Server("EX04")
	if len(ex04.MissingPaths) != 1 || ex04.Faults != nil || ex04.DisabledAfterInstall != nil {
		t.Errorf("EX04 %+v", ex04)
	}
}

func TestLoadFleetUnknownFieldNamesFileServerAndField(t *testing.T) {
	_, err := LoadFleet("testdata/bad-unknown-field.json")
	want := `testdata/bad-unknown-field.json: servers[2] ("EX03"): unknown field "intenet_facing" (did you mean "internet_facing"?)`
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v\nwant    %s", err, want)
	}
}

// baseFleet is a small valid fleet as plain JSON values, for cases to break one thing in.
func baseFleet() map[string]any {
	server := func(name, addr string, roles ...any) map[string]any {
		return map[string]any{"name": name, "address": addr, "product": "2007", "build": "8.1.393.1", "roles": roles}
	}
	return map[string]any{
		"credentials": map[string]any{"username": "admin", "password": "pw"},
		"servers": []any{
			server("EX01", "127.0.10.11", "ClientAccess", "HubTransport"),
			server("EX02", "127.0.10.12", "Mailbox"),
			server("EX03", "127.0.10.13", "Mailbox"),
			map[string]any{"name": "FE01", "address": "127.0.20.11", "product": "2003", "build": "6.5.7638.2", "roles": []any{"FrontEnd"}},
		},
		"clusters": []any{
			map[string]any{"name": "CMS01", "type": "ccr", "nodes": []any{"EX02", "EX03"}, "active": "EX02"},
		},
	}
}

func srv(doc map[string]any, i int) map[string]any { return doc["servers"].([]any)[i].(map[string]any) }
func cls(doc map[string]any, i int) map[string]any {
	return doc["clusters"].([]any)[i].(map[string]any)
}

func TestParseFleetProblems(t *testing.T) {
	cases := []struct {
		name   string
		change func(d map[string]any)
		want   string
	}{
		{"unknown server field", func(d map[string]any) { srv(d, 2)["intenet_facing"] = true },
			`servers[2] ("EX03"): unknown field "intenet_facing" (did you mean "internet_facing"?)`},
		{"unknown top-level field", func(d map[string]any) { d["server"] = []any{} },
			`unknown field "server" (did you mean "servers"?)`},
		{"unknown os field", func(d map[string]any) { srv(d, 0)["os"] = map[string]any{"capton": "x"} },
			`servers[0] ("EX01"): os: unknown field "capton" (did you mean "caption"?)`},
		{"2007 on Windows 2000", func(d map[string]any) {
			srv(d, 1)["os"] = map[string]any{"caption": "Microsoft Windows 2000 Server", "version": "5.0.2195", "service_pack": 4}
		}, `servers[1] ("EX02"): os: Exchange 2007 does not run on Microsoft Windows 2000 Server (os version 5.0.2195, service_pack 4): it runs on Windows Server 2003 SP2 (5.2, service_pack 2), Windows Server 2008 (6.0) or 2008 R2 (6.1)`},
		{"2007 on Windows Server 2003 SP1", func(d map[string]any) { srv(d, 1)["os"] = map[string]any{"service_pack": 1} },
			`servers[1] ("EX02"): os: Exchange 2007 does not run on Microsoft Windows Server 2003 R2 Enterprise x64 Edition (os version 5.2.3790, service_pack 1): it runs on Windows Server 2003 SP2 (5.2, service_pack 2), Windows Server 2008 (6.0) or 2008 R2 (6.1)`},
		{"unknown cluster field", func(d map[string]any) { cls(d, 0)["activ"] = "EX02" },
			`clusters[0] ("CMS01"): unknown field "activ" (did you mean "active"?)`},
		{"wrong type", func(d map[string]any) { srv(d, 1)["pending_reboot"] = "yes" },
			`servers[1] ("EX02"): field "pending_reboot" must be true or false, not a string "yes"`},
		{"duplicate name", func(d map[string]any) { srv(d, 0)["name"] = "ex02" },
			`servers[1] ("EX02"): name "EX02" is already used by servers[0] ("ex02") (names are compared ignoring case): rename one of them`},
		{"bad name", func(d map[string]any) { srv(d, 0)["name"] = "EX_01" },
			`servers[0] ("EX_01"): name "EX_01" is not a Windows computer name: use 1 to 15 letters, digits or hyphens, not all digits`},
		{"address outside loopback", func(d map[string]any) { srv(d, 0)["address"] = "10.0.0.1" },
			`servers[0] ("EX01"): address "10.0.0.1" is not in 127.0.0.0/8: the simulator listens on loopback addresses only; use e.g. 127.0.10.11`},
		{"address not IPv4", func(d map[string]any) { srv(d, 0)["address"] = "::1" },
			`servers[0] ("EX01"): address "::1" is not an IPv4 address: use one in 127.0.0.0/8, e.g. 127.0.10.11`},
		{"duplicate address", func(d map[string]any) { srv(d, 3)["address"] = "127.0.10.11" },
			`servers[3] ("FE01"): address 127.0.10.11 is already used by servers[0] ("EX01"): every server and virtual name needs its own address`},
		{"build does not fit product", func(d map[string]any) { srv(d, 0)["build"] = "6.5.7638" },
			`servers[0] ("EX01"): build "6.5.7638" does not fit product "2007": Exchange 2007 builds start with 8. (e.g. 8.3.83.6); fix the build or the product`},
		{"2003 build on 2000", func(d map[string]any) { srv(d, 3)["product"] = "2000" },
			`servers[3] ("FE01"): build "6.5.7638.2" does not fit product "2000": Exchange 2000 builds start with 6.0. (e.g. 6.0.6249); fix the build or the product`},
		{"unparsable build", func(d map[string]any) { srv(d, 0)["build"] = "8.1" },
			`servers[0] ("EX01"): build "8.1" is not of the form major.minor.build[.revision], e.g. 8.3.83.6`},
		{"unknown product", func(d map[string]any) { srv(d, 0)["product"] = "2010" },
			`servers[0] ("EX01"): product "2010" is not known: use one of "5.5", "2000", "2003", "2007"`},
		{"role of another product", func(d map[string]any) { srv(d, 0)["roles"] = []any{"FrontEnd"} },
			`servers[0] ("EX01"): role "FrontEnd" is not an Exchange 2007 role: use ClientAccess, HubTransport, Mailbox, UnifiedMessaging, Edge (spelled exactly so)`},
		{"edge with other roles", func(d map[string]any) { srv(d, 0)["roles"] = []any{"Edge", "HubTransport"} },
			`servers[0] ("EX01"): the Edge role cannot share a server with other roles: make the Edge Transport server its own server`},
		{"internet facing without client access", func(d map[string]any) { srv(d, 1)["internet_facing"] = true },
			`servers[1] ("EX02"): internet_facing is true but the server has neither the ClientAccess nor the FrontEnd role: remove internet_facing or add the role`},
		{"bad KB", func(d map[string]any) { srv(d, 1)["interim_updates"] = []any{"970543"} },
			`servers[1] ("EX02"): interim_updates: "970543" is not a KB number: write it as KB followed by digits, e.g. KB970543`},
		{"bad time", func(d map[string]any) { srv(d, 1)["last_full_backup"] = "2024-05-01" },
			`servers[1] ("EX02"): last_full_backup "2024-05-01" is not an RFC 3339 time: write it like "2024-05-01T22:00:00Z", or null for never`},
		{"backup tool the OS lacks", func(d map[string]any) {
			srv(d, 1)["os"] = map[string]any{"caption": "Microsoft Windows Server 2008 Enterprise", "version": "6.0.6001"}
			srv(d, 1)["system_state_backup_tool"] = "ntbackup"
		},
			`servers[1] ("EX02"): system_state_backup_tool "ntbackup" is not part of Microsoft Windows Server 2008 Enterprise (os version 6.0.6001): use "windows_server_backup" or "other"`},
		{"unknown backup tool", func(d map[string]any) { srv(d, 1)["system_state_backup_tool"] = "tape" },
			`servers[1] ("EX02"): system_state_backup_tool "tape" is not one of "ntbackup", "windows_server_backup", "other"`},
		{"watermark on a role not held", func(d map[string]any) { srv(d, 1)["setup_watermark"] = "ClientAccess" },
			`servers[1] ("EX02"): setup_watermark "ClientAccess" is not a role of this server: name one of Mailbox`},
		{"unknown disabled service", func(d map[string]any) { srv(d, 3)["disabled_services"] = []any{"MSExchangeUM"} },
			`servers[3] ("FE01"): disabled_services: "MSExchangeUM" is not an Exchange service of this server: use one of MSExchangeIS, MSExchangeSA, MSExchangeMTA, RESvc, SMTPSVC, W3SVC, IISADMIN`},
		{"cluster node not in fleet", func(d map[string]any) { cls(d, 0)["nodes"] = []any{"EX02", "EX09"} },
			`clusters[0] ("CMS01"): node "EX09" is not a server in this fleet: add it to servers or remove it from nodes`},
		{"active not in nodes", func(d map[string]any) { cls(d, 0)["active"] = "EX01" },
			`clusters[0] ("CMS01"): active "EX01" is not one of nodes (EX02, EX03): name one of them`},
		{"one node", func(d map[string]any) { cls(d, 0)["nodes"] = []any{"EX02"} },
			`clusters[0] ("CMS01"): a cluster needs at least two nodes; nodes lists 1`},
		{"ccr node with other roles", func(d map[string]any) { srv(d, 2)["roles"] = []any{"Mailbox", "HubTransport"} },
			`clusters[0] ("CMS01"): node "EX03" holds roles HubTransport, Mailbox, but a clustered mailbox server's nodes hold the Mailbox role only`},
		{"cluster type for another product", func(d map[string]any) { cls(d, 0)["type"] = "evs-active-passive" },
			"clusters[0] (\"CMS01\"): node \"EX02\" runs Exchange 2007, but a evs-active-passive cluster needs Exchange 2000/2003 nodes\n" +
				"clusters[0] (\"CMS01\"): node \"EX03\" runs Exchange 2007, but a evs-active-passive cluster needs Exchange 2000/2003 nodes"},
		{"cluster name taken by a server", func(d map[string]any) { cls(d, 0)["name"] = "ex01" },
			`clusters[0] ("ex01"): name "ex01" is already used by servers[0] ("EX01"): a cluster's network name differs from every server and cluster name`},
		{"unknown fault", func(d map[string]any) { srv(d, 0)["faults"] = []any{map[string]any{"kind": "disk_full"}} },
			`servers[0] ("EX01"): faults[0]: fault kind "disk_full" is not known: use one of file_in_use, setup_abort, drop_connection, no_reboot_return, evs_wont_come_online, upgradecms_abort, reset_connection, unauthorized, shell_quota, slow_reply, refuse_operation`},
		{"fault count where none is taken", func(d map[string]any) {
			srv(d, 0)["faults"] = []any{map[string]any{"kind": "drop_connection", "count": 2}, map[string]any{"kind": "file_in_use", "count": 2}}
		}, `servers[0] ("EX01"): faults[1]: fault file_in_use takes no count`},
		{"misspelt fault field", func(d map[string]any) { srv(d, 0)["faults"] = []any{map[string]any{"knd": "file_in_use"}} },
			`servers[0] ("EX01"): faults[0]: unknown field "knd" (did you mean "kind"?)`},
		{"unknown service left disabled", func(d map[string]any) { srv(d, 1)["disabled_after_install"] = []any{"MSExchangeTransport"} },
			`servers[1] ("EX02"): disabled_after_install: "MSExchangeTransport" is not an Exchange service of this server: use one of MSExchangeADTopology, MSExchangeServiceHost, MSExchangeIS, MSExchangeSA, MSExchangeRepl, MSExchangeSearch, MSExchangeMailboxAssistants, W3SVC, IISADMIN`},
		{"misspelt package field", func(d map[string]any) {
			d["packages"] = map[string]any{`D:\SP3`: map[string]any{"kind": "service_pack", "servce_pack": 3}}
		}, `packages["D:\\SP3"]: unknown field "servce_pack" (did you mean "service_pack"?)`},
		{"unknown package kind", func(d map[string]any) {
			d["packages"] = map[string]any{`D:\SP3`: map[string]any{"kind": "hotfix", "service_pack": 3}}
		}, `packages["D:\\SP3"]: kind "hotfix" is not known: use one of service_pack, update_rollup, interim_update, um_language_pack`},
		{"rollup not in the catalog", func(d map[string]any) {
			d["packages"] = map[string]any{`D:\RU.msp`: map[string]any{"kind": "update_rollup", "service_pack": 2, "update_rollup": 9}}
		}, `packages["D:\\RU.msp"]: Exchange 2007 SP2 has no Update Rollup 9; known update rollups: 1, 2, 3, 4, 5`},
		{"rollup KB against the catalog", func(d map[string]any) {
			d["packages"] = map[string]any{`D:\RU7.msp`: map[string]any{"kind": "update_rollup", "service_pack": 0, "update_rollup": 7, "kb": "KB123456"}}
		}, `packages["D:\\RU7.msp"]: kb KB123456: the catalog states KB953469 for Exchange 2007 RTM Update Rollup 7`},
		{"interim update without KB", func(d map[string]any) {
			d["packages"] = map[string]any{`D:\IU.msp`: map[string]any{"kind": "interim_update", "service_pack": 1, "update_rollup": 9}}
		}, `packages["D:\\IU.msp"]: an interim update needs its kb`},
		{"one path twice", func(d map[string]any) {
			d["packages"] = map[string]any{`D:\SP3`: map[string]any{"kind": "service_pack", "service_pack": 3},
				`d:\sp3\`: map[string]any{"kind": "service_pack", "service_pack": 3}}
		}, `packages["d:\\sp3\\"]: the same path as "D:\\SP3" (paths are compared ignoring case and trailing separators): keep one`},
		{"organization with other characters", func(d map[string]any) { d["organization"] = "Contoso, Ltd." },
			`organization "Contoso, Ltd." is not an Exchange organisation name: use 1 to 64 letters, digits, spaces or hyphens, not starting or ending with a space, e.g. "Contoso"`},
		{"empty organization", func(d map[string]any) { d["organization"] = "" },
			`organization "" is not an Exchange organisation name: use 1 to 64 letters, digits, spaces or hyphens, not starting or ending with a space, e.g. "Contoso"`},
		{"organization not a string", func(d map[string]any) { d["organization"] = 7 },
			`field "organization" must be a string or null, not the number 7`},
		{"site with a trailing space", func(d map[string]any) { srv(d, 0)["site"] = "Branch " },
			`servers[0] ("EX01"): site "Branch " starts or ends with a space: remove it`},
		{"site with a control character", func(d map[string]any) { srv(d, 0)["site"] = "Bra\nch" },
			`servers[0] ("EX01"): site "Bra\nch" holds a control character: remove it`},
		{"long site", func(d map[string]any) { srv(d, 0)["site"] = strings.Repeat("s", 65) },
			`servers[0] ("EX01"): site "` + strings.Repeat("s", 65) + `" is longer than 64 characters: shorten it`},
		{"misspelt ad_unreachable", func(d map[string]any) { srv(d, 1)["ad_unreacheable"] = true },
			`servers[1] ("EX02"): unknown field "ad_unreacheable" (did you mean "ad_unreachable"?)`},
		{"missing credentials", func(d map[string]any) { delete(d, "credentials") },
			`credentials: missing: add "credentials": {"username": "...", "password": "..."}`},
		{"several problems at once", func(d map[string]any) {
			srv(d, 0)["address"] = "10.0.0.1"
			srv(d, 3)["build"] = "8.1.393.1"
		}, `servers[0] ("EX01"): address "10.0.0.1" is not in 127.0.0.0/8: the simulator listens on loopback addresses only; use e.g. 127.0.10.11` + "\n" +
			`servers[3] ("FE01"): build "8.1.393.1" does not fit product "2003": Exchange 2003 builds start with 6.5. (e.g. 6.5.7638); fix the build or the product`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := baseFleet()
			tc.change(d)
			raw, _ := json.Marshal(d)
			_, err := ParseFleet(strings.NewReader(string(raw)))
			if err == nil {
				t.Fatalf("no error; want\n%s", tc.want)
			}
			if err.Error() != tc.want {
				t.Fatalf("error:\n%s\nwant:\n%s", err, tc.want)
			}
		})
	}
}

func TestParseFleetBaseIsValid(t *testing.T) {
	raw, _ := json.Marshal(baseFleet())
	if _, err := ParseFleet(strings.NewReader(string(raw))); err != nil {
		t.Fatal(err)
	}
}

// organization, site and ad_unreachable: defaults, and stated values kept.
func TestParseFleetDiscoveryFields(t *testing.T) {
	f := loadFixture(t)
	if f.Organization != DefaultOrganization {
		t.Errorf("organization default %q, want %q", f.Organization, DefaultOrganization)
	}
	for _, s := range f.Servers {
		if s.Site != DefaultSite || s.ADUnreachable {
			t.Errorf("%s: site %q ad_unreachable %v, want the defaults", s.Name, s.Site, s.ADUnreachable)
		}
	}

	d := baseFleet()
	d["organization"] = "Fabrikam Mail-2"
	srv(d, 0)["site"] = "Branch-Site"
	srv(d, 1)["site"] = ""
	srv(d, 2)["ad_unreachable"] = true
	raw, _ := json.Marshal(d)
	f, err := ParseFleet(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	ex01, _ := f.Server("EX01")
	ex02, _ := f.Server("EX02")
	ex03, _ := f.Server("EX03")
	switch {
	case f.Organization != "Fabrikam Mail-2":
		t.Errorf("organization %q", f.Organization)
	case ex01.Site != "Branch-Site" || ex01.ADUnreachable:
		t.Errorf("EX01 site %q ad_unreachable %v", ex01.Site, ex01.ADUnreachable)
	case ex02.Site != "":
		t.Errorf("EX02 site %q, want \"\" (unknown) as stated", ex02.Site)
	case ex03.Site != DefaultSite || !ex03.ADUnreachable:
		t.Errorf("EX03 site %q ad_unreachable %v", ex03.Site, ex03.ADUnreachable)
	}
}

func TestParseFleetSyntaxErrorHasLineAndColumn(t *testing.T) {
	_, err := ParseFleet(strings.NewReader("{\n  \"servers\": [\n    {\"name\": \"EX01\",}\n  ]\n}"))
	want := "line 3, column 21: invalid character '}' looking for beginning of object key string"
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %s", err, want)
	}
}

func TestParseFleetDefaultsPerProduct(t *testing.T) {
	d := baseFleet()
	srv(d, 1)["build"] = "8.2.176.2"
	srv(d, 2)["build"] = "8.2.176.2"
	srv(d, 1)["prerequisites"] = map[string]any{"fqdn_set": false, "dotnet20_service_pack": 1}
	srv(d, 1)["os"] = map[string]any{"caption": "Microsoft Windows Server 2003 Standard x64 Edition"}
	raw, _ := json.Marshal(d)
	f, err := ParseFleet(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	ex02, _ := f.Server("EX02")
	ex03, _ := f.Server("EX03")
	fe01, _ := f.Server("FE01")
	if ex02.FQDN != "ex02" || ex02.Prerequisites.FQDNSet || ex02.Prerequisites.DotNet20ServicePack != 1 {
		t.Errorf("EX02 stated prerequisites not kept: fqdn %q, %+v", ex02.FQDN, ex02.Prerequisites)
	}
	if ex02.OS.Caption != "Microsoft Windows Server 2003 Standard x64 Edition" || ex02.OS.ServicePack != 2 || ex02.OS.Version != "5.2.3790" {
		t.Errorf("EX02 os not merged with the default: %+v", ex02.OS)
	}
	if ex03.Prerequisites.DotNet20ServicePack != 2 {
		t.Errorf("EX03 at SP2: .NET 2.0 default = SP%d, want SP2", ex03.Prerequisites.DotNet20ServicePack)
	}
	if !slices.Equal(ex03.Databases, []string{`First Storage Group\Mailbox Database`}) {
		t.Errorf("EX03 databases default = %q", ex03.Databases)
	}
	if fe01.OS.Caption != "Microsoft Windows Server 2003 Enterprise Edition" || len(fe01.Databases) != 0 {
		t.Errorf("FE01 = %+v", fe01)
	}
}

// activeActiveFleet is a small valid fleet with a 2003 active/active cluster, as plain JSON
// values, for cases to break one thing in.
func activeActiveFleet() map[string]any {
	node := func(name, addr string) map[string]any {
		return map[string]any{"name": name, "address": addr, "product": "2003", "build": "6.5.7226.6"}
	}
	return map[string]any{
		"credentials": map[string]any{"username": "admin", "password": "pw"},
		"servers": []any{
			node("AAN1", "127.0.50.51"), node("AAN2", "127.0.50.52"), node("BE01", "127.0.50.53"), node("BE02", "127.0.50.54"),
		},
		"clusters": []any{
			map[string]any{"name": "EVSA", "type": "evs-active-active", "nodes": []any{"AAN1", "AAN2"}, "active": "AAN1",
				"cluster_name": "AACL", "virtual_servers": []any{map[string]any{"name": "EVSB", "active": "AAN2"}}},
			map[string]any{"name": "EVS1", "type": "evs-active-passive", "nodes": []any{"BE01", "BE02"}, "active": "BE01"},
		},
	}
}

func vsOf(doc map[string]any, i, j int) map[string]any {
	return cls(doc, i)["virtual_servers"].([]any)[j].(map[string]any)
}

func TestParseFleetActiveActive(t *testing.T) {
	d := activeActiveFleet()
	vsOf(d, 0, 0)["active"] = "aan2"
	raw, _ := json.Marshal(d)
	f, err := ParseFleet(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	aa, _ := f.ClusterOf("AAN2")
	if aa.Name != "EVSA" || aa.ClusterName != "AACL" || !reflect.DeepEqual(aa.VirtualServers, []VirtualServer{{Name: "EVSB", Active: "AAN2"}}) {
		t.Errorf("active/active cluster %+v", aa)
	}
	if got := aa.ExchangeGroups(); !reflect.DeepEqual(got, []VirtualServer{{Name: "EVSA", Active: "AAN1"}, {Name: "EVSB", Active: "AAN2"}}) {
		t.Errorf("ExchangeGroups %+v", got)
	}
	if ap, _ := f.ClusterOf("BE01"); ap.ClusterName != "" || ap.VirtualServers != nil || len(ap.ExchangeGroups()) != 1 {
		t.Errorf("cluster without the new fields %+v", ap)
	}
	// An evs-active-active cluster with one EVS stays valid.
	d = activeActiveFleet()
	delete(cls(d, 0), "virtual_servers")
	delete(cls(d, 0), "cluster_name")
	raw, _ = json.Marshal(d)
	if _, err := ParseFleet(strings.NewReader(string(raw))); err != nil {
		t.Errorf("active/active with one EVS: %v", err)
	}
}

func TestParseFleetActiveActiveProblems(t *testing.T) {
	cases := []struct {
		name   string
		change func(d map[string]any)
		want   string
	}{
		{"misspelt cluster_name", func(d map[string]any) { cls(d, 0)["cluster_nam"] = "X" },
			`clusters[0] ("EVSA"): unknown field "cluster_nam" (did you mean "cluster_name"?)`},
		{"misspelt virtual_servers", func(d map[string]any) { cls(d, 1)["virtual_server"] = []any{} },
			`clusters[1] ("EVS1"): unknown field "virtual_server" (did you mean "virtual_servers"?)`},
		{"misspelt virtual server field", func(d map[string]any) { vsOf(d, 0, 0)["actve"] = "AAN2" },
			`clusters[0] ("EVSA"): virtual_servers[0] ("EVSB"): unknown field "actve" (did you mean "active"?)`},
		{"virtual_servers not a list", func(d map[string]any) { cls(d, 0)["virtual_servers"] = map[string]any{"name": "EVSB"} },
			`clusters[0] ("EVSA"): field "virtual_servers" must be a list, not an object`},
		{"virtual server not an object", func(d map[string]any) { cls(d, 0)["virtual_servers"] = []any{"EVSB"} },
			`clusters[0] ("EVSA"): virtual_servers[0]: must be an object {...}, not a string "EVSB"`},
		{"cluster_name not a string", func(d map[string]any) { cls(d, 0)["cluster_name"] = 7 },
			`clusters[0] ("EVSA"): field "cluster_name" must be a string or null, not the number 7`},
		{"bad cluster_name", func(d map[string]any) { cls(d, 0)["cluster_name"] = "AA_CL" },
			`clusters[0] ("EVSA"): cluster_name "AA_CL" is not a Windows network name: use 1 to 15 letters, digits or hyphens, not all digits`},
		{"all-digit cluster_name", func(d map[string]any) { cls(d, 0)["cluster_name"] = "2003" },
			`clusters[0] ("EVSA"): cluster_name "2003" is not a Windows network name: use 1 to 15 letters, digits or hyphens, not all digits`},
		{"empty cluster_name", func(d map[string]any) { cls(d, 0)["cluster_name"] = "" },
			`clusters[0] ("EVSA"): cluster_name is empty: give the Windows cluster's own name, e.g. "cluster_name": "EXCL01", or remove it`},
		{"cluster_name of a server", func(d map[string]any) { cls(d, 0)["cluster_name"] = "aan1" },
			`clusters[0] ("EVSA"): cluster_name "aan1" is already used by servers[0] ("AAN1"): the cluster's own name differs from every server, cluster and virtual server name`},
		{"cluster_name of its own EVS", func(d map[string]any) { cls(d, 0)["cluster_name"] = "EVSA" },
			`clusters[0] ("EVSA"): cluster_name "EVSA" is already used by clusters[0] ("EVSA"): the cluster's own name differs from every server, cluster and virtual server name`},
		{"cluster_name of another cluster", func(d map[string]any) { cls(d, 1)["cluster_name"] = "AACL" },
			`clusters[1] ("EVS1"): cluster_name "AACL" is already used by clusters[0] ("EVSA") cluster_name: the cluster's own name differs from every server, cluster and virtual server name`},
		{"virtual server named as the cluster", func(d map[string]any) { vsOf(d, 0, 0)["name"] = "aacl" },
			`clusters[0] ("EVSA"): virtual_servers[0] ("aacl"): name "aacl" is already used by clusters[0] ("EVSA") cluster_name: a virtual server's network name differs from every server and cluster name`},
		{"virtual server named as its first EVS", func(d map[string]any) { vsOf(d, 0, 0)["name"] = "EVSA" },
			`clusters[0] ("EVSA"): virtual_servers[0] ("EVSA"): name "EVSA" is already used by clusters[0] ("EVSA"): a virtual server's network name differs from every server and cluster name`},
		{"virtual server listed twice", func(d map[string]any) {
			cls(d, 0)["virtual_servers"] = []any{map[string]any{"name": "EVSB", "active": "AAN2"}, map[string]any{"name": "evsb", "active": "AAN1"}}
		}, `clusters[0] ("EVSA"): virtual_servers[1] ("evsb"): name "evsb" is already used by clusters[0] ("EVSA") virtual_servers[0] ("EVSB"): a virtual server's network name differs from every server and cluster name`},
		{"later cluster named as a virtual server", func(d map[string]any) { cls(d, 1)["name"] = "EVSB" },
			`clusters[1] ("EVSB"): name "EVSB" is already used by clusters[0] ("EVSA") virtual_servers[0] ("EVSB"): a cluster's network name differs from every server and cluster name`},
		{"bad virtual server name", func(d map[string]any) { vsOf(d, 0, 0)["name"] = "EVS B" },
			`clusters[0] ("EVSA"): virtual_servers[0] ("EVS B"): name "EVS B" is not a Windows network name: use 1 to 15 letters, digits or hyphens, not all digits`},
		{"virtual server without a name", func(d map[string]any) { delete(vsOf(d, 0, 0), "name") },
			`clusters[0] ("EVSA"): virtual_servers[0]: name is missing: give the EVS its network name, e.g. "name": "EVS02"`},
		{"virtual server active not a node", func(d map[string]any) { vsOf(d, 0, 0)["active"] = "BE01" },
			`clusters[0] ("EVSA"): virtual_servers[0] ("EVSB"): active "BE01" is not one of nodes (AAN1, AAN2): name one of them`},
		{"virtual name at a server's address", func(d map[string]any) { cls(d, 0)["address"] = srv(d, 0)["address"] },
			`clusters[0] ("EVSA"): address 127.0.50.51 is already used by servers[0] ("AAN1"): every server and virtual name needs its own address`},
		{"two virtual names at one address", func(d map[string]any) { cls(d, 0)["address"] = "127.0.10.99"; vsOf(d, 0, 0)["address"] = "127.0.10.99" },
			`clusters[0] ("EVSA"): virtual_servers[0] ("EVSB"): address 127.0.10.99 is already used by clusters[0] ("EVSA"): every server and virtual name needs its own address`},
		{"virtual name outside loopback", func(d map[string]any) { vsOf(d, 0, 0)["address"] = "192.0.2.1" },
			`clusters[0] ("EVSA"): virtual_servers[0] ("EVSB"): address "192.0.2.1" is not in 127.0.0.0/8: the simulator listens on loopback addresses only; use e.g. 127.0.10.11`},
		{"virtual server without active", func(d map[string]any) { delete(vsOf(d, 0, 0), "active") },
			`clusters[0] ("EVSA"): virtual_servers[0] ("EVSB"): active is missing: name the node that owns EVSB now`},
		{"virtual_servers on a 5.5 cluster", func(d map[string]any) {
			for i := 2; i < 4; i++ {
				srv(d, i)["product"], srv(d, i)["build"] = "5.5", "5.5.2650"
			}
			cls(d, 1)["type"] = "cluster-5.5"
			cls(d, 1)["virtual_servers"] = []any{map[string]any{"name": "X55B", "active": "BE02"}}
		}, `clusters[1] ("EVS1"): virtual_servers: a cluster-5.5 cluster runs one virtual server, EVS1: remove virtual_servers (only evs-active-active and evs-active-passive clusters run several Exchange Virtual Servers)`},
		{"several problems at once", func(d map[string]any) {
			cls(d, 0)["cluster_name"] = "AA.CL"
			vsOf(d, 0, 0)["active"] = "AAN3"
		}, `clusters[0] ("EVSA"): cluster_name "AA.CL" is not a Windows network name: use 1 to 15 letters, digits or hyphens, not all digits` + "\n" +
			`clusters[0] ("EVSA"): virtual_servers[0] ("EVSB"): active "AAN3" is not one of nodes (AAN1, AAN2): name one of them`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := activeActiveFleet()
			tc.change(d)
			raw, _ := json.Marshal(d)
			_, err := ParseFleet(strings.NewReader(string(raw)))
			if err == nil {
				t.Fatalf("no error; want\n%s", tc.want)
			}
			if err.Error() != tc.want {
				t.Fatalf("error:\n%s\nwant:\n%s", err, tc.want)
			}
		})
	}
}

// virtual_servers belong to 2000/2003 clusters only.
func TestParseFleetVirtualServersOnCCR(t *testing.T) {
	d := baseFleet()
	cls(d, 0)["virtual_servers"] = []any{map[string]any{"name": "CMS02", "active": "EX03"}}
	cls(d, 0)["cluster_name"] = "MBXCL"
	raw, _ := json.Marshal(d)
	_, err := ParseFleet(strings.NewReader(string(raw)))
	want := `clusters[0] ("CMS01"): virtual_servers: a ccr cluster runs one clustered mailbox server, CMS01: remove virtual_servers (only evs-active-active and evs-active-passive clusters run several Exchange Virtual Servers)`
	if err == nil || err.Error() != want {
		t.Fatalf("error:\n%v\nwant:\n%s", err, want)
	}
}
