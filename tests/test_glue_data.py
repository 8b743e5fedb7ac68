"""GLUE files as distributed: readers on the real files and on the project's own fixtures;
the task facts the recipes read (``ir-fairseq glue-task``) against fairseq's own options."""
import json
import os
import re

import pytest

from conftest import ROOT, SHARED, real_data, run_tool
from ir_fairseq import IRUserError
from ir_fairseq.glue.files import read_split
from ir_fairseq.glue.metrics import above_majority_p, compute_metrics
from ir_fairseq.glue.predict import read_dev_predictions, write_tsv
from ir_fairseq.glue.tasks import TASKS, get_task

pytestmark = pytest.mark.quick  # bash scripts/test.sh --quick

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


def test_above_majority_p_is_small_only_for_predictions_that_beat_the_majority_class():
    # RTE-like: 60 rows of the majority label, 40 of the other
    labels = ["not_entailment"] * 60 + ["entailment"] * 40
    rte = TASKS["RTE"]
    assert above_majority_p(rte, labels, labels) < 1e-9
    assert above_majority_p(rte, ["not_entailment"] * 100, labels) == 1.0
    # two minority rows right, one majority row wrong: 61 % against the majority's 60 %, not evidence
    near = ["not_entailment"] * 100
    near[0] = near[60] = near[61] = "entailment"
    assert compute_metrics(rte, near, labels)["accuracy"] == pytest.approx(61.0)
    assert above_majority_p(rte, near, labels) > 0.2
    cola_labels = ["1"] * 70 + ["0"] * 30
    assert above_majority_p(TASKS["CoLA"], cola_labels, cola_labels) < 1e-9
    assert above_majority_p(TASKS["CoLA"], ["1"] * 100, cola_labels) == 1.0
    assert above_majority_p(TASKS["CoLA"], [{"1": "0", "0": "1"}[x] for x in cola_labels], cola_labels) > 0.99
    scores = [f"{i / 20:.3f}" for i in range(100)]
    assert above_majority_p(TASKS["STS-B"], scores, scores) < 1e-9
    assert above_majority_p(TASKS["STS-B"], scores[::-1], scores) > 0.99
    assert above_majority_p(TASKS["STS-B"], ["2.5"] * 100, scores) == 1.0
    with pytest.raises(ValueError, match="two classes"):
        above_majority_p(TASKS["CoLA"], ["0", "1", "2"], ["0", "1", "1"])


def test_dev_predictions_read_back_as_written_one_dev_set_at_a_time(tmp_path):
    write_tsv(str(tmp_path / "dev_predictions.tsv"), ("index", "prediction", "label", "split"),
              [("0", "entailment", "neutral", "dev_matched"), ("1", "neutral", "neutral", "dev_matched"),
               ("0", "contradiction", "contradiction", "dev_mismatched")])
    assert read_dev_predictions(str(tmp_path), "dev_mismatched") == (["contradiction"], ["contradiction"])
    assert read_dev_predictions(str(tmp_path)) == (["entailment", "neutral", "contradiction"],
                                                   ["neutral", "neutral", "contradiction"])
    with pytest.raises(IRUserError, match="dev_predictions.tsv not found"):
        read_dev_predictions(str(tmp_path / "missing"))
    with open(tmp_path / "dev_predictions.tsv", "a", encoding="utf-8") as f:
        f.write("1\tneutral\tdev_mismatched\n")
    with pytest.raises(IRUserError, match=r"dev_predictions.tsv, line 5: 3 fields, expected 4"):
        read_dev_predictions(str(tmp_path))


def glue_task(*args):
    return run_tool("glue-task", args).stdout.strip()


def fairseq_train_args(task_name, classes, flags):
    from fairseq import options

    parser = options.get_training_parser()
    return options.parse_args_and_arch(parser, input_args=[
        "data", "--task", "sentence_prediction", "--criterion", "sentence_prediction",
        "--arch", "roberta_base", "--num-classes", classes, *flags])


@pytest.mark.parametrize("name", ["CoLA", "STS-B", "MNLI", "RTE"])
def test_glue_task_facts_are_what_fairseq_train_reads(name):
    lr, batch, epochs, classes = glue_task(name, "defaults").split()
    flags = glue_task(name, "metric-flags").split()
    args = fairseq_train_args(name, classes, flags)
    task = get_task(name)
    assert args.num_classes == (1 if task.is_regression else len(task.labels))
    assert args.regression_target == (name == "STS-B")
    assert args.report_mcc == (name == "CoLA")
    assert args.report_pearson_and_spearman == (name == "STS-B")
    assert args.best_checkpoint_metric == {"CoLA": "mcc", "STS-B": "spearman"}.get(name, "accuracy")
    assert args.maximize_best_checkpoint_metric
    assert float(lr) > 0 and int(batch) in (16, 24, 32) and 2 <= int(epochs) <= 5
    if name == "STS-B":
        assert classes == "1" and "--regression-target" in flags
    if name == "MNLI":
        assert classes == "3"


def test_readme_table_shows_the_recipe_defaults():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        rows = re.findall(r"^\| (\S+) \| (\w+) \| ([\d.e-]+) \| (\d+) \| (\d+) \|", f.read(), re.M)
    documented = {name: (lr, batch, epochs, "1" if classes == "regression" else classes)
                  for name, classes, lr, batch, epochs in rows if name in TASKS}
    assert set(documented) == set(TASKS)
    for name, task in TASKS.items():
        assert documented[name] == (task.lr, str(task.batch), str(task.epochs), str(task.num_classes)), name


def test_glue_task_score_is_the_main_metric(tmp_path):
    path = tmp_path / "dev_metrics.json"
    path.write_text(json.dumps({"dev_matched": {"accuracy": 71.5}, "dev_mismatched": {"accuracy": 70.0}}))
    assert float(glue_task("MNLI", "score", path)) == 71.5
    path.write_text(json.dumps({"spearman": 88.25, "pearson": 87.0}))
    assert float(glue_task("STS-B", "score", path)) == 88.25


@pytest.mark.parametrize("args, message", [
    (["SQuAD", "defaults"], "unknown GLUE task 'SQuAD'; expected one of CoLA, SST-2,"),
    (["RTE", "score", "MISSING"], "dev metrics not found: MISSING"),
    (["RTE", "score", "WRONG"], "has no accuracy score for RTE"),
])
def test_glue_task_errors_are_one_line(tmp_path, args, message):
    (tmp_path / "WRONG").write_text(json.dumps({"mcc": 1.0}))
    args = [str(tmp_path / a) if a in ("MISSING", "WRONG") else a for a in args]
    proc = run_tool("glue-task", args, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr.replace(str(tmp_path) + "/", "")
