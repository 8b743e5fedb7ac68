"""The nine GLUE tasks and every fact the recipes need about them, in one place.

    ir-fairseq glue-task TASK defaults              # LR BATCH EPOCHS CLASSES (one line)
    ir-fairseq glue-task TASK metric-flags          # fairseq-train flags selecting the checkpoint
    ir-fairseq glue-task TASK score DEV_METRICS_JSON  # the task's main dev score
    ir-fairseq glue-task TASK recipe                # defaults, metric flags, cuda|cpu: three lines

Per task: its folder and columns in the official files, its labels (none: regression), the
paper's metrics (the first is the main score, Table 1: CoLA MCC, STS-B Spearman, MNLI
matched accuracy, accuracy otherwise) and the recipe's default learning rate, batch size and
epochs, chosen within the paper's search space (see README).
"""
import argparse
import json
import os
from dataclasses import dataclass
from typing import Optional, Tuple

from ir_fairseq.common.errors import IRUserError

# fairseq-train flags that make sentence_prediction log a metric and keep the best checkpoint by it
_REPORT_FLAGS = {
    "mcc": ["--report-mcc"],
    "spearman": ["--regression-target", "--report-pearson-and-spearman"],
    "accuracy": [],
}
# the report's column heading per main metric, as in the paper's Table 1
COLUMN_METRIC = {"mcc": "Mcc", "spearman": "Spear", "accuracy": "Acc"}


@dataclass(frozen=True)
class GlueTask:
    name: str
    folder: str
    text_columns: Tuple[str, ...]  # header names (CoLA train/dev: positions, see files.py)
    label_column: str
    labels: Optional[Tuple[str, ...]]  # None: regression (STS-B)
    metrics: Tuple[str, ...]
    lr: str  # as fairseq-train reads it
    batch: int
    epochs: int
    dev_splits: Tuple[str, ...] = ("dev",)
    test_splits: Tuple[str, ...] = ("test",)
    index_column: str = "index"

    @property
    def is_regression(self) -> bool:
        return self.labels is None

    @property
    def is_pair(self) -> bool:
        return len(self.text_columns) == 2

    @property
    def num_classes(self) -> int:
        """fairseq's ``--num-classes``: one output for a regression target."""
        return 1 if self.labels is None else len(self.labels)

    @property
    def main_metric(self) -> str:
        return self.metrics[0]

    def metric_flags(self):
        return _REPORT_FLAGS[self.main_metric] + [
            "--best-checkpoint-metric", self.main_metric, "--maximize-best-checkpoint-metric"]

    @property
    def column(self) -> str:
        return f"{self.name} ({COLUMN_METRIC[self.main_metric]})"


TASKS = {
    t.name: t
    for t in [
        GlueTask("CoLA", "CoLA", ("sentence",), "label", ("0", "1"), ("mcc",), "1e-5", 16, 5),
        GlueTask("SST-2", "SST-2", ("sentence",), "label", ("0", "1"), ("accuracy",), "1e-5", 32, 3),
        GlueTask("MRPC", "MRPC", ("#1 String", "#2 String"), "Quality", ("0", "1"), ("accuracy", "f1"),
                 "2e-5", 16, 5),
        GlueTask("STS-B", "STS-B", ("sentence1", "sentence2"), "score", None, ("spearman", "pearson"),
                 "2e-5", 16, 5),
        GlueTask("QQP", "QQP", ("question1", "question2"), "is_duplicate", ("0", "1"),
                 ("accuracy", "f1"), "2e-5", 32, 3, index_column="id"),
        GlueTask("MNLI", "MNLI", ("sentence1", "sentence2"), "gold_label",
                 ("contradiction", "entailment", "neutral"), ("accuracy",), "1e-5", 32, 3,
                 dev_splits=("dev_matched", "dev_mismatched"),
                 test_splits=("test_matched", "test_mismatched")),
        GlueTask("QNLI", "QNLI", ("question", "sentence"), "label", ("entailment", "not_entailment"),
                 ("accuracy",), "1e-5", 32, 3),
        GlueTask("RTE", "RTE", ("sentence1", "sentence2"), "label", ("entailment", "not_entailment"),
                 ("accuracy",), "2e-5", 16, 5),
        GlueTask("WNLI", "WNLI", ("sentence1", "sentence2"), "label", ("0", "1"), ("accuracy",),
                 "1e-5", 16, 3),
    ]
}


def get_task(name: str) -> GlueTask:
    if name not in TASKS:
        raise IRUserError(f"unknown GLUE task {name!r}; expected one of {', '.join(TASKS)}")
    return TASKS[name]


def main_score(task: GlueTask, dev_metrics: dict) -> float:
    """The paper's Table 1 number of a task from its dev_metrics.json (MNLI: the matched set)."""
    metrics = dev_metrics.get(task.dev_splits[0], dev_metrics) if len(task.dev_splits) > 1 else dev_metrics
    return metrics[task.main_metric]


def read_score(task: GlueTask, path: str) -> float:
    """``main_score`` of a dev_metrics.json file, with one-line errors for a bad file."""
    if not os.path.isfile(path):
        raise IRUserError(f"dev metrics not found: {path}")
    try:
        with open(path, encoding="utf-8") as f:
            return float(main_score(task, json.load(f)))
    except json.JSONDecodeError as e:
        raise IRUserError(f"{path} is not JSON: {e}") from None
    except (KeyError, TypeError, AttributeError, ValueError):
        raise IRUserError(f"{path} has no {task.main_metric} score for {task.name}") from None


def main(argv=None):
    parser = argparse.ArgumentParser(prog="ir-fairseq glue-task", description=__doc__.splitlines()[0])
    parser.add_argument("task", help=", ".join(TASKS))
    facts = parser.add_subparsers(dest="fact", required=True)
    facts.add_parser("defaults", help="LR BATCH EPOCHS CLASSES: the recipe's defaults and --num-classes")
    facts.add_parser("metric-flags", help="fairseq-train flags: the metric to log and select the best checkpoint on")
    facts.add_parser("recipe", help="what finetune_glue.sh needs in one process (each Python start "
                     "costs seconds): the defaults line, the metric-flags line, then cuda or cpu")
    score = facts.add_parser("score", help="the main score (Table 1) of a dev_metrics.json")
    score.add_argument("dev_metrics")
    args = parser.parse_args(argv)
    task = get_task(args.task)
    if args.fact == "defaults":
        print(task.lr, task.batch, task.epochs, task.num_classes)
    elif args.fact == "metric-flags":
        print(" ".join(task.metric_flags()))
    elif args.fact == "recipe":
        import torch

        print(task.lr, task.batch, task.epochs, task.num_classes)
        print(" ".join(task.metric_flags()))
        print("cuda" if torch.cuda.is_available() else "cpu")
    else:
        print(read_score(task, args.dev_metrics))
