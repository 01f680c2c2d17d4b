# The demo: a small Exchange organisation served by the bundled simulator (make demo).
# A 2007 site (internet-facing CAS, CAS, Hub, a CCR mailbox cluster, UM) and a 2003
# front-end/back-end pair. The plan reads every server once and shows its build.
terraform {
  required_providers {
    exchange = {
      source = "buildlevel/exchange"
    }
  }
}

# Username, password, port and the simulator's CA come from EXCHANGE_* environment
# variables (tools/demo.sh sets them), as they would from a CI secret store. The names of
# the simulated servers do not resolve: the addresses map says where each one is, so no
# name is ever looked up in DNS.
provider "exchange" {
  addresses = merge(local.servers, local.virtual_names)
}

locals {
  # Server name => where to reach it. Each simulated server has its own loopback address.
  servers = {
    CAS01  = "127.0.10.11"
    CAS02  = "127.0.10.12"
    HUB01  = "127.0.10.21"
    MBX01A = "127.0.10.31"
    MBX01B = "127.0.10.32"
    UM01   = "127.0.10.41"
    FE01   = "127.0.10.51"
    BE01   = "127.0.10.52"
  }
  # The clustered mailbox server's own name, which Active Directory lists as an Exchange
  # server: its network name resource's address, answered by the node that owns it.
  virtual_names = {
    MBXCMS01 = "127.0.10.30"
  }
}

data "exchange_server" "all" {
  for_each = local.servers
  server   = each.key
}

# The level the 2007 servers should reach: the newest rollup of SP3, from the catalog.
data "exchange_build" "target_2007" {
  product      = "2007"
  service_pack = 3
}

output "builds" {
  description = "Each server's live build and its name in the build catalog."
  value       = { for name, s in data.exchange_server.all : name => "${s.build}  ${s.level}" }
}

output "target_2007" {
  value = "${data.exchange_build.target_2007.name} (${data.exchange_build.target_2007.build})"
}

output "attention" {
  description = "What would stop or slow a servicing run today."
  value = {
    for name, s in data.exchange_server.all : name => compact([
      length(s.setup.watermarks) > 0 ? "interrupted setup" : "",
      length(s.pending_reboot) > 0 ? "reboot pending" : "",
      length(s.interim_updates) > 0 ? "interim updates: ${join(", ", [for u in s.interim_updates : u.kb])}" : "",
      s.cluster != null ? "node of ${s.cluster.name} (${s.cluster.active ? "active" : "passive"})" : "",
      s.backups.system_state == null ? "no system-state backup the server records: supply system_state_backup_times" : "",
      !s.backups.databases_read ? "databases' backups unreadable on the server: supply database_backup_times" : "",
    ])
  }
}

# The last system-state backup of a domain controller (KB 328839 asks for one before a
# service pack): no Exchange server can read it, so it comes from the backup software, here
# through a variable (tools/demo.sh sets TF_VAR_dc_system_state_backup_time).
variable "dc_system_state_backup_time" {
  type        = string
  description = "Last system-state backup of a domain controller of the domain, RFC 3339, from the backup software."
}

# A servicing change to review: Update Rollup 10 on the internet-facing Client Access
# server, which comes first in the order across servers. The plan lists every step; the
# apply runs them against the simulator (installs take seconds there, hours for real).
resource "exchange_update_rollup" "cas01" {
  server       = "CAS01"
  rollup       = "10"
  package_path = "\\\\files\\exchange\\E2007SP1-RU10-x64.msp"
  # CAS01's OWA logon page is customised: the rollup replaces it, and this page, with the
  # customisations re-created for the new build, is put in place afterwards.
  owa_logon_file = "\\\\files\\exchange\\owa\\logon-sp1-ru10.aspx"

  backup {
    # A Client Access server holds no databases; its system state (read from NTBackup's log
    # on the server) must be recent. The domain controller's is checked before a service
    # pack only (KB 328839), so not for this rollup.
    max_system_state_age          = "168h"
    max_database_age              = "24h"
    domain_controller_backup_time = var.dc_system_state_backup_time
  }
}

output "cas01_steps" {
  description = "What the apply ran on CAS01, step by step."
  value       = [for s in exchange_update_rollup.cas01.planned_steps : "${s.action}: ${s.description}"]
}
