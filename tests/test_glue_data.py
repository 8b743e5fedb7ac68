"""GLUE files as distributed: readers on the real files and on the project's own fixtures."""
import os

import pytest

from ir_fairseq import IRUserError
from ir_fairseq.glue import TASKS, compute_metrics, get_task, read_split

SHARED = os.environ.get("IR_FAIRSEQ_SHARED_DATA")
real_data = pytest.mark.skipif(not SHARED, reason="IR_FAIRSEQ_SHARED_DATA is not set (real GLUE files in ../shared/data)")

# Published GLUE sizes (and ../shared/data/MANIFEST.md): train, dev, test rows
SIZES = {
    "CoLA": (8551, 1043, 1063), "SST-2": (67349, 872, 1821), "MRPC": (3668, 408, 1725),
    "STS-B": (5749, 1500, 1379), "RTE": (2490, 277, 3000), "WNLI": (635, 71, 146),
}


@real_data
@pytest.mark.parametrize("name", sorted(SIZES))
def test_real_files_row_counts_and_labels(name):
    task = get_task(name)
    glue_dir = os.path.join(SHARED, "glue")
    train, dev, test = (read_split(glue_dir, task, s) for s in ("train", "dev", "test"))
    assert (len(train), len(dev), len(test)) == SIZES[name]
    for examples in (train, dev):
        if task.is_regression:
            scores = [float(e.label) for e in examples]
            assert 0.0 <= min(scores) and max(scores) <= 5.0
        else:
            assert {e.label for e in examples} == set(task.labels)
        assert all(len(e.texts) == len(task.text_columns) and all(e.texts) for e in examples)
    assert all(e.label is None for e in test)
    assert [e.index for e in test[:3]] == ["0", "1", "2"]


@real_data
def test_real_files_traps():
    glue_dir = os.path.join(SHARED, "glue")
    mrpc = read_split(glue_dir, get_task("MRPC"), "train")  # BOM before the header
    assert mrpc[0].label in ("0", "1")
    qnli_dev = read_split(glue_dir, get_task("QNLI"), "dev")
    assert len(qnli_dev) == 5463
    assert any(e.texts[1].startswith('"') for e in qnli_dev)  # bare quotes kept as text
    cola_dev = read_split(glue_dir, get_task("CoLA"), "dev")  # no header, no newline at EOF
    assert cola_dev[0].texts == ("The sailors rode the breeze clear of the rocks.",)
    diagnostic = read_split(glue_dir, get_task("MNLI"), "diagnostic")
    assert len(diagnostic) == 1104 and diagnostic[0].label is None


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))


def test_wrong_number_of_columns_names_file_and_line(tmp_path):
    write(tmp_path / "RTE" / "train.tsv", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\tonly one\n")
    with pytest.raises(IRUserError, match=r"train.tsv:3: expected 4 tab-separated columns, found 2"):
        read_split(str(tmp_path), get_task("RTE"), "train")


def test_unknown_label_names_file_line_and_choices(tmp_path):
    write(tmp_path / "RTE" / "dev.tsv", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tneutral\n")
    with pytest.raises(IRUserError, match=r"dev.tsv:2: unknown label 'neutral' for RTE \(expected one of entailment, not_entailment\)"):
        read_split(str(tmp_path), get_task("RTE"), "dev")


def test_bom_headerless_cola_quotes_and_missing_file(tmp_path):
    write(tmp_path / "MRPC" / "dev.tsv", "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\t\"He said\t' so '\n")
    assert read_split(str(tmp_path), get_task("MRPC"), "dev")[0].texts == ('"He said', "' so '")
    write(tmp_path / "CoLA" / "train.tsv", "gj04\t1\t\tA sentence .\ngj04\t0\t*\tSentence a .")
    examples = read_split(str(tmp_path), get_task("CoLA"), "train")
    assert [(e.texts[0], e.label) for e in examples] == [("A sentence .", "1"), ("Sentence a .", "0")]
    with pytest.raises(IRUserError, match="GLUE file not found"):
        read_split(str(tmp_path), get_task("SST-2"), "train")
    with pytest.raises(IRUserError, match="unknown GLUE task"):
        get_task("SQuAD")


def test_metrics_by_name_and_scale():
    assert compute_metrics(TASKS["CoLA"], ["1", "0", "1", "0"], ["1", "0", "1", "0"]) == {"mcc": 100.0}
    assert compute_metrics(TASKS["CoLA"], ["0", "1", "0", "1"], ["1", "0", "1", "0"])["mcc"] == pytest.approx(-100.0)
    mrpc = compute_metrics(TASKS["MRPC"], ["1", "1", "0", "0"], ["1", "0", "0", "0"])
    assert mrpc["accuracy"] == pytest.approx(75.0) and mrpc["f1"] == pytest.approx(200 / 3)
    sts = compute_metrics(TASKS["STS-B"], ["0.1", "0.2", "5.0"], ["1.0", "2.0", "3.0"])
    assert sts["spearman"] == pytest.approx(100.0) and sts["pearson"] < 100.0
