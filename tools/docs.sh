#!/usr/bin/env bash
# Generates docs/ with tfplugindocs from templates/, examples/ and the provider's schema.
# The schema comes from the built provider through dev_overrides, so no registry is needed.
# With -check, fails when the committed docs differ from what the code generates.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tf=${TERRAFORM:-$("$root/tools/terraform.sh")}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$root"
go build -o "$work/bin/terraform-provider-exchange" .
cat > "$work/rc" <<RC
provider_installation {
  dev_overrides {
    "buildlevel/exchange" = "$work/bin"
  }
  direct {}
}
RC
mkdir -p "$work/cfg"
printf 'terraform {\n  required_providers {\n    exchange = { source = "buildlevel/exchange" }\n  }\n}\n' > "$work/cfg/main.tf"
TF_CLI_CONFIG_FILE="$work/rc" "$tf" -chdir="$work/cfg" providers schema -json |
  # tfplugindocs finds a schema under the provider's short name (or hashicorp/<name>) only.
  sed -E 's#"[a-z0-9.-]+/buildlevel/exchange"#"exchange"#' > "$work/schema.json"

out=docs
if [ "${1:-}" = "-check" ]; then
  # tfplugindocs resolves this path against the provider directory: keep it relative.
  out=.docs-check
  rm -rf "$out" && mkdir -p "$out" && cp -r docs/. "$out/"
  trap 'rm -rf "$work" "$root/.docs-check"' EXIT
fi
go tool tfplugindocs generate --provider-name exchange --providers-schema "$work/schema.json" \
  --rendered-provider-name Exchange --rendered-website-dir "$out" >/dev/null
if [ "${1:-}" = "-check" ]; then
  if ! diff -ru docs "$out"; then
    echo "docs/ is out of date: run 'make docs' and commit the result." >&2
    exit 1
  fi
  echo "docs: up to date"
fi
