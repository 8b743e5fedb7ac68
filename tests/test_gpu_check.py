"""scripts/gpu_check.sh --cpu-rehearsal: every step of the GPU check, tiny and on CPU, with the
files the device would send back."""
import os
import subprocess

from conftest import ROOT, python


def test_cpu_rehearsal_runs_every_step_and_reports(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(["bash", os.path.join(ROOT, "scripts", "gpu_check.sh"), "--cpu-rehearsal", str(out)],
                          capture_output=True, text=True, timeout=900,
                          env=dict(os.environ, PYTHON=python(), OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    files = sorted(os.listdir(out))
    assert len(files) <= 8  # what the device tool sends back
    assert files == sorted(["data.log", "train_fp32.log", "train_memory-efficient-fp16.log", "recipe.log",
                            "benchmark.log", "steps.tsv", "summary.md"])
    summary = (out / "summary.md").read_text()
    assert summary.startswith("# GPU check (CPU rehearsal") and summary.strip().endswith("all checks passed")
    for step in ("data", "train_fp32", "train_memory-efficient-fp16", "recipe", "benchmark"):
        assert f"| {step} | pass |" in summary
    assert "all finite" in summary and "| (c) ir_default |" in summary


def test_a_failing_step_fails_the_check_and_is_named(tmp_path):
    """A recipe that cannot run (a bad precision) fails the check; the other steps still run."""
    out = tmp_path / "out"
    proc = subprocess.run(["bash", os.path.join(ROOT, "scripts", "gpu_check.sh"), "--cpu-rehearsal", str(out)],
                          capture_output=True, text=True, timeout=900,
                          env=dict(os.environ, PYTHON=python(), OMP_NUM_THREADS="1", PRECISION="fp8"))
    assert proc.returncode == 1
    summary = (out / "summary.md").read_text()
    assert "| recipe | FAIL |" in summary and "| benchmark | pass |" in summary
    assert summary.strip().endswith("FAILED: recipe")
