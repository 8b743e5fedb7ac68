"""Shared fixtures: a small binarized corpus made by the project's own generator, and a helper
that runs the real fairseq command-line tools with the plugin."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples"))

import generate_corpus  # noqa: E402

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


def fairseq_train(data_dir, save_dir, *extra, **kwargs):
    args = [data_dir, "--user-dir", os.path.join(ROOT, "ir_fairseq"), "--task", "masked_lm_ir",
            "--criterion", "instance_reg", "--save-dir", save_dir,
            *TINY_MODEL, *TINY_TRAINING, *extra]
    return run_cli("fairseq_cli.train", args, **kwargs)


def json_log_records(text, kind):
    """The JSON stats fairseq logs for 'train_inner', 'train' or 'valid'."""
    records = []
    for line in text.splitlines():
        start = line.find("{")
        if start < 0 or f"| {kind} |" not in line:
            continue
        try:
            record = json.loads(line[start:])
        except json.JSONDecodeError:
            continue
        # 'train'/'valid' records prefix their keys with the kind; 'train_inner' does not
        records.append({key.replace(f"{kind}_", "", 1): value for key, value in record.items()})
    return records


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    """Generated text -> sentencepiece pieces -> fairseq-preprocess; returns the paths."""
    from ir_fairseq import spm

    root = tmp_path_factory.mktemp("corpus")
    raw = root / "raw"
    generate_corpus.generate(str(raw), docs=120, reviews=200, seed=3)
    model = spm.train(str(raw / "train.txt"), str(root / "spm"), vocab_size=300)
    processor = spm.load(model)
    for split in ("train", "valid"):
        with open(raw / f"{split}.txt") as fin, open(root / f"{split}.spm", "w") as fout:
            for line in fin:
                fout.write(spm.encode_line(processor, line) + "\n")
    run_cli("fairseq_cli.preprocess", [
        "--only-source", "--trainpref", str(root / "train.spm"),
        "--validpref", str(root / "valid.spm"), "--destdir", str(root / "bin"), "--workers", "1",
    ])
    return {"root": root, "bin": str(root / "bin"), "spm_model": model, "raw": raw}
