"""``ir-fairseq prepare-corpus``: WikiExtractor / plain text -> documents and a validation split
(own fixture, and the real shard), and documents dealt round-robin to shards."""
import os

import pytest

from conftest import SHARED, real_data, run_tool
from ir_fairseq.common.errors import IRUserError
from ir_fairseq.pretraining.corpus import deal_shards


def split(out_dir, inputs, valid_docs, **kwargs):
    return run_tool("prepare-corpus", ["split", out_dir, *inputs, "--valid-docs", valid_docs], **kwargs)


def test_wikiextractor_tags_and_titles_are_stripped(tmp_path):
    shard = tmp_path / "wiki_00"
    shard.write_text(
        '<doc id="1" url="u" title="Alpha">\nAlpha\n\nFirst paragraph of alpha.\nSecond one.\n</doc>\n'
        '<doc id="2" url="u" title="Beta">\nBeta\n\nOnly paragraph of beta.\n</doc>\n'
        '<doc id="3" url="u" title="Gamma">\nGamma\n\nGamma text.\n</doc>\n'
    )
    proc = split(tmp_path / "out", [shard], 1)
    assert "3 documents" in proc.stdout
    assert (tmp_path / "out" / "valid.txt").read_text() == "First paragraph of alpha.\nSecond one.\n\n"
    assert (tmp_path / "out" / "train.txt").read_text() == (
        "Only paragraph of beta.\n\nGamma text.\n\n")


def test_input_errors_are_one_line(tmp_path):
    proc = split(tmp_path / "out", [tmp_path / "nope"], 1, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "corpus input not found" in proc.stderr.strip().splitlines()[-1]
    text = tmp_path / "two_docs.txt"
    text.write_text("one\n\ntwo\n")
    proc = split(tmp_path / "out", [text], 2, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "corpus has 2 documents, need more than --valid-docs 2" in proc.stderr


def test_documents_are_dealt_round_robin_in_order(tmp_path):
    source = tmp_path / "train.tok"
    documents = [f"d{i} first\nd{i} second\n" for i in range(7)]
    source.write_text("\n".join(documents) + "\n\n")  # extra blank lines end no document
    proc = run_tool("prepare-corpus", ["shard", source, tmp_path / "train", 3])
    paths = [str(tmp_path / f"train{i}.tok") for i in range(3)]
    assert proc.stdout.split() == paths
    for i, path in enumerate(paths):
        with open(path, encoding="utf-8") as f:
            assert f.read() == "".join(doc + "\n" for doc in documents[i::3])


def test_a_last_document_without_blank_line_is_kept(tmp_path):
    source = tmp_path / "train.tok"
    source.write_text("a\n\nb\nb2")
    assert deal_shards(str(source), str(tmp_path / "s"), 2) == [str(tmp_path / "s0.tok"), str(tmp_path / "s1.tok")]
    assert (tmp_path / "s1.tok").read_text() == "b\nb2\n"  # the file's own last line, as read


def test_too_few_documents_for_the_shards_is_a_one_line_error(tmp_path):
    source = tmp_path / "train.tok"
    source.write_text("a\n\nb\n\n")
    proc = run_tool("prepare-corpus", ["shard", source, tmp_path / "train", 3], check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == "ir_fairseq: error: 2 training documents cannot fill 3 shards"
    assert not any(name.startswith("train") and name != "train.tok" for name in os.listdir(tmp_path))
    with pytest.raises(IRUserError, match="positive integer"):
        deal_shards(str(source), str(tmp_path / "train"), 0)


@real_data
def test_real_wikiextractor_shard(tmp_path):
    shard = os.path.join(SHARED, "corpus", "enwiki-2015-wikiextractor", "AA", "wiki_00")
    proc = split(tmp_path / "out", [shard], 5)
    assert "38 documents" in proc.stdout  # MANIFEST: 38 <doc> articles in wiki_00
    text = (tmp_path / "out" / "train.txt").read_text() + (tmp_path / "out" / "valid.txt").read_text()
    assert "<doc" not in text and "</doc>" not in text
    assert text.count("\n\n") == 38
