#!/usr/bin/env bash
# Small-scale reproduction of the paper's claims on the real data (../shared/data by default):
# from-scratch MLM vs IR (3 seeds), ablations, KL vs MSE, GLUE tables and plots.
#
#   bash scripts/reproduce_small.sh [--quick] [--corpus PATH] [--glue DIR]   # -> $RESULTS_DIR (results/)
#
# Full run: 47 min of pre-training plus ~57 fine-tunings (README gives the measured timings);
# --quick: 15.6 min measured, a smoke run. Re-running the
# same command resumes where it stopped (finished stages are skipped).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh"
exec "$ROOT/.venv/bin/python" "$ROOT/examples/reproduce_small.py" --results-dir "${RESULTS_DIR:-results}" "$@"
