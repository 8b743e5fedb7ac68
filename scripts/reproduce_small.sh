#!/usr/bin/env bash
# Small-scale reproduction of the paper's claims on the real data (../shared/data by default):
# from-scratch MLM vs IR (3 seeds), ablations, KL vs MSE, GLUE tables and plots.
#
#   bash scripts/reproduce_small.sh [--quick] [--corpus PATH] [--glue DIR]   # -> $RESULTS_DIR (results/)
#
# --quick: the same pipeline at a tiny scale, a smoke run (README gives the measured time of
# both and of each stage). Re-running the same command resumes where it stopped (finished
# stages are skipped).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh"
exec "$ROOT/.venv/bin/python" "$ROOT/examples/reproduce_small.py" --results-dir "${RESULTS_DIR:-results}" "$@"
