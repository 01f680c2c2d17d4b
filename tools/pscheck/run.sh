#!/usr/bin/env bash
# Syntax-checks every piece of PowerShell the provider runs with a real PowerShell grammar
# (tree-sitter-powershell, WebAssembly build, loaded by web-tree-sitter: nothing compiled).
#
#   bash tools/pscheck/run.sh        (from anywhere; needs node, npm and go)
#
# 1. installs the checker's npm packages from package-lock.json when node_modules is missing
#    or older than the lockfile (npm ci; install scripts are skipped: the grammar's optional
#    native binding is never built or used);
# 2. proves the checker can fail: it must reject testdata/broken.ps1 and each PowerShell 3+
#    sample in testdata/ps2 (check.js and ps2.js: the PowerShell 2.0 rules);
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

# A checker that accepts everything must fail the build: testdata/broken.ps1 must be refused
# with a syntax error, and every sample in testdata/ps2 with the PowerShell 2.0 problem its
# first line names ("# expect: ..."). One Node run for all of them.
set +e
samples_out="$(node "$here/check.js" "$here/testdata/broken.ps1" --whole "$here"/testdata/ps2/*.ps1 2>&1)"
samples_rc=$?
set -e
failed=0
if [ "$samples_rc" -ne 1 ] || ! grep -q 'broken.ps1:.*syntax error' <<<"$samples_out"; then
  echo "pscheck: the checker did not reject testdata/broken.ps1 with a syntax error" >&2
  failed=1
fi
for sample in "$here"/testdata/ps2/*.ps1; do
  expect="$(sed -n '1s/^# expect: //p' "$sample")"
  name="$(basename "$sample")"
  if [ -z "$expect" ]; then
    echo "pscheck: $name has no '# expect: ...' first line" >&2
    failed=1
  elif ! grep -F "$name:" <<<"$samples_out" | grep -qF "$expect"; then
    echo "pscheck: the checker did not reject testdata/ps2/$name with \"$expect\"" >&2
    failed=1
  fi
done
if [ "$failed" -ne 0 ]; then
  echo "$samples_out" >&2
  exit 1
fi
echo "pscheck: testdata/broken.ps1 and $(ls "$here"/testdata/ps2/*.ps1 | wc -l) PowerShell 3+ samples rejected as they must be"

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
go run ./tools/render-scripts -out "$out"
# The embedded scripts as they are (syntax, cmdlets, PowerShell 3+ syntax), then the whole
# scripts that run (the same, and variables read before they are assigned).
whole=("$out"/*.rendered.ps1 "$out"/bootstrap.ps1 "$out"/job_start.wrapper.ps1)
parts=()
for f in "$out"/*.ps1; do
  case "$f" in *.rendered.ps1 | */bootstrap.ps1 | */job_start.wrapper.ps1) ;; *) parts+=("$f") ;; esac
done
node "$here/check.js" "${parts[@]}" --whole "${whole[@]}"
