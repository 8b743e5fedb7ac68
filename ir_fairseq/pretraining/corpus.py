"""Corpus preparation for fairseq-preprocess: documents with a held-out validation split, and
the training documents dealt to shards.

    ir-fairseq prepare-corpus split OUT_DIR INPUT [INPUT ...] [--valid-docs 20]
    ir-fairseq prepare-corpus shard TRAIN_FILE OUT_PREFIX N

``split`` reads WikiExtractor output (``<doc ...>`` ... ``</doc>``: the tag lines and the title
line after ``<doc>`` are dropped) or plain text files (kept as they are), from files or
directories in sorted order, and writes OUT_DIR/valid.txt (the first ``--valid-docs``
documents) and OUT_DIR/train.txt: one paragraph per line, a blank line after each document.

``shard`` deals the documents of a (tokenised) file of that layout round-robin to N files
``OUT_PREFIX0.EXT`` .. ``OUT_PREFIX{N-1}.EXT`` (EXT: the input's extension), each keeping the
documents' order, so every shard sees the whole corpus thinly rather than one part of it.
"""
import argparse
import os
from typing import Iterable, Iterator, List

from ir_fairseq.common.errors import IRUserError
from ir_fairseq.common.files import atomic_output


def iter_files(inputs: Iterable[str]) -> Iterator[str]:
    for path in inputs:
        if os.path.isdir(path):
            for root, _, files in sorted(os.walk(path)):
                for name in sorted(files):
                    if not name.startswith("."):
                        yield os.path.join(root, name)
        elif os.path.isfile(path):
            yield path
        else:
            raise IRUserError(f"corpus input not found: {path}")


def read_documents(path: str) -> Iterator[List[str]]:
    """Documents as lists of paragraphs."""
    document, in_doc, skip_title = [], False, False
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.strip()
            if line.startswith("<doc ") or line == "<doc>":
                in_doc, skip_title, document = True, True, []
                continue
            if line == "</doc>":
                if document:
                    yield document
                in_doc, document = False, []
                continue
            if skip_title:
                skip_title = False
                continue
            if line:
                document.append(line)
            elif document and not in_doc:  # plain text: a blank line ends a document
                yield document
                document = []
    if document:
        yield document


def split_corpus(out_dir: str, inputs: List[str], valid_docs: int = 20) -> dict:
    """OUT_DIR/valid.txt and OUT_DIR/train.txt; returns the document count of each."""
    documents = [doc for path in iter_files(inputs) for doc in read_documents(path)]
    if len(documents) <= valid_docs:
        raise IRUserError(f"corpus has {len(documents)} documents, need more than --valid-docs {valid_docs}")
    os.makedirs(out_dir, exist_ok=True)
    splits = {"valid": documents[:valid_docs], "train": documents[valid_docs:]}
    for name, docs in splits.items():
        with atomic_output(os.path.join(out_dir, f"{name}.txt")) as f:
            for doc in docs:
                f.write("\n".join(doc) + "\n\n")
    return {name: len(docs) for name, docs in splits.items()}


def shard_paths(out_prefix: str, shards: int, ext: str) -> List[str]:
    return [f"{out_prefix}{i}{ext}" for i in range(shards)]


def deal_shards(path: str, out_prefix: str, shards: int) -> List[str]:
    """Documents (blank-line separated) of ``path`` dealt round-robin to ``shards`` files;
    returns their paths. Too few documents to give every shard one is an error (and leaves no
    shard files behind)."""
    if shards < 1:
        raise IRUserError(f"the number of shards must be a positive integer, got {shards}")
    if not os.path.isfile(path):
        raise IRUserError(f"file to shard not found: {path}")
    paths = shard_paths(out_prefix, shards, os.path.splitext(path)[1])
    outs = [open(p, "w", encoding="utf-8") for p in paths]
    count = 0
    try:
        document = []
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    document.append(line)
                    continue
                if document:
                    outs[count % shards].write("".join(document) + "\n")
                    count += 1
                document = []
        if document:
            outs[count % shards].write("".join(document) + "\n")
            count += 1
    finally:
        for out in outs:
            out.close()
    if count < shards:
        for p in paths:
            os.remove(p)
        raise IRUserError(f"{count} training documents cannot fill {shards} shards")
    return paths


def main(argv=None):
    parser = argparse.ArgumentParser(prog="ir-fairseq prepare-corpus", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    split = commands.add_parser("split", help="WikiExtractor or plain text -> OUT_DIR/{train,valid}.txt")
    split.add_argument("out_dir")
    split.add_argument("inputs", nargs="+")
    split.add_argument("--valid-docs", type=int, default=20)
    shard = commands.add_parser("shard", help="deal a file's documents round-robin to N shard files")
    shard.add_argument("train_file")
    shard.add_argument("out_prefix")
    shard.add_argument("shards", type=int)
    args = parser.parse_args(argv)
    if args.command == "split":
        counts = split_corpus(args.out_dir, args.inputs, args.valid_docs)
        print(f"{counts['train'] + counts['valid']} documents -> {args.out_dir} "
              f"(train {counts['train']}, valid {counts['valid']})")
        return
    for path in deal_shards(args.train_file, args.out_prefix, args.shards):
        print(path)
