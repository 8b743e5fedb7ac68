"""Model folders: a model's ``dict.txt`` and its tokenizer, loaded in one place.

A model folder is what preprocessing and prediction need: from-scratch models carry the
sentencepiece model this plugin trained (``spm.model``), converted BERT/ELECTRA checkpoints
their WordPiece ``vocab.txt`` (and ``tokenizer_config.json`` for lower-casing), fairseq RoBERTa
folders GPT-2's byte-level BPE (``encoder.json`` + ``vocab.bpe``, whose pieces are the GPT-2 ids
written in decimal: the symbols of RoBERTa's ``dict.txt``). All give tokens with character
offsets into the original text, which span extraction (SQuAD) maps answers through. The
dictionary is the one fairseq's masked-LM and sentence-prediction tasks build (``dict.txt``
plus ``<mask>``), so ids match the checkpoint's embeddings.

    ir-fairseq tokenize MODEL_DIR < text.txt > text.tok   # space-separated tokens
"""
import argparse
import json
import os
import shutil
import sys
from dataclasses import dataclass
from typing import List, Tuple

from ir_fairseq.common.errors import IRUserError

DICT_FILE = "dict.txt"
SPM_FILE = "spm.model"
WORDPIECE_FILE = "vocab.txt"
WORDPIECE_CONFIG_FILE = "tokenizer_config.json"
GPT2_ENCODER_FILE = "encoder.json"
GPT2_MERGES_FILE = "vocab.bpe"
# everything of a model folder but the weights, in the order a copy needs them
FOLDER_FILES = (DICT_FILE, SPM_FILE, WORDPIECE_FILE, WORDPIECE_CONFIG_FILE, "special_tokens_map.json",
                GPT2_ENCODER_FILE, GPT2_MERGES_FILE)

TokenSpan = Tuple[str, int, int]  # token, first character, one past the last character


class SentencePieceTokenizer:
    kind = "sentencepiece"

    def __init__(self, model_path: str):
        import sentencepiece

        if not os.path.isfile(model_path):
            raise IRUserError(f"sentencepiece model not found: {model_path}")
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

        if not os.path.isfile(vocab_path):
            raise IRUserError(f"WordPiece vocabulary not found: {vocab_path}")
        self.vocab_path = vocab_path
        self.lowercase = lowercase
        self.backend = BertWordPieceTokenizer(vocab_path, lowercase=lowercase)

    def tokenize(self, text: str) -> List[str]:
        return self.backend.encode(text, add_special_tokens=False).tokens

    def tokenize_with_offsets(self, text: str) -> List[TokenSpan]:
        encoding = self.backend.encode(text, add_special_tokens=False)
        return [(tok, start, end) for tok, (start, end) in zip(encoding.tokens, encoding.offsets)]


class GPT2BPETokenizer:
    """fairseq RoBERTa's tokenizer (fairseq's ``--bpe gpt2``), run by HF ``tokenizers`` for its
    character offsets: byte-level BPE without a prefix space; pieces are GPT-2 ids as strings."""
    kind = "gpt2"

    def __init__(self, encoder_path: str, merges_path: str):
        from tokenizers import ByteLevelBPETokenizer

        for path in (encoder_path, merges_path):
            if not os.path.isfile(path):
                raise IRUserError(f"GPT-2 BPE file not found: {path}")
        self.encoder_path, self.merges_path = encoder_path, merges_path
        try:
            # offsets trimmed of the leading space a piece carries, as the other tokenizers give them
            self.backend = ByteLevelBPETokenizer(encoder_path, merges_path, add_prefix_space=False, trim_offsets=True)
        except Exception as e:  # tokenizers raises a bare Exception with its own wording
            raise IRUserError(f"{encoder_path} + {merges_path} are not a GPT-2 BPE: {e}") from None

    def tokenize(self, text: str) -> List[str]:
        return [str(i) for i in self.backend.encode(text).ids]

    def tokenize_with_offsets(self, text: str) -> List[TokenSpan]:
        encoding = self.backend.encode(text)
        return [(str(i), start, end) for i, (start, end) in zip(encoding.ids, encoding.offsets)]


def encode_line(tokenizer, text: str) -> str:
    """One line of text as the space-separated tokens fairseq-preprocess reads."""
    return " ".join(tokenizer.tokenize(text.strip()))


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


def load_tokenizer(model_dir: str):
    """The folder's tokenizer: sentencepiece if it has ``spm.model``, GPT-2 BPE if it has
    ``encoder.json``, else WordPiece."""
    if not os.path.isdir(model_dir):
        raise IRUserError(f"model folder not found: {model_dir}")
    spm_path = os.path.join(model_dir, SPM_FILE)
    if os.path.isfile(spm_path):
        return SentencePieceTokenizer(spm_path)
    encoder_path = os.path.join(model_dir, GPT2_ENCODER_FILE)
    if os.path.isfile(encoder_path):
        merges_path = os.path.join(model_dir, GPT2_MERGES_FILE)
        if not os.path.isfile(merges_path):
            raise IRUserError(f"model folder {model_dir} has {GPT2_ENCODER_FILE} but no {GPT2_MERGES_FILE} "
                              "(GPT-2 BPE needs both)")
        return GPT2BPETokenizer(encoder_path, merges_path)
    vocab_path = os.path.join(model_dir, WORDPIECE_FILE)
    if os.path.isfile(vocab_path):
        return WordPieceTokenizer(vocab_path, wordpiece_lowercase(model_dir))
    raise IRUserError(
        f"model folder {model_dir} has no tokenizer: expected {SPM_FILE} (sentencepiece), "
        f"{GPT2_ENCODER_FILE} + {GPT2_MERGES_FILE} (fairseq RoBERTa's GPT-2 BPE) or "
        f"{WORDPIECE_FILE} (WordPiece, from ir-fairseq convert-hf-to-fairseq)")


def load_dictionary(path: str):
    """fairseq's dictionary of a model as its tasks see it: ``dict.txt`` plus ``<mask>``."""
    from fairseq.data import Dictionary

    if not os.path.isfile(path):
        raise IRUserError(f"dictionary not found: {path}")
    try:
        dictionary = Dictionary.load(path)
    except Exception as e:  # fairseq raises ValueError/RuntimeError with its own wording
        raise IRUserError(f"{path} is not a fairseq dictionary: {e}") from None
    dictionary.add_symbol("<mask>")
    return dictionary


@dataclass
class ModelFolder:
    path: str
    tokenizer: object
    dictionary: object

    def encode(self, text: str) -> str:
        return encode_line(self.tokenizer, text)

    def unknown_rate(self, ids) -> float:
        ids = list(ids)
        return sum(i == self.dictionary.unk() for i in ids) / max(1, len(ids))


def load_model_folder(model_dir: str) -> ModelFolder:
    """Dictionary and tokenizer of a model folder (both must be there)."""
    if not os.path.isdir(model_dir):
        raise IRUserError(f"model folder not found: {model_dir}")
    dict_path = os.path.join(model_dir, DICT_FILE)
    if not os.path.isfile(dict_path):
        raise IRUserError(f"model folder {model_dir} has no {DICT_FILE}")
    return ModelFolder(model_dir, load_tokenizer(model_dir), load_dictionary(dict_path))


def copy_model_folder(model_dir: str, out_dir: str) -> None:
    """Copy a folder's dictionary and tokenizer files (not the weights) into out_dir."""
    for name in FOLDER_FILES:
        source = os.path.join(model_dir, name)
        target = os.path.join(out_dir, name)
        if os.path.isfile(source) and os.path.abspath(source) != os.path.abspath(target):
            shutil.copyfile(source, target)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="ir-fairseq tokenize",
                                     description="Tokenise stdin with a model folder's tokenizer "
                                     "(one line of space-separated tokens per input line).")
    parser.add_argument("model_dir")
    parser.add_argument("--describe", action="store_true",
                        help="print the tokenizer's kind and casing (e.g. 'wordpiece uncased') "
                        "instead of tokenising; for shell recipes")
    args = parser.parse_args(argv)
    tokenizer = load_tokenizer(args.model_dir)
    if args.describe:
        cased = not getattr(tokenizer, "lowercase", False)
        print(f"{tokenizer.kind} {'cased' if cased else 'uncased'}")
        return
    for line in sys.stdin:
        sys.stdout.write(encode_line(tokenizer, line) + "\n")
