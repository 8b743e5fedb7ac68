"""--mask-whole-words on the masked_lm_ir task (it crashes on fairseq's own masked_lm)."""
import pytest

from builders import build
from ir_fairseq import IRUserError
from ir_fairseq.data.word_starts import detect_word_start_style, is_word_start

pytestmark = pytest.mark.quick  # bash scripts/test.sh --quick


def word_ids(symbols):
    ids, current = [], -1
    for symbol in symbols:
        if is_word_start(symbol, "sentencepiece"):
            current += 1
        ids.append(current)
    return ids


def test_whole_words_are_masked_together(corpus):
    task, _, _ = build(corpus["bin"], extra=("--mask-whole-words", "--mask-prob", "0.3"))
    task.load_dataset("train")
    dataset = task.dataset("train")
    dictionary = task.source_dictionary
    pad = dictionary.pad()
    multi_piece_words_masked = 0
    for index in range(40):
        item = dataset[index]
        target = item["target"].tolist()
        source = item["net_input.src_tokens"].tolist()
        original = [t if t != pad else s for s, t in zip(source, target)]
        masked = [t != pad for t in target]
        words = word_ids([dictionary[t] for t in original])
        for word in set(words):
            flags = {m for m, w in zip(masked, words) if w == word}
            assert len(flags) == 1, "a word was partly masked"
            if flags == {True} and words.count(word) > 1:
                multi_piece_words_masked += 1
    assert multi_piece_words_masked > 0


def test_word_start_style_is_read_off_the_dictionary():
    assert detect_word_start_style(["<s>", "\u2581the", "s"]) == "sentencepiece"
    assert detect_word_start_style(["[CLS]", "the", "##ing"]) == "wordpiece"
    assert is_word_start("##ing", "wordpiece") is False and is_word_start("the", "wordpiece")
    # fairseq RoBERTa's dict.txt: GPT-2 ids, its madeupword fillers, specials
    assert detect_word_start_style(["<s>", "<unk>", "1234", "5678", "madeupword0000"]) == "gpt2"
    with pytest.raises(IRUserError, match="mask-whole-words"):
        detect_word_start_style(["<s>", "the", "cat"])
