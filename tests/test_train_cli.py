"""fairseq-train itself, with --user-dir: train, log, save, reload, resume, tensorboard."""
import glob
import math
import os
import subprocess
import sys

import pytest
import torch

from conftest import ROOT, fairseq_train, json_log_records

IR_KEYS = {"loss", "mlm_loss", "ecp", "dpp", "mlm_acc", "target_entropy", "target_top_mass"}


@pytest.mark.quick
def test_train_save_reload_resume(corpus, tmp_path):
    save_dir = str(tmp_path / "ckpt")
    tensorboard = str(tmp_path / "tb")
    first = fairseq_train(corpus["bin"], save_dir, "--max-update", "6",
                          "--tensorboard-logdir", tensorboard, "--mask-whole-words")
    log = first.stderr + first.stdout
    train = json_log_records(log, "train_inner")
    valid = json_log_records(log, "valid")
    assert train and valid
    assert IR_KEYS <= set(train[-1]) and IR_KEYS <= set(valid[-1])
    assert float(train[-1]["ecp"]) > 0 and float(valid[-1]["dpp"]) >= 0
    assert os.path.isfile(os.path.join(save_dir, "checkpoint_last.pt"))
    assert glob.glob(os.path.join(tensorboard, "train*", "events.out.tfevents.*"))

    # reload with fairseq's own hub loader (weights_only torch.load included)
    from fairseq.models.roberta import RobertaModel
    import ir_fairseq  # noqa: F401  (the plugin allow-lists fairseq checkpoint contents)

    roberta = RobertaModel.from_pretrained(
        save_dir, checkpoint_file="checkpoint_last.pt", data_name_or_path=corpus["bin"],
        bpe="sentencepiece", sentencepiece_model=corpus["spm_model"],
    )
    roberta.eval()
    tokens = roberta.encode("The old river crossed the village.")
    features = roberta.extract_features(tokens)
    assert features.shape == (1, tokens.numel(), 32) and torch.isfinite(features).all()

    # resume from checkpoint_last.pt with the same command and a later --max-update
    second = fairseq_train(corpus["bin"], save_dir, "--max-update", "9")
    log2 = second.stderr + second.stdout
    assert "Loaded checkpoint" in log2 and "@ 6 updates" in log2
    resumed = json_log_records(log2, "train_inner")
    assert [int(r["num_updates"]) for r in resumed] == [7, 8, 9]


def test_user_dir_as_relative_path_from_repo_root(corpus, tmp_path):
    proc = fairseq_train(corpus["bin"], str(tmp_path / "ck"), "--max-update", "2",
                         "--user-dir", "ir_fairseq", "--disable-validation", "--no-save",
                         cwd=ROOT)
    assert json_log_records(proc.stderr + proc.stdout, "train_inner")


def test_user_dir_of_a_pip_installed_copy(corpus, tmp_path):
    """A non-editable install (pip install --target) serves as --user-dir too."""
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(target), ROOT], check=True, capture_output=True, text=True)
    installed = target / "ir_fairseq"
    assert (installed / "criterions" / "instance_reg.py").is_file()
    # fairseq's import_user_module puts the folder's parent first on sys.path and imports the
    # package by name: check that this resolves to the installed copy, not the source tree
    resolved = subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(target)!r}); "
         "import ir_fairseq; print(ir_fairseq.__file__)"],
        capture_output=True, text=True, check=True, cwd=str(tmp_path)).stdout.strip()
    assert resolved == str(installed / "__init__.py")
    proc = fairseq_train(corpus["bin"], str(tmp_path / "ck"), "--max-update", "2",
                         "--user-dir", str(installed), "--disable-validation", "--no-save",
                         cwd=str(tmp_path))
    log = proc.stderr + proc.stdout
    assert f"'user_dir': '{installed}'" in log
    assert json_log_records(log, "train_inner")


@pytest.mark.parametrize("flags, saved", [
    (("--ir-normalize", "standardize"), {"ir_normalize": "standardize"}),
    (("--ecp-target", "restored", "--dpp-grad", "none", "--ir-target-dropout"),  # the released objective
     {"ecp_target": "restored", "dpp_grad": "none", "ir_target_dropout": True}),
    (("--dpp-baseline", "argmax"), {"dpp_baseline": "argmax"}),
])
def test_penalty_options_train_through_fairseq_train(corpus, tmp_path, flags, saved):
    proc = fairseq_train(corpus["bin"], str(tmp_path / "ck"), "--max-update", "3", *flags)
    log = proc.stderr + proc.stdout
    for kind in ("train_inner", "valid"):
        record = json_log_records(log, kind)[-1]
        assert IR_KEYS <= set(record)
        assert all(math.isfinite(float(record[key])) for key in IR_KEYS), (kind, record)
    criterion = torch.load(tmp_path / "ck" / "checkpoint_last.pt", map_location="cpu")["cfg"]["criterion"]
    assert {name: criterion[name] for name in saved} == saved
