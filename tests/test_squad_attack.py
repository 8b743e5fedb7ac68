"""Synonym-swap attacks: exact swaps on a hand-made paragraph, every gold answer and offset
kept on a whole dev set (the real one in CI, else the generated one), and the command line's
refusals."""
import copy
import json
import math
import os
from argparse import Namespace
from collections import Counter

import pytest
import torch

from conftest import run_tool
from ir_fairseq import IRUserError
from ir_fairseq.perturb.embeddings import EmbeddingSpace, embeddings_from_checkpoint, embeddings_from_text
from ir_fairseq.perturb.wordnet import WordNet
from ir_fairseq.perturb.words import WORD
from ir_fairseq.squad.attack import attack_dataset, main
from ir_fairseq.squad.data import examples_from_dict, load_squad_dict
from squad_sources import needs_wordnet, squad_files  # noqa: F401  (squad_files: a fixture)

CONTEXT = "The big team played in a large city. It quickly became famous, and the Big Team fans don't forget the team."


def answer(text):
    return {"text": text, "answer_start": CONTEXT.index(text)}


def small_dataset():
    return {"version": "1.1", "data": [{"title": "Teams", "paragraphs": [{"context": CONTEXT, "qas": [
        {"id": "q1", "question": "Where did the big team play?", "answers": [answer("a large city")]},
        {"id": "q2", "question": "Quickly, who became famous?",
         "answers": [answer("the Big Team fans"), answer("Big Team")]},
    ]}]}]}


def paragraph(dataset):
    p = dataset["data"][0]["paragraphs"][0]
    return p["context"], [qa["question"] for qa in p["qas"]], [[(a["text"], a["answer_start"]) for a in qa["answers"]] for qa in p["qas"]]


def assert_same_questions_and_answers(original, attacked):
    """Same articles, paragraphs, ids and answer texts (examples_from_dict checks each sits at
    its answer_start), and each at the same occurrence: as many words before it as before."""
    before, after = examples_from_dict(original, "original"), examples_from_dict(attacked, "attacked")
    assert [(e.qid, e.title, [a.text for a in e.answers]) for e in before] == \
           [(e.qid, e.title, [a.text for a in e.answers]) for e in after]
    for old, new in zip(before, after):
        for a, b in zip(old.answers, new.answers):
            assert len(WORD.findall(old.context[:a.start])) == len(WORD.findall(new.context[:b.start])), new.qid


@pytest.fixture(scope="module")
def wordnet():
    return WordNet()


# Vectors with known neighbours: each word of a pair is the other's nearest, and the stopword
# "the" is nearer to "big" than "large" is (it must still never be chosen).
PAIRS = [("big", "large"), ("team", "squad"), ("city", "town"), ("quickly", "rapidly"), ("famous", "renowned")]


def pair_vectors():
    words, vectors = [], []
    for k, (a, b) in enumerate(PAIRS):
        first, second = [0.0] * 6, [0.0] * 6
        first[k], second[k], second[5] = 1.0, 0.95, 0.3
        words += [a, b]
        vectors += [first, second]
    words.append("the")
    vectors.append([1.0, 0, 0, 0, 0, 0.01])
    return words, vectors


EMBEDDING_CONTEXT = "The large squad played in a large city. It rapidly became renowned, and the Big Team fans don't forget the squad."
EMBEDDING_QUESTIONS = ["Where did the large squad play?", "Rapidly, who became renowned?"]


def tiny_checkpoint(folder, symbols, vectors=None):
    """A real fairseq RoBERTa state dict (1 layer, tiny) with dict.txt; rows of the given
    vectors set, the rest random."""
    from fairseq.data import Dictionary
    from fairseq.models.roberta.model import RobertaModel, base_architecture

    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "dict.txt"), "w", encoding="utf-8") as f:
        f.writelines(f"{s} 1\n" for s in symbols)
    dictionary = Dictionary.load(os.path.join(folder, "dict.txt"))
    dictionary.add_symbol("<mask>")  # as the masked-LM task does
    dim = len(vectors[0]) if vectors else 8
    args = Namespace(encoder_layers=1, encoder_embed_dim=dim, encoder_ffn_embed_dim=8, encoder_attention_heads=1,
                     max_positions=16, tokens_per_sample=16)
    base_architecture(args)
    torch.manual_seed(0)
    state = RobertaModel.build_model(args, Namespace(source_dictionary=dictionary)).state_dict()
    if vectors:
        embeddings = state["encoder.sentence_encoder.embed_tokens.weight"]
        for i, vector in enumerate(vectors):
            embeddings[dictionary.index(symbols[i])] = torch.tensor(vector)
    path = os.path.join(folder, "checkpoint_best.pt")
    torch.save({"model": state, "cfg": None}, path)
    return path


def write_vectors(path, words, vectors, header=True):
    with open(path, "w", encoding="utf-8") as f:
        if header:
            f.write(f"{len(words)} {len(vectors[0])}\n")
        for word, vector in zip(words, vectors):
            f.write(word + " " + " ".join(f"{x:.4f}" for x in vector) + " \n")
    return str(path)


@needs_wordnet
def test_wordnet_swaps_by_hand(wordnet):
    original = small_dataset()
    kept = copy.deepcopy(original)
    attacked, stats = attack_dataset(original, "wordnet", swap_prob=1.0, space=wordnet)
    assert original == kept  # the input is not modified
    context, questions, answers = paragraph(attacked)
    # big -> large, team -> squad, quickly -> rapidly, famous -> celebrated, forget -> bury
    # (first sense); "a large city" and "the Big Team fans" are answers; "played", "fans"
    # are inflected forms; "Big Team" mid-sentence is a name; "don't" stays whole
    assert context == ("The large squad played in a large city. It rapidly became celebrated, "
                       "and the Big Team fans don't bury the squad.")
    assert questions == ["Where did the large squad play?", "Rapidly, who became celebrated?"]
    # "a large city" was at 23: big (+2) and team (+1) come before it; famous (+4) too before the second
    assert answers == [[("a large city", 26)], [("the Big Team fans", 74), ("Big Team", 78)]]
    assert stats["questions"] == 2
    assert (stats["context_words_changed"], stats["question_words_changed"]) == (6, 4)
    assert_same_questions_and_answers(original, attacked)


@needs_wordnet
def test_wordnet_readings(wordnet):
    assert wordnet.synonyms("big") == ["large"] and wordnet.part_of_speech("big") == "adj"
    assert wordnet.synonyms("city") == ["metropolis"]
    assert wordnet.synonyms("won") == [] and wordnet.part_of_speech("won") == "verb"  # win, not the currency
    assert wordnet.synonyms("defeated") == []  # defeat + ed, not the adjective
    assert wordnet.synonyms("cars") == []  # no inflected synonyms
    assert wordnet.synonyms("game") == []  # its first sense has no other word ("plot" is a later one)
    assert "plot" in WordNet(senses=None).synonyms("game")


@needs_wordnet
def test_swap_probability_and_seed(wordnet):
    original = small_dataset()
    assert attack_dataset(original, "wordnet", swap_prob=0.0, space=wordnet)[0] == original
    runs = {seed: attack_dataset(original, "wordnet", swap_prob=0.5, seed=seed, space=wordnet) for seed in (1, 1, 2, 3)}
    again = attack_dataset(original, "wordnet", swap_prob=0.5, seed=1, space=wordnet)
    assert again == runs[1]
    assert len({json.dumps(result) for result, _ in runs.values()}) == 3
    for result, _ in runs.values():
        assert_same_questions_and_answers(original, result)
    with pytest.raises(IRUserError, match="--swap-prob must be between 0 and 1"):
        attack_dataset(original, "wordnet", swap_prob=1.5, space=wordnet)


@pytest.mark.parametrize("header", [True, False], ids=["word2vec", "glove"])
def test_embedding_from_a_vectors_file(tmp_path, header):
    words, vectors = pair_vectors()
    path = write_vectors(tmp_path / "vectors.txt", words, vectors, header=header)
    attacked, stats = attack_dataset(small_dataset(), "embedding", swap_prob=1.0, vectors=path)
    context, questions, answers = paragraph(attacked)
    assert context == EMBEDDING_CONTEXT
    assert questions == EMBEDDING_QUESTIONS
    assert answers == [[("a large city", 26)], [("the Big Team fans", 72), ("Big Team", 76)]]
    assert (stats["context_words_changed"], stats["question_words_changed"]) == (5, 4)


@pytest.mark.parametrize("kind", ["sentencepiece", "wordpiece"])
def test_embedding_from_a_fairseq_checkpoint(tmp_path, kind):
    words, vectors = pair_vectors()
    if kind == "sentencepiece":
        symbols = ["▁" + w for w in words] + ["ed", "ing", "▁", ","]
    else:
        symbols = words + ["##ed", "##ing", "[CLS]", ","]
    checkpoint = tiny_checkpoint(str(tmp_path / "model"), symbols, vectors + [[0.0] * 6] * 4)
    attacked, _ = attack_dataset(small_dataset(), "embedding", swap_prob=1.0, checkpoint=checkpoint)
    context, questions, _ = paragraph(attacked)
    assert context == EMBEDDING_CONTEXT and questions == EMBEDDING_QUESTIONS
    space = embeddings_from_checkpoint(checkpoint)
    assert sorted(space.words) == sorted(words)  # only whole words: no "ed", "##ing", "[CLS]"


def test_embedding_errors(tmp_path):
    words, vectors = pair_vectors()
    with pytest.raises(IRUserError, match="needs one of --checkpoint .* or --vectors"):
        attack_dataset(small_dataset(), "embedding")
    bad = tmp_path / "bad.txt"
    bad.write_text("big 1 0 0\nlarge 0.9 0.1\n", encoding="utf-8")
    with pytest.raises(IRUserError, match=r"bad.txt:2: expected a word and 3 numbers, found 2"):
        embeddings_from_text(str(bad))
    bad.write_text("2 3\nbig 1 0 0\nlarge 0.9 x 0\n", encoding="utf-8")
    with pytest.raises(IRUserError, match=r"bad.txt:3: the vector of 'large' holds a non-number"):
        embeddings_from_text(str(bad))
    checkpoint = tiny_checkpoint(str(tmp_path / "model"), ["▁" + w for w in words], vectors)
    os.remove(tmp_path / "model" / "dict.txt")
    with pytest.raises(IRUserError, match="dictionary not found: .*dict.txt .*--dict"):
        embeddings_from_checkpoint(checkpoint)
    other = tmp_path / "other.txt"
    other.write_text("".join(f"▁w{i} 1\n" for i in range(40)), encoding="utf-8")
    with pytest.raises(IRUserError, match=r"the dictionary of .*other.txt \(45 symbols with <mask>\) does not match "
                                          r"the embeddings of .* \(16 rows\): pass this model's dict.txt with --dict"):
        embeddings_from_checkpoint(checkpoint, str(other))
    with pytest.raises(IRUserError, match="has no whole words made of letters"):
        EmbeddingSpace(["▁", "12"], torch.zeros(2, 3), "numbers")


def test_cli_refusals(tmp_path):
    source = tmp_path / "in.json"
    source.write_text(json.dumps(small_dataset()), encoding="utf-8")
    out = str(tmp_path / "out.json")
    for argv, message in [
        ([str(source), str(source), "--attack", "wordnet"], "refusing to overwrite the input file"),
        ([str(source), out, "--attack", "wordnet", "--vectors", "v.txt"], "--checkpoint and --vectors are for --attack embedding"),
        ([str(source), out, "--attack", "embedding"], "--attack embedding needs one of"),
        ([str(source), out, "--attack", "embedding", "--vectors", str(tmp_path / "v.txt")], "word vectors file not found"),
        ([str(tmp_path / "none.json"), out, "--attack", "wordnet"], "SQuAD file not found"),
    ]:
        with pytest.raises(IRUserError, match=message):
            main(argv)
    assert not os.path.exists(out)


@needs_wordnet
def test_cli_writes_the_attacked_file_and_refuses_without_wordnet(tmp_path):
    source = tmp_path / "in.json"
    source.write_text(json.dumps(small_dataset()), encoding="utf-8")
    out = tmp_path / "out.json"
    proc = run_tool("squad-attack", [source, out, "--attack", "wordnet", "--swap-prob", "1", "--seed", "3"],
                    cwd=str(tmp_path))
    assert proc.stdout.strip().splitlines() == [
        f"attack wordnet: 2 questions; changed 6 of 20 context words and 4 of 10 question words "
        f"(swap probability 1.0, seed 3) -> {out}"
    ]
    assert paragraph(json.loads(out.read_text(encoding="utf-8")))[0].startswith("The large squad played")

    empty = tmp_path / "no-wordnet"
    empty.mkdir()
    proc = run_tool("squad-attack", [source, tmp_path / "out2.json", "--attack", "wordnet"],
                    env_extra={"IR_FAIRSEQ_WORDNET_DIR": str(empty)}, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (
        f"ir_fairseq: error: WordNet 3.0 not found in {empty} ($IR_FAIRSEQ_WORDNET_DIR): install it with "
        "`apt-get install wordnet-base`, or set IR_FAIRSEQ_WORDNET_DIR to a WordNet 3.0 dict folder "
        "(with index.noun, data.noun, ...)"
    )
    assert not (tmp_path / "out2.json").exists()


@pytest.fixture(scope="module")
def dev(squad_files):
    return load_squad_dict(squad_files.dev)


def frequent_dev_words(dev, count):
    words = Counter()
    for article in dev["data"]:
        for p in article["paragraphs"]:
            words.update(w.lower() for w in p["context"].split() if w.isalpha())
    return [w for w, _ in words.most_common(count)]


@pytest.mark.parametrize("attack", [pytest.param("wordnet", marks=needs_wordnet), "vectors", "checkpoint"])
def test_whole_dev_set_keeps_every_answer(dev, tmp_path, attack):
    if attack == "wordnet":
        options = {}
    else:
        words = frequent_dev_words(dev, 3000)
        generator = torch.Generator().manual_seed(0)
        vectors = torch.randn(len(words), 8, generator=generator).tolist()
        if attack == "vectors":
            options = {"vectors": write_vectors(tmp_path / "v.txt", words, vectors, header=False)}
        else:
            options = {"checkpoint": tiny_checkpoint(str(tmp_path / "m"), ["▁" + w for w in words], vectors)}
    kind = "wordnet" if attack == "wordnet" else "embedding"
    attacked, stats = attack_dataset(dev, kind, seed=1, **options)
    assert_same_questions_and_answers(dev, attacked)
    assert stats["questions"] == sum(len(p["qas"]) for a in dev["data"] for p in a["paragraphs"])
    # about half of the swappable words change (default swap probability 0.5): within 5
    # standard deviations of the binomial count
    for part in ("context", "question"):
        swappable, changed = stats[f"{part}_words_swappable"], stats[f"{part}_words_changed"]
        assert swappable > 0.05 * stats[f"{part}_words"]
        assert abs(changed - 0.5 * swappable) < 5 * math.sqrt(0.25 * swappable), (part, changed, swappable)
    contexts = [(p["context"], q["context"]) for a, b in zip(dev["data"], attacked["data"])
                for p, q in zip(a["paragraphs"], b["paragraphs"])]
    # a context stays as it was only when none of its swappable words is drawn (or it has none)
    assert sum(before != after for before, after in contexts) > 0.85 * len(contexts)
