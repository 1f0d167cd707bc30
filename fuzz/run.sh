#!/usr/bin/env bash
# Seeds each fuzz target from the test corpus and runs it for SECONDS
# (default 600), one target after another; prints libFuzzer's exec counts.
#   bash fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-600}"; shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(pickle_vm zip_walker safetensors gguf hdf5 protobuf scan_any signed_note lineage_import bundle_envelope sensitive data_ingest model_onnx)
seed() { # seed TARGET FIND-ARGS...
  local dir="corpus/$1"; shift
  mkdir -p "$dir"
  find ../tests/corpus ../crates/mlsecops-scan/tests/data "$@" -type f -size -256k -exec cp -n {} "$dir"/ \; 2>/dev/null || true
}
seed pickle_vm \( -name '*.pkl' -o -name '*.joblib' -o -name '*.pt' \)
seed zip_walker \( -name '*.zip' -o -name '*.pt' -o -name '*.keras' -o -name '*.npz' \)
seed safetensors -name '*.safetensors'
seed gguf -name '*.gguf'
seed hdf5 -name '*.h5'
seed protobuf \( -name '*.onnx' -o -name '*.pb' \)
seed scan_any -name '*'
mkdir -p corpus/lineage_import
find ../crates/mlsecops-lineage/tests/data/pipeline \( -name '*.lock' -o -name '*.dvc' -o -name '*.jsonl' \) \
  -type f -exec cp -n {} corpus/lineage_import/ \; 2>/dev/null || true
mkdir -p corpus/bundle_envelope
while IFS= read -r -d '' f; do # several fixtures share a name: keep the path
  rel="${f#../crates/mlsecops-sign/tests/data/}"; cp -n "$f" "corpus/bundle_envelope/${rel//\//_}"
done < <(find ../crates/mlsecops-sign/tests/data \( -name '*.sig' -o -name '*.pem' -o -name '*.json' \) -type f -print0)
mkdir -p corpus/data_ingest corpus/sensitive
find ../crates/mlsecops-data/tests/cases \( -name '*.csv' -o -name '*.jsonl' \) -size -256k -type f \
  -exec sh -c 'cp -n "$1" "corpus/data_ingest/$(echo "$1" | tr / _)"' _ {} \; 2>/dev/null || true
find ../crates/mlsecops-data/tests/cases/pii ../crates/mlsecops-sensitive -name '*.csv' -o -name '*.rs' -type f \
  -exec sh -c 'cp -n "$1" "corpus/sensitive/$(echo "$1" | tr / _)"' _ {} \; 2>/dev/null || true
mkdir -p corpus/model_onnx
find ../crates/mlsecops-model/tests/models -name '*.onnx' -size -512k -type f \
  -exec sh -c 'cp -n "$1" "corpus/model_onnx/$(basename "$1")"' _ {} \; 2>/dev/null || true
cargo +nightly fuzz build -O >/dev/null
mkdir -p logs
for t in "${targets[@]}"; do
  echo "== $t (${secs}s)"
  cargo +nightly fuzz run -O "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=4096 -max_len=1048576 \
    >"logs/$t.log" 2>&1 || { echo "FAILED: $t (see fuzz/logs/$t.log)"; tail -30 "logs/$t.log"; exit 1; }
  grep -E '^#[0-9]+\s+DONE' "logs/$t.log" | tail -1
done
