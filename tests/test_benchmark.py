"""examples/benchmark_ir.py at a tiny size: it runs every variant and prints its ratios."""
import os
import re
import subprocess

from conftest import ROOT, python


def test_benchmark_runs_and_prints_ratios():
    proc = subprocess.run(
        [python(), os.path.join(ROOT, "examples", "benchmark_ir.py"), "--layers", "1",
         "--width", "32", "--tokens", "16", "--batch", "4", "--vocab", "100", "--updates", "2",
         "--repeats", "2", "--warmup", "1", "--fractions", "0.5"],
        capture_output=True, text=True, timeout=600,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| (")]
    names = [row.split("|")[1].strip() for row in rows]
    assert names == ["(a) masked_lm", "(b) ir_weights_0", "(c) ir_default", "(d) ir_fraction_0.5",
                     "(f) ir_dpp_forward", "(g) ir_standardize", "(e) bound: (a)+2 no-grad fwd"]
    assert rows[0].split("|")[3].strip().startswith("1.00")
    for row in rows:
        assert re.search(r"\| \d+\.\d\d \[\d+\.\d\d-\d+\.\d\d\] \|", row), row
    assert "targets:" in proc.stdout
