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
"$root/bin/exchange-sim" -fleet "$root/examples/demo/fleet.json" -journal "$work/journal.jsonl" \
  -http-port "$http_port" -https-port "$https_port" -ca-out "$work/ca.pem" -ready-file "$work/ready" &
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
export TF_CLI_CONFIG_FILE="$work/terraformrc" TF_IN_AUTOMATION=1
# The demo fleet's credentials (demo only); a real configuration takes them from a secret store.
export EXCHANGE_USERNAME='CONTOSO\exadmin' EXCHANGE_PASSWORD='demo-only-not-a-secret'
export EXCHANGE_PORT="$https_port" EXCHANGE_CA_CERTIFICATE="$(cat "$work/ca.pem")"

# No `terraform init`: with dev_overrides Terraform uses bin/ directly, and init would
# still ask the public registry for the provider, which an offline machine cannot reach.
cp "$root/examples/demo/main.tf" "$work/"
cd "$work"
echo "== terraform plan (reads every server once over WinRM/HTTPS)"
"$tf" plan -input=false -out=demo.tfplan
echo "== terraform apply"
"$tf" apply -input=false demo.tfplan
echo "== the simulator's journal: operations per server during plan and apply"
sed -n 's/.*"server":"\([^"]*\)","operation":"\([^"]*\)".*/\1 \2/p' journal.jsonl | sort | uniq -c
