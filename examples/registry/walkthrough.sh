#!/usr/bin/env bash
# The README's registry walkthrough, end to end, in a throwaway home:
# register data and models, query lineage, revoke, verify the audit log.
# MLSECOPS_BIN overrides the binary (default: cargo run --release).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
if [ -n "${MLSECOPS_BIN:-}" ]; then
  mlsecops() { "$MLSECOPS_BIN" "$@"; }
else
  cargo build -q --release -p mlsecops --manifest-path "$root/Cargo.toml"
  bin="${CARGO_TARGET_DIR:-$root/target}/release/mlsecops"
  mlsecops() { "$bin" "$@"; }
fi
MLSECOPS_HOME="$(mktemp -d)"
export MLSECOPS_HOME
trap 'rm -rf "$MLSECOPS_HOME"' EXIT
step() { printf '\n$ mlsecops %s\n' "$*"; mlsecops "$@"; }

cd "$here"
step init
step registry add dataset raw.csv --name transactions-raw
step registry add dataset clean.csv --name transactions --from transactions-raw \
  --run clean --commit 4f2a9c1 --param drop_null=true
step registry add model fraud-a.pkl --name fraud --from transactions
step registry add model fraud-b.pkl --name fraud-small --from transactions
step registry add model fraud-ft.pkl --name fraud --from fraud@v1 --from transactions
step registry tag fraud@v2 champion
step registry deploy fraud@champion --env production
step lineage transactions-raw --down
step lineage fraud@champion --up
step revoke transactions --reason "label flips found by data check"
step registry show fraud@champion
step export cyclonedx fraud@champion --output "$MLSECOPS_HOME/fraud.cdx.json"
step audit verify
