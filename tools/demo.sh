#!/usr/bin/env bash
# make demo: start the simulator on examples/demo/fleet.json, point Terraform at the
# freshly built provider through a temporary CLI config (dev_overrides; the user's
# ~/.terraformrc is never touched), run plan and apply, then stop the simulator.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tf=${TERRAFORM:-$("$root/tools/terraform.sh")}
work=$(mktemp -d)
sim_pid=
cleanup() {
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

http_port=${DEMO_HTTP_PORT:-15985}
https_port=${DEMO_HTTPS_PORT:-15986}
# The fleet's backups are dated relative to now, so the backup precondition holds whenever
# the demo runs. The simulator reports them only as a real server would (docs/simulator.md):
# what no server can tell, the domain controller's system-state backup, comes from "your
# backup software", here the variable TF_VAR_dc_system_state_backup_time.
backup_time=$(date -u -d '-3 hours' +%Y-%m-%dT%H:%M:%SZ)
sed -E "s/(\"last_(full|system_state)_backup\": *)\"[^\"]*\"/\1\"$backup_time\"/g" \
  "$root/examples/demo/fleet.json" > "$work/fleet.json"
export TF_VAR_dc_system_state_backup_time="$backup_time"
"$root/bin/exchange-sim" -fleet "$work/fleet.json" -journal "$work/journal.jsonl" \
  -http-port "$http_port" -https-port "$https_port" -ca-out "$work/ca.pem" -ready-file "$work/ready" \
  -install-duration 3s -reboot-duration 2s &
sim_pid=$!
for _ in $(seq 100); do [ -f "$work/ready" ] && break; sleep 0.1; done
[ -f "$work/ready" ] || { echo "the simulator did not start" >&2; exit 1; }

cat > "$work/terraformrc" <<RC
provider_installation {
  dev_overrides {
    "buildlevel/exchange" = "$root/bin"
  }
  direct {}
}
RC
# CHECKPOINT_DISABLE: Terraform does not look up its version server either; the demo needs
# no network beyond the loopback addresses.
export TF_CLI_CONFIG_FILE="$work/terraformrc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1
# The demo fleet's credentials (demo only); a real configuration takes them from a secret store.
export EXCHANGE_USERNAME='CONTOSO\exadmin' EXCHANGE_PASSWORD='demo-only-not-a-secret'
export EXCHANGE_PORT="$https_port" EXCHANGE_CA_CERTIFICATE="$(cat "$work/ca.pem")"
export EXCHANGE_POLL_INTERVAL=500ms

# No `terraform init`: with dev_overrides Terraform uses bin/ directly, and init would
# still ask the public registry for the provider, which an offline machine cannot reach.
cp "$root/examples/demo/main.tf" "$work/"
cd "$work"
echo "== terraform plan (reads every server once over WinRM/HTTPS, plans Update Rollup 10 on CAS01)"
"$tf" plan -input=false -out=demo.tfplan
echo "== terraform apply (runs the reviewed steps on CAS01)"
"$tf" apply -input=false demo.tfplan
echo "== the simulator's journal: operations per server during plan and apply"
sed -n 's/.*"server":"\([^"]*\)","operation":"\([^"]*\)".*/\1 \2/p' journal.jsonl | sort | uniq -c
echo "== CAS01's installer runs, as the simulator recorded them"
grep '"operation":"installer"' journal.jsonl | sed -n 's/.*"detail":"\([^"]*\)".*/  \1/p' | sed 's/\\\\/\\/g'
echo "== a second plan: no resource changes; the builds output now shows CAS01 at Update Rollup 10"
"$tf" plan -input=false | grep -E 'Warning|CAS01|No changes|Plan:|no differences|Changes to Outputs' || true
# The next wave, reviewed and not applied: the CCR cluster MBXCMS01, node by node.
mkdir wave
cp "$root/examples/demo/wave/main.tf" wave/
echo "== the next wave's plan, to review (not applied): Update Rollup 10 on the CCR cluster MBXCMS01, node by node"
"$tf" -chdir=wave plan -input=false
