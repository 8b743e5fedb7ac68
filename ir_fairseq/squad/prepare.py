"""SQuAD v1.1 JSON -> binarised training data for the ``squad_span`` task (preprocess_squad.sh).

    python -m ir_fairseq.squad.prepare SQUAD_DIR MODEL_DIR OUT_DIR [--limit N] [--max-length 384]
        [--doc-stride 128] [--max-query-length 64] [--train-file NAME] [--dev-file NAME]

SQUAD_DIR holds the official ``train-v1.1.json`` and ``dev-v1.1.json`` (another train or dev
file: ``--train-file``/``--dev-file``, a name in SQUAD_DIR or a path). MODEL_DIR is the
pre-trained model's folder: ``dict.txt`` and its tokenizer (``spm.model`` or WordPiece
``vocab.txt``). Writes to OUT_DIR, for fairseq splits ``train`` and ``valid`` (the dev file):
``{split}.tokens.{bin,idx}`` and ``{split}.spans.{bin,idx}`` (fairseq mmap datasets, one item
per window, see ``ir_fairseq.squad.features``), a copy of ``dict.txt`` and of the tokenizer
(so OUT_DIR is itself a model folder for prediction) and ``squad_meta.json`` (settings and
counts). ``--limit N`` keeps the first N questions of each file (for quick runs).
"""
import argparse
import json
import os
import shutil
import sys

import torch
from fairseq.data import indexed_dataset

from ir_fairseq.common.errors import IRUserError
from ir_fairseq.squad.data import read_squad
from ir_fairseq.squad.features import WindowConfig, build_all_features, load_dictionary
from ir_fairseq.common.model_folder import SPM_FILE, WORDPIECE_CONFIG_FILE, WORDPIECE_FILE, load_tokenizer

META_FILE = "squad_meta.json"
DEFAULT_FILES = {"train": "train-v1.1.json", "valid": "dev-v1.1.json"}
MAX_UNKNOWN_RATE = 0.5


def load_model_folder(model_dir):
    """Tokenizer and dictionary of a model folder, checked to belong together."""
    if not os.path.isdir(model_dir):
        raise IRUserError(f"model folder not found: {model_dir}")
    dict_path = os.path.join(model_dir, "dict.txt")
    if not os.path.isfile(dict_path):
        raise IRUserError(f"model folder {model_dir} has no dict.txt")
    return load_tokenizer(model_dir), load_dictionary(dict_path)


def resolve_file(squad_dir, name):
    """A file name in SQUAD_DIR, or a path of its own."""
    for path in (os.path.join(squad_dir, name), name):
        if os.path.isfile(path):
            return path
    raise IRUserError(f"SQuAD file not found: {os.path.join(squad_dir, name)}")


def write_split(out_dir, split, features, dictionary, max_length):
    prefix = os.path.join(out_dir, split)
    tokens = indexed_dataset.make_builder(prefix + ".tokens.bin", "mmap", vocab_size=len(dictionary))
    spans = indexed_dataset.make_builder(prefix + ".spans.bin", "mmap", vocab_size=max_length)
    for feature in features:
        tokens.add_item(torch.tensor(feature.tokens, dtype=torch.long))
        spans.add_item(torch.tensor([feature.start_position, feature.end_position], dtype=torch.long))
    tokens.finalize(prefix + ".tokens.idx")
    spans.finalize(prefix + ".spans.idx")


def copy_model_folder(model_dir, out_dir):
    for name in ("dict.txt", SPM_FILE, WORDPIECE_FILE, WORDPIECE_CONFIG_FILE):
        source = os.path.join(model_dir, name)
        if os.path.isfile(source) and os.path.abspath(source) != os.path.abspath(os.path.join(out_dir, name)):
            shutil.copyfile(source, os.path.join(out_dir, name))


def prepare(squad_dir, model_dir, out_dir, config=WindowConfig(), limit=None, files=None, log=print):
    config.check()
    if not os.path.isdir(squad_dir):
        raise IRUserError(f"SQuAD folder not found: {squad_dir}")
    tokenizer, dictionary = load_model_folder(model_dir)
    files = {**DEFAULT_FILES, **(files or {})}
    paths = {split: resolve_file(squad_dir, name) for split, name in files.items()}
    os.makedirs(out_dir, exist_ok=True)
    meta = {"max_length": config.max_length, "doc_stride": config.doc_stride,
            "max_query_length": config.max_query_length, "tokenizer": tokenizer.kind,
            "limit": limit, "splits": {}}
    for split, path in paths.items():
        examples = read_squad(path)
        if limit is not None:
            examples = examples[:limit]
        features, stats = build_all_features(examples, tokenizer, dictionary, config, with_targets=True)
        if not features:
            raise IRUserError(f"{path}: no question could be mapped to tokens")
        ids = [t for f in features for t in f.tokens[f.context_offset:f.context_offset + len(f.spans)]]
        unknown = sum(t == dictionary.unk() for t in ids) / max(1, len(ids))
        if unknown > MAX_UNKNOWN_RATE:
            raise IRUserError(
                f"{100 * unknown:.0f}% of the context tokens of {path} are not in {model_dir}/dict.txt: "
                "dict.txt and the tokenizer of the model folder do not belong together")
        write_split(out_dir, split, features, dictionary, config.max_length)
        meta["splits"][split] = {
            "file": os.path.abspath(path), "questions": stats.questions, "features": stats.features,
            "windows_without_answer": stats.answers_outside_windows,
            "questions_with_several_windows": stats.multi_window_questions,
            "skipped_unmappable_answers": stats.unmappable_answers,
            "longest": stats.longest, "unknown_token_rate": round(unknown, 5),
        }
        log(f"[prepare_squad] {split}: {os.path.basename(path)}: {stats.questions} questions -> "
            f"{stats.features} windows ({stats.answers_outside_windows} without the answer, target <s>; "
            f"{stats.multi_window_questions} questions in several windows; "
            f"{stats.unmappable_answers} answers skipped), {100 * unknown:.2f}% <unk>")
    copy_model_folder(model_dir, out_dir)
    with open(os.path.join(out_dir, META_FILE), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1)
    return meta


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m ir_fairseq.squad.prepare", description=__doc__.splitlines()[0])
    parser.add_argument("squad_dir")
    parser.add_argument("model_dir", help="dict.txt and spm.model or vocab.txt of the pre-trained model")
    parser.add_argument("out_dir")
    parser.add_argument("--train-file", default=DEFAULT_FILES["train"])
    parser.add_argument("--dev-file", default=DEFAULT_FILES["valid"])
    parser.add_argument("--limit", type=int, default=None, help="keep the first N questions of each file")
    parser.add_argument("--max-length", type=int, default=384)
    parser.add_argument("--doc-stride", type=int, default=128)
    parser.add_argument("--max-query-length", type=int, default=64)
    args = parser.parse_args(argv)
    try:
        if args.limit is not None and args.limit < 1:
            raise IRUserError("--limit must be a positive number of questions")
        prepare(args.squad_dir, args.model_dir, args.out_dir,
                WindowConfig(args.max_length, args.doc_stride, args.max_query_length), args.limit,
                {"train": args.train_file, "valid": args.dev_file})
    except IRUserError as e:
        sys.exit(f"ir_fairseq: error: {e}")


if __name__ == "__main__":
    main()
