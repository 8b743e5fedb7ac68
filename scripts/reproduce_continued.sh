#!/usr/bin/env bash
# The paper's main setting at small scale: all-MiniLM-L6-v2 -> shared MLM base -> arms MLM, IR,
# IR + standardize (3 seeds) -> GLUE fine-tuning of the base and every arm; tables, scores.csv
# and plots in $RESULTS_DIR (results/continued/).
#
#   bash scripts/reproduce_continued.sh [--quick] [--corpus PATH] [--glue DIR] [--hf-model DIR]
#
# --quick: the same stages at a few updates on two small tasks, a smoke run. Re-running the same
# command resumes where it stopped (finished stages are skipped). README gives the measured time.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh"
exec "$ROOT/.venv/bin/python" "$ROOT/examples/reproduce_continued.py" --results-dir "${RESULTS_DIR:-results/continued}" "$@"
