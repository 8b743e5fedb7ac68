"""Shared fixtures and helpers: a small binarized corpus made by the project's own generator,
runners for the real fairseq and ir-fairseq command-line tools, the real-data marker and a
free local port for multi-worker runs."""
import os
import socket
import subprocess
import sys

import pytest

from ir_fairseq.common.fairseq_logs import json_records as json_log_records  # noqa: F401  (tests import it from here)
from ir_fairseq.pretraining import spm, synthetic

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("IR_FAIRSEQ_SHARED_DATA")
# tests on the real public data: they run whenever IR_FAIRSEQ_SHARED_DATA is set (CI), else skip
real_data = pytest.mark.skipif(not SHARED, reason="IR_FAIRSEQ_SHARED_DATA is not set (real data in ../shared/data)")

# A model small enough for CI's 2 cores; every option is fairseq's own.
TINY_MODEL = [
    "--arch", "roberta_base", "--encoder-layers", "2", "--encoder-embed-dim", "32",
    "--encoder-ffn-embed-dim", "64", "--encoder-attention-heads", "2",
    "--max-positions", "64", "--tokens-per-sample", "64",
]
TINY_TRAINING = [
    "--batch-size", "8", "--optimizer", "adam", "--lr", "5e-4",
    "--lr-scheduler", "polynomial_decay", "--warmup-updates", "2", "--total-num-update", "100",
    "--log-format", "json", "--log-interval", "1", "--no-epoch-checkpoints", "--cpu",
    "--seed", "1", "--num-workers", "0", "--no-progress-bar",
    # fairseq's background batch buffer thread can abort the process at exit (status 134,
    # "terminate called without an active exception") when training stops mid-epoch
    # moments after it started; no buffer, no race
    "--data-buffer-size", "0",
]


def run_cli(module, args, cwd=None, env_extra=None, check=True, timeout=600):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env.update(env_extra or {})
    proc = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=cwd, env=env,
        capture_output=True, text=True, timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{module} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc


def run_tool(command, args, **kwargs):
    """``ir-fairseq COMMAND ARGS`` in a fresh process (the documented entry point)."""
    return run_cli("ir_fairseq", [command, *map(str, args)], **kwargs)


def folder_digest(folder):
    """relative path -> bytes of every file under folder: "nothing on disk changed" checks."""
    return {os.path.relpath(os.path.join(root, name), folder): open(os.path.join(root, name), "rb").read()
            for root, _, names in os.walk(folder) for name in names}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fairseq_train(data_dir, save_dir, *extra, **kwargs):
    args = [data_dir, "--user-dir", os.path.join(ROOT, "ir_fairseq"), "--task", "masked_lm_ir",
            "--criterion", "instance_reg", "--save-dir", save_dir,
            *TINY_MODEL, *TINY_TRAINING, *extra]
    return run_cli("fairseq_cli.train", args, **kwargs)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    """Generated text -> sentencepiece pieces -> fairseq-preprocess; returns the paths."""
    root = tmp_path_factory.mktemp("corpus")
    raw = root / "raw"
    synthetic.generate(str(raw), docs=120, reviews=200, seed=3)
    model = spm.train(str(raw / "train.txt"), str(root / "spm"), vocab_size=300)
    for split in ("train", "valid"):
        spm.encode_file(model, str(raw / f"{split}.txt"), str(root / f"{split}.spm"))
    run_cli("fairseq_cli.preprocess", [
        "--only-source", "--trainpref", str(root / "train.spm"),
        "--validpref", str(root / "valid.spm"), "--destdir", str(root / "bin"), "--workers", "1",
    ])
    return {"root": root, "bin": str(root / "bin"), "spm_model": model, "raw": raw}
