"""Sentencepiece tokenisation for from-scratch models (the pieces fairseq-preprocess reads).

    python -m ir_fairseq.spm train --input train.txt --model-prefix out/spm --vocab-size 8000
    python -m ir_fairseq.spm encode --model out/spm.model < text.txt > text.spm

Encoded text is space-separated pieces (``▁the ▁river``), so fairseq's dictionary holds the
pieces themselves and ``--mask-whole-words`` can read word starts off it.
"""
import argparse
import os
import sys

import sentencepiece

from ir_fairseq.errors import IRUserError


def train(input_path, model_prefix, vocab_size=8000, max_sentences=2_000_000):
    if not os.path.isfile(input_path) or os.path.getsize(input_path) == 0:
        raise IRUserError(f"sentencepiece training text is missing or empty: {input_path}")
    os.makedirs(os.path.dirname(os.path.abspath(model_prefix)), exist_ok=True)
    sentencepiece.SentencePieceTrainer.train(
        input=input_path,
        model_prefix=model_prefix,
        vocab_size=vocab_size,
        model_type="unigram",
        character_coverage=1.0,
        input_sentence_size=max_sentences,
        shuffle_input_sentence=True,
        # fairseq's Dictionary owns <s>/<pad>/</s>/<unk>: keep sentencepiece's out of the pieces.
        bos_id=-1,
        eos_id=-1,
        unk_id=0,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    return model_prefix + ".model"


def load(model_path):
    if not os.path.isfile(model_path):
        raise IRUserError(f"sentencepiece model not found: {model_path}")
    return sentencepiece.SentencePieceProcessor(model_file=model_path)


def encode_line(processor, line):
    return " ".join(processor.encode(line.strip(), out_type=str))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m ir_fairseq.spm", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    train_parser = commands.add_parser("train")
    train_parser.add_argument("--input", required=True)
    train_parser.add_argument("--model-prefix", required=True)
    train_parser.add_argument("--vocab-size", type=int, default=8000)
    encode_parser = commands.add_parser("encode", help="stdin text -> stdout pieces, line by line")
    encode_parser.add_argument("--model", required=True)
    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            print(train(args.input, args.model_prefix, args.vocab_size))
        else:
            processor = load(args.model)
            for line in sys.stdin:
                sys.stdout.write(encode_line(processor, line) + "\n")
    except IRUserError as e:
        sys.exit(f"ir_fairseq: error: {e}")


if __name__ == "__main__":
    main()
