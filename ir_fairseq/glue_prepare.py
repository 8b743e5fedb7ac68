"""Tokenise one GLUE task for fairseq's ``sentence_prediction`` (step 1 of preprocess_glue.sh).

    python -m ir_fairseq.glue_prepare GLUE_DIR TASK MODEL_DIR OUT_DIR

MODEL_DIR holds the model's ``dict.txt`` and its tokenizer: ``spm.model`` (sentencepiece) or
``vocab.txt`` (WordPiece, a converted BERT/ELECTRA; see ir_fairseq.tokenization).
Writes OUT_DIR/raw/{split}.input0[,.input1], .label (labelled splits) and .index (the GLUE
row index, for submission files), and OUT_DIR/splits.tsv mapping fairseq split names to GLUE
files: the first dev file is fairseq's ``valid`` (MNLI-mm is ``valid1``), the test files are
``test`` (MNLI-mm ``test1``; MNLI's diagnostic AX set ``test2``).
"""
import argparse
import os
import random
import sys

from ir_fairseq.common.errors import IRUserError
from ir_fairseq.glue import get_task, read_split
from ir_fairseq.common.model_folder import encode_line, load_tokenizer


def fairseq_split_names(task):
    names = {"train": "train"}
    for i, split in enumerate(task.dev_splits):
        names[split] = "valid" if i == 0 else f"valid{i}"
    tests = list(task.test_splits) + (["diagnostic"] if task.name == "MNLI" else [])
    for i, split in enumerate(tests):
        names[split] = "test" if i == 0 else f"test{i}"
    return names


def load_tokenizer(model_dir):
    if not os.path.isfile(os.path.join(model_dir, "dict.txt")):
        raise IRUserError(f"model folder {model_dir} has no dict.txt")
    tokenizer = load_tokenizer(model_dir)
    return lambda text: encode_line(tokenizer, text)


def subsample(examples, max_rows, seed=0):
    """A seeded random subset in the original order (the same rows for every model)."""
    if not max_rows or len(examples) <= max_rows:
        return examples
    keep = sorted(random.Random(seed).sample(range(len(examples)), max_rows))
    return [examples[i] for i in keep]


def prepare(glue_dir, task_name, model_dir, out_dir, max_train_rows=None):
    task = get_task(task_name)
    tokenize = load_tokenizer(model_dir)
    raw_dir = os.path.join(out_dir, "raw")
    os.makedirs(raw_dir, exist_ok=True)
    names = fairseq_split_names(task)
    rows = []
    for glue_split, fairseq_split in names.items():
        examples = read_split(glue_dir, task, glue_split)
        if glue_split == "train":
            examples = subsample(examples, max_train_rows)
        outputs = {f"input{i}": [] for i in range(len(examples[0].texts) if examples else 0)}
        outputs["index"] = []
        labelled = examples and examples[0].label is not None
        if labelled:
            outputs["label"] = []
        for example in examples:
            for i, text in enumerate(example.texts):
                outputs[f"input{i}"].append(tokenize(text))
            outputs["index"].append(example.index)
            if labelled:
                outputs["label"].append(example.label)
        for kind, lines in outputs.items():
            with open(os.path.join(raw_dir, f"{fairseq_split}.{kind}"), "w", encoding="utf-8") as f:
                f.writelines(line + "\n" for line in lines)
        rows.append((fairseq_split, glue_split, len(examples), "labelled" if labelled else "unlabelled"))
    with open(os.path.join(out_dir, "splits.tsv"), "w", encoding="utf-8") as f:
        f.write("fairseq_split\tglue_split\trows\tlabels\n")
        f.writelines("\t".join(map(str, row)) + "\n" for row in rows)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m ir_fairseq.glue_prepare",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("glue_dir")
    parser.add_argument("task")
    parser.add_argument("model_dir")
    parser.add_argument("out_dir")
    parser.add_argument("--max-train-rows", type=int, default=None,
                        help="keep a seeded random subset of the training rows (dev/test stay whole)")
    args = parser.parse_args(argv)
    try:
        for row in prepare(args.glue_dir, args.task, args.model_dir, args.out_dir, args.max_train_rows):
            print("\t".join(map(str, row)))
    except IRUserError as e:
        sys.exit(f"ir_fairseq: error: {e}")


if __name__ == "__main__":
    main()
