package provider

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/buildlevel/terraform-provider-exchange/internal/exchange"
	"github.com/buildlevel/terraform-provider-exchange/internal/simulator"
)

// An organisation upgrade killed after one server's install finished leaves that server at
// the target build, its backup agent stopped (recorded) and the install's job record behind.
// The next apply of the organisation finishes that server's procedure: it starts the agent
// again and clears the record, without installing again. (Found by the fault soak, seed 42:
// the server counted as done and its services stayed stopped.)
func TestAccOrganizationFinishesAnInterruptedServer(t *testing.T) {
	fleet := fmt.Sprintf(`{%s,
  "packages": {"D:\\E2007SP3": {"kind": "service_pack", "product": "2007", "service_pack": 3}},
  "servers": [
    {"name": "CAS7", "address": "127.0.62.1", "product": "2007", "build": "8.1.393.1", "roles": ["ClientAccess"],
     "last_system_state_backup": %[2]q},
    {"name": "HUB7", "address": "127.0.62.2", "product": "2007", "build": "8.3.83.6", "roles": ["HubTransport"],
     "third_party_services": ["BackupExecAgentAccelerator"], "last_system_state_backup": %[2]q}
  ],
  "clusters": []
}`, credentialsJSON(), hoursAgo(1))
	sim := startSimulatorWith(t, fleet, fastServicing)
	hub := sim.Host("HUB7")
	finished := time.Now().Add(-50 * time.Minute)
	hub.Update(func(s *simulator.State) {
		s.Jobs = []exchange.Job{{ID: "install_service_pack-8.3.83.6", Action: exchange.ActionInstallServicePack,
			State: exchange.JobSucceeded, Started: time.Now().Add(-time.Hour), Finished: &finished}}
		s.WindowsServices[0].State = "Stopped"
		s.LeftoverStopped = []string{"BackupExecAgentAccelerator"}
	})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{{
			Config: providerConfig(sim, "") + `
resource "exchange_organization_upgrade" "org" {
  servers = [{ server = "CAS7", address = "127.0.62.1" }, { server = "HUB7", address = "127.0.62.2" }]
  targets = [{ product = "2007", service_pack = 3, media_path = "D:\\E2007SP3" }]
  backup {
    max_database_age     = "24h"
    max_system_state_age = "168h"
    domain_controller_backup_time = "` + evidenceTime + `"
  }
}
`,
			Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr("exchange_organization_upgrade.org", "live_builds.HUB7", "8.3.83.6"),
				resource.TestCheckResourceAttr("exchange_organization_upgrade.org", "live_builds.CAS7", "8.3.83.6"),
				func(*terraform.State) error {
					j := journal(sim, "HUB7")
					if n := count(j, "installer"); n != 0 {
						return fmt.Errorf("HUB7 is at SP3: nothing must be installed again:\n%v", j)
					}
					f := hub.Facts()
					if f.ThirdPartyServices[0].State != "Running" || !f.Leftovers.Empty() || len(f.Jobs) != 0 {
						return fmt.Errorf("HUB7 after the apply: %s %s, leftovers %+v, jobs %+v", f.ThirdPartyServices[0].Name,
							f.ThirdPartyServices[0].State, f.Leftovers, f.Jobs)
					}
					return inOrder(j, "service start BackupExecAgentAccelerator")
				},
			),
		}},
	})
}
