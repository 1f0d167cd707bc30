#!/usr/bin/env bash
# Benchmark `mlsecops scan` against modelscan, picklescan, fickling, modelaudit.
#
#   bash bench/scan/run.sh [--quick]
#
# Steps: (1) throwaway venv with the pinned peers (bench/scan/requirements.txt),
# (2) cargo build --release -p mlsecops, (3) large inputs via make_inputs.py,
# (4) compare.py: timings, start-up, tests/corpus detection -> Markdown table on
# stdout and in $MLSECOPS_BENCH_DIR/results.md (raw numbers in results.json).
#
# Environment:
#   MLSECOPS_BENCH_VENV        venv for the peers      (default /tmp/mlsecops-bench-venv, reused)
#   MLSECOPS_BENCH_DIR         inputs + results        (default /tmp/mlsecops-bench)
#   MLSECOPS_BENCH_PYTHON      interpreter for the venv (default python3.11, else python3)
#   MLSECOPS_BENCH_TIMEOUT     seconds per tool run on a large input (default 600)
#   MLSECOPS_BENCH_SKIP_BUILD  1 = do not run cargo; use whatever binary exists
#   MLSECOPS_BIN               explicit path to the mlsecops binary
#   CARGO_TARGET_DIR           as for cargo (default <repo>/target)
# Extra arguments after --quick are passed to compare.py (e.g. --tools mlsecops,picklescan).
set -euo pipefail

QUICK=0
PASS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 ;;
        -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
        *) PASS+=("$1") ;;
    esac
    shift
done

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(git -C "$HERE" rev-parse --show-toplevel 2>/dev/null || (cd "$HERE/../.." && pwd))"
VENV="${MLSECOPS_BENCH_VENV:-/tmp/mlsecops-bench-venv}"
BENCH_DIR="${MLSECOPS_BENCH_DIR:-/tmp/mlsecops-bench}"
if [ -n "${MLSECOPS_BENCH_PYTHON:-}" ]; then
    PY="$MLSECOPS_BENCH_PYTHON"
elif command -v python3.11 >/dev/null 2>&1; then
    PY=python3.11
else
    PY=python3
fi
mkdir -p "$BENCH_DIR"

say() { printf '==> %s\n' "$*" >&2; }

# ---------------------------------------------------------------- 1. venv
REQ="$HERE/requirements.txt"
STAMP="$VENV/.mlsecops-bench-requirements"
if [ ! -x "$VENV/bin/python" ]; then
    say "creating venv $VENV with $PY"
    "$PY" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --disable-pip-version-check --quiet --upgrade pip || true
fi
if [ -f "$STAMP" ] && cmp -s "$REQ" "$STAMP"; then
    say "venv $VENV already has the pinned peers"
else
    say "installing pinned peers into $VENV"
    PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check --quiet)
    if "${PIP[@]}" --requirement "$REQ"; then
        cp "$REQ" "$STAMP"
    else
        say "joint install failed; installing one package at a time"
        while IFS= read -r line; do
            spec="${line%%#*}"
            spec="$(echo "$spec" | tr -d '[:space:]')"
            [ -z "$spec" ] && continue
            if ! "${PIP[@]}" "$spec"; then
                say "WARNING: $spec could not be installed: it will be reported as unavailable"
            fi
        done < "$REQ"
    fi
fi

# ---------------------------------------------------------------- 2. build
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
BIN="${MLSECOPS_BIN:-$TARGET_DIR/release/mlsecops}"
if [ "${MLSECOPS_BENCH_SKIP_BUILD:-0}" = 1 ]; then
    say "skipping cargo build (MLSECOPS_BENCH_SKIP_BUILD=1)"
elif ! command -v cargo >/dev/null 2>&1; then
    say "WARNING: cargo not found; not building mlsecops"
else
    say "cargo build --release -p mlsecops"
    if ! (cd "$ROOT" && cargo build --release -p mlsecops); then
        say "WARNING: cargo build failed; peers are still measured"
    fi
fi
if [ ! -x "$BIN" ]; then
    say "mlsecops binary not built ($BIN): peers are still measured"
fi

# ---------------------------------------------------------------- 3. inputs
if [ "$QUICK" = 1 ]; then
    INPUTS="$BENCH_DIR/inputs-quick"
    "$VENV/bin/python" "$HERE/make_inputs.py" "$INPUTS" --quick >&2
else
    INPUTS="$BENCH_DIR/inputs-full"
    "$VENV/bin/python" "$HERE/make_inputs.py" "$INPUTS" >&2
fi

CORPUS="$ROOT/tests/corpus"
if [ ! -f "$CORPUS/expected.json" ]; then
    say "tests/corpus/expected.json does not exist yet: corpus part skipped"
fi

# ---------------------------------------------------------------- 4. compare
ARGS=(--inputs "$INPUTS" --corpus "$CORPUS" --mlsecops "$BIN" --out "$BENCH_DIR" --bindir "$VENV/bin")
[ "$QUICK" = 1 ] && ARGS+=(--quick)
exec "$VENV/bin/python" "$HERE/compare.py" "${ARGS[@]}" ${PASS[@]+"${PASS[@]}"}
