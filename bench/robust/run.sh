#!/usr/bin/env bash
# `mlsecops attack` next to IBM's Adversarial Robustness Toolbox (ART 1.20.1,
# from PyPI in a throwaway venv) on the ONNX fixtures of mlsecops-model
# (digits, 64 values in [0, 1]): the same models, samples, threat models and
# budgets; predictions from onnxruntime on the same files (see art_peer.py).
#   PGD     L∞ ε 0.1, step 0.01, 40 steps, no random start   mlp, cnn, logreg
#   Square  L∞ ε 0.1, 1000 candidate evaluations per sample   mlp, rf, cnn
#   HSJ     L2, success = flipped within ε 1.0, twice: a tight budget
#           (10 iterations, ≤1000 probes per estimate) and ART's defaults
#           (50, ≤10000); budget: ART's measured queries per sample, given to
#           us as --max-queries with the same iteration settings  mlp, rf, cnn
# Prints per case both tools' robust accuracy and success rate, the
# difference in points, queries per sample, seconds and the speed ratio, then
# the suite totals.
# Usage: bash bench/robust/run.sh      SAMPLES=100 (first test rows)
#   MLSECOPS_BIN=path (default: build the release binary; BENCH_BUILD=0 skips it)
#   BENCH_VENV (default /tmp/mlsecops-bench-robust-venv)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
samples="${SAMPLES:-100}"
models="$root/crates/mlsecops-model/tests/models"
target="${CARGO_TARGET_DIR:-$root/target}"
ours="${MLSECOPS_BIN:-$target/release/mlsecops}"
if [ -z "${MLSECOPS_BIN:-}" ] && [ "${BENCH_BUILD:-1}" = 1 ]; then
  cargo build -q --release -p mlsecops
fi
venv="${BENCH_VENV:-/tmp/mlsecops-bench-robust-venv}"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import art, onnxruntime" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r "$root/bench/robust/requirements.txt"
fi
py="$venv/bin/python"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$py" -c "from importlib.metadata import version as v; print('ART', v('adversarial-robustness-toolbox'), '· onnxruntime', v('onnxruntime'), '· numpy', v('numpy'))"
echo "$(nproc) cores; $(date -u +%F); $samples samples"

"$py" bench/robust/art_peer.py --models "$models" --samples "$samples" --out "$work/art.jsonl" >/dev/null

# Ours, case by case, with the budget ART used (HSJ: its measured queries).
: > "$work/ours.jsonl"
while read -r line; do
  attack=$(echo "$line" | "$py" -c "import json,sys; print(json.load(sys.stdin)['attack'])")
  model=$(echo "$line" | "$py" -c "import json,sys; print(json.load(sys.stdin)['model'])")
  queries=$(echo "$line" | "$py" -c "import json,sys,math; print(math.ceil(json.load(sys.stdin)['mean_queries']))")
  case "$attack" in
    pgd) args=(--attack pgd --norm linf --eps 0.1 --steps 40 --step-size 0.01) ;;
    square) args=(--attack square --norm linf --eps 0.1 --max-queries 1000 --layout 1,8,8) ;;
    hsj) args=(--attack hsj --norm l2 --eps 1.0 --max-queries "$queries" --iterations 10 --max-eval 1000) ;;
    hsj-default) args=(--attack hsj --norm l2 --eps 1.0 --max-queries "$queries" --iterations 50 --max-eval 10000) ;;
  esac
  "$ours" -q attack "$models/$model.onnx" --data "$models/test.csv" --label label \
    --limit "$samples" --seed 0 --format json "${args[@]}" \
    | "$py" -c "import json,sys; d=json.load(sys.stdin); d['model']='$model'; d['case']='$attack'; print(json.dumps(d))" \
    >> "$work/ours.jsonl"
done < "$work/art.jsonl"

"$py" - "$work/art.jsonl" "$work/ours.jsonl" <<'PY'
import json, sys
art = [json.loads(l) for l in open(sys.argv[1])]
ours = [json.loads(l) for l in open(sys.argv[2])]
print()
print("| attack | model | robust acc. ART / ours | success ART / ours | Δ success (pts) | queries/sample ART / ours | seconds ART / ours | speed-up |")
print("|---|---|---|---|---|---|---|---|")
ta = to = 0.0
for a, o in zip(art, ours):
    ta += a["seconds"]; to += o["seconds"]
    print(f"| {a['attack']} {a['norm']} ε={a['eps']} | {a['model']} | {a['robust_accuracy']:.3f} / {o['robust_accuracy']:.3f} "
          f"| {a['success_rate']:.3f} / {o['success_rate']:.3f} | {100*(o['success_rate']-a['success_rate']):+.1f} "
          f"| {a['mean_queries']:.0f} / {o['mean_queries']:.0f} | {a['seconds']:.2f} / {o['seconds']:.2f} | {a['seconds']/max(o['seconds'],1e-9):.1f}× |")
print()
for fam in [("mlp", "rf"), ("cnn",)]:
    sa = sum(a["seconds"] for a in art if a["model"] in fam)
    so = sum(o["seconds"] for o in ours if o["model"] in fam)
    print(f"suite on {'/'.join(fam)}: ART {sa:.2f} s, mlsecops {so:.2f} s, {sa/max(so,1e-9):.1f}× faster")
print(f"whole suite: ART {ta:.2f} s, mlsecops {to:.2f} s, {ta/max(to,1e-9):.1f}× faster")
PY
