"""SQuAD examples -> model inputs: windows over long contexts and exact character <-> token maps.

Every question becomes one or more *features*, each ``<s> query </s> context-window </s>``
in ids of the fairseq dictionary (``dictionary.bos()``/``eos()``, so a converted BERT
dictionary whose ``<s>``/``</s>`` are ``[CLS]``/``[SEP]`` gives BERT's own layout):

- the query is cut to its first ``max_query_length`` tokens (64);
- the context is tokenised once, with the tokenizer's character offsets into the original
  context (``ir_fairseq.common.model_folder``); windows of at most ``max_length - len(query) - 3``
  context tokens start every ``doc_stride`` tokens (128) until one reaches the end, so every
  context token lies in at least one window (max length 384, as standard);
- each context token keeps its character span in the context with surrounding whitespace
  stripped (sentencepiece's ``▁`` pieces report the preceding space as theirs); a piece made
  only of whitespace (a lone ``▁``) has an empty span and never starts or ends an answer;
- a token is the "max context" token of the window where it has the most context on its
  shorter side (ties: the longer window), so a span predicted in several windows is scored
  where the model saw the most around it.

Answers map to tokens through these spans only, never through detokenised text: the answer's
first token is the first token whose span overlaps the answer's characters, its last token
the last one that does. The original context slice from the first token's start to the last
token's end is therefore the answer itself when the answer begins and ends on token
boundaries, and the shortest token-aligned slice containing it otherwise ("1990" in
"1990s"). Predictions go back the same way, so their text is always a slice of the original
context.

Training targets follow the standard BERT recipe for SQuAD v1.1: a window that does not
contain the whole answer is kept, with start and end both pointing at position 0 (the
``<s>``/``[CLS]`` token). The model learns that ``<s>`` means "not in this window", and
prediction never picks it because only context tokens are candidates.
"""
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from ir_fairseq.common.errors import IRUserError

CharSpan = Tuple[int, int]


@dataclass(frozen=True)
class WindowConfig:
    max_length: int = 384
    doc_stride: int = 128
    max_query_length: int = 64

    def max_context_tokens(self, query_length: int) -> int:
        return self.max_length - query_length - 3

    def check(self) -> "WindowConfig":
        room = self.max_context_tokens(self.max_query_length)
        if self.max_query_length < 1 or self.doc_stride < 1:
            raise IRUserError("max query length and doc stride must be positive")
        if room < 1:
            raise IRUserError(
                f"max length {self.max_length} leaves no room for the context after a query of "
                f"{self.max_query_length} tokens and 3 special tokens")
        if self.doc_stride > room:
            raise IRUserError(
                f"doc stride {self.doc_stride} is longer than a window's context "
                f"({room} tokens with max length {self.max_length} and max query length "
                f"{self.max_query_length}): context tokens between windows would never be seen")
        return self


@dataclass
class ContextTokens:
    """The whole context, tokenised once: ids and whitespace-stripped character spans."""
    ids: List[int]
    spans: List[CharSpan]


@dataclass
class SpanFeature:
    example_index: int        # position of the question in the list of examples
    window_index: int         # 0, 1, ... over the question's windows
    tokens: List[int]         # <s> query </s> window </s>, dictionary ids
    context_offset: int       # position in `tokens` of the window's first context token
    doc_start: int            # index of that token among the context's tokens
    spans: List[CharSpan]     # character span of each context token of the window
    max_context: List[bool]   # whether this window is the token's max-context window
    start_position: int = 0   # training target: answer start in `tokens` (0: not in window)
    end_position: int = 0
    answer_in_window: bool = False

    def context_positions(self) -> range:
        return range(self.context_offset, self.context_offset + len(self.spans))

    def char_span(self, start: int, end: int) -> Optional[CharSpan]:
        """Characters of the context covered by tokens start..end (positions in `tokens`)."""
        first, last = start - self.context_offset, end - self.context_offset
        if not (0 <= first <= last < len(self.spans)):
            return None
        return self.spans[first][0], self.spans[last][1]


def strip_span(text: str, start: int, end: int) -> CharSpan:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def tokenize_context(tokenizer, dictionary, context: str) -> ContextTokens:
    ids, spans = [], []
    for piece, start, end in tokenizer.tokenize_with_offsets(context):
        ids.append(dictionary.index(piece))
        spans.append(strip_span(context, start, end))
    return ContextTokens(ids, spans)


def tokenize_query(tokenizer, dictionary, question: str, max_query_length: int) -> List[int]:
    return [dictionary.index(piece) for piece in tokenizer.tokenize(question)][:max_query_length]


def answer_char_span(context: str, answer_text: str, answer_start: int) -> CharSpan:
    return strip_span(context, answer_start, answer_start + len(answer_text))


def answer_token_span(spans: Sequence[CharSpan], char_start: int, char_end: int) -> Optional[Tuple[int, int]]:
    """First and last context token overlapping characters [char_start, char_end), or None."""
    overlapping = [i for i, (s, e) in enumerate(spans) if s < e and s < char_end and e > char_start]
    if not overlapping:
        return None
    return overlapping[0], overlapping[-1]


def windows(num_tokens: int, max_tokens: int, stride: int) -> List[Tuple[int, int]]:
    """(start, length) of each window; the last one reaches the end of the context."""
    result, start = [], 0
    while True:
        length = min(num_tokens - start, max_tokens)
        result.append((start, length))
        if start + length >= num_tokens:
            return result
        start += min(length, stride)


def max_context_flags(window_list: Sequence[Tuple[int, int]], num_tokens: int) -> List[List[bool]]:
    """For each window, whether each of its tokens has its maximum context there."""
    best = [(-1.0, -1)] * num_tokens  # (score, window) per context token
    for w, (start, length) in enumerate(window_list):
        for position in range(start, start + length):
            left, right = position - start, start + length - 1 - position
            score = min(left, right) + 0.01 * length
            if score > best[position][0]:
                best[position] = (score, w)
    return [[best[p][1] == w for p in range(start, start + length)]
            for w, (start, length) in enumerate(window_list)]


def build_features(example, example_index: int, tokenizer, dictionary, config: WindowConfig,
                   with_targets: bool = False, context_tokens: Optional[ContextTokens] = None) -> List[SpanFeature]:
    """The features of one question. With ``with_targets`` the first answer gives the targets."""
    query = tokenize_query(tokenizer, dictionary, example.question, config.max_query_length)
    context = context_tokens if context_tokens is not None else tokenize_context(tokenizer, dictionary, example.context)
    answer_tokens = None
    if with_targets and example.answers:
        answer = example.answers[0]
        answer_tokens = answer_token_span(context.spans, *answer_char_span(example.context, answer.text, answer.start))
    window_list = windows(len(context.ids), config.max_context_tokens(len(query)), config.doc_stride)
    flags = max_context_flags(window_list, len(context.ids))
    features = []
    offset = len(query) + 2
    for w, (start, length) in enumerate(window_list):
        tokens = [dictionary.bos(), *query, dictionary.eos(), *context.ids[start:start + length], dictionary.eos()]
        feature = SpanFeature(example_index, w, tokens, offset, start, context.spans[start:start + length], flags[w])
        if answer_tokens is not None and start <= answer_tokens[0] and answer_tokens[1] < start + length:
            feature.start_position = answer_tokens[0] - start + offset
            feature.end_position = answer_tokens[1] - start + offset
            feature.answer_in_window = True
        features.append(feature)
    return features


@dataclass
class FeatureStats:
    questions: int = 0
    features: int = 0
    answers_outside_windows: int = 0   # windows whose targets point at <s>
    unmappable_answers: int = 0        # answers covering no token (whitespace only): skipped
    multi_window_questions: int = 0
    longest: int = 0


def build_all_features(examples, tokenizer, dictionary, config: WindowConfig, with_targets: bool = False):
    """Features of every example, in order, and counts for the log."""
    config.check()
    features, stats = [], FeatureStats()
    cache = {}  # questions of one paragraph share its tokenised context
    for index, example in enumerate(examples):
        context = cache.get(example.context)
        if context is None:
            cache.clear()
            context = cache[example.context] = tokenize_context(tokenizer, dictionary, example.context)
        if with_targets and example.answers:
            answer = example.answers[0]
            if answer_token_span(context.spans, *answer_char_span(example.context, answer.text, answer.start)) is None:
                stats.unmappable_answers += 1
                continue
        new = build_features(example, index, tokenizer, dictionary, config, with_targets, context)
        stats.questions += 1
        stats.features += len(new)
        stats.multi_window_questions += len(new) > 1
        stats.answers_outside_windows += sum(not f.answer_in_window for f in new) if with_targets else 0
        stats.longest = max([stats.longest] + [len(f.tokens) for f in new])
        features.extend(new)
    return features, stats
