#!/usr/bin/env bash
# Sign and verify a 2 GiB model with `mlsecops` and with the reference
# OpenSSF model-signing (PyPI, throwaway venv), same inputs, same key.
#   - dir8: 8 x 256 MiB random files (file serialization, sha256)
#   - one:  one 2 GiB random file (shard serialization, sha256, 1 GB shards)
#   - small: 20,000 files of 10 KiB (file serialization, sha256)
# Reports wall time, peak RSS, and the ratio; plus start-up time.
# Usage: bash bench/sign/run.sh [--quick]     (--quick: 8 x 16 MiB, 128 MiB)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
quick="${1:-}"
mib=256; one_mib=2048; small_files=20000
if [ "$quick" = "--quick" ]; then mib=16; one_mib=128; small_files=500; fi
target="${CARGO_TARGET_DIR:-$root/target}"
cargo build -q --release -p mlsecops --manifest-path "$root/Cargo.toml"
ours="$target/release/mlsecops"
venv="${BENCH_VENV:-/tmp/mlsecops-bench-sign-venv}"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import model_signing" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r "$root/bench/sign/requirements.txt"
fi
OMS=("$venv/bin/python" "$root/tests/interop/oms.py")
oms() { "${OMS[@]}" "$@"; }
work="${BENCH_WORK:-$(mktemp -d)}"
trap '[ -n "${BENCH_WORK:-}" ] || rm -rf "$work"' EXIT
mkdir -p "$work/dir8" "$work/one"
for i in $(seq 1 8); do
  [ -f "$work/dir8/part-$i.bin" ] || head -c "$((mib << 20))" /dev/urandom > "$work/dir8/part-$i.bin"
done
[ -f "$work/one/model.bin" ] || head -c "$((one_mib << 20))" /dev/urandom > "$work/one/model.bin"
oms keygen "$work/key.pem" "$work/pub.pem"

# measure LABEL CMD...: prints "seconds peak_rss_mib"
measure() {
  local t="$work/.time"
  /usr/bin/time -f '%e %M' -o "$t" "$@" >/dev/null 2>&1
  awk '{printf "%.2f %.0f\n", $1, $2/1024}' "$t"
}
row() { # row LABEL OURS_S OURS_MB REF_S REF_MB
  printf '| %s | %s | %s | %s | %s | %.1fx |\n' "$1" "$2" "$3" "$4" "$5" "$(echo "$4 / $2" | bc -l)"
}
echo "model-signing $("$venv/bin/pip" show model-signing | awk '/^Version/{print $2}'), $(nproc) cores, $(date -u +%F)"
echo
echo "| operation | mlsecops (s) | mlsecops peak RSS (MiB) | model-signing (s) | model-signing peak RSS (MiB) | speed-up |"
echo "|---|---:|---:|---:|---:|---:|"
sync
read -r os om < <(measure "$ours" sign "$work/dir8" --key "$work/key.pem" -o "$work/ours-dir8.sig")
read -r rs rm < <(measure "${OMS[@]}" sign "$work/dir8" "$work/ref-dir8.sig" "$work/key.pem")
row "sign, 8 x $mib MiB, files/sha256" "$os" "$om" "$rs" "$rm"
read -r os om < <(measure "$ours" verify "$work/dir8" --signature "$work/ours-dir8.sig" --key "$work/pub.pem")
read -r rs rm < <(measure "${OMS[@]}" verify "$work/dir8" "$work/ref-dir8.sig" "$work/pub.pem")
row "verify, 8 x $mib MiB, files/sha256" "$os" "$om" "$rs" "$rm"
read -r os om < <(measure "$ours" sign "$work/one" --key "$work/key.pem" --method shards -o "$work/ours-one.sig")
read -r rs rm < <(measure "${OMS[@]}" sign "$work/one" "$work/ref-one.sig" "$work/key.pem" --method shards)
row "sign, 1 x $one_mib MiB, shards/sha256" "$os" "$om" "$rs" "$rm"
read -r os om < <(measure "$ours" verify "$work/one" --signature "$work/ours-one.sig" --key "$work/pub.pem")
# The reference cannot verify its own shard signatures (float shard_size),
# so its verify time is measured on our signature of the same file.
read -r rs rm < <(measure "${OMS[@]}" verify "$work/one" "$work/ours-one.sig" "$work/pub.pem")
row "verify, 1 x $one_mib MiB, shards/sha256" "$os" "$om" "$rs" "$rm"
# Many small files: per-file overhead instead of raw hashing speed.
small="$work/small"
if [ ! -d "$small" ]; then
  mkdir -p "$small"
  python3 - "$small" "$small_files" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    os.makedirs(f"{d}/{i % 100:02d}", exist_ok=True)
    with open(f"{d}/{i % 100:02d}/{i}.bin", "wb") as f:
        f.write(os.urandom(10240))
PY
fi
read -r os om < <(measure "$ours" sign "$small" --key "$work/key.pem" -o "$work/ours-small.sig")
read -r rs rm < <(measure "${OMS[@]}" sign "$small" "$work/ref-small.sig" "$work/key.pem")
row "sign, $small_files x 10 KiB, files/sha256" "$os" "$om" "$rs" "$rm"
read -r os om < <(measure "$ours" verify "$small" --signature "$work/ours-small.sig" --key "$work/pub.pem")
read -r rs rm < <(measure "${OMS[@]}" verify "$small" "$work/ref-small.sig" "$work/pub.pem")
row "verify, $small_files x 10 KiB, files/sha256" "$os" "$om" "$rs" "$rm"
# Cross-checks: each verifier accepts the other's signatures.
"$ours" verify "$work/dir8" --signature "$work/ref-dir8.sig" --key "$work/pub.pem" >/dev/null
oms verify "$work/dir8" "$work/ours-dir8.sig" "$work/pub.pem" >/dev/null
echo
tiny="$work/tiny"; mkdir -p "$tiny"; echo weights > "$tiny/w.bin"
"$ours" sign "$tiny" --key "$work/key.pem" -o "$work/tiny.sig" >/dev/null 2>&1
best=""
for _ in $(seq 1 20); do
  s=$(date +%s%N); "$ours" verify "$tiny" --signature "$work/tiny.sig" --key "$work/pub.pem" >/dev/null; e=$(date +%s%N)
  t=$(( (e - s) / 1000 ))
  if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
done
echo "start-up: mlsecops verify of a one-file model, best of 20: $((best / 1000)).$(printf '%03d' $((best % 1000))) ms"
