"""Two CPU workers (gloo on 127.0.0.1), one process per rank, through fairseq-train."""
import os
import socket
import subprocess
import sys

import torch

from conftest import ROOT, TINY_MODEL, TINY_TRAINING, json_log_records


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_workers_train_and_log_ir_metrics(corpus, tmp_path):
    port = free_port()
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    procs = []
    for rank in range(2):
        cmd = [
            sys.executable, "-m", "fairseq_cli.train", corpus["bin"],
            "--user-dir", os.path.join(ROOT, "ir_fairseq"), "--task", "masked_lm_ir",
            "--criterion", "instance_reg", "--save-dir", str(tmp_path / "ck"),
            *TINY_MODEL, *TINY_TRAINING, "--max-update", "4",
            "--distributed-world-size", "2", "--distributed-rank", str(rank),
            "--distributed-backend", "gloo", "--distributed-no-spawn",
            "--distributed-init-method", f"tcp://127.0.0.1:{port}",
            "--ddp-backend", "legacy_ddp",
        ]
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True))
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    for p, out in zip(procs, outputs):
        assert p.returncode == 0, out[-3000:]
    log = outputs[0]
    assert "distributed init (rank 1)" in outputs[1] or "rank 1" in outputs[1]
    train = json_log_records(log, "train_inner")
    valid = json_log_records(log, "valid")
    assert [int(r["num_updates"]) for r in train] == [1, 2, 3, 4]
    for record in (train[-1], valid[-1]):
        assert {"loss", "mlm_loss", "ecp", "dpp", "mlm_acc"} <= set(record)
    # both workers see 2 x 8 sentences per update: the logged batch is the global one
    assert float(train[-1]["bsz"]) == 16
    state = torch.load(tmp_path / "ck" / "checkpoint_last.pt", map_location="cpu")
    assert state["optimizer_history"][-1]["num_updates"] == 4
