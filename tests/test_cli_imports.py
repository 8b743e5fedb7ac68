"""The command line starts without torch and fairseq for what needs neither, and still installs
the whole plugin where it is needed.

The recipes call cheap commands (``glue-task``, ``--help``, ...) many times, and importing torch
and fairseq costs seconds each time. Each check here starts a real process, ``python -X
importtime -m ir_fairseq ...`` (or the ``ir-fairseq`` script), whose import log names every
module the command imported. A command in ``cli.NEEDS_PLUGIN`` runs with compat's patches and
the registrations (a checkpoint holding an ``argparse.Namespace`` reads only with compat's
torch.load allow-list), and fairseq's ``--user-dir`` and a plain ``import ir_fairseq`` get the
plugin when they import the package, as they always have.
"""
import argparse
import importlib
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT
from ir_fairseq import cli

pytestmark = pytest.mark.quick  # bash scripts/test.sh --quick

HEAVY = ("torch", "fairseq")
SCRIPT = os.path.join(os.path.dirname(sys.executable), "ir-fairseq")  # the console script, if installed
REGISTRATIONS = ("ir_fairseq.compat", "ir_fairseq.criterions.instance_reg", "ir_fairseq.models.bert_compat",
                 "ir_fairseq.tasks.masked_lm_ir", "ir_fairseq.data.wordpiece_bpe")


def launch(*args, script=False):
    """(process, names of the modules it imported) of ``ir-fairseq ARGS``, started as the recipes
    start it; the process's stderr is left without the import log."""
    entry = [SCRIPT] if script else ["-m", "ir_fairseq"]
    proc = subprocess.run([sys.executable, "-X", "importtime", *entry, *map(str, args)], cwd=ROOT,
                          env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True, timeout=300)
    log = [line for line in proc.stderr.splitlines() if line.startswith("import time:")]
    proc.stderr = "".join(line + "\n" for line in proc.stderr.splitlines() if not line.startswith("import time:"))
    return proc, {line.rsplit("|", 1)[1].strip() for line in log}


def heavy(imported):
    return sorted(name for name in imported if name.split(".")[0] in HEAVY)


@pytest.mark.parametrize("args,status,stream,expected", [  # expected: in the stream
    ((), 2, "stdout", "usage: ir-fairseq COMMAND [ARGS]"),
    (("--help",), 0, "stdout", "usage: ir-fairseq COMMAND [ARGS]"),
    (("no-such-command",), 2, "stderr", "ir_fairseq: error: unknown command 'no-such-command'"),
    (("glue-task", "RTE", "defaults"), 0, "stdout", "2e-5 16 5 2\n"),
    (("glue-task", "STS-B", "metric-flags"), 0, "stdout", "--regression-target --report-pearson-and-spearman "
     "--best-checkpoint-metric spearman --maximize-best-checkpoint-metric\n"),
    (("glue-task", "XX", "defaults"), 1, "stderr", "ir_fairseq: error: unknown GLUE task 'XX'"),
    (("glue-task", "RTE", "no-such-fact"), 2, "stderr", "ir-fairseq glue-task: error: argument fact"),
])
def test_cheap_commands_answer_without_torch_or_fairseq(args, status, stream, expected):
    proc, imported = launch(*args)
    assert proc.returncode == status, proc.stderr
    assert expected in getattr(proc, stream), getattr(proc, stream)
    assert not heavy(imported), f"ir-fairseq {' '.join(args)} imported {heavy(imported)[:5]}"
    if "--help" in args:
        assert all(f"  {command} " in proc.stdout for command in cli.COMMANDS)


@pytest.mark.parametrize("command", sorted(cli.COMMANDS))
def test_every_command_help_and_argument_error_without_torch_or_fairseq(command):
    proc, imported = launch(command, "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"usage: ir-fairseq {command}")
    assert not heavy(imported), f"{command} --help imported {heavy(imported)[:5]}"

    proc, imported = launch(command, "--no-such-option")
    assert proc.returncode == 2, proc.stderr
    assert f"ir-fairseq {command}: error:" in proc.stderr
    assert not heavy(imported), f"{command} with a bad option imported {heavy(imported)[:5]}"


def test_torch_free_work_stays_torch_free(tmp_path):
    """A command's actual work, not only its help, where it needs neither (score from a file,
    the demo corpus), and the console script as well as ``python -m``."""
    metrics = tmp_path / "dev_metrics.json"
    metrics.write_text(json.dumps({"mcc": 55.5, "accuracy": 80.0}))
    proc, imported = launch("glue-task", "CoLA", "score", metrics)
    assert (proc.returncode, proc.stdout) == (0, "55.5\n") and not heavy(imported)

    proc, imported = launch("synthetic-data", tmp_path / "demo", "--docs", "5", "--reviews", "5")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "demo" / "train.txt").is_file() and not heavy(imported)

    if not os.path.isfile(SCRIPT):
        pytest.skip("the ir-fairseq console script is not installed next to this Python")
    proc, imported = launch("glue-task", "RTE", "defaults", script=True)
    assert (proc.returncode, proc.stdout) == (0, "2e-5 16 5 2\n") and not heavy(imported)


def test_glue_task_recipe_imports_torch_alone():
    """finetune_glue.sh's one call per task asks torch for CUDA, and needs nothing of fairseq."""
    proc, imported = launch("glue-task", "RTE", "recipe")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[:2] == ["2e-5 16 5 2", "--best-checkpoint-metric accuracy "
                                            "--maximize-best-checkpoint-metric"]
    assert "torch" in imported and not any(name.split(".")[0] == "fairseq" for name in imported)


@pytest.fixture
def namespace_checkpoint(tmp_path):
    """A checkpoint as fairseq < 0.10 saved them: its config an ``argparse.Namespace``, which
    torch.load (weights_only, torch >= 2.6) reads only with compat's allow-list."""
    import torch

    path = tmp_path / "checkpoint.pt"
    torch.save({"args": argparse.Namespace(arch="roberta_base", encoder_layers=2, encoder_embed_dim=32,
                                           activation_fn="gelu", encoder_normalize_before=False),
                "model": {}}, path)
    return path


def test_a_command_that_needs_the_plugin_gets_it(namespace_checkpoint):
    proc, imported = launch("model-flags", namespace_checkpoint)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "--arch roberta_base --encoder-layers 2 --encoder-embed-dim 32 --activation-fn gelu\n"
    assert set(REGISTRATIONS) <= imported


# What the process holds once a command (or an import) is done: the patches and registrations.
REPORT = """
import argparse, json
import torch
from fairseq import checkpoint_utils
from fairseq.criterions import CRITERION_REGISTRY
from fairseq.models import ARCH_MODEL_REGISTRY
from fairseq.registry import REGISTRIES
from fairseq.tasks import TASK_REGISTRY
print(json.dumps({
    "copy": checkpoint_utils.PathManager.copy.__qualname__,
    "namespace_allowed": argparse.Namespace in torch.serialization.get_safe_globals(),
    "tasks": sorted(t for t in ("masked_lm_ir", "sentence_prediction_ir", "squad_span") if t in TASK_REGISTRY),
    "criterions": sorted(c for c in ("instance_reg", "squad_span") if c in CRITERION_REGISTRY),
    "archs": sorted(a for a in ("ir_bert",) if a in ARCH_MODEL_REGISTRY),
    "bpes": sorted(b for b in ("ir_wordpiece", "ir_dictionary_word_starts") if b in REGISTRIES["bpe"]["registry"]),
}))
"""
INSTALLED = {"copy": "AtomicCopyPathManager.copy", "namespace_allowed": True,
             "tasks": ["masked_lm_ir", "sentence_prediction_ir", "squad_span"],
             "criterions": ["instance_reg", "squad_span"], "archs": ["ir_bert"],
             "bpes": ["ir_dictionary_word_starts", "ir_wordpiece"]}


def plugin_state(prelude, *argv):
    proc = subprocess.run([sys.executable, "-c", prelude + REPORT, *map(str, argv)], cwd=ROOT,
                          env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1])


def test_a_command_through_the_command_line_runs_with_the_patches(namespace_checkpoint):
    """``python -m ir_fairseq model-flags CHECKPOINT`` as CPython runs it (runpy, with sys.argv
    as ``-m`` sets it while the package is imported), then the process's state."""
    prelude = """
import runpy, sys
args = sys.argv[1:]
sys.argv, sys.orig_argv = ["-m", *args], [sys.executable, "-m", "ir_fairseq", *args]
try:
    runpy.run_module("ir_fairseq", run_name="__main__", alter_sys=True)
except SystemExit as e:
    assert e.code == 0, e.code
"""
    assert plugin_state(prelude, "model-flags", namespace_checkpoint) == INSTALLED


@pytest.mark.parametrize("prelude", [
    "import ir_fairseq\n",  # from Python, before fairseq
    # fairseq-train / fairseq-hydra-train: --user-dir (common.user_dir) imports the package
    f"import argparse\nfrom fairseq import utils\n"
    f"utils.import_user_module(argparse.Namespace(user_dir={os.path.join(ROOT, 'ir_fairseq')!r}))\n",
], ids=["import", "user-dir"])
def test_importing_the_package_installs_the_plugin(prelude):
    assert plugin_state(prelude) == INSTALLED


def test_what_the_command_line_decides_is_consistent():
    assert cli.NEEDS_PLUGIN <= set(cli.COMMANDS)
    for command in cli.NEEDS_PLUGIN:
        module = importlib.import_module(cli.COMMANDS[command][0])
        assert module.build_parser().prog == f"ir-fairseq {command}"


@pytest.mark.parametrize("argv,orig_argv,starting", [
    (["-m", "glue-task"], ["python", "-m", "ir_fairseq", "glue-task"], True),
    (["-m"], ["python", "-X", "importtime", "-m", "ir_fairseq"], True),
    (["-m", "x"], ["python", "-Bmir_fairseq", "x"], True),
    (["-m", "x"], ["python", "-m", "mytool", "x"], False),  # another module whose package imports ours
    (["/venv/bin/ir-fairseq", "spm"], ["python", "/venv/bin/ir-fairseq", "spm"], True),
    (["/venv/bin/fairseq-train", "data"], ["python", "/venv/bin/fairseq-train", "data"], False),
    (["-c"], ["python", "-c", "import ir_fairseq"], False),
    ([], [], False),
])
def test_the_package_knows_when_the_command_line_starts(monkeypatch, argv, orig_argv, starting):
    import ir_fairseq

    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.setattr(sys, "orig_argv", orig_argv)
    assert ir_fairseq._starting_the_command_line() is starting
