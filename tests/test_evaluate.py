"""``python -m ir_fairseq.evaluate``: held-out MLM loss, ECP, DPP and the hidden-softmax entropy
of a real checkpoint, and its one-line errors."""
import json
import math
import shutil

from conftest import fairseq_train, run_cli


def test_evaluate_reports_loss_penalties_and_target_entropy(corpus, tmp_path):
    fairseq_train(corpus["bin"], str(tmp_path / "ck"), "--max-update", "2", "--disable-validation")
    out = run_cli("ir_fairseq.evaluate", [str(tmp_path / "ck" / "checkpoint_last.pt"), corpus["bin"]])
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["sentences"] > 0
    assert 0 < result["mlm_acc"] < 100 and result["mlm_loss"] > 0
    assert result["ecp"] > 0 and result["dpp"] > 0
    assert result["log_hidden_dim"] == round(math.log(32), 4)  # TINY_MODEL's encoder dim
    assert 0 < result["target_entropy"] < result["log_hidden_dim"]
    # the same seed gives the same masking and fill: a second run agrees exactly
    again = run_cli("ir_fairseq.evaluate", [str(tmp_path / "ck" / "checkpoint_last.pt"), corpus["bin"]])
    assert json.loads(again.stdout.strip().splitlines()[-1]) == result


def test_evaluate_errors_name_the_problem(corpus, tmp_path):
    missing = run_cli("ir_fairseq.evaluate", [str(tmp_path / "nope.pt"), corpus["bin"]], check=False)
    assert missing.returncode != 0 and "checkpoint not found" in missing.stderr.strip().splitlines()[-1]

    fairseq_train(corpus["bin"], str(tmp_path / "ck"), "--max-update", "1", "--disable-validation")
    other = tmp_path / "other"
    shutil.copytree(corpus["bin"], other)
    with open(other / "dict.txt", "a") as f:
        f.write("extrasymbol 1\n")
    mismatch = run_cli("ir_fairseq.evaluate", [str(tmp_path / "ck" / "checkpoint_last.pt"), str(other)], check=False)
    assert mismatch.returncode != 0
    assert "does not match the checkpoint's embeddings" in mismatch.stderr.strip().splitlines()[-1]
