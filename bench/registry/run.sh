#!/usr/bin/env bash
# Registry and ledger benchmarks, side by side where a peer exists.
#   1. ledger: append throughput, full verify, inclusion proofs (mlsecops-ledger)
#   2. lineage: queries over a 100k-node graph, SQLite vs PostgreSQL, one run
#   3. registering data: `mlsecops registry add` vs `dvc add` (DVC from PyPI,
#      in a throwaway venv) on one 1 GiB file and on 20,000 small files
# Usage: bash bench/registry/run.sh [--quick]   (SECTIONS="1 3" runs a subset)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
quick="${1:-}"
big_mib=1024; small_files=20000; ledger_n=1000000; proof_n=10000000; graph_n=100000
if [ "$quick" = "--quick" ]; then big_mib=64; small_files=2000; ledger_n=100000; proof_n=1000000; graph_n=10000; fi

eval "$(bash scripts/services.sh up)"   # PostgreSQL on loopback for the lineage comparison
target="${CARGO_TARGET_DIR:-$root/target}"
cargo build -q --release -p mlsecops -p mlsecops-ledger -p mlsecops-registry --examples --bins

sections="${SECTIONS:-1 2 3}"
if [[ " $sections " == *" 1 "* ]]; then
  echo "## 1. ledger"
  "$target/release/examples/ledger_bench" "$ledger_n" "$proof_n"
  echo
fi
if [[ " $sections " == *" 2 "* ]]; then
  echo "## 2. lineage queries (SQLite vs PostgreSQL)"
  "$target/release/examples/lineage_bench" "$graph_n"
  echo
fi
[[ " $sections " == *" 3 "* ]] || exit 0

echo "## 3. registering data: mlsecops registry add vs dvc add"
venv="${BENCH_VENV:-/tmp/mlsecops-bench-registry-venv}"
if [ ! -x "$venv/bin/dvc" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r "$root/bench/registry/requirements.txt"
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/data/small"
head -c "$((big_mib << 20))" /dev/urandom > "$work/data/big.bin"
python3 - "$work/data/small" "$small_files" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    os.makedirs(f"{d}/{i % 100:02d}", exist_ok=True)
    with open(f"{d}/{i % 100:02d}/{i}.txt", "wb") as f:
        f.write(os.urandom(64 + i % 4000))
PY
sync
secs() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc; }
ours() { MLSECOPS_HOME="$work/home" "$target/release/mlsecops" "$@"; }
ours init >/dev/null
(cd "$work/data" && "$venv/bin/dvc" init --no-scm -q)
dvc_version="$("$venv/bin/dvc" --version)"
printf '| input | mlsecops registry add (s) | dvc add %s (s) | ratio |\n|---|---:|---:|---:|\n' "$dvc_version"
for target_path in big.bin small; do
  label="$big_mib MiB file"; [ "$target_path" = small ] && label="$small_files small files"
  # Cold-ish runs: drop nothing (no root needed), but each tool sees the
  # files for the first time in its own cache.
  a=$(cd "$work/data" && secs ours registry add dataset "$target_path" --name "$target_path")
  b=$(cd "$work/data" && secs "$venv/bin/dvc" add -q "$target_path")
  printf '| %s | %.2f | %.2f | %.1fx |\n' "$label" "$a" "$b" "$(echo "$b / $a" | bc -l)"
done
echo
echo "Both hash every byte and copy it into a content-addressed cache"
echo "(mlsecops: SHA-256 into .mlsecops/blobs with fsync; DVC: MD5 into .dvc/cache)."
