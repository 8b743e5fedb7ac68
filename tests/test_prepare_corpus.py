"""examples/prepare_corpus.py on WikiExtractor-format text (own fixture, and the real shard)."""
import os
import subprocess
import sys

import pytest

from conftest import ROOT

SCRIPT = os.path.join(ROOT, "examples", "prepare_corpus.py")
SHARED = os.environ.get("IR_FAIRSEQ_SHARED_DATA")


def prepare(out_dir, inputs, valid_docs):
    return subprocess.run([sys.executable, SCRIPT, str(out_dir), *map(str, inputs),
                           "--valid-docs", str(valid_docs)], capture_output=True, text=True)


def test_wikiextractor_tags_and_titles_are_stripped(tmp_path):
    shard = tmp_path / "wiki_00"
    shard.write_text(
        '<doc id="1" url="u" title="Alpha">\nAlpha\n\nFirst paragraph of alpha.\nSecond one.\n</doc>\n'
        '<doc id="2" url="u" title="Beta">\nBeta\n\nOnly paragraph of beta.\n</doc>\n'
        '<doc id="3" url="u" title="Gamma">\nGamma\n\nGamma text.\n</doc>\n'
    )
    proc = prepare(tmp_path / "out", [shard], 1)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "valid.txt").read_text() == "First paragraph of alpha.\nSecond one.\n\n"
    assert (tmp_path / "out" / "train.txt").read_text() == (
        "Only paragraph of beta.\n\nGamma text.\n\n")


def test_missing_input_is_a_one_line_error(tmp_path):
    proc = prepare(tmp_path / "out", [tmp_path / "nope"], 1)
    assert proc.returncode != 0 and "corpus input not found" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.skipif(not SHARED, reason="IR_FAIRSEQ_SHARED_DATA is not set (real corpus in ../shared/data)")
def test_real_wikiextractor_shard(tmp_path):
    shard = os.path.join(SHARED, "corpus", "enwiki-2015-wikiextractor", "AA", "wiki_00")
    proc = prepare(tmp_path / "out", [shard], 5)
    assert proc.returncode == 0, proc.stderr
    assert "38 documents" in proc.stdout  # MANIFEST: 38 <doc> articles in wiki_00
    text = (tmp_path / "out" / "train.txt").read_text() + (tmp_path / "out" / "valid.txt").read_text()
    assert "<doc" not in text and "</doc>" not in text
    assert text.count("\n\n") == 38
