package simulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// This file: the fleet file as written (its JSON documents) and how it is read (fleet.go
// holds the validated Fleet).

// The documents as written in the file. Pointers tell "absent" (take the default) from a
// stated zero value.
type fleetDoc struct {
	Credentials  json.RawMessage            `json:"credentials"`
	WinRM        json.RawMessage            `json:"winrm"`
	Organization *string                    `json:"organization"`
	Servers      []json.RawMessage          `json:"servers"`
	Clusters     []json.RawMessage          `json:"clusters"`
	Packages     map[string]json.RawMessage `json:"packages"`
}

type credentialsDoc struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type serverDoc struct {
	Name                  string            `json:"name"`
	Address               string            `json:"address"`
	FQDN                  *string           `json:"fqdn"`
	Product               string            `json:"product"`
	Build                 string            `json:"build"`
	Roles                 []string          `json:"roles"`
	InternetFacing        bool              `json:"internet_facing"`
	InterimUpdates        []string          `json:"interim_updates"`
	UMLanguagePacks       []string          `json:"um_language_packs"`
	LastFullBackup        *string           `json:"last_full_backup"`
	LastSystemStateBackup *string           `json:"last_system_state_backup"`
	SystemStateBackupTool *string           `json:"system_state_backup_tool"`
	ThirdPartyServices    []string          `json:"third_party_services"`
	SetupWatermark        *string           `json:"setup_watermark"`
	PendingReboot         bool              `json:"pending_reboot"`
	OWACustomized         bool              `json:"owa_customized"`
	InternetAccess        *bool             `json:"internet_access"`
	OS                    json.RawMessage   `json:"os"`
	Prerequisites         json.RawMessage   `json:"prerequisites"`
	Databases             []string          `json:"databases"`
	SetupRunning          bool              `json:"setup_running"`
	StaleCMSKey           bool              `json:"stale_cms_key"`
	RemoteStreamingBackup *bool             `json:"remote_streaming_backup"`
	RevocationCheck       *bool             `json:"revocation_check"`
	ForefrontVersion      string            `json:"forefront_version"`
	ReceiveConnectors     []string          `json:"receive_connectors"`
	DiagnosticLogging     map[string]string `json:"diagnostic_logging"`
	RunningProcesses      []string          `json:"running_processes"`
	Firewall              string            `json:"firewall"`
	DisabledServices      []string          `json:"disabled_services"`
	Faults                []json.RawMessage `json:"faults"`
	MissingPaths          []string          `json:"missing_paths"`
	DisabledAfterInstall  []string          `json:"disabled_after_install"`
	Site                  *string           `json:"site"`
	ADUnreachable         bool              `json:"ad_unreachable"`

	// Decoded from OS, Prerequisites and Faults.
	os     osDoc
	prereq prerequisitesDoc
	faults []Fault
}

type osDoc struct {
	Caption     *string `json:"caption"`
	Version     *string `json:"version"`
	ServicePack *int    `json:"service_pack"`
}

type prerequisitesDoc struct {
	DotNet20ServicePack  *int    `json:"dotnet20_service_pack"`
	WindowsInstaller     *string `json:"windows_installer"`
	TimeZoneUpdate931836 *bool   `json:"time_zone_update_931836"`
	FQDNSet              *bool   `json:"fqdn_set"`
	SingleLabelDomain    *bool   `json:"single_label_domain"`
	LocalAdministrator   *bool   `json:"local_administrator"`
	// IISCompressionHotfix831464 is the IIS 6.0 compression hotfix an Exchange 2003
	// cluster on Windows 2003 needs before its SP.
	IISCompressionHotfix831464 *bool `json:"iis_compression_hotfix_831464"`
}

type clusterDoc struct {
	Name           string            `json:"name"`
	Type           string            `json:"type"`
	Nodes          []string          `json:"nodes"`
	Active         string            `json:"active"`
	Address        string            `json:"address"`
	ClusterName    *string           `json:"cluster_name"`
	VirtualServers []json.RawMessage `json:"virtual_servers"`

	// Decoded from VirtualServers.
	virtualServers []virtualServerDoc
}

type virtualServerDoc struct {
	Name    string `json:"name"`
	Active  string `json:"active"`
	Address string `json:"address"`
}

// LoadFleet reads and validates the fleet file at path. Problems are reported as a
// *FleetError whose lines start with path.
func LoadFleet(path string) (*Fleet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseFleet(path, f)
}

// ParseFleet reads and validates a fleet document.
func ParseFleet(r io.Reader) (*Fleet, error) { return parseFleet("", r) }

func parseFleet(source string, r io.Reader) (*Fleet, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	fail := func(problems ...string) error { return &FleetError{Source: source, Problems: problems} }

	dec := json.NewDecoder(bytes.NewReader(data))
	var top json.RawMessage
	if err := dec.Decode(&top); err != nil {
		if err == io.EOF {
			return nil, fail("the fleet file is empty: it must hold one JSON object with credentials and servers")
		}
		return nil, fail(syntaxProblem(data, err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fail("there is more text after the fleet object's closing }: a fleet file holds exactly one JSON object")
	}
	var doc fleetDoc
	if err := decodeObject(top, &doc); err != nil {
		return nil, fail(err.Error())
	}

	// Decode everything first: a field that does not decode would only cause confusing
	// follow-on problems in validation, so decoding problems are reported on their own.
	var problems []string
	var creds credentialsDoc
	if doc.Credentials == nil || string(doc.Credentials) == "null" {
		problems = append(problems, `credentials: missing: add "credentials": {"username": "...", "password": "..."}`)
	} else if err := decodeObject(doc.Credentials, &creds); err != nil {
		problems = append(problems, "credentials: "+err.Error())
	}
	var winrmDoc WinRMService
	if isPresent(doc.WinRM) {
		if err := decodeObject(doc.WinRM, &winrmDoc); err != nil {
			problems = append(problems, "winrm: "+err.Error())
		}
	}
	servers := make([]serverDoc, len(doc.Servers))
	for i, raw := range doc.Servers {
		at := serverAt(i, rawName(raw))
		if err := decodeObject(raw, &servers[i]); err != nil {
			problems = append(problems, at+": "+err.Error())
			continue
		}
		if isPresent(servers[i].OS) {
			if err := decodeObject(servers[i].OS, &servers[i].os); err != nil {
				problems = append(problems, at+": os: "+err.Error())
			}
		}
		if isPresent(servers[i].Prerequisites) {
			if err := decodeObject(servers[i].Prerequisites, &servers[i].prereq); err != nil {
				problems = append(problems, at+": prerequisites: "+err.Error())
			}
		}
		for j, raw := range servers[i].Faults {
			var f Fault
			if err := decodeObject(raw, &f); err != nil {
				problems = append(problems, fmt.Sprintf("%s: faults[%d]: %s", at, j, err))
				continue
			}
			servers[i].faults = append(servers[i].faults, f)
		}
	}
	packages := map[string]Package{}
	for _, path := range sortedKeys(doc.Packages) {
		var p Package
		if err := decodeObject(doc.Packages[path], &p); err != nil {
			problems = append(problems, fmt.Sprintf("packages[%q]: %s", path, err))
			continue
		}
		packages[path] = p
	}
	clusters := make([]clusterDoc, len(doc.Clusters))
	for i, raw := range doc.Clusters {
		at := clusterAt(i, rawName(raw))
		if err := decodeObject(raw, &clusters[i]); err != nil {
			problems = append(problems, at+": "+err.Error())
			continue
		}
		for j, raw := range clusters[i].VirtualServers {
			var vs virtualServerDoc
			if err := decodeObject(raw, &vs); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %s: %s", at, virtualServerAt(j, rawName(raw)), err))
				continue
			}
			clusters[i].virtualServers = append(clusters[i].virtualServers, vs)
		}
	}
	if len(problems) > 0 {
		return nil, fail(problems...)
	}

	v := &validator{}
	fleet := &Fleet{Credentials: Credentials(creds), WinRM: winrmDoc, Packages: map[string]Package{}}
	fleet.Organization = v.organization(doc.Organization)
	seenPath := map[string]string{}
	for _, path := range sortedKeys(packages) {
		at := fmt.Sprintf("packages[%q]", path)
		if strings.TrimSpace(path) == "" {
			v.add("%s: the path is empty: key each package by the path a job names, e.g. \"D:\\Exchange2007SP3\"", at)
			continue
		}
		if prev, dup := seenPath[normalizePath(path)]; dup {
			v.add("%s: the same path as %q (paths are compared ignoring case and trailing separators): keep one", at, prev)
			continue
		}
		seenPath[normalizePath(path)] = path
		p, err := packages[path].normalize()
		if err != nil {
			v.add("%s: %v", at, err)
			continue
		}
		fleet.Packages[path] = p
	}
	if creds.Username == "" {
		v.add("credentials: username is empty: set the account name the provider will connect with")
	}
	if creds.Password == "" {
		v.add("credentials: password is empty: set the password the provider will connect with")
	}
	if len(servers) == 0 {
		v.add(`servers: the fleet has no servers: add at least one to "servers"`)
	}
	names := map[string]string{}     // lower-case name -> where it was defined
	addresses := map[string]string{} // address -> where it was defined
	failed := map[string]bool{}      // lower-case names of servers with problems
	for i, d := range servers {
		s, ok := v.server(serverAt(i, d.Name), d, names, addresses)
		if ok {
			fleet.Servers = append(fleet.Servers, s)
		} else {
			failed[strings.ToLower(d.Name)] = true
		}
	}
	inCluster := map[string]string{} // lower-case node name -> cluster where
	for i, d := range clusters {
		c, ok := v.cluster(clusterAt(i, d.Name), d, fleet, names, addresses, failed, inCluster)
		if ok {
			fleet.Clusters = append(fleet.Clusters, c)
		}
	}
	if len(v.problems) > 0 {
		return nil, fail(v.problems...)
	}
	return fleet, nil
}

func serverAt(i int, name string) string {
	if name == "" {
		return fmt.Sprintf("servers[%d]", i)
	}
	return fmt.Sprintf("servers[%d] (%q)", i, name)
}

func clusterAt(i int, name string) string {
	if name == "" {
		return fmt.Sprintf("clusters[%d]", i)
	}
	return fmt.Sprintf("clusters[%d] (%q)", i, name)
}

func virtualServerAt(j int, name string) string {
	if name == "" {
		return fmt.Sprintf("virtual_servers[%d]", j)
	}
	return fmt.Sprintf("virtual_servers[%d] (%q)", j, name)
}

// rawName reads the "name" of an object that may not decode, to say where a problem is.
func rawName(raw json.RawMessage) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return ""
	}
	var s string
	if json.Unmarshal(m["name"], &s) != nil {
		return ""
	}
	return s
}

func isPresent(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && string(t) != "null"
}
