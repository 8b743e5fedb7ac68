"""The shipped fairseq-hydra-train configs (ir_fairseq/config): a small IR pre-training and a GLUE
fine-tuning run through the real ``fairseq-hydra-train`` on CPU from a folder outside the
repository (the configs find the plugin themselves), the pre-training resumes, a bad value is
the plugin's one-line error, and every fine-tuning config states the same facts as the GLUE
task table the recipes use."""
import glob
import json
import os
import shutil
import subprocess
import sys

import pytest
import torch
from omegaconf import OmegaConf

from conftest import ROOT, python, run_tool
from ir_fairseq.common.fairseq_logs import json_records
from ir_fairseq.glue.tasks import TASKS

CONFIG = os.path.join(ROOT, "ir_fairseq", "config")
HYDRA_TRAIN = os.path.join(os.path.dirname(sys.executable), "fairseq-hydra-train")
TINY = ["model.encoder_layers=2", "model.encoder_embed_dim=32", "model.encoder_ffn_embed_dim=64",
        "model.encoder_attention_heads=2", "model.max_positions=64", "task.tokens_per_sample=64",
        "dataset.batch_size=4", "common.log_interval=1", "lr_scheduler.warmup_updates=1"]


def hydra_train(group, name, overrides, cwd, check=True):
    proc = subprocess.run([python(), HYDRA_TRAIN, "--config-dir", os.path.join(CONFIG, group), "--config-name", name,
                           *overrides], cwd=cwd, capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))
    if check:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def pretrain(corpus, save_dir, cwd, updates, *extra, check=True):
    return hydra_train("pretraining", "small_cpu", [
        f"task.data={corpus['bin']}", f"checkpoint.save_dir={save_dir}", f"optimization.max_update={updates}",
        "lr_scheduler.total_num_update=20", *TINY, *extra], cwd, check)


@pytest.fixture(scope="module")
def pretrained(corpus, tmp_path_factory):
    """small_cpu run from an unrelated working directory, then resumed to more updates."""
    cwd = tmp_path_factory.mktemp("elsewhere")
    save_dir = cwd / "checkpoints"
    first = pretrain(corpus, save_dir, cwd, 3)
    resumed = pretrain(corpus, save_dir, cwd, 5)
    return {"first": first, "resumed": resumed, "save_dir": save_dir, "cwd": cwd}


def test_small_pretraining_logs_the_penalties_and_resumes(pretrained):
    records = json_records(pretrained["first"].stdout + pretrained["first"].stderr, "train_inner")
    assert [int(r["num_updates"]) for r in records] == [1, 2, 3]
    for record in records:
        assert float(record["ecp"]) > 0 and float(record["dpp"]) > 0, record
    log = pretrained["resumed"].stdout + pretrained["resumed"].stderr
    assert "@ 3 updates" in log, log[-3000:]
    resumed = json_records(log, "train_inner")
    assert [int(r["num_updates"]) for r in resumed] == [4, 5]
    state = torch.load(pretrained["save_dir"] / "checkpoint_last.pt", map_location="cpu", weights_only=False)
    assert state["cfg"]["criterion"]["_name"] == "instance_reg"
    assert state["cfg"]["task"]["_name"] == "masked_lm_ir"
    assert state["optimizer_history"][-1]["num_updates"] == 5
    # relative paths stay where fairseq-train would put them: no Hydra outputs/ folder
    assert not (pretrained["cwd"] / "outputs").exists()


@pytest.mark.parametrize("override, message", [
    ("criterion.ecp_weight=-1", "ir_fairseq: error: --ecp-weight must be a finite number >= 0, got -1.0"),
    ("task.data=/nowhere/bin", "ir_fairseq: error: data directory not found: /nowhere/bin"),
])
def test_a_bad_value_is_the_plugins_one_line_error(corpus, tmp_path, override, message):
    proc = pretrain(corpus, tmp_path / "ck", tmp_path, 2, override, check=False)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert proc.stderr.strip().splitlines()[-1] == message
    assert not glob.glob(str(tmp_path / "ck" / "*.pt"))


def test_glue_finetuning_config_trains_and_scores(pretrained, corpus, tmp_path):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    shutil.copy(os.path.join(corpus["bin"], "dict.txt"), model_dir / "dict.txt")
    shutil.copy(corpus["spm_model"], model_dir / "spm.model")
    subprocess.run(["bash", os.path.join(ROOT, "scripts", "preprocess_glue.sh"), str(corpus["raw"] / "glue"),
                    "SST-2", str(model_dir), str(tmp_path / "glue")], check=True, capture_output=True,
                   env=dict(os.environ, PYTHON=python(), OMP_NUM_THREADS="1"))
    checkpoint = pretrained["save_dir"] / "checkpoint_last.pt"
    architecture = run_tool("model-flags", [checkpoint, "--hydra"]).stdout.split()
    assert architecture[0] == "++model._name=roberta_base" and "++model.encoder_embed_dim=32" in architecture
    save_dir = tmp_path / "finetuned"
    proc = hydra_train("finetuning", "sst_2", [
        f"task.data={tmp_path / 'glue' / 'SST-2-bin'}", f"checkpoint.restore_file={checkpoint}",
        f"checkpoint.save_dir={save_dir}", *architecture, "common.cpu=true", "dataset.batch_size=8",
        "optimization.max_epoch=1", "optimization.max_update=10", "lr_scheduler.total_num_update=10",
        "lr_scheduler.warmup_updates=1", "dataset.num_workers=0", "dataset.data_buffer_size=0"], tmp_path)
    valid = json_records(proc.stdout + proc.stderr, "valid")
    assert valid and 0 <= float(valid[-1]["accuracy"]) <= 100, proc.stderr[-3000:]
    assert (save_dir / "checkpoint_best.pt").is_file()
    run_tool("glue-predict", [save_dir / "checkpoint_best.pt", "SST-2", tmp_path / "glue" / "SST-2-bin",
                              tmp_path / "scored", "--no-submission"])
    metrics = json.loads((tmp_path / "scored" / "dev_metrics.json").read_text())
    assert abs(metrics["accuracy"] - max(float(r["accuracy"]) for r in valid)) < 0.01


@pytest.mark.parametrize("task_name", ["CoLA", "SST-2", "MRPC", "STS-B", "QQP", "MNLI", "QNLI", "RTE"])
def test_finetuning_configs_agree_with_the_glue_task_table(task_name):
    task = TASKS[task_name]
    cfg = OmegaConf.load(os.path.join(CONFIG, "finetuning", task_name.lower().replace("-", "_") + ".yaml"))
    assert cfg.task._name == "sentence_prediction_ir" and cfg.task.group_by_length
    assert cfg.task.num_classes == task.num_classes
    assert cfg.optimization.lr == [float(task.lr)]
    assert cfg.dataset.batch_size == task.batch and cfg.optimization.max_epoch == task.epochs
    assert cfg.checkpoint.best_checkpoint_metric == task.main_metric
    assert bool(cfg.criterion.get("regression_target", False)) == task.is_regression
    assert bool(cfg.criterion.get("report_mcc", False)) == (task.main_metric == "mcc")
    assert cfg.lr_scheduler.total_num_update == cfg.optimization.max_update
    assert cfg.lr_scheduler.warmup_updates == int(cfg.optimization.max_update * 0.1)
