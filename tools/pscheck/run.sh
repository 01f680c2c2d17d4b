#!/usr/bin/env bash
# Syntax-checks every piece of PowerShell the provider runs with a real PowerShell grammar
# (tree-sitter-powershell, WebAssembly build, loaded by web-tree-sitter: nothing compiled).
#
#   bash tools/pscheck/run.sh        (from anywhere; needs node, npm and go)
#
# 1. installs the checker's npm packages from package-lock.json when node_modules is missing
#    or older than the lockfile (npm ci; install scripts are skipped: the grammar's optional
#    native binding is never built or used);
# 2. proves the checker can fail: it must reject testdata/broken.ps1;
# 3. renders the embedded scripts, the bootstrap and every operation with awkward parameters
#    (tools/render-scripts) and checks them all.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

if [ ! -d "$here/node_modules" ] || [ "$here/package-lock.json" -nt "$here/node_modules" ]; then
  npm ci --prefix "$here" --no-audit --no-fund --ignore-scripts
  touch "$here/node_modules"
fi

# A checker that accepts everything must fail the build.
set +e
broken_out="$(node "$here/check.js" "$here/testdata/broken.ps1" 2>&1)"
broken_rc=$?
set -e
if [ "$broken_rc" -ne 1 ] || ! grep -q 'syntax error' <<<"$broken_out"; then
  echo "pscheck: the checker did not reject testdata/broken.ps1 (exit $broken_rc):" >&2
  echo "$broken_out" >&2
  exit 1
fi
echo "pscheck: testdata/broken.ps1 rejected as it must be"

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
go run ./tools/render-scripts -out "$out"
node "$here/check.js" "$out"/*.ps1
