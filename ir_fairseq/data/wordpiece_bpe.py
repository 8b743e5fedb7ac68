"""``--bpe ir_wordpiece``: BERT's WordPiece tokenizer as a fairseq BPE, for converted checkpoints.

fairseq's own ``--bpe bert`` needs the ``transformers`` package at run time; this one uses only
HF ``tokenizers`` (through ir_fairseq.common.model_folder). Its pieces are the dictionary symbols
(``play ##ing``), so ``RobertaHubInterface.encode`` of a converted folder gives the same ids as
the checkpoint's own tokenizer. The converter stores the vocabulary path as
``${task.data}/vocab.txt``: ``from_pretrained`` points ``task.data`` at the model folder, so
the folder can move.
"""
from dataclasses import dataclass, field

from fairseq.data.encoders import register_bpe
from fairseq.dataclass import FairseqDataclass

from ir_fairseq.data.word_starts import WORDPIECE_CONTINUATION
from ir_fairseq.common.errors import IRUserError


@dataclass
class WordPieceBPEConfig(FairseqDataclass):
    wordpiece_vocab: str = field(default="???", metadata={"help": "path to the WordPiece vocab.txt"})
    wordpiece_cased: bool = field(
        default=False, metadata={"help": "keep case and accents (cased models); uncased models "
                                 "lower-case and strip accents first"}
    )


@register_bpe("ir_wordpiece", dataclass=WordPieceBPEConfig)
class WordPieceBPE(object):
    def __init__(self, cfg):
        import os

        from ir_fairseq.common.model_folder import WordPieceTokenizer

        if not os.path.isfile(cfg.wordpiece_vocab):
            raise IRUserError(f"WordPiece vocabulary not found: {cfg.wordpiece_vocab}")
        self.tokenizer = WordPieceTokenizer(cfg.wordpiece_vocab, lowercase=not cfg.wordpiece_cased)

    def encode(self, x: str) -> str:
        return " ".join(self.tokenizer.tokenize(x))

    def decode(self, x: str) -> str:
        words = []
        for piece in x.split():
            if piece.startswith(WORDPIECE_CONTINUATION) and words:
                words[-1] += piece[len(WORDPIECE_CONTINUATION):]
            else:
                words.append(piece)
        return " ".join(words)

    def is_beginning_of_word(self, x: str) -> bool:
        return not x.startswith(WORDPIECE_CONTINUATION)
