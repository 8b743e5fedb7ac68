"""The official SQuAD v1.1 metric: exact match and token F1, as percentages.

    ir-fairseq squad-evaluate dev-v1.1.json predictions.json
    {"exact_match": 81.2, "f1": 88.5}

predictions.json is one JSON object, question id -> predicted answer text. Both the
prediction and each gold answer are normalised (lower case; the characters of
``string.punctuation`` removed; the words a, an, the removed; whitespace collapsed). EM is
1 when the prediction equals some gold answer, F1 is the best harmonic mean of token
precision and recall (tokens counted with multiplicity) over the gold answers; both are
averaged over every question of the dataset, so a question without a prediction counts 0
(with a warning on stderr) and predictions for unknown ids are ignored (also warned about).
These are the definitions every published SQuAD v1.1 number uses, so scores here compare
with the paper's.
"""
import argparse
import json
import re
import string
import sys
from collections import Counter
from typing import Dict, List

from ir_fairseq.common.errors import IRUserError
from ir_fairseq.squad.data import SquadExample, load_json, read_squad

_PUNCTUATION = str.maketrans("", "", string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    text = text.lower().translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1_score(prediction: str, gold: str) -> float:
    predicted = normalize_answer(prediction).split()
    expected = normalize_answer(gold).split()
    common = sum((Counter(predicted) & Counter(expected)).values())
    if common == 0:  # also when both are empty: the official convention
        return 0.0
    precision = common / len(predicted)
    recall = common / len(expected)
    return 2 * precision * recall / (precision + recall)


def read_predictions(path) -> Dict[str, str]:
    predictions = load_json(path, what="predictions file")
    if not isinstance(predictions, dict):
        raise IRUserError(
            f"{path}: expected one JSON object mapping question id to answer text, "
            f"found a {type(predictions).__name__}"
        )
    for qid, answer in predictions.items():
        if not isinstance(answer, str):
            raise IRUserError(
                f"{path}: the prediction for question {qid} must be a string, found {type(answer).__name__}"
            )
    return predictions


def evaluate(examples: List[SquadExample], predictions: Dict[str, str], warn=True) -> dict:
    """{"exact_match": %, "f1": %} over all examples; missing predictions score 0."""
    if not examples:
        raise IRUserError("no questions to evaluate")
    exact = f1 = 0.0
    missing = 0
    for example in examples:
        if example.qid not in predictions:
            missing += 1
            continue
        prediction = predictions[example.qid]
        if not isinstance(prediction, str):
            raise IRUserError(f"the prediction for question {example.qid} must be a string, found {type(prediction).__name__}")
        exact += max(exact_match(prediction, answer.text) for answer in example.answers)
        f1 += max(f1_score(prediction, answer.text) for answer in example.answers)
    if warn and missing:
        print(f"ir_fairseq: warning: {missing} of {len(examples)} questions have no prediction; "
              "they count as wrong", file=sys.stderr)
    if warn:
        unknown = len(set(predictions) - {example.qid for example in examples})
        if unknown:
            print(f"ir_fairseq: warning: {unknown} predictions are for question ids not in the "
                  "dataset; ignored", file=sys.stderr)
    return {"exact_match": 100.0 * exact / len(examples), "f1": 100.0 * f1 / len(examples)}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="ir-fairseq squad-evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("dataset", help="SQuAD v1.1 JSON file with the gold answers (e.g. dev-v1.1.json)")
    parser.add_argument("predictions", help="JSON object: question id -> predicted answer text")
    args = parser.parse_args(argv)
    print(json.dumps(evaluate(read_squad(args.dataset), read_predictions(args.predictions))))
