package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	tfresource "github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/buildlevel/terraform-provider-exchange/internal/remote/wire"
)

// How each string a user can set is kept from becoming code on a server, or a half-done
// server: by attribute (full path first, then name). TestEveryStringIsHandled fails on a settable string not here, so
// a new attribute is classified when it is added.
const (
	// checked: a validator allows only what the value can be (a name, a KB, a level, a
	// duration, a time, one of a few words); anything else, quotes and code included, stops
	// the plan naming the attribute (TestAccBadInputRefusedAtPlan for server names).
	checked = "checked at plan"
	// delivered: any text the path or service-name rule allows reaches the server as data, a
	// literal rendered by wire, byte for byte (TestAccBadInputDeliveredAsData).
	delivered = "delivered as data"
	// local: never in a script: used by the provider itself (connecting, the backup
	// precondition, the plan's warnings).
	local = "never sent to a server's scripts"
)

var stringHandling = map[string]string{
	"server": checked, "cluster": checked, "kb": checked, "remove_interim_updates": checked,
	"rollup": checked, "update_rollup": checked, "product": checked, "build": checked,
	"revocation_check": checked, "auth": checked, "poll_interval": checked, "timeout": checked,
	"max_database_age": checked, "max_system_state_age": checked,
	"create": checked, "update": checked, "delete": checked, // timeouts: Go durations
	"domain_controller_backup_time": checked, "database_backup_times": checked, "system_state_backup_times": checked,

	"media_path": delivered, "package_path": delivered, "um_language_pack_path": delivered,
	"node_media_paths": delivered, "node_package_paths": delivered, "stop_services": delivered,
	"owa_logon_file": delivered,

	"address": local, "addresses": local, "waiver_reason": local, "forefront_compatible": local,
	"ca_certificate": local, "username": local, "password": local,
	// maintenance_window: when the provider may act (its own validators check them).
	"start": local, "end": local, "days": local, "duration": local, "time_zone": local,
	// plan_timestamp: the time a plan's window is chosen from (an RFC 3339 validator).
	"plan_timestamp": checked,
	// clear_setup_watermark.reason: shown in the plan's warning.
	"reason": local,
	// The build catalog's look-up: parsed by the provider, no server is read.
	"data.exchange_build.build": local, "data.exchange_build.update_rollup": local,
}

func TestEveryStringIsHandled(t *testing.T) {
	nul := noNULValidator{}.Description(context.Background())
	for _, s := range settableStrings() {
		how, ok := stringHandling[s.Where]
		if !ok {
			how, ok = stringHandling[s.Name]
		}
		if !ok {
			t.Errorf("%s is not in stringHandling: say whether it is checked at plan, delivered to the server as data, or never sent", s.Where)
			continue
		}
		others := 0
		for i := 0; i < s.Validators.Len(); i++ {
			if d, ok := s.Validators.Index(i).Interface().(interface{ Description(context.Context) string }); ok &&
				d.Description(context.Background()) != nul {
				others++
			}
		}
		if how == checked && others == 0 {
			t.Errorf("%s is %s but has no validator but the NUL check", s.Where, how)
		}
	}
}

// hclString writes s as an HCL string literal: what a user writes to mean s.
func hclString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "${", "$${", "%{", "%%{")
	return `"` + r.Replace(s) + `"`
}

// Paths and service names with every character that would break a badly quoted script
// (the five single quotes, double-quote look-alikes, $(), ${}, backticks, ; | &, non-ASCII
// names, the longest value the rule allows) reach the server byte for byte: the simulator
// receives, decoded from the script's literals, exactly what the configuration says.
func TestAccBadInputDeliveredAsData(t *testing.T) {
	paths := []string{
		`D:\it's ‘a’ ‚b‛ “c”.msp`,
		`D:\$(Stop-Computer) ${x} $env:WINDIR @(1).msp`,
		"D:\\a`b``'c`n.msp",
		`D:\a; b | c & d #e <# f.msp`,
		`D:\Überprüfung\Ünïcødé 日本 Сервер.msp`,
		`D:\` + strings.Repeat("x", maxPath-7) + `.msp`, // maxPath characters
	}
	services := []string{"Svc'‘’‚‛“”\"", "Svc$(Stop-Computer)${x}", "Svc`x``", "Svc; a | b & c", "Dienst-Ü 日本", strings.Repeat("S", 256)}
	var servers, packages []string
	config := ""
	for i, p := range paths {
		name := fmt.Sprintf("CAS%d", i+1)
		addr := fmt.Sprintf("127.0.54.%d", i+1)
		pj, _ := json.Marshal(p)
		sj, _ := json.Marshal(services[i])
		packages = append(packages, fmt.Sprintf(`%s: {"kind": "update_rollup", "service_pack": 3, "update_rollup": 10}`, pj))
		servers = append(servers, fmt.Sprintf(`{"name": %q, "address": %q, "product": "2007", "build": "8.3.213.1", "roles": ["ClientAccess"],
     "last_system_state_backup": %q, "third_party_services": [%s]}`, name, addr, hoursAgo(1), sj))
		config += fmt.Sprintf(`
resource "exchange_update_rollup" "cas%d" {
  server        = %q
  address       = %q
  rollup        = "10"
  package_path  = %s
  stop_services = [%s]
  backup {
    max_system_state_age = "168h"
    domain_controller_backup_time = "%s"
    waiver_reason        = "a Client Access server holds no databases"
  }
}
`, i+1, name, addr, hclString(p), hclString(services[i]), evidenceTime)
	}
	fleet := fmt.Sprintf(`{%s, "packages": {%s}, "servers": [%s], "clusters": []}`,
		credentialsJSON(), strings.Join(packages, ",\n"), strings.Join(servers, ",\n"))
	sim := startSimulatorWith(t, fleet, fastServicing)
	tooLong := `D:\` + strings.Repeat("x", maxPath-6) + `.msp`
	tfresource.Test(t, tfresource.TestCase{ProtoV6ProviderFactories: testProviders, Steps: []tfresource.TestStep{
		{Config: providerConfig(sim, "") + strings.Replace(config, hclString(paths[5]), hclString(tooLong), 1), PlanOnly: true,
			ExpectError: regexp.MustCompile(`(?s)Invalid path.*package_path is 260 characters long`)},
		{Config: providerConfig(sim, "") + strings.Replace(config, hclString(services[5]), hclString(services[5]+"S"), 1), PlanOnly: true,
			ExpectError: regexp.MustCompile(`(?s)stop_services\[0\].*length must be between 1 and 256`)},
		{Config: providerConfig(sim, "") + config},
	}})
	for i, p := range paths {
		server := fmt.Sprintf("CAS%d", i+1)
		var gotPath, gotService []string
		for _, e := range sim.Journal() {
			if e.Server != server {
				continue
			}
			// The install's package (the destroy's uninstall goes by patch code).
			if v, ok := e.Params["PackagePath"].(string); ok && e.Params["Action"] == "install_update_rollup" {
				gotPath = append(gotPath, v)
			}
			if v, ok := e.Params["Name"].(string); ok && e.Operation == wire.OpService {
				gotService = append(gotService, v)
			}
		}
		if len(gotPath) == 0 || slices.ContainsFunc(gotPath, func(v string) bool { return v != p }) {
			t.Errorf("%s: the server received package paths %q, want exactly %q", server, gotPath, p)
		}
		// Stopped and started for the install, and again for the uninstall of the destroy.
		if len(gotService) < 2 || slices.ContainsFunc(gotService, func(v string) bool { return v != services[i] }) {
			t.Errorf("%s: the service operation received names %q, want %q (stop and start)", server, gotService, services[i])
		}
	}
}
