"""Word boundaries read off the dictionary, for ``--mask-whole-words``.

fairseq's masked_lm task asks a BPE object which dictionary symbols begin a word, through
``self.args`` (which dataclass tasks no longer have, so the flag crashes upstream). The
symbols of the dictionaries this plugin trains with already say it: sentencepiece pieces
start a word with ``▁``, and WordPiece pieces continue one with ``##``. This registered
"bpe" answers only that question; it encodes and decodes nothing. A fairseq RoBERTa
dictionary holds GPT-2 ids, which say nothing by themselves: fairseq's own ``gpt2`` BPE answers
for it, from the ``encoder.json`` beside the data's ``dict.txt``.
"""
from dataclasses import dataclass, field

from fairseq.data.encoders import register_bpe
from fairseq.dataclass import FairseqDataclass

from ir_fairseq.common.errors import IRUserError

SENTENCEPIECE_WORD_START = "\u2581"
WORDPIECE_CONTINUATION = "##"


def is_special(symbol: str) -> bool:
    return (symbol.startswith("<") and symbol.endswith(">")) or symbol.startswith("madeupword")


def detect_word_start_style(symbols) -> str:
    symbols = list(symbols)
    ordinary = [s for s in symbols if not is_special(s)]
    if ordinary and all(s.isdigit() for s in ordinary):
        return "gpt2"
    if any(s.startswith(WORDPIECE_CONTINUATION) and len(s) > 2 for s in symbols):
        return "wordpiece"
    if any(s.startswith(SENTENCEPIECE_WORD_START) for s in symbols):
        return "sentencepiece"
    raise IRUserError(
        "--mask-whole-words needs a dictionary of sentencepiece ('\u2581word') or WordPiece "
        "('##ing') pieces or of GPT-2 ids (fairseq RoBERTa) to find word boundaries; this dictionary has none"
    )


def is_word_start(symbol: str, style: str) -> bool:
    if is_special(symbol):  # <mask>, fairseq RoBERTa's madeupword fillers
        return True
    if style == "wordpiece":
        return not symbol.startswith(WORDPIECE_CONTINUATION)
    return symbol.startswith(SENTENCEPIECE_WORD_START)


@dataclass
class DictionaryWordStartsConfig(FairseqDataclass):
    word_start_style: str = field(
        default="sentencepiece", metadata={"help": "sentencepiece or wordpiece"}
    )


@register_bpe("ir_dictionary_word_starts", dataclass=DictionaryWordStartsConfig)
class DictionaryWordStarts(object):
    def __init__(self, cfg):
        self.style = cfg.word_start_style

    def is_beginning_of_word(self, symbol: str) -> bool:
        return is_word_start(symbol, self.style)

    def encode(self, x: str) -> str:
        raise NotImplementedError("ir_dictionary_word_starts only marks word starts")

    def decode(self, x: str) -> str:
        raise NotImplementedError("ir_dictionary_word_starts only marks word starts")
