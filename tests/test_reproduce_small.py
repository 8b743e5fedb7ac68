"""The reproduction script's bookkeeping (its full run is hours, not a test): the verdict on
IR vs MLM against the seed spread, the tables it writes, GLUE subsampling, and its errors."""
import argparse
import csv
import os

import pytest

import reproduce_small
from ir_fairseq.glue_prepare import prepare


def test_verdict_compares_the_difference_with_the_seed_spread():
    scores = {"ir": {"RTE": [60.0, 61.0, 62.0], "CoLA": [10.0, 14.0, 18.0], "Avg": [35.0, 37.5, 40.0]},
              "mlm": {"RTE": [50.0, 51.0, 52.0], "CoLA": [11.0, 13.0, 15.0], "Avg": [30.5, 32.0, 33.5]}}
    notes = dict(note.split(": ", 1) for note in reproduce_small.significance_note(scores, ["RTE", "CoLA", "Avg"]))
    assert notes["RTE"].startswith("+10.00, exceeds the larger seed std 1.00")
    assert notes["CoLA"].startswith("+1.00, does not exceed the larger seed std 4.00")
    assert notes["Avg"].startswith("+5.50, exceeds the larger seed std 2.50")
    constant = {"ir": {"CoLA": [0.0, 0.0, 0.0]}, "mlm": {"CoLA": [0.0, 0.0, 0.0]}}
    assert reproduce_small.significance_note(constant, ["CoLA"]) == ["CoLA: +0.00, every seed of both models scored the same"]
    one_seed = {"ir": {"RTE": [60.0], "Avg": [60.0]}, "mlm": {"RTE": [50.0], "Avg": [50.0]}}
    assert "one seed" in reproduce_small.significance_note(one_seed, ["RTE"])[0]


def test_tables_are_written_as_csv_and_markdown(tmp_path):
    markdown = reproduce_small.write_table(str(tmp_path / "t"), ["Model", "RTE (Acc)"], [["MLM", "50.00 ± 1.00"]])
    assert markdown.splitlines()[0] == "| Model | RTE (Acc) |"
    assert markdown.splitlines()[2] == "| MLM | 50.00 ± 1.00 |"
    with open(tmp_path / "t.csv", newline="", encoding="utf-8") as f:
        assert list(csv.reader(f)) == [["Model", "RTE (Acc)"], ["MLM", "50.00 ± 1.00"]]
    assert reproduce_small.fmt([1.0, 2.0, 3.0]) == "2.00 ± 1.00" and reproduce_small.fmt([1.5]) == "1.50"


def test_glue_training_rows_are_subsampled_reproducibly(corpus, tmp_path):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "dict.txt").write_text(open(os.path.join(corpus["bin"], "dict.txt")).read())
    os.symlink(corpus["spm_model"], model_dir / "spm.model")
    glue = str(corpus["raw"] / "glue")
    full = dict((r[0], r[2]) for r in prepare(glue, "SST-2", str(model_dir), str(tmp_path / "full")))
    first = dict((r[0], r[2]) for r in prepare(glue, "SST-2", str(model_dir), str(tmp_path / "a"), 10))
    prepare(glue, "SST-2", str(model_dir), str(tmp_path / "b"), 10)
    assert first["train"] == 10 and first["valid"] == full["valid"] and full["train"] > 10
    read = lambda d: (tmp_path / d / "raw" / "train.input0").read_text()  # noqa: E731
    assert read("a") == read("b")
    assert set(read("a").splitlines()) <= set(read("full").splitlines())


def test_glue_bins_are_redone_when_the_row_cap_changes(corpus, tmp_path):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "dict.txt").write_text(open(os.path.join(corpus["bin"], "dict.txt")).read())
    os.symlink(corpus["spm_model"], model_dir / "spm.model")
    args = argparse.Namespace(glue=str(corpus["raw"] / "glue"))
    work = str(tmp_path / "work")
    os.makedirs(work)  # main() makes it before any stage

    def train_rows(cap):
        scale = {"tasks": ["SST-2"], "curve_tasks": [], "max_train_rows": {"SST-2": cap}}
        bins = reproduce_small.glue_bins(scale, args, str(model_dir), work)
        with open(os.path.join(bins["SST-2"], "raw", "train.input0")) as f:
            return sum(1 for _ in f)

    assert train_rows(10) == 10
    assert train_rows(20) == 20  # a bin made for another cap is not reused
    assert train_rows(20) == 20


def test_missing_glue_folder_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        reproduce_small.main(["--quick", "--glue", str(tmp_path / "nowhere"), "--results-dir", str(tmp_path)])
    assert "GLUE folder not found" in str(exit_info.value)
