#!/usr/bin/env bash
# Set up (idempotent) and run the test suite. Extra arguments go to pytest.
#
#   bash scripts/test.sh            # everything, in two worker processes (pytest-xdist)
#   bash scripts/test.sh --quick    # the plugin core only (tests marked quick): the edit-test loop
#   bash scripts/test.sh tests/test_x.py -n 0    # one file, in this process
#
# Tests on the real public data in ../shared/data run when IR_FAIRSEQ_SHARED_DATA points
# there (CI sets it, and then any skipped test fails the run); without it they skip and the
# project's own fixtures cover the rest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh"
cd "$ROOT"
# most tests start fairseq in a single-threaded process of their own: two at a time fill two
# cores; each worker takes whole modules (their fixtures are built once), longest first
ARGS=(-n "${TEST_WORKERS:-2}" --dist loadscope --no-loadscope-reorder)
for arg in "$@"; do
  if [ "$arg" = "--quick" ]; then ARGS+=(-m quick); else ARGS+=("$arg"); fi
done
echo "[test] IR_FAIRSEQ_SHARED_DATA=${IR_FAIRSEQ_SHARED_DATA:-<unset: real-data tests skip>}"
exec "$ROOT/.venv/bin/python" -m pytest "${ARGS[@]}"
