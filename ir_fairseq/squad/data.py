"""SQuAD v1.1 files in the official JSON layout: strict reading, atomic writing.

    {"version": "1.1", "data": [{"title": ..., "paragraphs": [{"context": ...,
      "qas": [{"id": ..., "question": ..., "answers": [{"text": ..., "answer_start": N}]}]}]}]}

``answer_start`` is a character offset into the context (Python string indexing). A file
whose answers do not sit at their offsets (a re-tokenised or hand-edited context, offsets
counted in bytes, ...) would silently train on or score the wrong spans, so every problem
is one ``IRUserError`` naming the file and the question id (or the article / paragraph
index when there is no id to name). Keys other than these are kept by the attack code
(which edits the parsed dict), ignored here.
"""
import json
import os
from dataclasses import dataclass
from typing import List, Optional

from ir_fairseq.common.errors import IRUserError
from ir_fairseq.common.files import atomic_output


@dataclass
class SquadAnswer:
    text: str
    start: int  # character offset of text in the context


@dataclass
class SquadExample:
    qid: str
    title: str
    context: str
    question: str
    answers: List[SquadAnswer]


def _short(text, limit=40):
    return repr(text if len(text) <= limit else text[:limit] + "...")


def load_json(path, what="SQuAD file"):
    """The parsed JSON of path; a missing file, bad encoding or bad JSON is one line."""
    if not os.path.isfile(path):
        raise IRUserError(f"{what} not found: {path}")
    try:
        with open(path, encoding="utf-8-sig") as f:
            text = f.read()
    except UnicodeDecodeError as e:
        raise IRUserError(f"{path} is not UTF-8 text (byte {e.start}): is it a JSON {what}?") from None
    if not text.strip():
        raise IRUserError(f"{path} is empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        # an unterminated string reaches the end of the file (JSON strings cannot hold a newline)
        ends_early = e.pos >= len(text.rstrip()) or e.msg.startswith("Unterminated string")
        raise IRUserError(f"{path} is not valid JSON: {e.msg} at line {e.lineno} column {e.colno}"
                          + (" (the file ends early: truncated?)" if ends_early else "")) from None


def _field(obj, key, kind, where):
    if not isinstance(obj, dict):
        raise IRUserError(f"{where}: expected a JSON object, found {type(obj).__name__}")
    if key not in obj:
        raise IRUserError(f"{where}: missing key {key!r}")
    value = obj[key]
    # bool is an int in Python; an answer_start of true is a mistake, not offset 1
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        names = {str: "a string", int: "an integer", list: "a list", dict: "an object"}
        raise IRUserError(f"{where}: {key!r} must be {names[kind]}, found {type(value).__name__}")
    return value


def examples_from_dict(dataset, source):
    """Check a parsed SQuAD v1.1 dataset and return its questions in file order.

    source names the data in error messages (the file path, for files)."""
    data = _field(dataset, "data", list, source)
    examples = []
    seen = {}  # question id -> where it was first seen
    for a, article in enumerate(data):
        where = f"{source}: data[{a}]"
        title = _field(article, "title", str, where)
        for p, paragraph in enumerate(_field(article, "paragraphs", list, where)):
            where_p = f"{where}.paragraphs[{p}]"
            context = _field(paragraph, "context", str, where_p)
            for q, qa in enumerate(_field(paragraph, "qas", list, where_p)):
                qid = _field(qa, "id", str, f"{where_p}.qas[{q}]")
                where_q = f"{source}: question {qid}"
                if qid in seen:
                    raise IRUserError(
                        f"{source}: duplicate question id {qid} (in {seen[qid]} and data[{a}].paragraphs[{p}])"
                    )
                seen[qid] = f"data[{a}].paragraphs[{p}]"
                question = _field(qa, "question", str, where_q)
                answers = []
                for k, answer in enumerate(_field(qa, "answers", list, where_q)):
                    where_a = f"{where_q}: answers[{k}]"
                    text = _field(answer, "text", str, where_a)
                    start = _field(answer, "answer_start", int, where_a)
                    if start < 0 or start + len(text) > len(context):
                        raise IRUserError(
                            f"{where_a}: answer_start {start} is out of range for {_short(text)} "
                            f"in a context of {len(context)} characters"
                        )
                    if context[start:start + len(text)] != text:
                        raise IRUserError(
                            f"{where_a}: answer outside its context: {_short(text)} is not at "
                            f"answer_start {start} (the context has {_short(context[start:start + len(text)])} there)"
                        )
                    answers.append(SquadAnswer(text, start))
                if not answers:
                    raise IRUserError(
                        f"{where_q}: no answers (SQuAD v1.1 questions have at least one; "
                        "v2.0 unanswerable questions are not supported)"
                    )
                examples.append(SquadExample(qid, title, context, question, answers))
    if not examples:
        raise IRUserError(f"{source}: no questions")
    return examples


def read_squad(path) -> List[SquadExample]:
    """The questions of a SQuAD v1.1 JSON file, checked (see the module docstring)."""
    return examples_from_dict(load_json(path), path)


def load_squad_dict(path):
    """The parsed JSON of a SQuAD v1.1 file, after the same checks as read_squad."""
    dataset = load_json(path)
    examples_from_dict(dataset, path)
    return dataset


def check_not_input(path, input_path):
    """Refuse an output path that is the input file (under any name): a transformed copy
    would silently replace the original data."""
    if input_path and os.path.exists(path) and os.path.exists(input_path) and os.path.samefile(path, input_path):
        raise IRUserError(f"refusing to overwrite the input file {input_path} with the output; choose another output path")


def write_squad(dataset_dict, path, input_path: Optional[str] = None):
    """Write a dataset as JSON, atomically: readers see the old file or the new one, never half.

    input_path is the file the dataset was made from: writing over it is refused."""
    check_not_input(path, input_path)
    if os.path.isdir(path):
        raise IRUserError(f"output {path} is a folder; give a file name")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise IRUserError(f"output folder does not exist: {folder}")
    with atomic_output(path) as f:
        json.dump(dataset_dict, f)  # json's defaults, as the official files were written
