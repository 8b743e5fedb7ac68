"""Sentencepiece models for from-scratch pre-training (the pieces fairseq-preprocess reads).

    ir-fairseq spm train --input train.txt --model-prefix out/spm --vocab-size 8000
    ir-fairseq spm encode --model out/spm.model < text.txt > text.spm

Encoded text is space-separated pieces (``▁the ▁river``), so fairseq's dictionary holds the
pieces themselves and ``--mask-whole-words`` can read word starts off it. Encoding is the
model folder's tokenizer (``ir_fairseq.common.model_folder``), the one every recipe uses.
"""
import argparse
import os
import sys

from ir_fairseq.common.errors import IRUserError
from ir_fairseq.common.model_folder import SentencePieceTokenizer, encode_line


def train(input_path, model_prefix, vocab_size=8000, max_sentences=2_000_000):
    import sentencepiece

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


def encode_file(model_path, input_path, output_path):
    tokenizer = SentencePieceTokenizer(model_path)
    with open(input_path, encoding="utf-8") as fin, open(output_path, "w", encoding="utf-8") as fout:
        for line in fin:
            fout.write(encode_line(tokenizer, line) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="ir-fairseq spm", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    train_parser = commands.add_parser("train")
    train_parser.add_argument("--input", required=True)
    train_parser.add_argument("--model-prefix", required=True)
    train_parser.add_argument("--vocab-size", type=int, default=8000)
    encode_parser = commands.add_parser("encode", help="stdin text -> stdout pieces, line by line")
    encode_parser.add_argument("--model", required=True)
    args = parser.parse_args(argv)
    if args.command == "train":
        print(train(args.input, args.model_prefix, args.vocab_size))
        return
    tokenizer = SentencePieceTokenizer(args.model)
    for line in sys.stdin:
        sys.stdout.write(encode_line(tokenizer, line) + "\n")
