package provider

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

var serverFleet = `{` + credentialsJSON() + `,
  "servers": [
    {"name": "MBX7A", "address": "127.0.41.1", "product": "2007", "build": "8.1.393.1",
     "roles": ["Mailbox"], "interim_updates": ["KB200002"], "setup_watermark": "Mailbox",
     "last_full_backup": "2026-03-04T05:06:07Z", "last_system_state_backup": "2026-03-03T01:02:03Z",
     "third_party_services": ["BackupExecAgentAccelerator"], "remote_streaming_backup": true,
     "um_language_packs": [], "internet_access": false},
    {"name": "MBX7B", "address": "127.0.41.2", "product": "2007", "build": "8.1.393.1", "roles": ["Mailbox"]},
    {"name": "FE3", "address": "127.0.41.3", "product": "2003", "build": "6.5.7638.2",
     "roles": ["FrontEnd"], "internet_facing": true, "pending_reboot": true, "owa_customized": true},
    {"name": "ODD", "address": "127.0.41.4", "product": "2007", "build": "8.1.395.0", "roles": ["HubTransport"]}
  ],
  "clusters": [{"name": "CMS7", "type": "ccr", "nodes": ["MBX7A", "MBX7B"], "active": "MBX7B"}]
}`

func TestAccServerDataSource(t *testing.T) {
	t.Parallel() // its servers' addresses are no other parallel test's
	sim := startSimulator(t, serverFleet)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: providerConfig(sim, `addresses = { MBX7B = "127.0.41.2" }`) + `
# No address: the provider's addresses map says where MBX7B is.
data "exchange_server" "mbx_b" {
  server = "MBX7B"
}
data "exchange_server" "mbx" {
  server  = "MBX7A"
  address = "127.0.41.1"
}
data "exchange_server" "fe" {
  server  = "FE3"
  address = "127.0.41.3"
}
data "exchange_server" "odd" {
  server  = "ODD"
  address = "127.0.41.4"
}
`,
			Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr("data.exchange_server.mbx_b", "cluster.active", "true"),
				resource.TestCheckResourceAttr("data.exchange_server.mbx", "product", "2007"),
				resource.TestCheckResourceAttr("data.exchange_server.mbx", "build", "8.1.393.1"),
				resource.TestCheckResourceAttr("data.exchange_server.mbx", "level", "Exchange 2007 SP1 Update Rollup 9"),
				resource.TestCheckResourceAttr("data.exchange_server.mbx", "service_pack", "1"),
				resource.TestCheckResourceAttr("data.exchange_server.mbx", "update_rollup", "9"),
				resource.TestCheckResourceAttr("data.exchange_server.mbx", "roles.#", "1"),
				resource.TestCheckResourceAttr("data.exchange_server.mbx", "roles.0", "Mailbox"),
				resource.TestCheckResourceAttr("data.exchange_server.mbx", "interim_updates.0.kb", "KB200002"),
				resource.TestCheckResourceAttr("data.exchange_server.mbx", "setup.watermarks.0.role", "Mailbox"),
				resource.TestCheckResourceAttr("data.exchange_server.mbx", "cluster.name", "CMS7"),
				resource.TestCheckResourceAttr("data.exchange_server.mbx", "cluster.type", "ccr"),
				resource.TestCheckResourceAttr("data.exchange_server.mbx", "cluster.active_node", "MBX7B"),
				resource.TestCheckResourceAttr("data.exchange_server.mbx", "cluster.active", "false"),
				resource.TestCheckResourceAttr("data.exchange_server.mbx", "cluster.nodes.#", "2"),
				resource.TestCheckResourceAttr("data.exchange_server.mbx", "backups.databases.0.last_full", "2026-03-04T05:06:07Z"),
				resource.TestCheckResourceAttr("data.exchange_server.mbx", "backups.system_state", "2026-03-03T01:02:03Z"),
				resource.TestCheckResourceAttr("data.exchange_server.mbx", "backups.databases_read", "true"),
				resource.TestCheckResourceAttr("data.exchange_server.mbx", "third_party_services.0.name", "BackupExecAgentAccelerator"),
				resource.TestCheckResourceAttr("data.exchange_server.mbx", "remote_streaming_backup", "true"),
				resource.TestCheckResourceAttr("data.exchange_server.mbx", "internet_access", "false"),
				resource.TestCheckResourceAttr("data.exchange_server.mbx", "pending_reboot.#", "0"),
				resource.TestCheckResourceAttr("data.exchange_server.mbx", "um_language_packs.#", "0"),
				resource.TestCheckTypeSetElemNestedAttrs("data.exchange_server.mbx", "services.*",
					map[string]string{"name": "MSExchangeIS", "state": "Running", "start_mode": "Auto"}),

				resource.TestCheckResourceAttr("data.exchange_server.fe", "level", "Exchange 2003 SP2"),
				resource.TestCheckResourceAttr("data.exchange_server.fe", "service_pack", "2"),
				resource.TestCheckResourceAttr("data.exchange_server.fe", "front_end", "true"),
				resource.TestCheckResourceAttr("data.exchange_server.fe", "internet_facing", "true"),
				resource.TestCheckResourceAttr("data.exchange_server.fe", "owa_logon_customized", "true"),
				resource.TestCheckResourceAttr("data.exchange_server.fe", "pending_reboot.#", "1"),
				resource.TestCheckNoResourceAttr("data.exchange_server.fe", "cluster.name"),

				// A build between catalog entries is named, never guessed.
				resource.TestMatchResourceAttr("data.exchange_server.odd", "level",
					regexp.MustCompile(`Exchange 2007 SP1 Update Rollup 9 or a later interim build \(8\.1\.395\.0`)),
				resource.TestCheckNoResourceAttr("data.exchange_server.odd", "update_rollup"),
			),
		}},
	})
}

// Bad input gets one clear error naming the server and what to do.
func TestAccServerDataSourceErrors(t *testing.T) {
	sim := startSimulator(t, serverFleet)
	one := func(server, address string) string {
		return `
data "exchange_server" "x" {
  server  = "` + server + `"
  address = "` + address + `"
}
`
	}
	steps := []resource.TestStep{
		{ // the address reaches another server
			Config:      providerConfig(sim, "") + one("MBX7A", "127.0.41.3"),
			ExpectError: regexp.MustCompile(`(?s)Address of server MBX7A answers as another server.*this host is FE3`),
		},
		{ // nothing listens there
			Config:      providerConfig(sim, "") + one("GONE", "127.0.41.250"),
			ExpectError: regexp.MustCompile(`(?s)Cannot read Exchange server GONE.*server GONE`),
		},
		{ // a wrong password: one error naming the server and the user, never the password
			Config:      strings.Replace(providerConfig(sim, ""), testPassword, "not-the-password", 1) + one("MBX7A", "127.0.41.1"),
			ExpectError: regexp.MustCompile(`(?s)Cannot read Exchange server MBX7A.*rejected the credentials for user.*acc`),
		},
		{ // a certificate that does not verify (no ca_certificate for the simulator's CA)
			Config: fmt.Sprintf(`
provider "exchange" {
  username = %q
  password = %q
  port     = %d
  timeout  = "10s"
}
`, testUser, testPassword, sim.HTTPSPort()) + one("MBX7A", "127.0.41.1"),
			ExpectError: regexp.MustCompile(`(?s)Cannot read Exchange server MBX7A.*certificate.*ca_certificate`),
		},
		{ // an attribute with a bad value is caught before anything is contacted
			Config:      providerConfig(sim, `max_connections_per_host = 9`) + one("MBX7A", "127.0.41.1"),
			ExpectError: regexp.MustCompile(`(?s)max_connections_per_host.*between 1 and 4`),
		},
	}
	resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: testProviders, Steps: steps})
}
