"""Reading fairseq's ``--log-format json`` output: the stats records of a kind of line.

fairseq prints ``... | train_inner | {"epoch": 1, "loss": ...}`` for every ``--log-interval``
and ``... | train | {"train_loss": ...}`` / ``... | valid | {"valid_loss": ...}`` at the end of
an epoch or validation. Records of ``train`` and ``valid`` prefix their keys with the kind;
here the prefix is removed so every kind reads the same (``loss``, ``num_updates``, ...).
Under fairseq-hydra-train the same records come as ``[time][train_inner][INFO] - {...}``.
"""
import json
from typing import Iterable, List, Union

KINDS = ("train_inner", "train", "valid")


def json_records(log: Union[str, Iterable[str]], kind: str) -> List[dict]:
    """The JSON stats of every ``kind`` line of a log (its text, or an iterable of lines)."""
    if kind not in KINDS:
        raise ValueError(f"unknown fairseq log record kind {kind!r}; expected one of {KINDS}")
    lines = log.splitlines() if isinstance(log, str) else log
    records = []
    markers = (f"| {kind} |", f"][{kind}][")  # fairseq-train's logging format, Hydra's
    for line in lines:
        start = line.find("{")
        if start < 0 or not any(marker in line[:start] for marker in markers):
            continue
        try:
            record = json.loads(line[start:])
        except json.JSONDecodeError:
            continue
        records.append({key.replace(f"{kind}_", "", 1): value for key, value in record.items()})
    return records


def read_json_records(path: str, kind: str) -> List[dict]:
    with open(path, encoding="utf-8") as f:
        return json_records(f, kind)


def curve(records: List[dict], key: str, fallback_key: str = None):
    """(num_updates, value) pairs of a metric, sorted, last record per update winning."""
    points = {}
    for record in records:
        name = key if key in record else fallback_key
        if name in record:
            points[int(record["num_updates"])] = float(record[name])
    return sorted(points.items())
