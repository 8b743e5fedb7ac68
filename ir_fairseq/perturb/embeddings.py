"""Synonyms as nearest neighbours in an embedding space (TextFlint's SwapSynWordEmbedding).

A word's replacement is its nearest neighbour by cosine similarity among the whole words of
the space, compared lower-cased (the first, i.e. most frequent, casing of a word is the one
used). The space is either a fairseq checkpoint's input embeddings with its dictionary, whose
whole words are the symbols that start a word (sentencepiece pieces with "▁", WordPiece
tokens without "##": ``ir_fairseq.data.word_starts``), or a word-vectors text file (word2vec
text format with its "COUNT DIM" first line, or GloVe's without).
"""
import os
from typing import Dict, List, Optional

from ir_fairseq.common.checkpoints import EMBEDDINGS, Checkpoint
from ir_fairseq.common.errors import IRUserError
from ir_fairseq.common.model_folder import DICT_FILE, load_dictionary
from ir_fairseq.data.word_starts import SENTENCEPIECE_WORD_START, detect_word_start_style, is_word_start
from ir_fairseq.perturb.words import usable

MAX_SIMILARITY_ELEMENTS = 2 ** 26  # one batch of similarities: at most 256 MB of float32


class EmbeddingSpace:
    """Whole words (lower-cased, first casing wins) and their vectors; nearest neighbours by
    cosine among the usable words (letters only, two or more, not stopwords)."""

    def __init__(self, words: List[str], vectors, source: str):
        import torch

        index: Dict[str, int] = {}
        for row, word in enumerate(words):
            if word.isalpha() and word.lower() not in index:
                index[word.lower()] = row
        if not index:
            raise IRUserError(f"{source} has no whole words made of letters to take synonyms from")
        self.source = source
        self.words = list(index)
        rows = torch.tensor(list(index.values()), dtype=torch.long)
        matrix = vectors[rows].float()
        self.matrix = matrix / matrix.norm(dim=1, keepdim=True).clamp_min(1e-12)
        self.row = {word: i for i, word in enumerate(self.words)}
        self.usable = torch.tensor([usable(w, "") for w in self.words], dtype=torch.bool)
        if not bool(self.usable.any()):
            raise IRUserError(f"{source} has no usable replacement words (all stopwords or single letters)")

    def replacements(self, words) -> Dict[str, str]:
        import torch

        queries = [w.lower() for w in words if w.lower() in self.row]
        batch_size = max(1, min(1024, MAX_SIMILARITY_ELEMENTS // len(self.words)))
        table = {}
        for begin in range(0, len(queries), batch_size):
            batch = queries[begin:begin + batch_size]
            rows = torch.tensor([self.row[w] for w in batch], dtype=torch.long)
            similarity = self.matrix[rows] @ self.matrix.T
            similarity[:, ~self.usable] = float("-inf")
            similarity[torch.arange(len(batch)), rows] = float("-inf")  # not the word itself
            scores, best = similarity.max(dim=1)
            for word, row, score in zip(batch, best.tolist(), scores.tolist()):
                if score != float("-inf"):
                    table[word] = self.words[row]
        return table


def whole_words(symbols: List[str]) -> List[str]:
    """Per dictionary symbol, the word it spells if it starts one, else ""."""
    try:
        style = detect_word_start_style(symbols)
    except IRUserError:  # no subword marks at all: a dictionary of whole words
        return list(symbols)
    if style == "gpt2":
        raise IRUserError("embedding neighbours need a sentencepiece or WordPiece dictionary; this one holds "
                          "GPT-2 ids (fairseq RoBERTa), whose words only encoder.json can spell")
    words = []
    for symbol in symbols:
        if not is_word_start(symbol, style):
            words.append("")
        elif style == "sentencepiece":
            words.append(symbol[len(SENTENCEPIECE_WORD_START):])
        else:
            words.append(symbol)
    return words


def embeddings_from_checkpoint(checkpoint: str, dictionary: Optional[str] = None) -> EmbeddingSpace:
    """The input embeddings of a fairseq checkpoint, with its dict.txt (default: next to it)."""
    dictionary = dictionary or os.path.join(os.path.dirname(os.path.abspath(checkpoint)), DICT_FILE)
    if not os.path.isfile(dictionary):
        raise IRUserError(f"dictionary not found: {dictionary} (pass the model's dict.txt with --dict)")
    return checkpoint_space(Checkpoint.read(checkpoint), dictionary)


def checkpoint_space(ckpt: Checkpoint, dictionary: str) -> EmbeddingSpace:
    """The space of an already read checkpoint and the path of its dict.txt."""
    if ckpt.embeddings is None:
        raise IRUserError(f"{ckpt.path} is not a fairseq masked-LM checkpoint (no {EMBEDDINGS})")
    symbols = load_dictionary(dictionary)
    ckpt.check_dictionary(len(symbols), dictionary, hint="pass this model's dict.txt with --dict")
    return EmbeddingSpace(whole_words(symbols.symbols), ckpt.embeddings, f"{ckpt.path} with {dictionary}")


def embeddings_from_text(path: str) -> EmbeddingSpace:
    """Word vectors in word2vec's text format (first line "COUNT DIM") or GloVe's (none)."""
    import torch

    if not os.path.isfile(path):
        raise IRUserError(f"word vectors file not found: {path}")
    words, rows, dim, seen = [], [], None, set()
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, start=1):
            parts = line.rstrip("\n").rstrip().split(" ")
            if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                dim = int(parts[1])  # word2vec header
                continue
            if not parts[0]:
                if line.strip():
                    raise IRUserError(f"{path}:{number}: a line must start with its word")
                continue
            if dim is None:
                dim = len(parts) - 1
            if len(parts) - 1 != dim or dim == 0:
                raise IRUserError(f"{path}:{number}: expected a word and {dim} numbers, found {len(parts) - 1} numbers")
            if not parts[0].isalpha() or parts[0].lower() in seen:
                continue  # not a word we use (first casing wins); its numbers are not parsed
            seen.add(parts[0].lower())
            try:
                rows.append([float(x) for x in parts[1:]])
            except ValueError:
                raise IRUserError(f"{path}:{number}: the vector of {parts[0]!r} holds a non-number") from None
            words.append(parts[0])
    if not words:
        raise IRUserError(f"{path} holds no word vectors for words made of letters")
    return EmbeddingSpace(words, torch.tensor(rows), path)
