#!/usr/bin/env bash
# Create <project root>/.venv-triton with Triton's Python clients (tritonclient http + grpc, PyPI
# wheels, ~1 minute) for server/tests/triton_client.rs. Small on purpose: the main .venv
# (tools/setup_venv.sh) installs Paddle and is not needed to test the server.
# Usage: tools/setup_server_venv.sh            (PYTHON=python3.11 tools/setup_server_venv.sh to pick one)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
"$PYTHON" -m venv "$ROOT/.venv-triton"
"$ROOT/.venv-triton/bin/python" -m pip install --quiet --upgrade pip
"$ROOT/.venv-triton/bin/python" -m pip install --quiet -r "$ROOT/tools/requirements-triton.txt"
"$ROOT/.venv-triton/bin/python" -c "import tritonclient.http, tritonclient.grpc"
echo "venv ready: $ROOT/.venv-triton"
