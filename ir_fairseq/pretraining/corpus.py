"""Turn a text corpus into fairseq-preprocess input: one paragraph per line, blank line
between documents, a held-out validation split.

Reads WikiExtractor output (``<doc ...>`` ... ``</doc>``: the tag lines and the title line
after ``<doc>`` are dropped) or plain text files (kept as they are), from files or
directories given on the command line, in sorted order.

    python examples/prepare_corpus.py OUT_DIR INPUT [INPUT ...] [--valid-docs 20]
"""
import argparse
import os
import sys


def iter_files(inputs):
    for path in inputs:
        if os.path.isdir(path):
            for root, _, files in sorted(os.walk(path)):
                for name in sorted(files):
                    if not name.startswith("."):
                        yield os.path.join(root, name)
        elif os.path.isfile(path):
            yield path
        else:
            sys.exit(f"ir_fairseq: error: corpus input not found: {path}")


def read_documents(path):
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("inputs", nargs="+")
    parser.add_argument("--valid-docs", type=int, default=20)
    args = parser.parse_args()
    documents = [doc for path in iter_files(args.inputs) for doc in read_documents(path)]
    if len(documents) <= args.valid_docs:
        sys.exit(f"ir_fairseq: error: corpus has {len(documents)} documents, "
                 f"need more than --valid-docs {args.valid_docs}")
    os.makedirs(args.out_dir, exist_ok=True)
    splits = {"valid.txt": documents[: args.valid_docs], "train.txt": documents[args.valid_docs:]}
    for name, docs in splits.items():
        with open(os.path.join(args.out_dir, name), "w", encoding="utf-8") as f:
            for doc in docs:
                f.write("\n".join(doc) + "\n\n")
    print(f"{len(documents)} documents -> {args.out_dir} "
          f"(train {len(splits['train.txt'])}, valid {len(splits['valid.txt'])})")


if __name__ == "__main__":
    main()
