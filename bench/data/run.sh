#!/usr/bin/env bash
# `mlsecops data check` next to its peers, on the ground-truth cases of
# crates/mlsecops-data/tests/cases (regenerated here, deterministically) and
# on a generated 1M x 16 Parquet table. Peers run from PyPI in a throwaway venv:
#   - cleanlab 2.9.0: find_label_issues on 5-fold cross-validated pred_probs
#     (LogisticRegression and MLP, every filter_by), Datalab label / outlier /
#     near_duplicate issues
#   - IBM ART 1.20.1: SpectralSignatureDefense and ActivationDefence on the hidden
#     layer of a scikit-learn MLP (no torch/tensorflow: see peers.py)
#   - Presidio analyzer (pattern recognizers, no-op NLP engine: no spaCy model)
#   - detect-secrets 1.5.0 (default plugins and filters)
#   - scikit-learn IsolationForest / LocalOutlierFactor, pandas.duplicated
# Prints precision / recall / F1 / seconds per case and tool, then the scale
# section: the Python pipeline (pandas contract checks + 5-fold LogisticRegression
# + cleanlab + IsolationForest + exact/near duplicates) vs `mlsecops data check`.
# Usage: bash bench/data/run.sh [--quick]    (--quick: 100k-row scale table)
#   SECTIONS="label backdoor outlier duplicate pii schema diff scale" (default: all)
#   MLSECOPS_BIN=path  use this binary (default: build target/release/mlsecops;
#                      BENCH_BUILD=0 skips the build). No binary: "n/a" in our rows.
#   BENCH_VENV (default /tmp/mlsecops-bench-data-venv), BENCH_WORK (kept if set)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
quick="${1:-}"
scale_rows="${BENCH_SCALE_ROWS:-1000000}"
[ "$quick" = "--quick" ] && scale_rows=100000
sections="${SECTIONS:-label backdoor outlier duplicate pii schema diff scale}"

target="${CARGO_TARGET_DIR:-$root/target}"
ours="${MLSECOPS_BIN:-$target/release/mlsecops}"
if [ -z "${MLSECOPS_BIN:-}" ] && [ "${BENCH_BUILD:-1}" = 1 ]; then
  cargo build -q --release -p mlsecops || echo "warning: build failed; mlsecops rows will read n/a" >&2
fi
[ -x "$ours" ] || echo "note: no mlsecops binary at $ours; its rows read n/a" >&2

venv="${BENCH_VENV:-/tmp/mlsecops-bench-data-venv}"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c \
    "import cleanlab, art, presidio_analyzer, detect_secrets, sklearn, pyarrow" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r "$root/bench/data/requirements.txt"
fi
py="$venv/bin/python"
work="${BENCH_WORK:-$(mktemp -d)}"
trap '[ -n "${BENCH_WORK:-}" ] || rm -rf "$work"' EXIT
mkdir -p "$work"

vers="$("$py" - <<'PY'
from importlib.metadata import version as v
print(", ".join(f"{p} {v(p)}" for p in ["cleanlab", "adversarial-robustness-toolbox",
      "presidio-analyzer", "detect-secrets", "scikit-learn", "pandas"]))
PY
)"
echo "$vers; $(nproc) cores; $(date -u +%F)"
echo

# The cases: regenerated into the work dir (same seeds as the committed ones).
"$py" crates/mlsecops-data/tests/cases/generate.py --out "$work/cases" >/dev/null
families=""
for s in label backdoor outlier duplicate pii schema diff; do
  [[ " $sections " == *" $s "* ]] && families="$families,$s"
done
if [ -n "$families" ]; then
  "$py" bench/data/peers.py --cases "$work/cases" --families "${families#,}" --ours "$ours" \
    --json "$work/results.json"
fi

[[ " $sections " == *" scale "* ]] || exit 0
echo "## scale"
echo
table="$work/scale-$scale_rows.parquet"
[ -f "$table" ] || "$py" crates/mlsecops-data/tests/cases/generate.py --scale "$scale_rows" --out "$table" >/dev/null
echo "$(du -h "$table" | cut -f1) Parquet, $scale_rows rows x 16 columns (id, f0..f13, label: 5 classes;"
echo "2% label flips, 0.5% outliers, 1% exact + 0.5% near duplicates)"
echo
"$py" bench/data/scale.py "$table" --label label --id id | tee "$work/scale.txt"
py_s="$(awk -F= '/^PYTHON_PIPELINE_SECONDS=/{print $2}' "$work/scale.txt")"
py_ge=""
grep -q '^PYTHON_PIPELINE_LOWER_BOUND=1' "$work/scale.txt" && py_ge="≥ "
ours_s="n/a"
if [ -x "$ours" ]; then
  s=$(date +%s.%N)
  if "$ours" data check "$table" --label label --id id --format json > "$work/ours-scale.json" 2>"$work/ours-scale.err"; then
    e=$(date +%s.%N); ours_s=$(echo "$e - $s" | bc)
  else
    echo "mlsecops data check failed: $(tail -1 "$work/ours-scale.err")"
  fi
fi
echo
echo "| full check on $scale_rows x 16 | seconds |"
echo "|---|---:|"
echo "| Python pipeline (steps above) | $py_ge$py_s |"
if [ "$ours_s" = "n/a" ]; then
  echo "| mlsecops data check | n/a |"
else
  printf '| mlsecops data check | %.1f (%s%.1fx faster) |\n' "$ours_s" "$py_ge" "$(echo "$py_s / $ours_s" | bc -l)"
fi
