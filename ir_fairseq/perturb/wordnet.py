"""Synonyms from WordNet 3.0 (TextFlint's SwapSynWordNet), read from its database files.

There is no part-of-speech tagger (NLTK's needs downloaded models), so a word is taken in its
most common reading: of the word as a lemma in each part of speech and as an inflected form of
another lemma (morphy(7WN)'s endings and exception lists: "won" is win, "defeated" defeat),
the one with the most sense-tagged occurrences in WordNet's index (``tagsense_cnt``), ties
broken by the number of senses, then noun, verb, adjective, adverb. When that reading is an
inflected form the word is left alone (a synonym would need the same inflection); else the
replacement is the first single-word, lower-case lemma of the first (most frequent) sense of
that part of speech (later senses give "game" -> "plot").

The files are read directly, as wndb(5WN) documents them: NLTK's reader wants a ``lexnames``
file Debian's ``wordnet-base`` lacks, and NLTK 3.10 refuses folders outside its data path.
The folder is $IR_FAIRSEQ_WORDNET_DIR, else /usr/share/wordnet.
"""
import os
import re
from typing import Dict, List, Optional

from ir_fairseq.common.errors import IRUserError
from ir_fairseq.perturb.words import usable

WORDNET_ENV = "IR_FAIRSEQ_WORDNET_DIR"
WORDNET_DIRS = ("/usr/share/wordnet",)  # Debian/Ubuntu wordnet-base
WORDNET_POS = ("noun", "verb", "adj", "adv")  # also the tie-break order
# morphy(7WN)'s detachment rules: inflected ending -> base ending
INFLECTIONS = {
    "noun": [("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"),
             ("men", "man"), ("ies", "y")],
    "verb": [("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"), ("ing", "")],
    "adj": [("er", ""), ("est", ""), ("er", "e"), ("est", "e")],
    "adv": [],
}


def find_wordnet(folder: Optional[str] = None) -> str:
    """The WordNet 3.0 dict folder to use: folder, else $IR_FAIRSEQ_WORDNET_DIR, else the
    Debian location. Only the first of these that is given is looked at."""
    from_env = not folder and bool(os.environ.get(WORDNET_ENV))
    folder = folder or os.environ.get(WORDNET_ENV)
    candidates = [folder] if folder else list(WORDNET_DIRS)
    needed = [f"{kind}.{pos}" for kind in ("index", "data") for pos in WORDNET_POS]
    for candidate in candidates:
        if all(os.path.isfile(os.path.join(candidate, name)) for name in needed):
            return candidate
    where = (f"{folder} (${WORDNET_ENV})" if from_env else folder) if folder else ", ".join(WORDNET_DIRS)
    raise IRUserError(
        f"WordNet 3.0 not found in {where}: install it with `apt-get install wordnet-base`, or set "
        f"{WORDNET_ENV} to a WordNet 3.0 dict folder (with index.noun, data.noun, ...)"
    )


class WordNet:
    """Synonyms from the WordNet database files (wndb(5WN)): index.POS lines are
    ``lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt synset_offset...``
    with the senses most frequent first; data.POS holds the synset at each byte offset,
    ``synset_offset lex_filenum ss_type w_cnt word lex_id [word lex_id...] ...`` (w_cnt in hex)."""

    def __init__(self, folder: Optional[str] = None, senses: Optional[int] = 1):
        self.folder = find_wordnet(folder)
        self.senses = senses
        self._entries: Dict[str, list] = {}  # lemma -> [(tagsense_cnt, synset_cnt, -pos_rank, pos, offsets)]
        for rank, pos in enumerate(WORDNET_POS):
            self._read_index(rank, pos)
        self._exceptions: Dict[str, Dict[str, List[str]]] = {}  # pos -> irregular form -> bases
        for pos in WORDNET_POS:
            path = os.path.join(self.folder, f"{pos}.exc")
            table = self._exceptions[pos] = {}
            if os.path.isfile(path):
                with open(path, encoding="utf-8", errors="replace") as f:
                    for line in f:
                        form, *bases = line.split()
                        table[form] = bases
        self._data = {}  # pos -> the bytes of data.pos (25 MB in all; seeking a file is no faster)
        for pos in WORDNET_POS:
            with open(os.path.join(self.folder, f"data.{pos}"), "rb") as f:
                self._data[pos] = f.read()
        self._synsets: Dict[tuple, List[str]] = {}

    def _read_index(self, rank: int, pos: str) -> None:
        path = os.path.join(self.folder, f"index.{pos}")
        with open(path, encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, start=1):
                if line.startswith(" "):  # the license header
                    continue
                lemma, _, rest = line.partition(" ")
                if not lemma.isalpha():  # multi-word (a_b), hyphenated, ...: never a swappable word
                    continue
                try:
                    parts = rest.split()
                    synset_cnt, p_cnt = int(parts[1]), int(parts[2])
                    tagsense_cnt = int(parts[4 + p_cnt])
                    offsets = [int(x) for x in parts[5 + p_cnt:5 + p_cnt + synset_cnt]]
                except (ValueError, IndexError):
                    raise IRUserError(f"{path}:{number}: not a WordNet index line") from None
                self._entries.setdefault(lemma, []).append((tagsense_cnt, synset_cnt, -rank, pos, offsets))

    def _synset_words(self, pos: str, offset: int) -> List[str]:
        key = (pos, offset)
        if key not in self._synsets:
            data = self._data[pos]
            end = data.find(b"\n", offset)
            parts = data[offset:end if end >= 0 else len(data)].decode("utf-8", errors="replace").split()
            try:
                if int(parts[0]) != offset:
                    raise ValueError
                count = int(parts[3], 16)
                words = [re.sub(r"\([a-z]+\)$", "", parts[4 + 2 * i]) for i in range(count)]
            except (ValueError, IndexError):
                raise IRUserError(
                    f"{os.path.join(self.folder, 'data.' + pos)}: no synset at byte {offset} "
                    "(index and data files of different WordNet versions?)"
                ) from None
            self._synsets[key] = words
        return self._synsets[key]

    def reading(self, word: str):
        """(part of speech, sense offsets) of the word's most common reading; offsets is None
        when that reading is an inflected form of another lemma ("won": win, "defeated":
        defeat), None when WordNet does not know the word."""
        word = word.lower()
        readings = [(entry[:3], 1, entry[3], entry[4]) for entry in self._entries.get(word, ())]
        for pos in WORDNET_POS:
            bases = set(self._exceptions[pos].get(word, ()))
            for ending, base_ending in INFLECTIONS[pos]:
                if word.endswith(ending) and len(word) > len(ending):
                    bases.add(word[:-len(ending)] + base_ending)
            bases.discard(word)
            for base in bases:
                for entry in self._entries.get(base, ()):
                    if entry[3] == pos:
                        readings.append((entry[:3], 0, pos, None))
        if not readings:
            return None
        _, _, pos, offsets = max(readings, key=lambda r: (r[0], r[1]))
        return pos, offsets

    def part_of_speech(self, word: str) -> Optional[str]:
        reading = self.reading(word)
        return reading[0] if reading else None

    def synonyms(self, word: str) -> List[str]:
        """Single-word lower-case synonyms of word in its most common reading, from its first
        ``senses`` senses (most frequent first; None: all); none when that reading is an
        inflected form (a synonym would need the same inflection)."""
        word = word.lower()
        reading = self.reading(word)
        if reading is None or reading[1] is None:
            return []
        pos, offsets = reading
        offsets = offsets[:self.senses] if self.senses else offsets
        found = []
        for offset in offsets:
            for lemma in self._synset_words(pos, offset):
                if lemma.islower() and usable(lemma, word) and lemma not in found:
                    found.append(lemma)
        return found

    def replacements(self, words) -> Dict[str, str]:
        table = {}
        for word in words:
            synonyms = self.synonyms(word)
            if synonyms:
                table[word] = synonyms[0]
        return table
