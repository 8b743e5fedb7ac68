"""Tokenise and binarise one GLUE task for fairseq's ``sentence_prediction`` (preprocess_glue.sh).

    ir-fairseq glue-prepare GLUE_DIR TASK MODEL_DIR TASK_BIN [--max-train-rows N] [--workers N]

MODEL_DIR holds the model's ``dict.txt`` and its tokenizer (``spm.model`` or a WordPiece
``vocab.txt``). Writes TASK_BIN/raw/{split}.input0[,.input1], .label (labelled splits) and
.index (the GLUE row index, for submission files), TASK_BIN/splits.tsv mapping fairseq split
names to GLUE files (the first dev file is fairseq's ``valid``, MNLI-mm ``valid1``; the test
files ``test``, MNLI-mm ``test1``, MNLI's diagnostic AX set ``test2``) and
TASK_BIN/prepare.json with the training-row cap; then fairseq-preprocess (in this process)
binarises TASK_BIN/input0[,input1] with MODEL_DIR/dict.txt and TASK_BIN/label. A bin counts as
made (``is_complete``) only once it is binarised and marked complete for that cap, so a bin
left half-done, or made for another cap, is never taken for the one wanted.
"""
import argparse
import json
import os
import random
import shutil
from typing import Optional

from ir_fairseq.common.binarize import fairseq_preprocess
from ir_fairseq.common.errors import IRUserError
from ir_fairseq.common.files import atomic_output
from ir_fairseq.common.model_folder import load_model_folder
from ir_fairseq.glue.files import read_split
from ir_fairseq.glue.tasks import get_task

SPLITS_FILE = "splits.tsv"
PREPARE_FILE = "prepare.json"  # what the bin is being made for
COMPLETE_FILE = "complete.json"  # the same, once preprocess_glue.sh has finished it
BINARISED_FOLDERS = ("input0", "input1", "label")  # fairseq-preprocess's outputs in the bin


def fairseq_split_names(task):
    names = {"train": "train"}
    for i, split in enumerate(task.dev_splits):
        names[split] = "valid" if i == 0 else f"valid{i}"
    tests = list(task.test_splits) + (["diagnostic"] if task.name == "MNLI" else [])
    for i, split in enumerate(tests):
        names[split] = "test" if i == 0 else f"test{i}"
    return names


def subsample(examples, max_rows, seed=0):
    """A seeded random subset in the original order (the same rows for every model)."""
    if not max_rows or len(examples) <= max_rows:
        return examples
    keep = sorted(random.Random(seed).sample(range(len(examples)), max_rows))
    return [examples[i] for i in keep]


def _cap(max_train_rows: Optional[int]) -> Optional[int]:
    return max_train_rows or None  # 0 and None both keep every row


def read_splits(task_bin):
    """(fairseq split, GLUE split, rows, labelled) of every split of a prepared bin."""
    path = os.path.join(task_bin, SPLITS_FILE)
    if not os.path.isfile(path):
        raise IRUserError(f"{task_bin} has no {SPLITS_FILE}: make it with scripts/preprocess_glue.sh")
    with open(path, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1:]
    return [(fairseq_split, glue_split, int(count), labels == "labelled")
            for fairseq_split, glue_split, count, labels in rows]


def prepare(glue_dir, task_name, model_dir, out_dir, max_train_rows=None):
    task = get_task(task_name)
    folder = load_model_folder(model_dir)
    # every file is read and checked before anything of a previous preparation is removed
    splits = {glue_split: read_split(glue_dir, task, glue_split) for glue_split in fairseq_split_names(task)}
    raw_dir = os.path.join(out_dir, "raw")
    os.makedirs(raw_dir, exist_ok=True)
    # from here on the bin is being remade: whatever it was finished for no longer holds, and
    # binarised files of the previous cap must not pass for this one's
    if os.path.exists(os.path.join(out_dir, COMPLETE_FILE)):
        os.remove(os.path.join(out_dir, COMPLETE_FILE))
    for name in BINARISED_FOLDERS:
        shutil.rmtree(os.path.join(out_dir, name), ignore_errors=True)
    with atomic_output(os.path.join(out_dir, PREPARE_FILE)) as f:
        json.dump({"task": task.name, "max_train_rows": _cap(max_train_rows)}, f)
    rows = []
    for glue_split, fairseq_split in fairseq_split_names(task).items():
        examples = splits[glue_split]
        if glue_split == "train":
            examples = subsample(examples, max_train_rows)
        outputs = {f"input{i}": [] for i in range(len(examples[0].texts) if examples else 0)}
        outputs["index"] = []
        labelled = bool(examples) and examples[0].label is not None
        if labelled:
            outputs["label"] = []
        for example in examples:
            for i, text in enumerate(example.texts):
                outputs[f"input{i}"].append(folder.encode(text))
            outputs["index"].append(example.index)
            if labelled:
                outputs["label"].append(example.label)
        for kind, lines in outputs.items():
            with open(os.path.join(raw_dir, f"{fairseq_split}.{kind}"), "w", encoding="utf-8") as f:
                f.writelines(line + "\n" for line in lines)
        rows.append((fairseq_split, glue_split, len(examples), "labelled" if labelled else "unlabelled"))
    with atomic_output(os.path.join(out_dir, SPLITS_FILE)) as f:
        f.write("fairseq_split\tglue_split\trows\tlabels\n")
        f.writelines("\t".join(map(str, row)) + "\n" for row in rows)
    return rows


def mark_complete(task_bin: str) -> None:
    """Record that the bin is binarised for the cap it was prepared with (after checking that
    fairseq-preprocess wrote every split)."""
    prepared = os.path.join(task_bin, PREPARE_FILE)
    if not os.path.isfile(prepared):
        raise IRUserError(f"{task_bin} has no {PREPARE_FILE}: make it with scripts/preprocess_glue.sh")
    for fairseq_split, _, _, labelled in read_splits(task_bin):
        needed = [os.path.join(task_bin, "input0", f"{fairseq_split}.idx")]
        if labelled:
            needed.append(os.path.join(task_bin, "label", f"{fairseq_split}.idx"))
        missing = [p for p in needed if not os.path.isfile(p)
                   and not os.path.isfile(p[: -len(".idx")] + ".label")]  # STS-B: scores as text
        if missing:
            raise IRUserError(f"{task_bin} is not binarised: {missing[0]} is missing")
    with open(prepared, encoding="utf-8") as f, atomic_output(os.path.join(task_bin, COMPLETE_FILE)) as out:
        out.write(f.read())


def is_complete(task_bin: str, max_train_rows: Optional[int]) -> bool:
    """True only when preprocess_glue.sh finished this bin for this training-row cap."""
    try:
        with open(os.path.join(task_bin, COMPLETE_FILE), encoding="utf-8") as f:
            made_for = json.load(f)
    except (OSError, ValueError):
        return False
    return (isinstance(made_for, dict) and "max_train_rows" in made_for
            and made_for["max_train_rows"] == _cap(max_train_rows))


def _split_files(task_bin, prefix, kind):
    """Comma-separated raw files of the fairseq splits named ``prefix``* (fairseq-preprocess's
    --validpref/--testpref take several)."""
    raw = os.path.join(task_bin, "raw")
    paths = [os.path.join(raw, f"{fairseq_split}.{kind}") for fairseq_split, _, _, _ in read_splits(task_bin)
             if fairseq_split.startswith(prefix)]
    return ",".join(p for p in paths if os.path.isfile(p))


def binarize(task_bin: str, dict_path: str, workers: int = 1) -> None:
    """fairseq-preprocess over a prepared bin: the inputs with the model's dictionary, the
    labels with a dictionary of their own (regression scores stay text, as fairseq reads them)."""
    with open(os.path.join(task_bin, PREPARE_FILE), encoding="utf-8") as f:
        task = get_task(json.load(f)["task"])
    raw = os.path.join(task_bin, "raw")
    kinds = [kind for kind in ("input0", "input1") if os.path.isfile(os.path.join(raw, f"train.{kind}"))]
    for kind in kinds + ([] if task.is_regression else ["label"]):
        argv = ["--only-source", "--trainpref", os.path.join(raw, f"train.{kind}"),
                "--destdir", os.path.join(task_bin, kind), "--workers", str(workers)]
        if kind != "label":
            argv += ["--srcdict", dict_path]
        for flag, prefix in (("--validpref", "valid"), ("--testpref", "test")):
            files = _split_files(task_bin, prefix, kind)
            if files:
                argv += [flag, files]
        fairseq_preprocess(argv, os.path.join(task_bin, f"preprocess_{kind}.log"))
    if task.is_regression:
        os.makedirs(os.path.join(task_bin, "label"), exist_ok=True)
        for name in os.listdir(raw):
            if name.endswith(".label"):
                shutil.copy(os.path.join(raw, name), os.path.join(task_bin, "label", name))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="ir-fairseq glue-prepare", description=__doc__.splitlines()[0])
    parser.add_argument("glue_dir")
    parser.add_argument("task")
    parser.add_argument("model_dir")
    parser.add_argument("task_bin")
    parser.add_argument("--max-train-rows", type=int, default=None,
                        help="keep a seeded random subset of the training rows (dev/test stay whole)")
    parser.add_argument("--workers", type=int, default=1, help="fairseq-preprocess worker processes")
    parser.add_argument("--tokenize-only", action="store_true",
                        help="stop after writing TASK_BIN/raw (the bin is then complete for no cap)")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error(f"--workers must be at least 1, got {args.workers}")
    for row in prepare(args.glue_dir, args.task, args.model_dir, args.task_bin, args.max_train_rows):
        print("\t".join(map(str, row)))
    if args.tokenize_only:
        return
    binarize(args.task_bin, os.path.join(args.model_dir, "dict.txt"), args.workers)
    mark_complete(args.task_bin)
