"""The reporting services every experiment uses: result tables (markdown + CSV, mean ± std over
seeds), the verdict on a difference against the spread over seeds, and the plots."""
import csv
import math

import pytest

from ir_fairseq.common.comparison import seed_spread_verdict
from ir_fairseq.common.experiments import plot_target_entropy
from ir_fairseq.common.tables import format_mean_std, markdown_table, mean_std, write_table

pytestmark = pytest.mark.quick  # bash scripts/test.sh --quick


def test_verdict_compares_the_difference_with_the_seed_spread():
    assert seed_spread_verdict("RTE", [60.0, 61.0, 62.0], [50.0, 51.0, 52.0]).startswith(
        "RTE: +10.00, exceeds the larger seed std 1.00 (Welch p=")
    assert seed_spread_verdict("CoLA", [10.0, 14.0, 18.0], [11.0, 13.0, 15.0]).startswith(
        "CoLA: +1.00, does not exceed the larger seed std 4.00")
    assert seed_spread_verdict("Avg", [35.0, 37.5, 40.0], [30.5, 32.0, 33.5]).startswith(
        "Avg: +5.50, exceeds the larger seed std 2.50")
    assert (seed_spread_verdict("CoLA", [0.0, 0.0, 0.0], [0.0, 0.0, 0.0])
            == "CoLA: +0.00, every seed of both models scored the same")
    assert seed_spread_verdict("RTE", [60.0], [50.0]) == "RTE: +10.00 (one seed: no spread to compare with)"


def test_p_value_is_welchs_not_students():
    # variances 1 and 3: t = 1 / sqrt(1/3 + 3/3) = 0.866 with Welch's 3.2 degrees of freedom
    # gives p = 0.447; Student's pooled test (4 degrees of freedom) would give 0.435
    verdict = seed_spread_verdict("STS-B", [1.0, 2.0, 3.0], [0.0, 0.0, 3.0])
    assert verdict == "STS-B: +1.00, does not exceed the larger seed std 1.73 (Welch p=0.45)"


def test_tables_are_written_as_csv_and_markdown(tmp_path):
    markdown = write_table(str(tmp_path / "t"), ["Model", "RTE (Acc)"], [["MLM", "50.00 ± 1.00"]])
    assert markdown.splitlines() == ["| Model | RTE (Acc) |", "|---|---:|", "| MLM | 50.00 ± 1.00 |"]
    with open(tmp_path / "t.csv", newline="", encoding="utf-8") as f:
        assert list(csv.reader(f)) == [["Model", "RTE (Acc)"], ["MLM", "50.00 ± 1.00"]]
    assert markdown_table(["a", "b"], [[1, 2]], align="rl").splitlines()[1] == "|---:|---|"


def test_mean_and_std_over_seeds():
    assert format_mean_std([1.0, 2.0, 3.0]) == "2.00 ± 1.00" and format_mean_std([1.5]) == "1.50"
    assert format_mean_std([1.0, 2.0], digits=1) == "1.5 ± 0.7"
    mean, std = mean_std([4.0])
    assert mean == 4.0 and math.isnan(std)


def test_target_entropy_plot_is_a_png_with_every_seed(tmp_path):
    live = {("ir", 1): [(5, 4.0), (10, 2.0)], ("ir", 2): [(5, 4.1), (10, 3.0)], ("ir_standardize", 1): [(5, 4.5)]}
    path = plot_target_entropy(str(tmp_path / "entropy.png"), live, {"ir": "IR", "ir_standardize": "IR + std"},
                               {"ir": "tab:red", "ir_standardize": "tab:green"}, [(0, 4.4), (10, 4.3)],
                               "MLM (held-out)", 4.85, "updates")
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
