#!/usr/bin/env bash
# Create the throwaway virtualenv used by tests/corpus/generate.py and install
# the exact package pins from tests/corpus/requirements.txt (from PyPI).
#
#   bash tests/corpus/setup-venv.sh
#   "${MLSECOPS_CORPUS_VENV:-/tmp/mlsecops-corpus-venv}/bin/python" tests/corpus/generate.py
#
# Environment:
#   MLSECOPS_CORPUS_VENV  venv location (default /tmp/mlsecops-corpus-venv)
#   PYTHON                interpreter used to create the venv (default python3, needs >= 3.11)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${MLSECOPS_CORPUS_VENV:-/tmp/mlsecops-corpus-venv}"
PY="${PYTHON:-python3}"

"$PY" - <<'EOF'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"python >= 3.11 required, found {sys.version.split()[0]}")
EOF

if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --disable-pip-version-check --quiet \
    --requirement "$HERE/requirements.txt"
"$VENV/bin/python" -m pip check
echo "corpus venv ready: $VENV"
echo "generate with: $VENV/bin/python $HERE/generate.py"
