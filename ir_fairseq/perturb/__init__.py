"""Synonym swaps on plain text, after TextFlint's SwapSynWordNet and SwapSynWordEmbedding.

Nothing here knows a dataset: ``words`` picks the words of a text that may change and applies
swaps (moving character offsets with them), ``wordnet`` and ``embeddings`` give each word its
replacement. A dataset walker (``ir_fairseq.squad.attack``) decides which spans are protected
and which offsets to move.
"""
from typing import Optional

from ir_fairseq.common.errors import IRUserError

ATTACKS = ("wordnet", "embedding")


def check_attack(attack: str) -> None:
    if attack not in ATTACKS:
        raise IRUserError(f"unknown attack {attack!r}; expected one of {', '.join(ATTACKS)}")


def synonym_source(attack: str, checkpoint: Optional[str] = None, dictionary: Optional[str] = None,
                   vectors: Optional[str] = None, wordnet_dir: Optional[str] = None):
    """The replacement source of an attack: anything with ``replacements(words) -> {word: synonym}``."""
    check_attack(attack)
    if attack == "wordnet":
        from ir_fairseq.perturb.wordnet import WordNet

        return WordNet(wordnet_dir)
    from ir_fairseq.perturb import embeddings

    if checkpoint:
        return embeddings.embeddings_from_checkpoint(checkpoint, dictionary)
    return embeddings.embeddings_from_text(vectors)
