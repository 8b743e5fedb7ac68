"""Which words of a text may be swapped, and swapping them.

A word is a run of letters (``[^\\W\\d_]+``) not joined to other word characters or an
apostrophe (so "don't" and "Denver's" stay whole). It may be swapped when it has at least two
letters, is not in the small stopword list below, does not overlap a protected span (e.g. a
gold answer), and is not a capitalised word in the middle of a sentence (nearly always a name:
"Super Bowl" must not become "Super Roll"). A replacement takes the original's case
(Capitalised, UPPER or lower). Each word with a replacement is swapped with probability
``swap_prob``, drawn in text order from the caller's ``random.Random``, so a seed gives the same
output every time.
"""
import bisect
import random
import re
from typing import Callable, Dict, List, Optional, Sequence, Tuple

DEFAULT_SWAP_PROB = 0.5  # TextFlint swaps every candidate, which garbles most sentences

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

Candidate = Tuple[int, int, str]  # start, end, word
Swap = Tuple[int, int, str]  # start, end, replacement


def usable(candidate: str, word: str) -> bool:
    """Whether candidate may replace word: another real word, not a stopword."""
    return (len(candidate) > 1 and candidate.isalpha() and candidate != word
            and candidate not in STOPWORDS)


def match_case(original: str, replacement: str) -> str:
    if len(original) > 1 and original.isupper():
        return replacement.upper()
    if original[0].isupper():
        return replacement[0].upper() + replacement[1:]
    return replacement


def sentence_initial(text: str, start: int) -> bool:
    i = start - 1
    while i >= 0 and (text[i].isspace() or text[i] in "\"'“‘([{"):
        i -= 1
    return i < 0 or text[i] in ".!?:;\n"


def candidate_words(text: str, protected: Optional[bytearray] = None) -> Tuple[List[Candidate], int]:
    """The words of text that may be swapped, and the number of words.

    protected has one byte per character of text; a word touching a non-zero byte stays."""
    found, total = [], 0
    for match in WORD.finditer(text):
        total += 1
        start, end = match.span()
        word = match.group()
        if len(word) < 2 or word.lower() in STOPWORDS:
            continue
        if word[0].isupper() and not sentence_initial(text, start):
            continue
        if protected is not None and any(protected[start:end]):
            continue
        found.append((start, end, word))
    return found, total


def choose_swaps(found: Sequence[Candidate], table: Dict[str, str], rng: random.Random,
                 swap_prob: float) -> Tuple[List[Swap], int]:
    """The swaps drawn among the candidates that have a replacement (keyed lower-case in
    table), and how many had one."""
    swaps, swappable = [], 0
    for start, end, word in found:
        replacement = table.get(word.lower())
        if replacement is None:
            continue
        swappable += 1
        if rng.random() < swap_prob:
            swaps.append((start, end, match_case(word, replacement)))
    return swaps, swappable


def apply_swaps(text: str, swaps: Sequence[Swap]) -> Tuple[str, Callable[[int], int]]:
    """text with the swaps (in order, not overlapping) made, and the map of an offset of text
    outside every swapped word to the same character's offset in the new text."""
    pieces, position, ends, shifts, shift = [], 0, [], [], 0
    for start, end, replacement in swaps:
        pieces += [text[position:start], replacement]
        position = end
        shift += len(replacement) - (end - start)
        ends.append(end)
        shifts.append(shift)
    pieces.append(text[position:])

    def moved(offset: int) -> int:
        i = bisect.bisect_right(ends, offset)  # the swaps ending at or before offset move it
        return offset + (shifts[i - 1] if i else 0)

    return "".join(pieces), moved
