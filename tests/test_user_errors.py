"""Bad input on the command line: one clear line naming the problem, no traceback, and
nothing already written changed."""
import hashlib
import os
import shutil

import pytest

from conftest import fairseq_train


def assert_one_line_error(proc, fragment):
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.strip().splitlines() if "error" in line]
    assert lines and fragment in lines[-1], proc.stderr[-2000:]


@pytest.mark.quick
@pytest.mark.parametrize("flags,fragment", [
    (("--ecp-weight", "-1"), "--ecp-weight must be a finite number >= 0"),
    (("--dpp-weight", "nan"), "--dpp-weight must be a finite number >= 0"),
    (("--ir-distance", "cosine"), "invalid choice: 'cosine'"),
    (("--ir-instance-fraction", "0"), "--ir-instance-fraction must be in (0, 1]"),
    (("--ir-fill", "argmax"), "--dpp-grad score_function needs --ir-fill sample"),
    (("--dpp-grad", "none", "--dpp-baseline", "argmax"), "--dpp-baseline argmax only applies to --dpp-grad score_function"),
    (("--tokens-per-sample", "128"), "--tokens-per-sample 128 exceeds the model's --max-positions 64"),
])
def test_bad_options(corpus, tmp_path, flags, fragment):
    proc = fairseq_train(corpus["bin"], str(tmp_path / "ck"), "--max-update", "1", *flags, check=False)
    assert_one_line_error(proc, fragment)
    assert not os.path.exists(tmp_path / "ck" / "checkpoint_last.pt")


@pytest.mark.quick
def test_missing_data_dir(tmp_path):
    missing = str(tmp_path / "no-such-dir")
    proc = fairseq_train(missing, str(tmp_path / "ck"), "--max-update", "1", check=False)
    assert_one_line_error(proc, f"data directory not found: {missing}")


def test_data_dir_without_dictionary(tmp_path):
    (tmp_path / "empty").mkdir()
    proc = fairseq_train(str(tmp_path / "empty"), str(tmp_path / "ck"), "--max-update", "1", check=False)
    assert_one_line_error(proc, "has no dict.txt")


def test_unknown_fill_mode(corpus, tmp_path):
    proc = fairseq_train(corpus["bin"], str(tmp_path / "ck"), "--ir-fill", "beam", check=False)
    assert proc.returncode != 0 and "invalid choice: 'beam'" in proc.stderr


def test_missing_valid_split(corpus, tmp_path):
    data = tmp_path / "no-valid"
    shutil.copytree(corpus["bin"], data)
    for name in os.listdir(data):
        if name.startswith("valid."):
            os.remove(data / name)
    proc = fairseq_train(str(data), str(tmp_path / "ck"), "--max-update", "1", check=False)
    assert_one_line_error(proc, "split 'valid' not found")


@pytest.fixture(scope="module")
def trained_checkpoint(model_dir):
    return model_dir / "ck" / "checkpoint_last.pt"  # read only: tests copy what they damage


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_explicit_restore_file_that_does_not_exist(corpus, tmp_path):
    missing = str(tmp_path / "converted" / "model.pt")
    proc = fairseq_train(corpus["bin"], str(tmp_path / "ck"), "--restore-file", missing, check=False)
    assert_one_line_error(proc, f"--restore-file not found: {missing}")


@pytest.mark.quick
@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_checkpoint_is_refused_and_left_as_is(corpus, tmp_path, trained_checkpoint, damage):
    save_dir = tmp_path / "ck"
    save_dir.mkdir()
    last = save_dir / "checkpoint_last.pt"
    data = trained_checkpoint.read_bytes()
    last.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"not a checkpoint" * 10,
                      "empty": b""}[damage])
    before = digest(last)
    proc = fairseq_train(corpus["bin"], str(save_dir), "--max-update", "2", check=False)
    assert_one_line_error(proc, "checkpoint_last.pt")
    assert "cannot be read" in proc.stderr or "is empty" in proc.stderr
    assert digest(last) == before


@pytest.mark.parametrize("extra_symbols,fragment", [
    (2, "does not match the embeddings"),
    # one row fewer in the checkpoint than this dictionary + <mask>: a vocabulary without <mask>
    (1, "has no <mask> symbol"),
])
def test_dictionary_that_does_not_match_the_checkpoint(corpus, tmp_path, trained_checkpoint,
                                                       extra_symbols, fragment):
    data = tmp_path / "other-dict"
    shutil.copytree(corpus["bin"], data)
    with open(data / "dict.txt", "a") as f:
        f.writelines(f"extra_symbol_{i} 1\n" for i in range(extra_symbols))
    proc = fairseq_train(str(data), str(tmp_path / "ck"), "--restore-file", str(trained_checkpoint),
                         "--reset-optimizer", "--max-update", "2", check=False)
    assert_one_line_error(proc, fragment)


def test_save_dir_of_a_different_run_is_refused_unless_overwrite(corpus, tmp_path, trained_checkpoint):
    save_dir = tmp_path / "ck"
    save_dir.mkdir()
    shutil.copy(trained_checkpoint, save_dir / "checkpoint_last.pt")
    before = digest(save_dir / "checkpoint_last.pt")
    bigger = ("--encoder-layers", "3", "--max-update", "2", "--disable-validation")
    proc = fairseq_train(corpus["bin"], str(save_dir), *bigger, check=False)
    assert_one_line_error(proc, "holds a different run")
    assert digest(save_dir / "checkpoint_last.pt") == before

    fairseq_train(corpus["bin"], str(save_dir), *bigger, "--overwrite-save-dir")
    moved = [p for p in save_dir.glob("replaced-*/checkpoint_last.pt")]
    assert len(moved) == 1 and digest(moved[0]) == before
    assert (save_dir / "checkpoint_last.pt").exists()

