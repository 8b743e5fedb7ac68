"""Resume after SIGKILL, multi-worker parity, half-precision numerics, degenerate batches."""
import math
import os
import signal
import subprocess
import sys

import pytest
import torch

from builders import build, first_batch
from conftest import ROOT, TINY_MODEL, TINY_TRAINING, fairseq_train, free_port, json_log_records

COMPARED = ("loss", "mlm_loss", "ecp", "dpp", "target_entropy", "lr")


def train_command(data_dir, save_dir, *extra):
    return [sys.executable, "-m", "fairseq_cli.train", data_dir,
            "--user-dir", os.path.join(ROOT, "ir_fairseq"), "--task", "masked_lm_ir",
            "--criterion", "instance_reg", "--save-dir", save_dir,
            *TINY_MODEL, *TINY_TRAINING, *extra]


def by_update(records):
    return {int(r["num_updates"]): r for r in records}


def assert_same_records(got, expected, updates):
    for update in updates:
        for key in COMPARED:
            assert float(got[update][key]) == pytest.approx(float(expected[update][key]), rel=1e-3, abs=1e-6), (
                update, key, got[update], expected[update])


def test_sigkill_mid_epoch_then_same_command_resumes_exactly(corpus, tmp_path):
    flags = ("--max-update", "30", "--save-interval-updates", "10", "--keep-interval-updates", "1",
             "--disable-validation")
    reference = fairseq_train(corpus["bin"], str(tmp_path / "reference"), *flags)
    expected = by_update(json_log_records(reference.stderr + reference.stdout, "train_inner"))

    save_dir = str(tmp_path / "killed")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(train_command(corpus["bin"], save_dir, *flags), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:
        if "Saved checkpoint" in line and "@ 10 updates" in line:
            proc.send_signal(signal.SIGKILL)  # mid-epoch, right after the save at update 10
            break
    proc.wait(timeout=120)
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL

    resumed = fairseq_train(corpus["bin"], save_dir, *flags)
    log = resumed.stderr + resumed.stdout
    assert "Loaded checkpoint" in log
    got = by_update(json_log_records(log, "train_inner"))
    start = min(got)
    assert 11 <= start <= 21 and max(got) == 30
    assert_same_records(got, expected, range(start, 31))


def test_two_workers_match_one_worker_with_update_freq_2(corpus, tmp_path):
    deterministic = ("--dropout", "0", "--attention-dropout", "0", "--ir-fill", "argmax",
                     "--dpp-grad", "forward", "--batch-size", "4", "--max-update", "4",
                     "--disable-validation")
    single = fairseq_train(corpus["bin"], str(tmp_path / "single"), *deterministic, "--update-freq", "2")
    expected = by_update(json_log_records(single.stderr + single.stdout, "train_inner"))

    port = free_port()
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    procs = [subprocess.Popen(train_command(
        corpus["bin"], str(tmp_path / "multi"), *deterministic,
        "--distributed-world-size", "2", "--distributed-rank", str(rank),
        "--distributed-backend", "gloo", "--distributed-no-spawn",
        "--distributed-init-method", f"tcp://127.0.0.1:{port}", "--ddp-backend", "legacy_ddp",
    ), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for rank in range(2)]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs[0][-3000:]
    got = by_update(json_log_records(outputs[0], "train_inner"))
    assert sorted(got) == [1, 2, 3, 4]
    assert_same_records(got, expected, range(1, 5))

    single_state = torch.load(tmp_path / "single" / "checkpoint_last.pt", map_location="cpu")["model"]
    multi_state = torch.load(tmp_path / "multi" / "checkpoint_last.pt", map_location="cpu")["model"]
    for name, value in single_state.items():
        assert torch.allclose(value.float(), multi_state[name].float(), atol=1e-5), name


def test_300_memory_efficient_fp16_updates_stay_finite(corpus, tmp_path):
    proc = fairseq_train(corpus["bin"], str(tmp_path / "fp16"), "--memory-efficient-fp16",
                         "--max-update", "300", "--log-interval", "25", "--disable-validation",
                         "--no-save")
    records = json_log_records(proc.stderr + proc.stdout, "train_inner")
    assert records and int(records[-1]["num_updates"]) == 300
    for record in records:
        for key in ("loss", "mlm_loss", "ecp", "dpp", "target_entropy", "target_top_mass"):
            assert math.isfinite(float(record[key])), record


def test_rows_of_padding_only_give_finite_loss_and_gradients(corpus):
    task, model, crit = build(corpus["bin"])
    sample = first_batch(task)
    pad = task.source_dictionary.pad()
    src, target = sample["net_input"]["src_tokens"], sample["target"]
    sample["net_input"]["src_tokens"] = torch.cat([src, torch.full_like(src[:1], pad)])
    sample["target"] = torch.cat([target, torch.full_like(target[:1], pad)])
    model.train()
    loss, _, log = crit(model, sample)
    loss.backward()
    assert math.isfinite(loss.item()) and math.isfinite(log["ecp"].item())
    assert log["ir_positions"] == src.ne(pad).sum()
    for name, param in model.named_parameters():
        assert param.grad is None or torch.isfinite(param.grad).all(), name


def test_checkpoint_last_always_loads_after_kills_during_saves(corpus, tmp_path):
    """Every update saves (checkpoint_1_N.pt, then a copy to checkpoint_last.pt); SIGKILL at
    staggered moments, then load checkpoint_last.pt each time."""
    import time

    import ir_fairseq  # noqa: F401  (atomic copies and the torch.load allow-list)
    from fairseq import checkpoint_utils

    assert checkpoint_utils.PathManager.copy.__qualname__.startswith("AtomicCopyPathManager")
    save_dir = tmp_path / "ck"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    for attempt in range(4):
        proc = subprocess.Popen(train_command(
            corpus["bin"], str(save_dir), "--max-update", "400", "--save-interval-updates", "1",
            "--keep-interval-updates", "2", "--disable-validation",
        ), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        saves = 0
        for line in proc.stdout:
            if "Saved checkpoint" in line:
                saves += 1
                if saves >= 3 + attempt:
                    time.sleep(0.013 * attempt)  # land at different points of the next save
                    proc.send_signal(signal.SIGKILL)
                    break
        proc.wait(timeout=120)
        proc.stdout.close()
        state = torch.load(save_dir / "checkpoint_last.pt", map_location="cpu")
        assert state["optimizer_history"][-1]["num_updates"] >= 3
