"""Synonym-swap attacks on SQuAD v1.1, after TextFlint's SwapSynWordNet and SwapSynWordEmbedding.

    python scripts/attack_squad.py dev-v1.1.json OUT.json --attack wordnet [--swap-prob 0.5] [--seed 1]
    python scripts/attack_squad.py dev-v1.1.json OUT.json --attack embedding --checkpoint CKPT [--dict dict.txt]
    python scripts/attack_squad.py dev-v1.1.json OUT.json --attack embedding --vectors glove.txt

Writes the same dataset (same layout, ids and extra keys) with words of the contexts and
questions replaced by synonyms, to measure how much a reader model relies on exact wording.

Which words: runs of letters (``[^\\W\\d_]+``) not joined to other word characters or an
apostrophe (so "don't" and "Denver's" stay whole), at least two letters, not in the small
stopword list below, not overlapping any gold answer of any question of the paragraph (the
answers stay valid, and every ``answer_start`` is recomputed), and not a capitalised word in
the middle of a sentence (nearly always a name: "Super Bowl" must not become "Super
Roll"). A word with a replacement is swapped with probability ``--swap-prob`` (default 0.5;
TextFlint swaps every candidate, which garbles most sentences), drawn from
``random.Random(--seed)`` in file order, so a seed gives the same output every time. A
replacement takes the original's case (Capitalised, UPPER or lower).

wordnet: a WordNet 3.0 synonym from the word's most frequent sense. There is no
part-of-speech tagger (NLTK's needs downloaded models), so the word is taken in its most
common reading: of the word as a lemma in each part of speech and as an inflected form of
another lemma (morphy(7WN)'s endings and exception lists: "won" is win, "defeated" defeat),
the one with the most sense-tagged occurrences in WordNet's index (``tagsense_cnt``), ties
broken by the number of senses, then noun, verb, adjective, adverb. When that reading is an
inflected form the word is left alone (a synonym would need the same inflection); else the
replacement is the first single-word, lower-case lemma of the first (most frequent) sense of
that part of speech (later senses give "game" -> "plot"). About 11% of the dev set's context
words have one. The database files are read directly, as wndb(5WN) documents them (NLTK's
reader wants a ``lexnames`` file Debian's ``wordnet-base`` lacks, and NLTK 3.10 refuses
folders outside its data path): $IR_FAIRSEQ_WORDNET_DIR, else /usr/share/wordnet.

embedding: the nearest neighbour by cosine similarity, among the whole words of the
embedding space, of the word (compared lower-cased; the first, i.e. most frequent, casing of
a word is the one used). The space is either a fairseq checkpoint's input embeddings
(``encoder.sentence_encoder.embed_tokens.weight``) with its dictionary (dict.txt next to the
checkpoint, or --dict), where whole words are sentencepiece pieces starting with "▁" or
WordPiece tokens not starting with "##"; or a word-vectors text file (word2vec text format
with its "COUNT DIM" first line, or GloVe's without).
"""
import argparse
import bisect
import json
import os
import random
import re
import sys
from typing import Dict, List, Optional

from ir_fairseq.common.errors import IRUserError
from ir_fairseq.squad.data import check_not_input, examples_from_dict, load_squad_dict, write_squad

ATTACKS = ("wordnet", "embedding")
DEFAULT_SWAP_PROB = 0.5
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

WORD = re.compile(r"(?<![\w'’])[^\W\d_]+(?![\w'’])")

STOPWORDS = frozenset("""
a about above after again against all also am an and any are aren as at be because been before
being below between both but by can could did do does doing don down during each either else
ever few for from further had has have having he her here hers herself him himself his how i if
in into is it its itself just least less let like many may me might more most much must my
myself neither no nor not now of off on once one only or other ought our ours ourselves out over
own per same shall she should since so some such than that the their theirs them themselves then
there these they this those though through thus to too under until up upon us very was we were
what when where whether which while who whom whose why will with within without would yet you
your yours yourself yourselves become became becomes get gets got make made makes new old
first last another every well still even back way two three
""".split())


def _match_case(original: str, replacement: str) -> str:
    if len(original) > 1 and original.isupper():
        return replacement.upper()
    if original[0].isupper():
        return replacement[0].upper() + replacement[1:]
    return replacement


def _sentence_initial(text: str, start: int) -> bool:
    i = start - 1
    while i >= 0 and (text[i].isspace() or text[i] in "\"'“‘([{"):
        i -= 1
    return i < 0 or text[i] in ".!?:;\n"


def _candidate_words(text: str, protected: Optional[bytearray] = None):
    """(start, end, word) of the words that may be swapped, and the number of words."""
    found, total = [], 0
    for match in WORD.finditer(text):
        total += 1
        start, end = match.span()
        word = match.group()
        if len(word) < 2 or word.lower() in STOPWORDS:
            continue
        if word[0].isupper() and not _sentence_initial(text, start):
            continue
        if protected is not None and any(protected[start:end]):
            continue
        found.append((start, end, word))
    return found, total


def _usable(candidate: str, word: str) -> bool:
    return (len(candidate) > 1 and candidate.isalpha() and candidate != word
            and candidate not in STOPWORDS)


# ---------------------------------------------------------------------------------------
# WordNet


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
            path = os.path.join(self.folder, f"index.{pos}")
            with open(path, encoding="utf-8", errors="replace") as f:
                for number, line in enumerate(f, start=1):
                    if line.startswith(" "):  # the license header
                        continue
                    lemma, _, rest = line.partition(" ")
                    if not lemma.isalpha():  # multi-word (a_b), hyphenated, ...: never in our text
                        continue
                    try:
                        parts = rest.split()
                        synset_cnt, p_cnt = int(parts[1]), int(parts[2])
                        tagsense_cnt = int(parts[4 + p_cnt])
                        offsets = [int(x) for x in parts[5 + p_cnt:5 + p_cnt + synset_cnt]]
                    except (ValueError, IndexError):
                        raise IRUserError(f"{path}:{number}: not a WordNet index line") from None
                    self._entries.setdefault(lemma, []).append((tagsense_cnt, synset_cnt, -rank, pos, offsets))
        self._exceptions: Dict[str, Dict[str, List[str]]] = {}  # pos -> irregular form -> bases
        for pos, name in zip(WORDNET_POS, ("noun", "verb", "adj", "adv")):
            path = os.path.join(self.folder, f"{name}.exc")
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
        """Single-word lower-case synonyms of word in its most common reading, from its
        first ``senses`` senses (most frequent first; None: all); none when that reading is an inflected form (a synonym would need the
        same inflection)."""
        word = word.lower()
        reading = self.reading(word)
        if reading is None or reading[1] is None:
            return []
        pos, offsets = reading
        offsets = offsets[:self.senses] if self.senses else offsets
        found = []
        for offset in offsets:
            for lemma in self._synset_words(pos, offset):
                if lemma.islower() and _usable(lemma, word) and lemma not in found:
                    found.append(lemma)
        return found

    def replacements(self, words) -> Dict[str, str]:
        table = {}
        for word in words:
            synonyms = self.synonyms(word)
            if synonyms:
                table[word] = synonyms[0]
        return table


# ---------------------------------------------------------------------------------------
# Embeddings


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
        self.usable = torch.tensor([_usable(w, "") for w in self.words], dtype=torch.bool)
        if not bool(self.usable.any()):
            raise IRUserError(f"{source} has no usable replacement words (all stopwords or single letters)")

    def replacements(self, words) -> Dict[str, str]:
        import torch

        queries = [w.lower() for w in words if w.lower() in self.row]
        batch_size = max(1, min(1024, 2 ** 26 // len(self.words)))  # similarities: at most 256 MB
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


def embeddings_from_checkpoint(checkpoint: str, dictionary: Optional[str] = None) -> EmbeddingSpace:
    import ir_fairseq  # noqa: F401  (allow-lists fairseq checkpoint classes for torch.load)
    from fairseq.data import Dictionary

    from ir_fairseq.checkpoint_checks import EMBEDDINGS, read_checkpoint

    dictionary = dictionary or os.path.join(os.path.dirname(os.path.abspath(checkpoint)), "dict.txt")
    if not os.path.isfile(dictionary):
        raise IRUserError(f"dictionary not found: {dictionary} (pass the model's dict.txt with --dict)")
    state = read_checkpoint(checkpoint)
    model = state.get("model") if isinstance(state, dict) else None
    if not isinstance(model, dict) or EMBEDDINGS not in model:
        raise IRUserError(f"{checkpoint} is not a fairseq masked-LM checkpoint (no {EMBEDDINGS})")
    try:
        symbols = Dictionary.load(dictionary).symbols
    except Exception as e:
        raise IRUserError(f"{dictionary} is not a fairseq dictionary: {e}") from None
    vectors = model[EMBEDDINGS]
    if vectors.size(0) < len(symbols):
        raise IRUserError(
            f"{dictionary} has {len(symbols)} symbols (with fairseq's specials) but the embeddings "
            f"of {checkpoint} only {vectors.size(0)} rows: not this model's dictionary"
        )
    if any(s.startswith("▁") for s in symbols):  # sentencepiece: pieces without "▁" continue a word
        words = [s[1:] if s.startswith("▁") else "" for s in symbols]
    else:  # WordPiece: "##" pieces continue a word
        words = ["" if s.startswith("##") else s for s in symbols]
    return EmbeddingSpace(words, vectors, f"{checkpoint} with {dictionary}")


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


# ---------------------------------------------------------------------------------------
# The attack


def attack_dataset(dataset: dict, attack: str, *, swap_prob: float = DEFAULT_SWAP_PROB, seed: int = 1,
                   checkpoint: Optional[str] = None, dictionary: Optional[str] = None,
                   vectors: Optional[str] = None, wordnet_dir: Optional[str] = None,
                   space: Optional[object] = None, source: str = "dataset"):
    """A transformed copy of a parsed SQuAD v1.1 dataset, and counts of what changed.

    attack is "wordnet" or "embedding" (with checkpoint [+ dictionary] or vectors, or an
    already built space: a WordNet or EmbeddingSpace, reused across calls). The input dict
    is not modified."""
    if attack not in ATTACKS:
        raise IRUserError(f"unknown attack {attack!r}; expected one of {', '.join(ATTACKS)}")
    if not 0.0 <= swap_prob <= 1.0:
        raise IRUserError(f"--swap-prob must be between 0 and 1, got {swap_prob}")
    if attack == "wordnet" and (checkpoint or vectors):
        raise IRUserError("--checkpoint and --vectors are for --attack embedding")
    if attack == "embedding" and space is None and bool(checkpoint) == bool(vectors):
        raise IRUserError("--attack embedding needs one of --checkpoint (a fairseq model) or --vectors (a word-vectors text file)")
    if dictionary and not checkpoint:
        raise IRUserError("--dict goes with --checkpoint")
    questions = len(examples_from_dict(dataset, source))  # offsets are consistent from here on
    result = json.loads(json.dumps(dataset))

    # pass 1: the words that may change, per text, in file order
    texts = []  # (paragraph, qa or None, candidate words)
    totals = {"context": 0, "question": 0}
    for article in result["data"]:
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            protected = bytearray(len(context))
            for qa in paragraph["qas"]:
                for answer in qa["answers"]:
                    start = answer["answer_start"]
                    protected[start:start + len(answer["text"])] = b"\1" * len(answer["text"])
            found, total = _candidate_words(context, protected)
            totals["context"] += total
            texts.append((paragraph, None, found))
            for qa in paragraph["qas"]:
                found, total = _candidate_words(qa["question"])
                totals["question"] += total
                texts.append((paragraph, qa, found))
    distinct = list(dict.fromkeys(word.lower() for _, _, found in texts for _, _, word in found))

    if space is None:
        if attack == "wordnet":
            space = WordNet(wordnet_dir)
        elif checkpoint:
            space = embeddings_from_checkpoint(checkpoint, dictionary)
        else:
            space = embeddings_from_text(vectors)
    table = space.replacements(distinct)

    # pass 2: swap
    rng = random.Random(seed)
    changed = {"context": 0, "question": 0}
    swappable = {"context": 0, "question": 0}
    for paragraph, qa, found in texts:
        kind = "context" if qa is None else "question"
        text = paragraph["context"] if qa is None else qa["question"]
        swaps = []
        for start, end, word in found:
            replacement = table.get(word.lower())
            if replacement is None:
                continue
            swappable[kind] += 1
            if rng.random() < swap_prob:
                swaps.append((start, end, _match_case(word, replacement)))
        if not swaps:
            continue
        changed[kind] += len(swaps)
        pieces, position, starts, shifts, shift = [], 0, [], [], 0
        for start, end, replacement in swaps:
            pieces += [text[position:start], replacement]
            position = end
            shift += len(replacement) - (end - start)
            starts.append(end)
            shifts.append(shift)
        pieces.append(text[position:])
        new_text = "".join(pieces)
        if qa is not None:
            qa["question"] = new_text
            continue
        paragraph["context"] = new_text
        for other in paragraph["qas"]:
            for answer in other["answers"]:
                # the swaps that end at or before the answer move it; none overlaps it
                i = bisect.bisect_right(starts, answer["answer_start"])
                answer["answer_start"] += shifts[i - 1] if i else 0
                start = answer["answer_start"]
                if new_text[start:start + len(answer["text"])] != answer["text"]:
                    raise AssertionError(f"answer of {other['id']} moved: a bug in the attack")
    stats = {
        "attack": attack, "questions": questions, "swap_prob": swap_prob, "seed": seed,
        "context_words": totals["context"], "context_words_swappable": swappable["context"],
        "context_words_changed": changed["context"],
        "question_words": totals["question"], "question_words_swappable": swappable["question"],
        "question_words_changed": changed["question"],
    }
    return result, stats


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python scripts/attack_squad.py", description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog="\n".join(__doc__.splitlines()[1:]),
    )
    parser.add_argument("dataset", help="SQuAD v1.1 JSON file (e.g. dev-v1.1.json)")
    parser.add_argument("output", help="where to write the transformed dataset (JSON, same layout)")
    parser.add_argument("--attack", required=True, choices=ATTACKS)
    parser.add_argument("--checkpoint", help="embedding: a fairseq checkpoint whose input embeddings to use")
    parser.add_argument("--dict", dest="dictionary", help="embedding: the checkpoint's dict.txt (default: next to it)")
    parser.add_argument("--vectors", help="embedding: word vectors, word2vec or GloVe text format")
    parser.add_argument("--swap-prob", type=float, default=DEFAULT_SWAP_PROB,
                        help=f"probability of swapping each word that has a synonym (default {DEFAULT_SWAP_PROB})")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        check_not_input(args.output, args.dataset)
        dataset = load_squad_dict(args.dataset)
        result, stats = attack_dataset(
            dataset, args.attack, swap_prob=args.swap_prob, seed=args.seed, checkpoint=args.checkpoint,
            dictionary=args.dictionary, vectors=args.vectors, source=args.dataset,
        )
        write_squad(result, args.output, input_path=args.dataset)
    except IRUserError as e:
        sys.exit(f"ir_fairseq: error: {e}")
    print(
        f"attack {args.attack}: {stats['questions']} questions; changed {stats['context_words_changed']} of "
        f"{stats['context_words']} context words and {stats['question_words_changed']} of "
        f"{stats['question_words']} question words (swap probability {args.swap_prob}, seed {args.seed}) "
        f"-> {args.output}"
    )


if __name__ == "__main__":
    main()
