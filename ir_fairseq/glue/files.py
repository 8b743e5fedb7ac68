"""The GLUE tasks' official TSV files, read as they are distributed.

CoLA's train/dev have no header (source, label, original label, sentence); MRPC's start with
a UTF-8 BOM; fields hold bare quote characters, so lines are split on tabs only (never CSV
quoting); test files have no labels; Windows line endings are read as the same rows. Every
row must have the header's number of fields and a known label, and a split at least one row,
else a one-line ``IRUserError`` naming the file and line.
"""
import os
from dataclasses import dataclass
from typing import List, Optional, Tuple

from ir_fairseq.common.errors import IRUserError
from ir_fairseq.glue.tasks import GlueTask

# CoLA's labelled files have no header: source, label, original label, sentence
COLA_HEADER = ["source", "label", "original_label", "sentence"]


@dataclass
class Example:
    index: str
    texts: Tuple[str, ...]
    label: Optional[str]


def split_path(glue_dir: str, task: GlueTask, split: str) -> str:
    if task.name == "MNLI" and split == "diagnostic":
        return os.path.join(glue_dir, "diagnostic", "diagnostic.tsv")
    return os.path.join(glue_dir, task.folder, f"{split}.tsv")


def read_split(glue_dir: str, task: GlueTask, split: str) -> List[Example]:
    path = split_path(glue_dir, task, split)
    if not os.path.isfile(path):
        raise IRUserError(f"GLUE file not found: {path}")
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            lines = f.read().split("\n")
    except UnicodeDecodeError as e:
        raise IRUserError(f"{path} is not UTF-8 text (byte {e.start}): is it a GLUE TSV file?") from None
    if lines and lines[-1] == "":
        lines.pop()
    # Windows line endings (a file saved by a spreadsheet or an editor): the same rows
    lines = [line[:-1] if line.endswith("\r") else line for line in lines]
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
    if not body:
        raise IRUserError(f"{path} has no rows" + ("" if header is COLA_HEADER else " after its header"))
    examples = []
    for number, line in enumerate(body, start=first_line):
        fields = line.split("\t")
        if len(fields) != len(header):
            raise IRUserError(
                f"{path}:{number}: expected {len(header)} tab-separated columns, found {len(fields)}"
            )
        label = fields[label_position].strip() if labelled else None
        if labelled:
            check_label(task, label, f"{path}:{number}")
        index = fields[index_position] if index_position is not None else str(len(examples))
        examples.append(Example(index, tuple(fields[p].strip() for p in positions), label))
    return examples


def check_label(task: GlueTask, label: str, where: str) -> None:
    if task.is_regression:
        try:
            float(label)
        except ValueError:
            raise IRUserError(f"{where}: score {label!r} is not a number") from None
    elif label not in task.labels:
        raise IRUserError(
            f"{where}: unknown label {label!r} for {task.name} "
            f"(expected one of {', '.join(task.labels)})"
        )
