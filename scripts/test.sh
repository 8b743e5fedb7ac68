#!/usr/bin/env bash
# Set up (idempotent) and run the test suite. Extra arguments go to pytest.
#
#   bash scripts/test.sh            # everything
#   bash scripts/test.sh --quick    # the plugin core only (tests marked quick): the edit-test loop
#
# Tests on the real public data in ../shared/data run when IR_FAIRSEQ_SHARED_DATA points
# there (CI sets it, and then any skipped test fails the run); without it they skip and the
# project's own fixtures cover the rest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh"
cd "$ROOT"
ARGS=()
for arg in "$@"; do
  if [ "$arg" = "--quick" ]; then ARGS+=(-m quick); else ARGS+=("$arg"); fi
done
echo "[test] IR_FAIRSEQ_SHARED_DATA=${IR_FAIRSEQ_SHARED_DATA:-<unset: real-data tests skip>}"
exec "$ROOT/.venv/bin/python" -m pytest ${ARGS[@]+"${ARGS[@]}"}
