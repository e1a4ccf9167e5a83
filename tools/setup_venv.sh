#!/usr/bin/env bash
# Create the Python venv used by tools/export_reference.py at <project root>/.venv.
# Usage: tools/setup_venv.sh            (PYTHON=python3.11 tools/setup_venv.sh to pick one)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
"$PYTHON" -m venv "$ROOT/.venv"
"$ROOT/.venv/bin/python" -m pip install --upgrade pip
"$ROOT/.venv/bin/python" -m pip install -r "$ROOT/tools/requirements.txt"
# Only the architecture code and the label list of paddleclas are used: no dependencies.
"$ROOT/.venv/bin/python" -m pip install --no-deps paddleclas==2.6.0
echo "venv ready: $ROOT/.venv  (run: .venv/bin/python tools/export_reference.py)"
