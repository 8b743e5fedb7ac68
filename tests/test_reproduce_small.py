"""examples/reproduce_small.py's own checks before any work (its full run is hours, not a test):
a missing GLUE folder or corpus is a one-line error. The pieces it shares with other tools are
tested where they live (test_reporting.py, test_glue_pipeline.py)."""
import os
import subprocess

from conftest import ROOT, python

SCRIPT = os.path.join(ROOT, "examples", "reproduce_small.py")


def reproduce(*args):
    return subprocess.run([python(), SCRIPT, *map(str, args)], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"))


def test_missing_glue_folder_is_a_one_line_error(tmp_path):
    proc = reproduce("--quick", "--glue", tmp_path / "nowhere", "--results-dir", tmp_path / "results")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert proc.stderr.strip() == f"ir_fairseq: error: GLUE folder not found: {tmp_path / 'nowhere'} (pass --glue)"
    assert not (tmp_path / "results").exists()


def test_missing_corpus_is_a_one_line_error(tmp_path):
    (tmp_path / "glue").mkdir()
    proc = reproduce("--quick", "--glue", tmp_path / "glue", "--corpus", tmp_path / "no_corpus",
                     "--results-dir", tmp_path / "results")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1] == (
        f"ir_fairseq: error: corpus not found: {tmp_path / 'no_corpus'} (pass --corpus)")
