# The demo's second plan, reviewed and not applied (make demo): the next wave after the
# Client Access server, the CCR clustered mailbox server MBXCMS01, to Update Rollup 10. Its
# two nodes are one unit of the Mailbox wave, serviced node by node: the plan names the
# node of every step and which steps interrupt service.
terraform {
  required_providers {
    exchange = {
      source = "buildlevel/exchange"
    }
  }
}

# As in ../main.tf: every name the plan reaches has its address here, none is looked up.
provider "exchange" {
  addresses = {
    MBX01A   = "127.0.10.31"
    MBX01B   = "127.0.10.32"
    MBXCMS01 = "127.0.10.30"
  }
}

variable "dc_system_state_backup_time" {
  type        = string
  description = "Last system-state backup of a domain controller of the domain, RFC 3339, from the backup software."
}

resource "exchange_organization_upgrade" "mailbox_wave" {
  servers = [{ server = "MBX01A" }, { server = "MBX01B" }]
  targets = [{
    product       = "2007"
    service_pack  = 1
    update_rollup = "10"
    package_path  = "\\\\files\\exchange\\E2007SP1-RU10-x64.msp"
  }]
  # Both nodes carry this interim update: the plan removes it before the rollup, and may only
  # because it is listed here.
  remove_interim_updates = ["KB100001"]

  backup {
    max_database_age              = "24h"
    max_system_state_age          = "168h"
    domain_controller_backup_time = var.dc_system_state_backup_time
  }
}
