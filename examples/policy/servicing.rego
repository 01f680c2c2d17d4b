# Checks the JSON of a Terraform or OpenTofu plan (terraform show -json tfplan) before anyone
# applies it. Conftest convention: package main, deny rules; OPA v1 syntax.
#
#   conftest test --policy examples/policy --data windows.json tfplan.json
#   opa eval --fail-defined -d examples/policy/servicing.rego -d windows.json -i tfplan.json 'data.main.deny[x]'
#
# Rules:
# 1. No step restarts a server with the Mailbox role. The roles come from exchange_server data
#    sources of the root module (their values are in the plan's prior_state).
# 2. No downtime step outside the declared maintenance window. A resource with a
#    maintenance_window (its own or the provider's) shows in the plan the window its downtime
#    steps are to run in (scheduled_window: start, end, description): the apply must start
#    inside it. The provider enforces the window too (an apply outside it does nothing, and
#    one whose window ends stops before the next downtime step); this rule catches a plan
#    that would be applied at the wrong time before anyone applies it. Resources without a
#    maintenance_window are checked against windows given to the policy as data
#    (windows.json):
#      {"maintenance": {
#         "apply_at": "2026-12-05T22:30:00Z",
#         "windows": [{"start": "2026-12-05T22:00:00Z", "end": "2026-12-06T04:00:00Z",
#                      "servers": ["MBX01", "MBX02"]}]}}
#    apply_at is when the apply will start; without it, the time the policy is evaluated (run
#    the check right before the apply). A data window without servers covers every server.
#    No window at all means no downtime step is allowed.
# 3. Both rules need the steps: a resource whose steps are known only at apply is denied.
package main

import rego.v1

servicing_types := {
	"exchange_service_pack", "exchange_update_rollup", "exchange_interim_update",
	"exchange_organization_upgrade", "exchange_cluster_upgrade",
}

# The servicing resources the plan creates or changes.
changes contains rc if {
	some rc in input.resource_changes
	rc.type in servicing_types
	some action in rc.change.actions
	action in {"create", "update"}
}

# [address, step] of every planned step.
steps contains [rc.address, step] if {
	some rc in changes
	some step in rc.change.after.planned_steps
}

mailbox_servers contains upper(r.values.server) if {
	some r in input.prior_state.values.root_module.resources
	r.type == "exchange_server"
	"Mailbox" in r.values.roles
}

deny contains msg if {
	some rc in changes
	rc.change.after_unknown.planned_steps == true
	msg := sprintf("%s: the steps are not known until apply: apply what they depend on first, then plan again", [rc.address])
}

deny contains msg if {
	some [address, step] in steps
	step.reboot
	upper(step.server) in mailbox_servers
	msg := sprintf("%s: step %s restarts Mailbox server %s", [address, step.action, step.server])
}

apply_at_ns := time.parse_rfc3339_ns(data.maintenance.apply_at) if {
	data.maintenance.apply_at
} else := time.now_ns()

valid_window(w) if time.parse_rfc3339_ns(w.start) < time.parse_rfc3339_ns(w.end)

covers(w, _) if not w.servers

covers(w, server) if {
	some s in w.servers
	upper(s) == upper(server)
}

in_window(server) if {
	some w in data.maintenance.windows
	valid_window(w)
	covers(w, server)
	time.parse_rfc3339_ns(w.start) <= apply_at_ns
	apply_at_ns < time.parse_rfc3339_ns(w.end)
}

deny contains msg if {
	some i, w in data.maintenance.windows
	not valid_window(w)
	msg := sprintf("maintenance window %d: start and end must be RFC 3339 times with start before end, got %v", [i, w])
}

# A resource's declared window, as the plan shows it (null without a maintenance_window).
declared(rc) := rc.change.after.scheduled_window if rc.change.after.scheduled_window != null

in_declared(w) if {
	time.parse_rfc3339_ns(w.start) <= apply_at_ns
	apply_at_ns < time.parse_rfc3339_ns(w.end)
}

deny contains msg if {
	some rc in changes
	w := declared(rc)
	not in_declared(w)
	some step in rc.change.after.planned_steps
	step.downtime
	msg := sprintf("%s: downtime step %s on %s would run at %s, outside its maintenance window %s",
		[rc.address, step.action, step.server, time.format(apply_at_ns), w.description])
}

deny contains msg if {
	some rc in changes
	not declared(rc)
	some step in rc.change.after.planned_steps
	step.downtime
	not in_window(step.server)
	msg := sprintf("%s: downtime step %s on %s would run at %s, outside every maintenance window for %s",
		[rc.address, step.action, step.server, time.format(apply_at_ns), step.server])
}
