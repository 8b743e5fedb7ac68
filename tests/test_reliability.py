"""Resume after SIGKILL, a checkpoint copy cut half-way, multi-worker parity, half-precision
numerics, degenerate batches."""
import math
import os
import signal
import subprocess
import sys

import pytest
import torch

from builders import build, first_batch
from conftest import ROOT, TINY_MODEL, TINY_TRAINING, fairseq_train, free_port, json_log_records, python

COMPARED = ("loss", "mlm_loss", "ecp", "dpp", "target_entropy", "lr")


def train_command(data_dir, save_dir, *extra, interpreter=None):
    return [interpreter or python(), "-m", "fairseq_cli.train", data_dir,
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


@pytest.mark.quick
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


@pytest.mark.quick
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


# fairseq-train in a process whose second write into checkpoint_last.pt (the copy of the
# update-2 checkpoint, or the atomic copy's temporary file) is cut by the kernel at half the
# checkpoint's size: RLIMIT_FSIZE, set the moment that file is opened for writing, stops
# whatever copy routine writes it at that byte. Python ignores SIGXFSZ, so the write fails
# (EFBIG, a full disk's kind of error) and the exception goes up through fairseq's save;
# with SIGXFSZ's default action back, the process dies there, as a SIGKILL would.
CUT_SECOND_COPY_ONTO_LAST = """
import os, resource, runpy, signal, sys

opened = 0

def cut_mid_copy(event, args):
    global opened
    if event != "open" or not isinstance(args[0], str) or "checkpoint_last" not in os.path.basename(args[0]):
        return
    mode, flags = args[1], args[2]
    writes = set(mode) & set("wax+") if mode is not None else flags & (os.O_WRONLY | os.O_RDWR)
    if not writes:
        return
    opened += 1
    if opened == 2:
        half = os.path.getsize(os.path.join(os.path.dirname(args[0]), "checkpoint_1_2.pt")) // 2
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_FSIZE, (half, half))

if sys.argv[1] == "killed":
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
sys.addaudithook(cut_mid_copy)
sys.argv = ["fairseq-train", *sys.argv[2:]]
runpy.run_module("fairseq_cli.train", run_name="__main__")
"""


@pytest.mark.quick
@pytest.mark.parametrize("cut", ["killed", "write_error"])
def test_checkpoint_last_stays_the_previous_checkpoint_when_its_copy_is_cut_half_way(corpus, tmp_path, cut):
    """Saves at updates 1 and 2 (checkpoint_1_N.pt, then a copy onto checkpoint_last.pt); the
    copy at update 2 stops at half the file."""
    save_dir = tmp_path / "ck"
    command = train_command(corpus["bin"], str(save_dir), "--max-update", "2", "--save-interval-updates", "1",
                            "--disable-validation")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    proc = subprocess.run([python(), "-c", CUT_SECOND_COPY_ONTO_LAST, cut, *command[3:]], env=env,
                          capture_output=True, text=True, timeout=600)
    log = proc.stdout + proc.stderr
    saved = [line for line in log.splitlines() if "Saved checkpoint" in line]
    assert len(saved) == 1 and "@ 1 updates" in saved[0], log[-3000:]  # the save at update 2 never ended
    half = os.path.getsize(save_dir / "checkpoint_1_2.pt") // 2
    if cut == "killed":
        assert proc.returncode == -signal.SIGXFSZ, log[-3000:]
        # the half-written file is still on disk (a killed process cleans nothing), not as checkpoint_last.pt
        cut_files = [name for name in os.listdir(save_dir) if os.path.getsize(save_dir / name) == half]
        assert len(cut_files) == 1 and cut_files[0] != "checkpoint_last.pt", os.listdir(save_dir)
    else:
        assert proc.returncode == 1 and "OSError: [Errno 27] File too large" in log, log[-3000:]
        checkpoints = sorted(name for name in os.listdir(save_dir) if name.endswith(".pt") or ".pt." in name)
        assert checkpoints == ["checkpoint_1_1.pt", "checkpoint_1_2.pt", "checkpoint_last.pt"]  # no temporary left

    newer = torch.load(save_dir / "checkpoint_1_2.pt", map_location="cpu")  # fairseq's own atomic write
    assert newer["optimizer_history"][-1]["num_updates"] == 2
    last = torch.load(save_dir / "checkpoint_last.pt", map_location="cpu")
    assert last["optimizer_history"][-1]["num_updates"] == 1
    assert (save_dir / "checkpoint_last.pt").read_bytes() == (save_dir / "checkpoint_1_1.pt").read_bytes()
