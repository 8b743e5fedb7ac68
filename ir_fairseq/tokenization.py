"""The tokenizer of a model folder: sentencepiece (``spm.model``) or WordPiece (``vocab.txt``).

A model folder (``dict.txt`` plus its tokenizer) is what preprocessing needs: from-scratch models
carry the sentencepiece model this plugin trained, converted BERT/ELECTRA checkpoints carry their
WordPiece ``vocab.txt`` (and ``tokenizer_config.json`` for lower-casing). Both give tokens with
character offsets into the original text, which span extraction (SQuAD) maps answers through.

    python -m ir_fairseq.tokenization MODEL_DIR < text.txt > text.tok   # space-separated tokens
"""
import argparse
import json
import os
import sys
from typing import List, Tuple

from ir_fairseq.errors import IRUserError

SPM_FILE = "spm.model"
WORDPIECE_FILE = "vocab.txt"
WORDPIECE_CONFIG_FILE = "tokenizer_config.json"

TokenSpan = Tuple[str, int, int]  # token, first character, one past the last character


class SentencePieceTokenizer:
    kind = "sentencepiece"

    def __init__(self, model_path: str):
        import sentencepiece

        self.model_path = model_path
        self.processor = sentencepiece.SentencePieceProcessor(model_file=model_path)

    def tokenize(self, text: str) -> List[str]:
        return self.processor.encode(text, out_type=str)

    def tokenize_with_offsets(self, text: str) -> List[TokenSpan]:
        # sentencepiece >= 0.2 reports offsets in characters of the original (unnormalised) text.
        proto = self.processor.encode(text, out_type="immutable_proto")
        return [(p.piece, p.begin, p.end) for p in proto.pieces]


class WordPieceTokenizer:
    kind = "wordpiece"

    def __init__(self, vocab_path: str, lowercase: bool):
        from tokenizers import BertWordPieceTokenizer

        self.vocab_path = vocab_path
        self.lowercase = lowercase
        self.backend = BertWordPieceTokenizer(vocab_path, lowercase=lowercase)

    def tokenize(self, text: str) -> List[str]:
        return self.backend.encode(text, add_special_tokens=False).tokens

    def tokenize_with_offsets(self, text: str) -> List[TokenSpan]:
        encoding = self.backend.encode(text, add_special_tokens=False)
        return [(tok, start, end) for tok, (start, end) in zip(encoding.tokens, encoding.offsets)]


def wordpiece_lowercase(model_dir: str) -> bool:
    """``do_lower_case`` from the folder's tokenizer_config.json; uncased (BERT's default) if absent."""
    config_path = os.path.join(model_dir, WORDPIECE_CONFIG_FILE)
    if not os.path.isfile(config_path):
        return True
    try:
        with open(config_path, encoding="utf-8") as f:
            return bool(json.load(f).get("do_lower_case", True))
    except (json.JSONDecodeError, AttributeError) as e:
        raise IRUserError(f"{config_path} is not a JSON object: {e}") from e


def load_model_tokenizer(model_dir: str):
    if not os.path.isdir(model_dir):
        raise IRUserError(f"model folder not found: {model_dir}")
    spm_path = os.path.join(model_dir, SPM_FILE)
    if os.path.isfile(spm_path):
        return SentencePieceTokenizer(spm_path)
    vocab_path = os.path.join(model_dir, WORDPIECE_FILE)
    if os.path.isfile(vocab_path):
        return WordPieceTokenizer(vocab_path, wordpiece_lowercase(model_dir))
    raise IRUserError(
        f"model folder {model_dir} has no tokenizer: expected {SPM_FILE} (sentencepiece) or "
        f"{WORDPIECE_FILE} (WordPiece, from scripts/convert_hf_to_fairseq.py)"
    )


def encode_line(tokenizer, text: str) -> str:
    return " ".join(tokenizer.tokenize(text.strip()))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m ir_fairseq.tokenization",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("model_dir")
    args = parser.parse_args(argv)
    try:
        tokenizer = load_model_tokenizer(args.model_dir)
    except IRUserError as e:
        sys.exit(f"ir_fairseq: error: {e}")
    for line in sys.stdin:
        sys.stdout.write(encode_line(tokenizer, line) + "\n")


if __name__ == "__main__":
    main()
