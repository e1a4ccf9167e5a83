#!/usr/bin/env bash
# Create the Python venvs used by tools/export_reference.py: <project root>/.venv (Paddle 3)
# and tools/.venv-paddle2 (Paddle 2.6, legacy .pdmodel export).
# Usage: tools/setup_venv.sh            (PYTHON=python3.11 tools/setup_venv.sh to pick one)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
"$PYTHON" -m venv "$ROOT/.venv"
"$ROOT/.venv/bin/python" -m pip install --upgrade pip
"$ROOT/.venv/bin/python" -m pip install -r "$ROOT/tools/requirements.txt"
# Only the architecture code and the label list of paddleclas are used: no dependencies.
"$ROOT/.venv/bin/python" -m pip install --no-deps paddleclas==2.6.0
# Second venv: Paddle 2.6 for the legacy .pdmodel export (tools/export_legacy.py, run by
# export_reference.py as a subprocess).
"$PYTHON" -m venv "$ROOT/tools/.venv-paddle2"
"$ROOT/tools/.venv-paddle2/bin/python" -m pip install --upgrade pip
"$ROOT/tools/.venv-paddle2/bin/python" -m pip install -r "$ROOT/tools/requirements-legacy.txt"
"$ROOT/tools/.venv-paddle2/bin/python" -m pip install --no-deps paddleclas==2.6.0
echo "venvs ready: $ROOT/.venv, $ROOT/tools/.venv-paddle2  (run: .venv/bin/python tools/export_reference.py)"
