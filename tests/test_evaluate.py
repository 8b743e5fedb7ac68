"""``ir-fairseq evaluate``: held-out MLM loss, ECP, DPP and the hidden-softmax entropy
of a real checkpoint, and its one-line errors."""
import json
import math
import shutil

from conftest import fairseq_train, run_tool


def test_evaluate_reports_loss_penalties_and_target_entropy(corpus, model_dir):
    checkpoint = str(model_dir / "ck" / "checkpoint_last.pt")
    out = run_tool("evaluate", [checkpoint, corpus["bin"]])
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["sentences"] > 0
    assert 0 < result["mlm_acc"] < 100 and result["mlm_loss"] > 0
    assert result["ecp"] > 0 and result["dpp"] > 0
    assert result["log_hidden_dim"] == round(math.log(32), 4)  # TINY_MODEL's encoder dim
    assert 0 < result["target_entropy"] < result["log_hidden_dim"]
    assert 1 / 32 < result["target_top_mass"] < 1
    # the same seed gives the same masking and fill: a second run agrees exactly
    again = run_tool("evaluate", [checkpoint, corpus["bin"]])
    assert json.loads(again.stdout.strip().splitlines()[-1]) == result


def test_evaluate_takes_the_masking_rate_and_the_normalisation(corpus, model_dir):
    checkpoint = str(model_dir / "ck" / "checkpoint_last.pt")

    def measured(*options):
        out = run_tool("evaluate", [checkpoint, corpus["bin"], *options])
        return json.loads(out.stdout.strip().splitlines()[-1])

    paper, heavier, standardized = measured(), measured("--mask-prob", "0.3"), measured("--ir-normalize", "standardize")
    assert heavier["mlm_loss"] != paper["mlm_loss"]  # other positions were masked
    assert standardized["mlm_loss"] == paper["mlm_loss"]  # same masks: only the penalties change
    assert standardized["ecp"] != paper["ecp"] and standardized["target_entropy"] != paper["target_entropy"]
    bad = run_tool("evaluate", [checkpoint, corpus["bin"], "--mask-prob", "1.5"], check=False)
    assert bad.returncode == 1 and "--mask-prob must be between 0 and 1" in bad.stderr
    bad = run_tool("evaluate", [checkpoint, corpus["bin"], "--ir-normalize", "cosine"], check=False)
    assert bad.returncode == 1 and bad.stderr.strip() == (
        "ir_fairseq: error: --ir-normalize must be one of none, standardize, got 'cosine'")


def test_evaluate_errors_name_the_problem(corpus, model_dir, tmp_path):
    missing = run_tool("evaluate", [str(tmp_path / "nope.pt"), corpus["bin"]], check=False)
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert "checkpoint not found" in missing.stderr.strip().splitlines()[-1]

    other = tmp_path / "other"
    shutil.copytree(corpus["bin"], other)
    with open(other / "dict.txt", "a") as f:
        f.write("extrasymbol 1\nanothersymbol 1\n")  # one more would read as a missing <mask>
    mismatch = run_tool("evaluate", [str(model_dir / "ck" / "checkpoint_last.pt"), str(other)], check=False)
    assert mismatch.returncode == 1 and "Traceback" not in mismatch.stderr
    assert "does not match the embeddings of" in mismatch.stderr.strip().splitlines()[-1]


def test_evaluate_measures_a_fairseq_masked_lm_checkpoint(corpus, tmp_path):
    """The baseline of every comparison: trained with fairseq's own task and criterion, measured
    with the same masking, ECP and DPP as an IR model."""
    fairseq_train(corpus["bin"], str(tmp_path / "mlm"), "--task", "masked_lm", "--criterion", "masked_lm",
                  "--max-update", "1", "--disable-validation")
    out = run_tool("evaluate", [str(tmp_path / "mlm" / "checkpoint_last.pt"), corpus["bin"]])
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["sentences"] > 0 and result["ecp"] > 0 and result["dpp"] > 0
