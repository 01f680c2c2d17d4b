package simulator

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
)

var testBoot = time.Date(2024, 5, 2, 6, 0, 0, 0, time.UTC)

// fixtureHosts builds the hosts of testdata/fleet.json as Start does, without listening.
func fixtureHosts(t *testing.T) map[string]*Host {
	t.Helper()
	f := loadFixture(t)
	clusters := map[string]*LiveCluster{}
	for _, c := range f.Clusters {
		cs := newLiveCluster(c, f.Servers)
		for _, n := range c.Nodes {
			clusters[n] = cs
		}
	}
	hosts := map[string]*Host{}
	for _, s := range f.Servers {
		hosts[s.Name] = newHost(s, clusters[s.Name], testBoot)
	}
	return hosts
}

func tm(s string) *time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return &t
}

func running(names ...string) []exchange.ServiceFacts {
	var out []exchange.ServiceFacts
	for _, n := range names {
		out = append(out, exchange.ServiceFacts{Name: n, State: "Running", StartMode: "Auto"})
	}
	return out
}

var cms01Resources = []exchange.ClusterResource{
	{Name: "IP Address (CMS01)", Type: "IP Address", State: "Online"},
	{Name: "Network Name (CMS01)", Type: "Network Name", State: "Online"},
	{Name: "Exchange System Attendant Instance (CMS01)", Type: "Microsoft Exchange System Attendant", State: "Online"},
	{Name: "Exchange Information Store Instance (CMS01)", Type: "Microsoft Exchange Information Store", State: "Online"},
}

func TestFactsOf2007MailboxInCCR(t *testing.T) {
	hosts := fixtureHosts(t)
	yes := true
	want := exchange.Facts{
		Server:   "EX02",
		FQDN:     "ex02.contoso.local",
		Product:  "2007",
		Build:    "8.1.393.1",
		BootTime: testBoot,
		OS:       exchange.OSFacts{Caption: "Microsoft Windows Server 2003 R2 Enterprise x64 Edition", Version: "5.2.3790", ServicePack: 2},
		Prerequisites: exchange.PrerequisiteFacts{
			DotNet20ServicePack: 1, WindowsInstaller: "4.5.6001.22159", TimeZoneUpdate931836: true, FQDNSet: true, LocalAdministrator: true,
			IISCompressionHotfix831464: true,
		},
		// 8.1.393.1 is SP1 Update Rollup 9, KB970162 in the catalog.
		UpdateRollups: []exchange.InstalledUpdate{{KB: "KB970162", DisplayName: "Update Rollup 9 for Exchange Server 2007 Service Pack 1 (KB970162)",
			PatchCode: RollupPatchCode(exchange.Level{Product: "2007", ServicePack: 1, UpdateRollup: 9})}},
		InterimUpdates: []exchange.InstalledUpdate{{KB: "KB970543", DisplayName: "Interim Update for Exchange Server 2007 (KB970543)",
			PatchCode: InterimUpdatePatchCode("KB970543")}},
		Roles: []string{"Mailbox"},
		Cluster: &exchange.ClusterFacts{
			Name: "CMS01", Type: "ccr", Nodes: []string{"EX02", "EX03"}, ActiveNode: "EX02", Active: true, ClusterServiceRunning: true,
			GroupState: "Online",
			Resources:  cms01Resources,
			// One Exchange group: the CMS. The fixture states no cluster_name.
			Groups: []exchange.ClusterGroupFacts{{Name: "CMS01", Owner: "EX02", State: "Online", Resources: cms01Resources,
				PreferredOwners: []string{"EX02"}}},
			NodeBuilds: map[string]string{"EX02": "8.1.393.1"},
			Events:     []string{},
		},
		Setup:         exchange.SetupFacts{Watermarks: []exchange.SetupWatermark{}},
		PendingReboot: []string{},
		Backups: exchange.BackupFacts{
			Databases: []exchange.DatabaseBackup{
				{Name: `SG1\Mailbox Database 1`, LastFull: tm("2024-05-01T23:30:00Z")},
				{Name: `SG2\Mailbox Database 2`, LastFull: tm("2024-05-01T23:30:00Z")},
			},
			DatabasesRead:     true,
			SystemState:       tm("2024-05-01T22:00:00Z"),
			SystemStateSource: exchange.SystemStateFromNTBackupLog, // Windows 2003: NTBackup by default
		},
		Services: running("MSExchangeADTopology", "MSExchangeServiceHost", "MSExchangeIS", "MSExchangeSA",
			"MSExchangeRepl", "MSExchangeSearch", "MSExchangeMailboxAssistants", "W3SVC", "IISADMIN"),
		ThirdPartyServices: running("BackupExecAgentAccelerator", "McShield"),
		OtherServices:      []exchange.ServiceFacts{},
		Procedure: exchange.ProcedureFacts{Domain: "contoso.local", Forefront: []exchange.InstalledProduct{}, ReceiveConnectors: []string{},
			EventLogLevels: []exchange.EventLogLevel{}, EventLogLevelsRead: true, InstallerProcesses: []string{}},
		UMLanguagePacks:       []string{},
		RevocationCheck:       true,
		InternetAccess:        true,
		RemoteStreamingBackup: &yes,
		Jobs:                  []exchange.Job{},
		Leftovers:             exchange.Leftovers{StoppedServices: []string{}, SetupWatermarksRemoved: []string{}},
	}
	got := hosts["EX02"].Facts()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Fatalf("facts:\n%s\nwant:\n%s", g, w)
	}

	passive := hosts["EX03"].Facts()
	if passive.Cluster == nil || passive.Cluster.Active || passive.Cluster.ActiveNode != "EX02" {
		t.Errorf("EX03 cluster = %+v, want passive with active node EX02", passive.Cluster)
	}
	if passive.RemoteStreamingBackup == nil || *passive.RemoteStreamingBackup {
		t.Errorf("EX03 remote streaming backup = %v, want false", passive.RemoteStreamingBackup)
	}
}

func TestFactsOf2003FrontEnd(t *testing.T) {
	hosts := fixtureHosts(t)
	want := exchange.Facts{
		Server:   "FE01",
		FQDN:     "fe01.contoso.local",
		Product:  "2003",
		Build:    "6.5.7638.2",
		BootTime: testBoot,
		OS:       exchange.OSFacts{Caption: "Microsoft Windows Server 2003 Enterprise Edition", Version: "5.2.3790", ServicePack: 2},
		Prerequisites: exchange.PrerequisiteFacts{
			DotNet20ServicePack: 1, WindowsInstaller: "4.5.6001.22159", TimeZoneUpdate931836: true, FQDNSet: true, LocalAdministrator: true,
			IISCompressionHotfix831464: true,
		},
		UpdateRollups:  []exchange.InstalledUpdate{},
		InterimUpdates: []exchange.InstalledUpdate{{KB: "KB924334", DisplayName: "Hotfix for Exchange Server 2003 (KB924334)"}},
		Roles:          []string{"FrontEnd"},
		InternetFacing: true,
		Setup:          exchange.SetupFacts{Watermarks: []exchange.SetupWatermark{}},
		PendingReboot:  []string{},
		Backups: exchange.BackupFacts{Databases: []exchange.DatabaseBackup{}, DatabasesRead: true, SystemState: tm("2024-04-28T21:00:00Z"),
			SystemStateSource: exchange.SystemStateFromNTBackupLog},
		Services:           running("MSExchangeIS", "MSExchangeSA", "MSExchangeMTA", "RESvc", "SMTPSVC", "W3SVC", "IISADMIN"),
		ThirdPartyServices: []exchange.ServiceFacts{},
		OtherServices:      []exchange.ServiceFacts{},
		Procedure: exchange.ProcedureFacts{Domain: "contoso.local", Forefront: []exchange.InstalledProduct{}, ReceiveConnectors: []string{},
			EventLogLevels: []exchange.EventLogLevel{}, InstallerProcesses: []string{}},
		UMLanguagePacks:    []string{},
		OWALogonCustomized: true,
		RevocationCheck:    true,
		InternetAccess:     true,
		Jobs:               []exchange.Job{},
		Leftovers:          exchange.Leftovers{StoppedServices: []string{}, SetupWatermarksRemoved: []string{}},
	}
	got := hosts["FE01"].Facts()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Fatalf("facts:\n%s\nwant:\n%s", g, w)
	}
}

func TestFactsJSONShowsEmptyListsNotNull(t *testing.T) {
	h := fixtureHosts(t)["EDGE01"]
	h.SetBuild(exchange.MustParseBuild("8.1.240.6")) // SP1 itself: no rollups
	raw, err := json.Marshal(h.Facts())
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	for _, field := range []string{"update_rollups", "interim_updates", "pending_reboot", "third_party_services", "other_services", "um_language_packs", "watermarks", "databases", "jobs"} {
		if !strings.Contains(s, `"`+field+`":[]`) {
			t.Errorf("%s is not [] in %s", field, s)
		}
	}
	if !strings.Contains(s, `"cluster":null`) || !strings.Contains(s, `"system_state":null`) || !strings.Contains(s, `"lock":null`) {
		t.Errorf("absent cluster or backup should be null: %s", s)
	}
}

func TestFactsOfOddStates(t *testing.T) {
	hosts := fixtureHosts(t)
	ex55 := hosts["EX55"].Facts()
	if !slices.Equal(ex55.PendingReboot, []string{"PendingFileRenameOperations"}) {
		t.Errorf("EX55 pending reboot = %q", ex55.PendingReboot)
	}
	wantSvc := []exchange.ServiceFacts{
		{Name: "MSExchangeIS", State: "Running", StartMode: "Auto"},
		{Name: "MSExchangeSA", State: "Running", StartMode: "Auto"},
		{Name: "MSExchangeMTA", State: "Stopped", StartMode: "Disabled"},
		{Name: "MSExchangeDS", State: "Running", StartMode: "Auto"},
	}
	if !slices.Equal(ex55.Services, wantSvc) {
		t.Errorf("EX55 services = %+v", ex55.Services)
	}
	// A real probe cannot read a 5.5/2000/2003 database's last backup (docs/simulator.md).
	if len(ex55.Backups.Databases) != 0 || ex55.Backups.DatabasesRead {
		t.Errorf("EX55 backups = %+v, want its databases unreadable", ex55.Backups)
	}
	ex04 := hosts["EX04"].Facts()
	if ex04.InternetAccess || !slices.Equal(ex04.UMLanguagePacks, []string{"de-DE"}) ||
		!slices.Equal(ex04.Services, running("MSExchangeADTopology", "MSExchangeServiceHost", "MSExchangeFDS", "MSExchangeUM")) {
		t.Errorf("EX04 = %+v", ex04)
	}
	be02 := hosts["BE02"].Facts()
	if be02.Cluster == nil || be02.Cluster.Type != "evs-active-passive" || be02.Cluster.Active {
		t.Errorf("BE02 cluster = %+v", be02.Cluster)
	}
}

func TestHostUpdateAndStateAreIsolated(t *testing.T) {
	h := fixtureHosts(t)["EX01"]
	h.Update(func(s *State) {
		s.Build = exchange.MustParseBuild("8.1.436.0")
		s.InterimUpdates = append(s.InterimUpdates, "KB123456")
	})
	st := h.State()
	st.InterimUpdates[0] = "KB999" // a copy: must not reach the host
	f := h.Facts()
	if f.Build != "8.1.436.0" || len(f.InterimUpdates) != 1 || f.InterimUpdates[0].KB != "KB123456" {
		t.Errorf("after Update: build %s, interim updates %+v", f.Build, f.InterimUpdates)
	}
}
