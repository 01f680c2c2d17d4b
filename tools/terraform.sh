#!/usr/bin/env bash
# Prints the path of a Terraform-compatible CLI for the tests and the demo.
#
#   tools/terraform.sh         terraform on PATH, else tofu on PATH, else OpenTofu built
#   tools/terraform.sh --tofu  tofu on PATH, else OpenTofu built
#
# OpenTofu is built once from the Go module proxy (go install refuses OpenTofu for its
# replace directives; building inside the downloaded module works) into a cache outside the
# checkout, so a fresh clone (CI) reuses it: $EXCHANGE_TOOLS_CACHE, default
# ${XDG_CACHE_HOME:-$HOME/.cache}/terraform-provider-exchange.
set -euo pipefail
want=any
[ "${1:-}" = "--tofu" ] && want=tofu
clis="terraform tofu"
[ "$want" = tofu ] && clis=tofu
for cli in $clis; do
  if p=$(command -v "$cli"); then echo "$p"; exit 0; fi
done
version=v1.10.6
cache=${EXCHANGE_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/terraform-provider-exchange}
tofu="$cache/tofu-$version"
if [ ! -x "$tofu" ]; then
  echo "building OpenTofu $version from the Go module proxy into $cache (a few minutes, once)" >&2
  dir=$(go mod download -json "github.com/opentofu/opentofu@$version" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] || { echo "could not download OpenTofu $version" >&2; exit 1; }
  mkdir -p "$cache"
  (cd "$dir" && go build -o "$tofu.tmp" ./cmd/tofu) >&2
  mv "$tofu.tmp" "$tofu"
fi
echo "$tofu"
