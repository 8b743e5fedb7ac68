"""examples/dpp_gradient_noise.py on a tiny trained checkpoint: it measures and prints its table
(the numbers themselves are README's, from a real run)."""
import os
import re
import subprocess

from conftest import ROOT, python


def test_gradient_noise_measurement_runs(corpus, model_dir):
    proc = subprocess.run(
        [python(), os.path.join(ROOT, "examples", "dpp_gradient_noise.py"),
         str(model_dir / "ck" / "checkpoint_last.pt"), corpus["bin"], "--batches", "2", "--draws", "3",
         "--batch-size", "4"],
        capture_output=True, text=True, timeout=600, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [[cell.strip() for cell in line.split("|")[1:-1]] for line in proc.stdout.splitlines()
            if re.match(r"\| \d+ \|", line)]
    assert [(row[0], row[1]) for row in rows] == [("0", "leave_one_out"), ("0", "argmax"),
                                                  ("1", "leave_one_out"), ("1", "argmax")]
    for row in rows:
        mlm, one_draw, spread = float(row[2]), float(row[3]), float(row[7])
        assert mlm > 0 and one_draw > 0  # DPP's score-function term does change the gradient
        assert spread > 0
    assert rows[0][2] == rows[1][2] and rows[2][2] == rows[3][2]  # the same batch, the same MLM gradient
