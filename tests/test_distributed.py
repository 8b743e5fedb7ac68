"""Two CPU workers (gloo on 127.0.0.1), one process per rank: through fairseq-train, and through
scripts/pretrain_ir.sh, whose first failing rank stops the others."""
import os
import signal
import subprocess
import sys
import time

import torch

from conftest import (ROOT, TINY_MODEL, TINY_TRAINING, fairseq_train_commands, free_port, json_log_records, python,
                      recording_python, run_script)
from test_reliability import assert_same_records, by_update


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
    assert f"distributed init (rank 1): tcp://127.0.0.1:{port}" in outputs[1]
    train = json_log_records(log, "train_inner")
    valid = json_log_records(log, "valid")
    assert [int(r["num_updates"]) for r in train] == [1, 2, 3, 4]
    for record in (train[-1], valid[-1]):
        assert {"loss", "mlm_loss", "ecp", "dpp", "mlm_acc", "target_entropy", "target_top_mass"} <= set(record)
    # both workers see 2 x 8 sentences per update: the logged batch is the global one
    assert float(train[-1]["bsz"]) == 16
    state = torch.load(tmp_path / "ck" / "checkpoint_last.pt", map_location="cpu")
    assert state["optimizer_history"][-1]["num_updates"] == 4


def children(parent_pid):
    """(pid, command line) of the processes whose parent is parent_pid."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
        if ppid == parent_pid:
            found.append((int(entry), cmdline))
    return found


def test_recipe_stops_every_rank_when_one_fails(corpus, tmp_path):
    """Rank 1 is frozen as soon as it starts and killed once rank 0 waits for it at the
    rendezvous (gloo's timeout there is 30 minutes): the recipe reports rank 1 and stops rank 0."""
    env = dict(os.environ, PYTHON=sys.executable, DATA=corpus["bin"], SAVE_DIR=str(tmp_path / "ck"),
               GPUS="2", MASTER_PORT=str(free_port()), MAX_UPDATE="1000", TOKENS="64", BATCH="2",
               TOTAL_BATCH="4", PRECISION="fp32", OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    log_path = tmp_path / "recipe.log"
    with open(log_path, "w") as out:  # a file, read while the recipe runs
        recipe = subprocess.Popen(["bash", os.path.join(ROOT, "scripts", "pretrain_ir.sh"), *TINY_MODEL,
                                   "--num-workers", "0", "--data-buffer-size", "0"],
                                  env=env, stdout=out, stderr=subprocess.STDOUT, text=True)

    def output():
        return log_path.read_text(errors="replace")

    ranks = {}
    deadline = time.time() + 300
    try:
        while set(ranks) != {"0", "1"}:
            assert recipe.poll() is None and time.time() < deadline, output()[-3000:]
            for pid, cmdline in children(recipe.pid):
                if "fairseq_cli.train" in cmdline:
                    ranks[cmdline.split("--distributed-rank ")[1].split()[0]] = pid
            time.sleep(0.05)
        os.kill(ranks["1"], signal.SIGSTOP)  # still importing torch: seconds before its rendezvous
        while "distributed init (rank 0)" not in output():  # logged as rank 0 enters the rendezvous
            assert recipe.poll() is None and time.time() < deadline, output()[-3000:]
            time.sleep(0.2)
        assert "distributed init (rank 1)" not in output()
        os.kill(ranks["1"], signal.SIGKILL)
        recipe.wait(timeout=300)  # seconds in practice, far below gloo's 30 minutes
    finally:
        if recipe.poll() is None:  # a failed test: the ranks are still the recipe's children
            for pid in ranks.values():
                os.kill(pid, signal.SIGKILL)
            recipe.wait(timeout=60)
    log = output()
    assert recipe.returncode == 137, log[-3000:]
    assert "ir_fairseq: error: rank 1 exited with status 137; stopped the other ranks" in log
    assert "initialized host" not in log  # rank 0 was stopped inside the rendezvous, never past it
    assert not os.path.exists(f"/proc/{ranks['0']}")  # stopped and reaped


def test_recipes_pass_the_world_size_their_schedules_assume(corpus, model_dir, sst2_bin, tmp_path):
    """fairseq's default world size is every visible GPU: a GPUS=1 pre-training or a GLUE
    fine-tuning (whose schedule assumes one worker) that leaves it out trains on all of a
    node's GPUs with a batch that many times larger. Read from the command lines the recipes
    start (on CPU the default is 1 either way, so the runs alone could not tell)."""
    interpreter, commands = recording_python(tmp_path)
    run_script("pretrain_ir.sh", *TINY_MODEL, "--max-update", "1", "--data-buffer-size", "0", PYTHON=interpreter,
               DATA=corpus["bin"], SAVE_DIR=str(tmp_path / "pre"), GPUS="1", BATCH="4", TOTAL_BATCH="4")
    run_script("finetune_glue.sh", "SST-2", model_dir / "ck" / "checkpoint_last.pt", sst2_bin, tmp_path / "glue",
               "--max-update", "1", "--data-buffer-size", "0", PYTHON=interpreter, SUBMISSION="0")
    started = fairseq_train_commands(commands)
    assert len(started) == 2
    for line in started:
        words = line.split()
        assert "--distributed-world-size" in words, line
        assert words[words.index("--distributed-world-size") + 1] == "1", line


def test_two_nodes_through_the_recipe_train_as_one_worker_with_their_whole_batch(corpus, tmp_path):
    """NODES=2 NODE_RANK=0|1 on localhost, as on two machines: two launches of pretrain_ir.sh
    with 2 gloo ranks each (world size 4, 2 sequences per rank) give, update by update, the
    losses of one worker taking the 8 sequences in 4 steps (UPDATE_FREQ 4)."""
    deterministic = [*TINY_MODEL, "--dropout", "0", "--attention-dropout", "0", "--ir-fill", "argmax",
                     "--dpp-grad", "forward", "--num-workers", "0", "--data-buffer-size", "0",
                     "--disable-validation"]
    common = dict(DATA=corpus["bin"], MAX_UPDATE="3", TOKENS="64", BATCH="2", TOTAL_BATCH="8",
                  PRECISION="fp32", LOG_INTERVAL="1", PYTHONUNBUFFERED="1")
    one = run_script("pretrain_ir.sh", *deterministic, SAVE_DIR=str(tmp_path / "one"), GPUS="1", **common)
    assert "UPDATE_FREQ=4" in one.stdout  # TOTAL_BATCH / (BATCH x world size)
    expected = by_update(json_log_records(one.stdout + one.stderr, "train_inner"))
    env = {**os.environ, **common, "PYTHON": python(), "OMP_NUM_THREADS": "1", "SAVE_DIR": str(tmp_path / "two"),
           "GPUS": "2", "NODES": "2", "MASTER_PORT": str(free_port())}
    nodes = [subprocess.Popen(["bash", os.path.join(ROOT, "scripts", "pretrain_ir.sh"), *deterministic],
                              env={**env, "NODE_RANK": str(node)}, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for node in (0, 1)]
    outputs = [node.communicate(timeout=600)[0] for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], outputs[0][-2000:] + outputs[1][-2000:]
    assert "UPDATE_FREQ=1" in outputs[0] and "NODE_RANK=1" in outputs[1]
    got = by_update(json_log_records(outputs[0], "train_inner"))  # rank 0 logs, on node 0
    assert sorted(got) == [1, 2, 3]
    assert_same_records(got, expected, range(1, 4))


def test_watchdog_store_traffic_grows_with_the_ranks_not_their_square():
    """The real WorkerWatchdog threads against one real TCPStore (examples/benchmark_watchdog.py):
    about three requests per rank per heartbeat interval whatever the world size (every rank
    reading every other rank would send 1 + 3 (N - 1): 10 at 4 ranks, 46 at 16)."""
    proc = subprocess.run([python(), os.path.join(ROOT, "examples", "benchmark_watchdog.py"), "--ranks", "4", "16",
                           "--interval", "0.2", "--seconds", "3"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line.split("|")[1:-1] for line in proc.stdout.splitlines() if line.startswith("| ") and "---" not in line]
    per_rank_per_interval = {int(row[0]): float(row[3]) for row in rows[1:]}
    assert sorted(per_rank_per_interval) == [4, 16]
    # a loaded machine stretches the intervals (fewer requests each), never adds requests to one
    assert all(0 < value <= 3.5 for value in per_rank_per_interval.values()), per_rank_per_interval

