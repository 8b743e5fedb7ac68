"""The official SQuAD v1.1 EM/F1 on answers whose scores are worked out by hand here."""
import json
import os

import pytest

from conftest import SHARED, real_data, run_tool
from ir_fairseq import IRUserError
from ir_fairseq.squad.data import read_squad
from ir_fairseq.squad.metric import evaluate, exact_match, f1_score, main, normalize_answer, read_predictions

CONTEXT = ("The Denver Broncos defeated the Carolina Panthers 24-10 at Levi's Stadium. "
           "The Panthers defense gave up just 308 points.")


def answer(text):
    return {"text": text, "answer_start": CONTEXT.index(text)}


QAS = [
    {"id": "q1", "question": "Who won?", "answers": [answer("The Denver Broncos"), answer("Denver Broncos")]},
    {"id": "q2", "question": "Who lost?", "answers": [answer("Panthers")]},
    {"id": "q3", "question": "Where?", "answers": [answer("Levi's Stadium")]},
    {"id": "q4", "question": "How many points?", "answers": [answer("308")]},
]


@pytest.fixture
def dev_file(tmp_path):
    path = tmp_path / "dev.json"
    path.write_text(json.dumps({"version": "1.1", "data": [
        {"title": "Super_Bowl_50", "paragraphs": [{"context": CONTEXT, "qas": QAS}]}]}), encoding="utf-8")
    return str(path)


def test_normalisation():
    assert normalize_answer("The  Denver Broncos!") == "denver broncos"
    assert normalize_answer("Santa Clara, California.") == "santa clara california"
    assert normalize_answer("An apple a day") == "apple day"
    assert normalize_answer("Theater and Anna") == "theater and anna"  # articles only as whole words
    assert normalize_answer("Levi's") == "levis"  # punctuation removed, not replaced by a space


def test_exact_match_and_f1_by_hand():
    assert exact_match("the Denver Broncos", "Denver Broncos") == 1.0
    assert f1_score("the Denver Broncos", "Denver Broncos") == 1.0
    # 3 predicted tokens, 1 gold, 1 shared: P = 1/3, R = 1, F1 = 2PR/(P+R) = (2/3)/(4/3) = 1/2
    assert exact_match("Carolina Panthers defense", "Panthers") == 0.0
    assert f1_score("Carolina Panthers defense", "Panthers") == pytest.approx(0.5)
    # 2 of 3 tokens each way: P = R = 2/3, F1 = 2/3
    assert f1_score("Denver Broncos won", "the Denver Broncos team") == pytest.approx(2 / 3)
    # tokens count with multiplicity: "cat cat cat" vs "cat" share 1: P = 1/3, R = 1, F1 = 1/2
    assert f1_score("the cat cat cat", "cat") == pytest.approx(0.5)
    assert f1_score("dog", "cat") == 0.0 and f1_score("", "the") == 0.0


def test_dataset_scores_with_a_missing_prediction(dev_file, capsys):
    examples = read_squad(dev_file)
    predictions = {
        "q1": "the Denver Broncos",          # EM 1, F1 1
        "q2": "Carolina Panthers defense",   # EM 0, F1 1/2
        "q3": "Santa Clara",                 # EM 0, F1 0
        "unknown": "ignored",
    }                                        # q4 missing: EM 0, F1 0
    result = evaluate(examples, predictions)
    assert result == {"exact_match": pytest.approx(100 * 1 / 4), "f1": pytest.approx(100 * 1.5 / 4)}
    err = capsys.readouterr().err
    assert "1 of 4 questions have no prediction" in err
    assert "1 predictions are for question ids not in the dataset" in err
    # best over the gold answers: "Denver Broncos" matches the second of q1's answers
    assert evaluate(examples[:1], {"q1": "Denver Broncos"}) == {"exact_match": 100.0, "f1": 100.0}


def test_cli_prints_one_json_object(dev_file, tmp_path):
    predictions = tmp_path / "predictions.json"
    predictions.write_text(json.dumps({"q1": "Broncos", "q2": "Panthers", "q3": "Levi's Stadium", "q4": "308"}))
    proc = run_tool("squad-evaluate", [dev_file, predictions], cwd=str(tmp_path))
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    # q1: "broncos" vs "denver broncos": P = 1, R = 1/2, F1 = 2/3; the other three exact
    assert json.loads(lines[0]) == {"exact_match": pytest.approx(75.0), "f1": pytest.approx(100 * (2 / 3 + 3) / 4)}


@pytest.mark.parametrize("content, message", [
    ('{"q1": "Denver",', r"p.json is not valid JSON: .* at line 1 column 17"),  # just past the comma
    ('[{"id": "q1", "prediction_text": "Denver"}]', r"p.json: expected one JSON object mapping question id to answer text, found a list"),
    ('{"q1": ["Denver"]}', r"p.json: the prediction for question q1 must be a string, found list"),
])
def test_malformed_predictions(tmp_path, dev_file, content, message):
    path = tmp_path / "p.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(IRUserError, match=message):
        read_predictions(str(path))
    with pytest.raises(IRUserError, match=message):
        main([dev_file, str(path)])


def test_cli_missing_predictions_file_is_one_line(dev_file, tmp_path):
    proc = run_tool("squad-evaluate", [dev_file, tmp_path / "none.json"], check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"ir_fairseq: error: predictions file not found: {tmp_path / 'none.json'}"
    assert proc.stdout == ""


@real_data
def test_real_dev_gold_answers_score_100_and_nothing_scores_0(capsys):
    examples = read_squad(os.path.join(SHARED, "squad", "dev-v1.1.json"))
    assert evaluate(examples, {e.qid: e.answers[0].text for e in examples}) == {"exact_match": 100.0, "f1": 100.0}
    assert capsys.readouterr().err == ""
    # one gold answer is "." (empty once normalised): predicting it is exact, but its F1 is 0,
    # as in the official script (no shared token, no credit), so F1 falls by 100/10570
    last = evaluate(examples, {e.qid: e.answers[-1].text for e in examples})
    assert last == {"exact_match": 100.0, "f1": pytest.approx(100.0 - 100.0 / 10570)}
    assert evaluate(examples, {}) == {"exact_match": 0.0, "f1": 0.0}
    assert "10570 of 10570 questions have no prediction" in capsys.readouterr().err
    # every prediction one word longer than a gold answer: never exact, F1 strictly between 0 and 100
    result = evaluate(examples, {e.qid: e.answers[0].text + " extra" for e in examples}, warn=False)
    assert result["exact_match"] < 1.0 and 50.0 < result["f1"] < 100.0
