"""A run protects its data: one run per --save-dir, a dead worker stops the job, damaged
binarized data is named. Every case runs real fairseq-train processes."""
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import REAL_PYTHON, ROOT, TINY_MODEL, fairseq_train, free_port, json_log_records, run_tool
from test_distributed import children
from test_reliability import assert_same_records, by_update, train_command

ENV = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
# long enough to be running when the second launch comes; saves only when it ends
LONG_RUN = ("--max-update", "100000", "--save-interval", "100000", "--disable-validation", "--log-interval", "50")


def snapshot(folder):
    """name -> sha256 of every checkpoint in folder."""
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
            for name in sorted(os.listdir(folder)) if name.endswith(".pt")}


def worker_command(data_dir, save_dir, rank, port, *extra):
    return train_command(data_dir, save_dir, *extra, "--distributed-world-size", "2",
                         "--distributed-rank", str(rank), "--distributed-backend", "gloo",
                         "--distributed-no-spawn", "--distributed-init-method", f"tcp://127.0.0.1:{port}",
                         "--ddp-backend", "legacy_ddp", interpreter=REAL_PYTHON)  # frozen and killed by pid


class Worker:
    """One fairseq-train process whose output goes to a file (a pipe nobody reads would stall it)."""

    def __init__(self, command, log_path, env=ENV):
        self.log_path = log_path
        with open(log_path, "w") as out:
            self.proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
        self.pid = self.proc.pid

    def output(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def wait_for(self, fragment, timeout=300):
        deadline = time.time() + timeout
        while fragment not in self.output():
            assert self.proc.poll() is None and time.time() < deadline, self.output()[-3000:]
            time.sleep(0.2)

    def finish(self, timeout=300):
        self.proc.wait(timeout=timeout)
        return self.proc.returncode, self.output()


def start_job(data_dir, save_dir, *extra, workers=1):
    port = free_port()
    commands = ([train_command(data_dir, save_dir, *extra, interpreter=REAL_PYTHON)] if workers == 1 else
                [worker_command(data_dir, save_dir, rank, port, *extra) for rank in range(workers)])
    tag = f"{os.path.basename(save_dir)}-{port}"
    return [Worker(cmd, os.path.join(os.path.dirname(save_dir), f"{tag}-rank{rank}.log"))
            for rank, cmd in enumerate(commands)]


def last_error(output):
    errors = [line for line in output.strip().splitlines() if "ir_fairseq: error" in line]
    assert errors, output[-3000:]
    return errors[-1]


def stop(workers):
    for worker in workers:
        if worker.proc.poll() is None:
            worker.proc.kill()
        worker.proc.wait(timeout=60)


def test_second_run_in_a_save_dir_is_refused_and_a_dead_runs_lock_is_taken_over(corpus, tmp_path):
    save_dir = tmp_path / "ck"
    fairseq_train(corpus["bin"], str(save_dir), "--max-update", "5", "--disable-validation")
    before = snapshot(save_dir)
    first = start_job(corpus["bin"], str(save_dir), *LONG_RUN)
    try:
        first[0].wait_for("| train_inner |")  # the first run holds the folder and is training
        second = fairseq_train(corpus["bin"], str(save_dir), *LONG_RUN, "--seed", "2", check=False)
        assert second.returncode == 1, second.stderr[-3000:]
        assert "Traceback" not in second.stderr
        line = last_error(second.stderr)
        assert line.startswith(f"ir_fairseq: error: --save-dir {save_dir} is in use by another run "
                               f"(pid {first[0].pid} on "), line
        assert "rank 0, started" in line and "--seed 2" not in line  # the holder's command, not ours
        assert snapshot(save_dir) == before  # the refused run wrote nothing
        # a mistaken launch of another model with --overwrite-save-dir: refused before it moves
        # the live run's checkpoints aside
        other = fairseq_train(corpus["bin"], str(save_dir), *LONG_RUN, "--encoder-layers", "1",
                              "--overwrite-save-dir", check=False)
        assert other.returncode == 1, other.stderr[-3000:]
        assert "is in use by another run" in last_error(other.stderr)
        assert not [p for p in os.listdir(save_dir) if p.startswith("replaced-")]
        assert snapshot(save_dir) == before
        assert first[0].proc.poll() is None  # and the first run goes on
    finally:
        stop(first)  # SIGKILL
    assert snapshot(save_dir) == before
    # the killed run's lock file is still there, but its lock died with it
    assert (save_dir / ".ir_fairseq.lock.rank0").read_text().startswith(f"pid {first[0].pid} ")
    resumed = fairseq_train(corpus["bin"], str(save_dir), "--max-update", "7", "--disable-validation")
    assert "Loaded checkpoint" in resumed.stderr + resumed.stdout
    assert [int(r["num_updates"]) for r in json_log_records(resumed.stderr + resumed.stdout, "train_inner")] == [6, 7]


def test_two_worker_job_refuses_a_second_job_and_stops_when_a_worker_dies(corpus, tmp_path):
    save_dir = tmp_path / "ck"
    first = start_job(corpus["bin"], str(save_dir), *LONG_RUN, workers=2)
    try:
        first[0].wait_for("| train_inner |")
        second = start_job(corpus["bin"], str(save_dir), *LONG_RUN, workers=2)
        for rank, worker in enumerate(second):
            status, out = worker.finish(timeout=300)
            assert status == 1, out[-3000:]
            assert f"is in use by another run (pid {first[rank].pid} " in last_error(out), out[-3000:]
            assert f"rank {rank}, started" in last_error(out)
        assert all(w.proc.poll() is None for w in first)

        first[1].proc.send_signal(signal.SIGKILL)
        # seconds in practice; 300 s is far below gloo's 30 minutes, and the error names the cause
        status, output = first[0].finish(timeout=300)
    finally:
        stop(first)
    assert status == 1, output[-3000:]
    assert last_error(output) == (f"ir_fairseq: error: rank 0: rank 1 of 2 (pid {first[1].pid} on this host) "
                                  "is gone: stopping the job"), output[-3000:]
    assert "Traceback" not in output


def test_a_hung_worker_stops_the_job_and_the_same_command_resumes_with_the_uninterrupted_losses(
        corpus, tmp_path):
    """Rank 1 frozen (SIGSTOP: alive, silent, as a lost node looks): its heartbeat stops."""
    flags = ("--max-update", "16", "--save-interval-updates", "4", "--keep-interval-updates", "1",
             "--disable-validation")
    def run_to_the_end(save_dir):  # the default heartbeat timeout: a loaded machine must not trip it
        results = [worker.finish() for worker in start_job(corpus["bin"], save_dir, *flags, workers=2)]
        assert [status for status, _ in results] == [0, 0], results[0][1][-3000:] + results[1][1][-3000:]
        return results[0][1]

    expected = by_update(json_log_records(run_to_the_end(str(tmp_path / "reference")), "train_inner"))
    save_dir = str(tmp_path / "killed")
    # 20 s: ten heartbeat intervals (2 s) of margin while both ranks run, a short wait once rank 1 is frozen
    job = start_job(corpus["bin"], save_dir, *flags, "--worker-heartbeat-timeout", "20", workers=2)
    try:
        job[0].wait_for("_8.pt (epoch")  # "Saved checkpoint .../checkpoint_E_8.pt (epoch E @ 8 updates ..."
        job[1].proc.send_signal(signal.SIGSTOP)
        status, output = job[0].finish(timeout=300)
    finally:
        stop(job)
    assert status == 1, output[-3000:]
    assert re.fullmatch(r"ir_fairseq: error: rank 0: rank 1 of 2 sent no heartbeat for \d+ s \(it died, hangs, "
                        r"or its host is lost\): stopping the job", last_error(output)), output[-3000:]

    output = run_to_the_end(save_dir)
    assert "Loaded checkpoint" in output
    got = by_update(json_log_records(output, "train_inner"))
    assert 9 <= min(got) <= 13 and max(got) == 16
    assert_same_records(got, expected, range(min(got), 17))


@pytest.fixture
def data_copy(corpus, tmp_path):
    copy = tmp_path / "data"
    shutil.copytree(corpus["bin"], copy)
    return copy


def truncate(path, size):
    with open(path, "r+b") as f:
        f.truncate(size)


@pytest.mark.parametrize("damage, message", [
    (lambda d: truncate(d / "train.bin", 20_000),
     "{d}/train.bin is 20000 bytes but train.idx describes"),
    (lambda d: truncate(d / "valid.idx", os.path.getsize(d / "valid.idx") - 7),
     "{d}/valid.idx is {size} bytes but its header lists"),
    (lambda d: os.remove(d / "train.idx"), "{d}/train.bin has no partner {d}/train.idx"),
    (lambda d: (d / "dict.txt").write_text("".join((d / "dict.txt").read_text().splitlines(True)[:40])),
     "but {d}/dict.txt has 45 symbols: the data was binarized with another dictionary"),
    (lambda d: (d / "valid.idx").write_bytes(b"not an index at all"), "{d}/valid.idx is not a fairseq index file"),
])
def test_damaged_or_mismatched_binarized_data_is_named(data_copy, tmp_path, damage, message):
    damage(data_copy)
    size = os.path.getsize(data_copy / "valid.idx") if (data_copy / "valid.idx").exists() else 0
    proc = fairseq_train(str(data_copy), str(tmp_path / "ck"), "--max-update", "2", check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert message.format(d=data_copy, size=size) in last_error(proc.stderr), proc.stderr[-2000:]
    written = os.listdir(tmp_path / "ck") if (tmp_path / "ck").exists() else []
    assert not [name for name in written if name.endswith(".pt")]


def test_recipe_stops_the_job_when_a_training_worker_dies(corpus, tmp_path):
    """Through pretrain_ir.sh (its CPU ranks), mid-training: the rank is named, the job ends."""
    env = dict(ENV, PYTHON=sys.executable, DATA=corpus["bin"], SAVE_DIR=str(tmp_path / "ck"), GPUS="2",
               MASTER_PORT=str(free_port()), MAX_UPDATE="100000", TOKENS="64", BATCH="2", TOTAL_BATCH="4",
               PRECISION="fp32", LOG_INTERVAL="1")
    recipe = Worker(["bash", os.path.join(ROOT, "scripts", "pretrain_ir.sh"), *TINY_MODEL, "--num-workers", "0",
                     "--data-buffer-size", "0", "--log-format", "json"], str(tmp_path / "recipe.log"), env)
    try:
        recipe.wait_for("| train_inner |")
        ranks = {cmdline.split("--distributed-rank ")[1].split()[0]: pid
                 for pid, cmdline in children(recipe.pid) if "fairseq_cli.train" in cmdline}
        os.kill(ranks["1"], signal.SIGKILL)
        status, output = recipe.finish(timeout=300)  # seconds in practice, far below gloo's 30 minutes
    finally:
        stop([recipe])
    assert status == 137, output[-3000:]
    assert "ir_fairseq: error: rank 1 exited with status 137; stopped the other ranks" in output
    assert not os.path.exists(f"/proc/{ranks['0']}")


def test_check_data_command_reports_whole_pairs_and_names_a_damaged_one(data_copy):
    proc = run_tool("check-data", [data_copy])
    assert proc.stdout.strip() == f"[check-data] {data_copy}: 2 binarized pairs are whole and fit their dict.txt"
    truncate(data_copy / "valid.bin", 100)
    proc = run_tool("check-data", [data_copy], check=False)
    assert proc.returncode == 1 and proc.stderr.strip().startswith(f"ir_fairseq: error: {data_copy}/valid.bin is 100 bytes")
    empty = data_copy / "empty"
    empty.mkdir()
    proc = run_tool("check-data", [empty], check=False)
    assert proc.stderr.strip() == f"ir_fairseq: error: {empty} holds no binarized data (.idx/.bin pairs)"
