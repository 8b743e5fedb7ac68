"""examples/reproduce_continued.py's checks before any work (its runs are minutes to hours, not
tests): a missing GLUE folder, corpus or start model is a one-line error and nothing is written.
Its stages are the project's recipes, tested where they live."""
import os
import subprocess

import pytest

from conftest import ROOT, python

SCRIPT = os.path.join(ROOT, "examples", "reproduce_continued.py")


def reproduce(*args):
    return subprocess.run([python(), SCRIPT, *map(str, args)], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"))


@pytest.mark.parametrize("missing", ["glue", "corpus", "hf-model"])
def test_missing_input_is_a_one_line_error(tmp_path, missing):
    inputs = {"glue": tmp_path / "glue", "corpus": tmp_path / "corpus", "hf-model": tmp_path / "model"}
    for name, path in inputs.items():
        if name != missing:
            path.mkdir()
    if missing != "hf-model":
        (inputs["hf-model"] / "config.json").write_text("{}")
    proc = reproduce("--quick", "--results-dir", tmp_path / "results",
                     *[arg for name, path in inputs.items() for arg in (f"--{name}", path)])
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    expected = {
        "glue": f"GLUE folder not found: {inputs['glue']} (pass --glue)",
        "corpus": f"corpus not found: {inputs['corpus']} (pass --corpus)",
        "hf-model": f"--hf-model {inputs['hf-model']} has no config.json (a local HF folder is needed)",
    }[missing]
    assert proc.stderr.strip() == f"ir_fairseq: error: {expected}"
    assert not (tmp_path / "results").exists()
