#!/usr/bin/env bash
# Prints the path of a Terraform-compatible CLI for the tests and the demo: terraform on
# PATH, else tofu on PATH, else OpenTofu built once from the Go module proxy into bin/
# (go install refuses OpenTofu for its replace directives; building in the module works).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
for cli in terraform tofu; do
  if p=$(command -v "$cli"); then echo "$p"; exit 0; fi
done
tofu="$root/bin/tofu"
if [ ! -x "$tofu" ]; then
  version=v1.10.6
  echo "neither terraform nor tofu on PATH: building OpenTofu $version (a few minutes)" >&2
  dir=$(go mod download -json "github.com/opentofu/opentofu@$version" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] || { echo "could not download OpenTofu $version" >&2; exit 1; }
  mkdir -p "$root/bin"
  (cd "$dir" && go build -o "$tofu" ./cmd/tofu) >&2
fi
echo "$tofu"
