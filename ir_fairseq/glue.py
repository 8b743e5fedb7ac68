"""The GLUE tasks as distributed (official TSV files), their labels and the paper's metrics.

Reads the files as they are: CoLA's train/dev have no header (source, label, original
label, sentence); MRPC's start with a UTF-8 BOM; fields hold bare quote characters, so
lines are split on tabs only (never CSV quoting); test files have no labels. Every row must
have the header's number of fields and a known label, else a one-line ``IRUserError``
naming the file and line.
"""
import os
from dataclasses import dataclass
from typing import List, Optional, Tuple

from ir_fairseq.common.errors import IRUserError


@dataclass(frozen=True)
class GlueTask:
    name: str
    folder: str
    text_columns: Tuple[str, ...]  # header names (CoLA train/dev: positions, see below)
    label_column: str
    labels: Optional[Tuple[str, ...]]  # None: regression (STS-B)
    metrics: Tuple[str, ...]
    dev_splits: Tuple[str, ...] = ("dev",)
    test_splits: Tuple[str, ...] = ("test",)
    index_column: str = "index"

    @property
    def is_regression(self) -> bool:
        return self.labels is None

    @property
    def is_pair(self) -> bool:
        return len(self.text_columns) == 2


TASKS = {
    t.name: t
    for t in [
        GlueTask("CoLA", "CoLA", ("sentence",), "label", ("0", "1"), ("mcc",)),
        GlueTask("SST-2", "SST-2", ("sentence",), "label", ("0", "1"), ("accuracy",)),
        GlueTask("MRPC", "MRPC", ("#1 String", "#2 String"), "Quality", ("0", "1"), ("accuracy", "f1")),
        GlueTask("STS-B", "STS-B", ("sentence1", "sentence2"), "score", None, ("spearman", "pearson")),
        GlueTask("QQP", "QQP", ("question1", "question2"), "is_duplicate", ("0", "1"),
                 ("accuracy", "f1"), index_column="id"),
        GlueTask("MNLI", "MNLI", ("sentence1", "sentence2"), "gold_label",
                 ("contradiction", "entailment", "neutral"), ("accuracy",),
                 dev_splits=("dev_matched", "dev_mismatched"),
                 test_splits=("test_matched", "test_mismatched")),
        GlueTask("QNLI", "QNLI", ("question", "sentence"), "label", ("entailment", "not_entailment"), ("accuracy",)),
        GlueTask("RTE", "RTE", ("sentence1", "sentence2"), "label", ("entailment", "not_entailment"), ("accuracy",)),
        GlueTask("WNLI", "WNLI", ("sentence1", "sentence2"), "label", ("0", "1"), ("accuracy",)),
    ]
}
# CoLA's labelled files have no header: source, label, original label, sentence
COLA_HEADER = ["source", "label", "original_label", "sentence"]


@dataclass
class Example:
    index: str
    texts: Tuple[str, ...]
    label: Optional[str]


def get_task(name: str) -> GlueTask:
    if name not in TASKS:
        raise IRUserError(f"unknown GLUE task {name!r}; expected one of {', '.join(TASKS)}")
    return TASKS[name]


def split_path(glue_dir: str, task: GlueTask, split: str) -> str:
    if task.name == "MNLI" and split == "diagnostic":
        return os.path.join(glue_dir, "diagnostic", "diagnostic.tsv")
    return os.path.join(glue_dir, task.folder, f"{split}.tsv")


def read_split(glue_dir: str, task: GlueTask, split: str) -> List[Example]:
    path = split_path(glue_dir, task, split)
    if not os.path.isfile(path):
        raise IRUserError(f"GLUE file not found: {path}")
    with open(path, encoding="utf-8-sig", newline="") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    labelled = not (split.startswith("test") or split == "diagnostic")
    if task.name == "CoLA" and labelled:
        header, body, first_line = COLA_HEADER, lines, 1
    else:
        if not lines:
            raise IRUserError(f"{path} is empty")
        header, body, first_line = lines[0].split("\t"), lines[1:], 2
    text_columns = task.text_columns
    index_column = "index" if split == "diagnostic" else task.index_column
    if split == "diagnostic":
        text_columns = ("sentence1", "sentence2")
    needed = list(text_columns) + ([task.label_column] if labelled else [])
    if not labelled and index_column not in header:
        needed.append(index_column)
    missing = [c for c in needed if c not in header]
    if missing:
        raise IRUserError(f"{path}: no column {missing[0]!r} in its header {header}")
    positions = [header.index(c) for c in text_columns]
    label_position = header.index(task.label_column) if labelled else None
    index_position = header.index(index_column) if index_column in header else None
    examples = []
    for number, line in enumerate(body, start=first_line):
        fields = line.split("\t")
        if len(fields) != len(header):
            raise IRUserError(
                f"{path}:{number}: expected {len(header)} tab-separated columns, found {len(fields)}"
            )
        label = None
        if labelled:
            label = fields[label_position].strip()
            if task.is_regression:
                try:
                    float(label)
                except ValueError:
                    raise IRUserError(f"{path}:{number}: score {label!r} is not a number") from None
            elif label not in task.labels:
                raise IRUserError(
                    f"{path}:{number}: unknown label {label!r} for {task.name} "
                    f"(expected one of {', '.join(task.labels)})"
                )
        index = fields[index_position] if index_position is not None else str(len(examples))
        examples.append(Example(index, tuple(fields[p].strip() for p in positions), label))
    return examples


def main_score(task: GlueTask, dev_metrics: dict) -> float:
    """The paper's Table 1 number for a task: CoLA MCC, STS-B Spearman, MNLI-m accuracy,
    accuracy otherwise."""
    metrics = dev_metrics.get(task.dev_splits[0], dev_metrics) if len(task.dev_splits) > 1 else dev_metrics
    return metrics[task.metrics[0]]


def compute_metrics(task: GlueTask, predictions, labels) -> dict:
    """The paper's metrics (Table 1), as percentages, from scikit-learn and scipy."""
    from scipy.stats import pearsonr, spearmanr
    from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

    if len(predictions) != len(labels) or not labels:
        raise ValueError(f"{len(predictions)} predictions for {len(labels)} labels")
    result = {}
    for metric in task.metrics:
        if metric == "accuracy":
            result[metric] = 100.0 * accuracy_score(labels, predictions)
        elif metric == "f1":
            result[metric] = 100.0 * f1_score(labels, predictions, pos_label="1")
        elif metric == "mcc":
            result[metric] = 100.0 * matthews_corrcoef(labels, predictions)
        elif metric == "pearson":
            result[metric] = 100.0 * pearsonr([float(p) for p in predictions], [float(x) for x in labels])[0]
        elif metric == "spearman":
            result[metric] = 100.0 * spearmanr([float(p) for p in predictions], [float(x) for x in labels])[0]
    return result
