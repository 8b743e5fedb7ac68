"""SQuAD v1.1 JSON -> binarised training data for the ``squad_span`` task (preprocess_squad.sh).

    ir-fairseq squad-prepare SQUAD_DIR MODEL_DIR OUT_DIR [--limit N] [--max-length 384]
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

from ir_fairseq.common.errors import IRUserError
from ir_fairseq.common.files import atomic_output
from ir_fairseq.common.model_folder import DICT_FILE, copy_model_folder, load_model_folder
from ir_fairseq.squad.data import read_squad
from ir_fairseq.squad.features import WindowConfig, build_all_features

DEFAULT_FILES = {"train": "train-v1.1.json", "valid": "dev-v1.1.json"}
MAX_UNKNOWN_RATE = 0.5


def resolve_file(squad_dir, name):
    """A file name in SQUAD_DIR, or a path of its own."""
    for path in (os.path.join(squad_dir, name), name):
        if os.path.isfile(path):
            return path
    raise IRUserError(f"SQuAD file not found: {os.path.join(squad_dir, name)}")


def write_split(out_dir, split, features, dictionary, max_length):
    import torch
    from fairseq.data import indexed_dataset

    prefix = os.path.join(out_dir, split)
    tokens = indexed_dataset.make_builder(prefix + ".tokens.bin", "mmap", vocab_size=len(dictionary))
    spans = indexed_dataset.make_builder(prefix + ".spans.bin", "mmap", vocab_size=max_length)
    for feature in features:
        tokens.add_item(torch.tensor(feature.tokens, dtype=torch.long))
        spans.add_item(torch.tensor([feature.start_position, feature.end_position], dtype=torch.long))
    tokens.finalize(prefix + ".tokens.idx")
    spans.finalize(prefix + ".spans.idx")


def prepare(squad_dir, model_dir, out_dir, config=WindowConfig(), limit=None, files=None, log=print):
    from ir_fairseq.tasks.squad_span import META_FILE

    config.check()
    if not os.path.isdir(squad_dir):
        raise IRUserError(f"SQuAD folder not found: {squad_dir}")
    folder = load_model_folder(model_dir)
    tokenizer, dictionary = folder.tokenizer, folder.dictionary
    files = {**DEFAULT_FILES, **(files or {})}
    paths = {split: resolve_file(squad_dir, name) for split, name in files.items()}
    # every file is read and checked before any output is written
    read = {split: read_squad(path) for split, path in paths.items()}
    os.makedirs(out_dir, exist_ok=True)
    meta = {"max_length": config.max_length, "doc_stride": config.doc_stride,
            "max_query_length": config.max_query_length, "tokenizer": tokenizer.kind,
            "limit": limit, "splits": {}}
    for split, path in paths.items():
        examples = read[split]
        if limit is not None:
            examples = examples[:limit]
        features, stats = build_all_features(examples, tokenizer, dictionary, config, with_targets=True)
        if not features:
            raise IRUserError(f"{path}: no question could be mapped to tokens")
        unknown = folder.unknown_rate(t for f in features for t in f.tokens[f.context_offset:f.context_offset + len(f.spans)])
        if unknown > MAX_UNKNOWN_RATE:
            raise IRUserError(
                f"{100 * unknown:.0f}% of the context tokens of {path} are not in {model_dir}/{DICT_FILE}: "
                f"{DICT_FILE} and the tokenizer of the model folder do not belong together")
        write_split(out_dir, split, features, dictionary, config.max_length)
        meta["splits"][split] = {
            "file": os.path.abspath(path), "questions": stats.questions, "features": stats.features,
            "windows_without_answer": stats.answers_outside_windows,
            "questions_with_several_windows": stats.multi_window_questions,
            "skipped_unmappable_answers": stats.unmappable_answers,
            "longest": stats.longest, "unknown_token_rate": round(unknown, 5),
        }
        log(f"[squad-prepare] {split}: {os.path.basename(path)}: {stats.questions} questions -> "
            f"{stats.features} windows ({stats.answers_outside_windows} without the answer, target <s>; "
            f"{stats.multi_window_questions} questions in several windows; "
            f"{stats.unmappable_answers} answers skipped), {100 * unknown:.2f}% <unk>")
    copy_model_folder(model_dir, out_dir)
    with atomic_output(os.path.join(out_dir, META_FILE)) as f:
        json.dump(meta, f, indent=1)
    return meta


def build_parser():
    parser = argparse.ArgumentParser(prog="ir-fairseq squad-prepare", description=__doc__.splitlines()[0])
    parser.add_argument("squad_dir")
    parser.add_argument("model_dir", help="dict.txt and spm.model or vocab.txt of the pre-trained model")
    parser.add_argument("out_dir")
    parser.add_argument("--train-file", default=DEFAULT_FILES["train"])
    parser.add_argument("--dev-file", default=DEFAULT_FILES["valid"])
    parser.add_argument("--limit", type=int, default=None, help="keep the first N questions of each file")
    parser.add_argument("--max-length", type=int, default=384)
    parser.add_argument("--doc-stride", type=int, default=128)
    parser.add_argument("--max-query-length", type=int, default=64)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.limit is not None and args.limit < 1:
        raise IRUserError("--limit must be a positive number of questions")
    prepare(args.squad_dir, args.model_dir, args.out_dir,
            WindowConfig(args.max_length, args.doc_stride, args.max_query_length), args.limit,
            {"train": args.train_file, "valid": args.dev_file})
