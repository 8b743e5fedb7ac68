"""Bad input on the command line: one clear line naming the problem, no traceback."""
import os

import pytest

from conftest import fairseq_train


def assert_one_line_error(proc, fragment):
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.strip().splitlines() if "error" in line]
    assert lines and fragment in lines[-1], proc.stderr[-2000:]


@pytest.mark.parametrize("flags,fragment", [
    (("--ecp-weight", "-1"), "--ecp-weight must be a finite number >= 0"),
    (("--dpp-weight", "nan"), "--dpp-weight must be a finite number >= 0"),
    (("--ir-distance", "cosine"), "invalid choice: 'cosine'"),
    (("--ir-instance-fraction", "0"), "--ir-instance-fraction must be in (0, 1]"),
    (("--ir-fill", "argmax"), "--dpp-grad score_function needs --ir-fill sample"),
    (("--tokens-per-sample", "128"), "--tokens-per-sample 128 exceeds the model's --max-positions 64"),
])
def test_bad_options(corpus, tmp_path, flags, fragment):
    proc = fairseq_train(corpus["bin"], str(tmp_path / "ck"), "--max-update", "1", *flags, check=False)
    assert_one_line_error(proc, fragment)
    assert not os.path.exists(tmp_path / "ck" / "checkpoint_last.pt")


def test_missing_data_dir(tmp_path):
    missing = str(tmp_path / "no-such-dir")
    proc = fairseq_train(missing, str(tmp_path / "ck"), "--max-update", "1", check=False)
    assert_one_line_error(proc, f"data directory not found: {missing}")


def test_data_dir_without_dictionary(tmp_path):
    (tmp_path / "empty").mkdir()
    proc = fairseq_train(str(tmp_path / "empty"), str(tmp_path / "ck"), "--max-update", "1", check=False)
    assert_one_line_error(proc, "has no dict.txt")
