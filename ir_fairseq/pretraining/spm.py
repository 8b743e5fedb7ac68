"""Sentencepiece models for from-scratch pre-training (the pieces fairseq-preprocess reads).

    ir-fairseq spm train --input train.txt --model-prefix out/spm --vocab-size 8000
    ir-fairseq spm encode --model out/spm.model < text.txt > text.spm
    ir-fairseq spm complete-dict --model out/spm.model out/dict.txt   # list every piece

Encoded text is space-separated pieces (``▁the ▁river``), so fairseq's dictionary holds the
pieces themselves and ``--mask-whole-words`` can read word starts off it. Encoding is the
model folder's tokenizer (``ir_fairseq.common.model_folder``), the one every recipe uses.

fairseq-preprocess builds ``dict.txt`` from the pieces the training text was encoded into;
pieces sentencepiece never chose there are missing, and fairseq maps them to ``<unk>`` wherever
other text chooses them. ``complete-dict`` lists them with count 0 (as RoBERTa's dictionary
lists every GPT-2 id), so any text gets its own pieces and the HF fast tokenizer an exporter
writes (``ir_fairseq.convert.fast_tokenizer``) can give every piece its id.
"""
import argparse
import os
import sys

from ir_fairseq.common.errors import IRUserError
from ir_fairseq.common.files import atomic_output
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


def complete_dictionary(model_path, dict_path):
    """Append to ``dict_path`` (count 0) every piece of the model it lacks; returns how many."""
    tokenizer = SentencePieceTokenizer(model_path)
    if not os.path.isfile(dict_path):
        raise IRUserError(f"dictionary not found: {dict_path}")
    with open(dict_path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    listed = {line.split(" ", 1)[0] for line in lines if line.strip()}
    processor = tokenizer.processor
    ordinary = [i for i in range(processor.get_piece_size()) if not (
        processor.is_control(i) or processor.is_unknown(i) or processor.is_unused(i) or processor.is_byte(i))]
    missing = [processor.id_to_piece(i) for i in ordinary if processor.id_to_piece(i) not in listed]
    with atomic_output(dict_path) as f:
        f.write("".join(line + "\n" for line in lines if line.strip()) + "".join(f"{piece} 0\n" for piece in missing))
    return len(missing)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="ir-fairseq spm", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    train_parser = commands.add_parser("train")
    train_parser.add_argument("--input", required=True)
    train_parser.add_argument("--model-prefix", required=True)
    train_parser.add_argument("--vocab-size", type=int, default=8000)
    encode_parser = commands.add_parser("encode", help="stdin text -> stdout pieces, line by line")
    encode_parser.add_argument("--model", required=True)
    complete_parser = commands.add_parser("complete-dict", help="append the pieces a fairseq dict.txt lacks (count 0)")
    complete_parser.add_argument("--model", required=True)
    complete_parser.add_argument("dict")
    args = parser.parse_args(argv)
    if args.command == "train":
        print(train(args.input, args.model_prefix, args.vocab_size))
        return
    if args.command == "complete-dict":
        added = complete_dictionary(args.model, args.dict)
        print(f"[spm complete-dict] {args.dict}: {added} pieces of {args.model} added with count 0")
        return
    tokenizer = SentencePieceTokenizer(args.model)
    for line in sys.stdin:
        sys.stdout.write(encode_line(tokenizer, line) + "\n")
