"""Turn a `sentence<TAB>label` TSV task into fairseq sentence_prediction inputs.

    python examples/prepare_classification.py TSV_DIR SPM_MODEL OUT_DIR

reads TSV_DIR/{train,dev}.tsv (header `sentence\tlabel`), writes OUT_DIR/{train,dev}.input0
(sentencepiece pieces) and OUT_DIR/{train,dev}.label, ready for fairseq-preprocess.
"""
import argparse
import csv
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ir_fairseq import spm  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tsv_dir")
    parser.add_argument("spm_model")
    parser.add_argument("out_dir")
    args = parser.parse_args()
    processor = spm.load(args.spm_model)
    os.makedirs(args.out_dir, exist_ok=True)
    for split in ("train", "dev"):
        path = os.path.join(args.tsv_dir, f"{split}.tsv")
        with open(path, encoding="utf-8") as f:
            rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
        header, rows = rows[0], rows[1:]
        if header != ["sentence", "label"] or any(len(r) != 2 for r in rows):
            sys.exit(f"ir_fairseq: error: {path} must have the columns sentence<TAB>label")
        with open(os.path.join(args.out_dir, f"{split}.input0"), "w", encoding="utf-8") as text, \
                open(os.path.join(args.out_dir, f"{split}.label"), "w", encoding="utf-8") as labels:
            for sentence, label in rows:
                text.write(spm.encode_line(processor, sentence) + "\n")
                labels.write(label + "\n")


if __name__ == "__main__":
    main()
