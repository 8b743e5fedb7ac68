"""SQuAD v1.1 files: the real dev/train files, the generated ones, and one-line errors on hand-made
broken ones."""
import hashlib
import json
import os

import pytest

from conftest import SHARED, real_data
from ir_fairseq import IRUserError
from ir_fairseq.pretraining import synthetic
from ir_fairseq.squad.data import SquadAnswer, load_squad_dict, read_squad, write_squad
OFFICIAL_DEV_SHA256 = "95aa6a52d5d6a735563366753ca50492a658031da74f301ac5238b03966972c9"

CONTEXT = "Super Bowl 50 was played at Levi's Stadium in Santa Clara, California."


def dataset(qas=None, context=CONTEXT, title="Super_Bowl_50"):
    if qas is None:
        qas = [{"id": "q1", "question": "Where was Super Bowl 50 played?",
                "answers": [{"text": "Levi's Stadium", "answer_start": 28},
                            {"text": "Santa Clara, California", "answer_start": 46}]}]
    return {"version": "1.1", "data": [{"title": title, "paragraphs": [{"context": context, "qas": qas}]}]}


def write_json(path, obj):
    path.write_text(json.dumps(obj), encoding="utf-8")
    return str(path)


@real_data
def test_real_dev_and_train_files():
    dev_path = os.path.join(SHARED, "squad", "dev-v1.1.json")
    dev = read_squad(dev_path)
    assert len(dev) == 10570
    assert len({e.qid for e in dev}) == 10570
    assert len({(e.title, e.context) for e in dev}) == 2067
    assert sum(len(e.answers) for e in dev) == 34726
    assert dev[0].title == "Super_Bowl_50" and dev[0].answers[0] == SquadAnswer("Denver Broncos", 177)
    for e in dev:
        for a in e.answers:
            assert e.context[a.start:a.start + len(a.text)] == a.text
    train = read_squad(os.path.join(SHARED, "squad", "train-v1.1-44articles.json"))
    assert len(train) == 11877 and all(len(e.answers) == 1 for e in train)


@real_data
def test_write_reproduces_the_official_dev_file_byte_for_byte(tmp_path):
    out = tmp_path / "dev.json"
    write_squad(load_squad_dict(os.path.join(SHARED, "squad", "dev-v1.1.json")), str(out))
    assert hashlib.sha256(out.read_bytes()).hexdigest() == OFFICIAL_DEV_SHA256
    assert os.listdir(tmp_path) == ["dev.json"]  # no temporary file left behind


def test_reads_a_small_file(tmp_path):
    examples = read_squad(write_json(tmp_path / "d.json", dataset()))
    assert len(examples) == 1
    e = examples[0]
    assert (e.qid, e.title, e.question) == ("q1", "Super_Bowl_50", "Where was Super Bowl 50 played?")
    assert e.answers == [SquadAnswer("Levi's Stadium", 28), SquadAnswer("Santa Clara, California", 46)]


def test_missing_file_and_bad_json_name_the_file_and_position(tmp_path):
    with pytest.raises(IRUserError, match="SQuAD file not found: .*nope.json"):
        read_squad(str(tmp_path / "nope.json"))
    bad = tmp_path / "bad.json"
    bad.write_text('{"data": [\n  {"title": "x",\n    "paragraphs": [}\n]}', encoding="utf-8")
    with pytest.raises(IRUserError, match=r"bad.json is not valid JSON: .* at line 3 column 20"):
        read_squad(str(bad))


def test_answer_outside_its_context_names_file_and_question(tmp_path):
    path = write_json(tmp_path / "moved.json", dataset([
        {"id": "q7", "question": "Where?", "answers": [{"text": "Levi's Stadium", "answer_start": 27}]}]))
    with pytest.raises(IRUserError, match=r"moved.json: question q7: answers\[0\]: answer outside its context: "
                                          r"\"Levi's Stadium\" is not at answer_start 27"):
        read_squad(path)
    path = write_json(tmp_path / "range.json", dataset([
        {"id": "q8", "question": "Where?", "answers": [{"text": "California.", "answer_start": 70}]}]))
    with pytest.raises(IRUserError, match=r"range.json: question q8: answers\[0\]: answer_start 70 is out of range"):
        read_squad(path)


def test_duplicate_ids_name_both_places(tmp_path):
    qa = {"id": "dup", "question": "Where?", "answers": [{"text": "Levi's Stadium", "answer_start": 28}]}
    data = dataset([qa])
    data["data"].append({"title": "Other", "paragraphs": [{"context": CONTEXT, "qas": [dict(qa)]}]})
    with pytest.raises(IRUserError, match=r"dups.json: duplicate question id dup \(in data\[0\].paragraphs\[0\] and data\[1\].paragraphs\[0\]\)"):
        read_squad(write_json(tmp_path / "dups.json", data))


@pytest.mark.parametrize("change, message", [
    (lambda d: d.pop("data"), r"f.json: missing key 'data'"),
    (lambda d: d["data"][0].pop("title"), r"f.json: data\[0\]: missing key 'title'"),
    (lambda d: d["data"][0]["paragraphs"][0].pop("context"), r"f.json: data\[0\].paragraphs\[0\]: missing key 'context'"),
    (lambda d: d["data"][0]["paragraphs"][0]["qas"][0].pop("id"), r"f.json: data\[0\].paragraphs\[0\].qas\[0\]: missing key 'id'"),
    (lambda d: d["data"][0]["paragraphs"][0]["qas"][0].update(id=5), r"qas\[0\]: 'id' must be a string, found int"),
    (lambda d: d["data"][0]["paragraphs"][0]["qas"][0]["answers"][1].update(answer_start="46"),
     r"f.json: question q1: answers\[1\]: 'answer_start' must be an integer, found str"),
    (lambda d: d["data"][0]["paragraphs"][0]["qas"][0]["answers"][0].update(answer_start=True),
     r"question q1: answers\[0\]: 'answer_start' must be an integer, found bool"),
    (lambda d: d["data"][0]["paragraphs"][0]["qas"][0].update(answers=[]), r"f.json: question q1: no answers"),
    (lambda d: d["data"][0]["paragraphs"][0].update(qas={}), r"paragraphs\[0\]: 'qas' must be a list, found dict"),
])
def test_missing_keys_and_wrong_types(tmp_path, change, message):
    data = dataset()
    change(data)
    with pytest.raises(IRUserError, match=message):
        read_squad(write_json(tmp_path / "f.json", data))


def test_a_list_or_no_questions_is_refused(tmp_path):
    with pytest.raises(IRUserError, match=r"l.json: expected a JSON object, found list"):
        read_squad(write_json(tmp_path / "l.json", [dataset()]))
    with pytest.raises(IRUserError, match=r"e.json: no questions"):
        read_squad(write_json(tmp_path / "e.json", {"version": "1.1", "data": []}))


def test_write_is_atomic_and_never_replaces_its_input(tmp_path):
    source = write_json(tmp_path / "in.json", dataset())
    before = open(source, "rb").read()
    with pytest.raises(IRUserError, match="refusing to overwrite the input file"):
        write_squad({"data": []}, source, input_path=source)
    with pytest.raises(IRUserError, match="refusing to overwrite the input file"):  # same file, other name
        write_squad({"data": []}, os.path.join(str(tmp_path), ".", "in.json"), input_path=source)
    assert open(source, "rb").read() == before
    with pytest.raises(IRUserError, match="is a folder; give a file name"):
        write_squad(dataset(), str(tmp_path))
    with pytest.raises(IRUserError, match="output folder does not exist"):
        write_squad(dataset(), str(tmp_path / "missing" / "out.json"))
    out = tmp_path / "out.json"
    out.write_text("old", encoding="utf-8")
    write_squad(dataset(), str(out), input_path=source)
    assert json.loads(out.read_text(encoding="utf-8")) == dataset()
    assert sorted(os.listdir(tmp_path)) == ["in.json", "out.json"]


def test_generated_files_are_squad_v1_1_and_the_same_every_time(tmp_path):
    synthetic.main([str(tmp_path / "a"), "--docs", "20", "--reviews", "10"])  # the synthetic-data command
    synthetic.generate_squad(str(tmp_path / "b"))
    synthetic.generate_squad(str(tmp_path / "c"), seed=2)
    for name in ("train-v1.1.json", "dev-v1.1.json"):
        a, b = (tmp_path / "a" / "squad" / name).read_bytes(), (tmp_path / "b" / name).read_bytes()
        assert a == b and a != (tmp_path / "c" / name).read_bytes()
        # written as the official files are: reading and writing gives the same bytes
        write_squad(load_squad_dict(str(tmp_path / "b" / name)), str(tmp_path / "again.json"))
        assert (tmp_path / "again.json").read_bytes() == b
    train, dev = (read_squad(str(tmp_path / "b" / name)) for name in ("train-v1.1.json", "dev-v1.1.json"))
    assert 300 <= len(train) <= 450 and 100 <= len(dev) <= 200  # a few hundred questions
    assert all(len(e.answers) == 1 for e in train) and all(2 <= len(e.answers) <= 3 for e in dev)
    for e in train + dev:  # every answer is words of its context, never a piece of one
        assert 3 <= e.context.count(".") <= 5
        for a in e.answers:
            before, after = e.context[a.start - 1:a.start], e.context[a.start + len(a.text):][:1]
            assert before in ("", " ") and after in (" ", "."), (e.qid, a.text)
    assert len({e.qid for e in train + dev}) == len(train) + len(dev)
