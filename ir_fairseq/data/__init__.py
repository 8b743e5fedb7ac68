"""Registered fairseq BPEs: dictionary word starts (``--mask-whole-words``) and WordPiece."""
from ir_fairseq.data import word_starts, wordpiece_bpe  # noqa: F401
