"""SQuAD v1.1 fine-tuning: the span head and criterion on a tiny model, then the user's commands
(preprocess_squad.sh -> finetune_squad.sh -> ir-fairseq squad-predict -> squad-evaluate, and the
robustness table) with fairseq's real CLI on slices of the real SQuAD files (CI) or of the
generated ones (``squad_sources``)."""
import json
import math
import os
import shutil

import pytest
import torch
import torch.nn.functional as F

import ir_fairseq.tasks.squad_span  # noqa: F401  (registers the task and criterion)
from conftest import (ROOT, SHARED, TINY_MODEL, TINY_TRAINING, fairseq_train_commands, folder_digest,
                      recording_python, run_cli, run_script, run_tool)
from ir_fairseq.criterions.squad_span import SquadSpanCriterion
from ir_fairseq.pretraining import spm, synthetic
from ir_fairseq.squad.data import load_squad_dict, read_squad, write_squad
from ir_fairseq.squad.robustness import first_questions
from squad_sources import needs_wordnet, squad_files  # noqa: F401  (squad_files: a fixture)

TINY_ARCH = ["--encoder-layers", "2", "--encoder-embed-dim", "32", "--encoder-ffn-embed-dim", "64",
             "--encoder-attention-heads", "2", "--max-positions", "64"]
HEAD = "classification_heads.squad_span_head."


def build(data_dir, arch="roberta_base", *extra):
    from fairseq import options, tasks
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    parser = options.get_training_parser()
    args = options.parse_args_and_arch(parser, [str(data_dir), "--task", "squad_span", "--criterion", "squad_span",
                                                "--arch", arch, *TINY_ARCH, "--cpu", *extra])
    cfg = convert_namespace_to_omegaconf(args)
    task = tasks.setup_task(cfg.task)
    model = task.build_model(cfg.model)
    return task, model, task.build_criterion(cfg.criterion), cfg


@pytest.fixture
def tiny_dict_dir(tmp_path):
    (tmp_path / "dict.txt").write_text("".join(f"w{i} {100 - i}\n" for i in range(40)))
    return tmp_path


@pytest.mark.parametrize("arch", ["roberta_base", "ir_bert"])
def test_span_head_goes_through_fairseq_checkpoint_loading(tiny_dict_dir, arch):
    torch.manual_seed(0)
    task, model, _, cfg = build(tiny_dict_dir, arch)
    state = model.state_dict()
    assert tuple(state[HEAD + "dense.weight"].shape) == (0, 32)  # BERT's head: no hidden layer
    assert tuple(state[HEAD + "out_proj.weight"].shape) == (2, 32)
    tokens = torch.tensor([[0, 5, 6, 2, 7, 8, 9, 2], [0, 5, 2, 7, 2, 1, 1, 1]])
    model.eval()
    logits = model(tokens, classification_head_name="squad_span_head")[0]
    assert logits.shape == (2, 8, 2)

    # restoring a pre-trained checkpoint (no head): fairseq keeps the new head's weights
    pretrained = {k: v.clone() for k, v in state.items() if not k.startswith("classification_heads.")}
    _, fresh, _, _ = build(tiny_dict_dir, arch)
    head_before = {k: v.clone() for k, v in fresh.state_dict().items() if k.startswith(HEAD)}
    fresh.load_state_dict(pretrained, strict=True, model_cfg=cfg.model)
    for k, v in fresh.state_dict().items():
        assert torch.equal(v, head_before[k] if k.startswith(HEAD) else state[k])

    # loading a fine-tuned checkpoint (with the head) gives back the same model
    _, loaded, _, _ = build(tiny_dict_dir, arch)
    loaded.load_state_dict({k: v.clone() for k, v in state.items()}, strict=True, model_cfg=cfg.model)
    assert torch.equal(loaded.eval()(tokens, classification_head_name="squad_span_head")[0], logits)


def test_span_head_with_hidden_layer(tiny_dict_dir):
    _, model, _, _ = build(tiny_dict_dir, "roberta_base", "--span-head-inner-dim", "16")
    state = model.state_dict()
    assert tuple(state[HEAD + "dense.weight"].shape) == (16, 32)
    assert tuple(state[HEAD + "out_proj.weight"].shape) == (2, 16)


def test_criterion_is_mean_start_end_cross_entropy_and_its_logs_sum(tiny_dict_dir):
    from fairseq.logging import metrics

    torch.manual_seed(0)
    task, model, criterion, _ = build(tiny_dict_dir)
    assert isinstance(criterion, SquadSpanCriterion) and criterion.logging_outputs_can_be_summed()
    model.eval()
    pad = task.source_dictionary.pad()
    tokens = torch.tensor([[0, 5, 6, 2, 7, 8, 9, 2], [0, 5, 2, 7, 8, 2, pad, pad], [0, 6, 2, 9, 2, pad, pad, pad]])
    target = torch.tensor([[4, 6], [3, 4], [0, 0]])
    sample = {"net_input": {"src_tokens": tokens}, "target": target, "ntokens": 19, "nsentences": 3}
    loss, sample_size, log = criterion(model, sample)
    assert sample_size == 3 and log["nsentences"] == 3

    logits = model(tokens, classification_head_name="squad_span_head")[0]
    expected = 0.0
    for row, length in enumerate([8, 6, 5]):
        for k in range(2):
            expected += 0.5 * F.cross_entropy(logits[row, :length, k][None], target[row, k][None], reduction="sum")
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)

    # extra padding changes nothing
    padded = dict(sample, net_input={"src_tokens": torch.cat([tokens, torch.full((3, 3), pad)], 1)})
    assert criterion(model, padded)[0].item() == pytest.approx(loss.item(), rel=1e-5)

    # logs of two workers reduce to the global means
    second = criterion(model, dict(sample, net_input={"src_tokens": tokens[:1]}, target=target[:1], nsentences=1))[2]
    with metrics.aggregate() as agg:
        SquadSpanCriterion.reduce_metrics([log, second])
        values = agg.get_smoothed_values()
    assert values["loss"] == pytest.approx((log["loss"] + second["loss"]).item() / 4 / math.log(2), abs=1e-3)
    for name in ("start", "end", "span"):
        assert values[f"{name}_acc"] == pytest.approx(
            100 * (log[f"{name}_correct"] + second[f"{name}_correct"]) / 4, abs=0.05)


# ---------------------------------------------------------------------------------------
# the user's commands on SQuAD files

def assert_one_line_error(proc, fragment):
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert fragment in proc.stderr.strip().splitlines()[-1], proc.stderr[-2000:]


QUESTIONS = 40
WINDOWS = {"LIMIT": str(QUESTIONS), "MAX_LENGTH": "64", "DOC_STRIDE": "24", "MAX_QUERY_LENGTH": "16"}


@pytest.fixture(scope="module")
def windows(squad_files):
    """preprocess_squad.sh's environment: the train file of these SQuAD files and small windows."""
    return dict(WINDOWS, TRAIN_FILE=squad_files.train_name, DEV_FILE=squad_files.dev_name)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, squad_files):
    """A tiny masked-LM checkpoint pre-trained for 2 updates, with a sentencepiece model trained on
    the SQuAD paragraphs: dict.txt, spm.model, ck/checkpoint_last.pt."""
    root = tmp_path_factory.mktemp("squad_pretrained")
    contexts = [c.replace("\n", " ") for c in dict.fromkeys(e.context for e in read_squad(squad_files.train))][:300]
    (root / "text.txt").write_text("\n".join(contexts) + "\n", encoding="utf-8")
    model = spm.train(str(root / "text.txt"), str(root / "spm"), vocab_size=800)
    cut = min(200, len(contexts) * 9 // 10)
    for split, lines in (("train", contexts[:cut]), ("valid", contexts[cut:cut + 20])):
        (root / f"{split}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        spm.encode_file(model, str(root / f"{split}.txt"), str(root / f"{split}.spm"))
    run_cli("fairseq_cli.preprocess", ["--only-source", "--trainpref", str(root / "train.spm"), "--validpref",
                                       str(root / "valid.spm"), "--destdir", str(root / "bin"), "--workers", "1"])
    run_cli("fairseq_cli.train", [str(root / "bin"), "--user-dir", os.path.join(ROOT, "ir_fairseq"),
                                  "--task", "masked_lm_ir", "--criterion", "instance_reg",
                                  "--save-dir", str(root / "ck"), *TINY_MODEL, *TINY_TRAINING,
                                  "--max-update", "2", "--disable-validation"])
    shutil.copy(root / "bin" / "dict.txt", root / "dict.txt")
    return root


@pytest.fixture(scope="module")
def finetuned(model_dir, squad_files, windows, tmp_path_factory):
    root = tmp_path_factory.mktemp("squad_finetuned")
    run_script("preprocess_squad.sh", squad_files.folder, model_dir, root / "bin", **windows)
    interpreter, commands = recording_python(root)
    proc = run_script("finetune_squad.sh", model_dir / "ck" / "checkpoint_last.pt", root / "bin", root / "ft",
                      "--max-update", "3", "--data-buffer-size", "0", "--num-workers", "0", "--log-interval", "1",
                      BATCH="8", PYTHON=interpreter)
    return {"root": root, "bin": root / "bin", "save": root / "ft", "stdout": proc.stdout,
            "checkpoint": root / "ft" / "checkpoint_last.pt", "commands": commands}


def test_finetuning_runs_one_worker_as_its_schedule_assumes(finetuned):
    """Left out, fairseq's world size is every visible GPU: the batch and schedule would be
    that many times off (on CPU the default is 1 either way: read from the command line)."""
    started = fairseq_train_commands(finetuned["commands"])
    assert len(started) == 1
    words = started[0].split()
    assert words[words.index("--distributed-world-size") + 1] == "1"


def test_preprocess_writes_fairseq_datasets_and_a_model_folder(finetuned):
    from fairseq.data import data_utils

    meta = json.loads((finetuned["bin"] / "squad_meta.json").read_text())
    assert (meta["max_length"], meta["doc_stride"], meta["max_query_length"], meta["limit"]) == (64, 24, 16, QUESTIONS)
    for split in ("train", "valid"):
        counts = meta["splits"][split]
        assert counts["questions"] == QUESTIONS and counts["features"] > QUESTIONS and counts["longest"] <= 64
        tokens = data_utils.load_indexed_dataset(str(finetuned["bin"] / f"{split}.tokens"), None, "mmap")
        spans = data_utils.load_indexed_dataset(str(finetuned["bin"] / f"{split}.spans"), None, "mmap")
        assert len(tokens) == len(spans) == counts["features"]
        assert sum(int(spans[i][0]) == 0 for i in range(len(spans))) == counts["windows_without_answer"]
        assert all(int(tokens[i][0]) == 0 and int(tokens[i][-1]) == 2 for i in range(len(tokens)))
    for name in ("dict.txt", "spm.model"):
        assert (finetuned["bin"] / name).is_file()


def test_finetune_trains_logs_and_scores_the_dev_slice(finetuned, squad_files):
    log = (finetuned["save"] / "train.log").read_text()
    assert '"train_start_acc"' in log and '"valid_span_acc"' in log and '"train_num_updates": "3"' in log
    assert "'group_by_length': True" in log  # the recipe's default (GROUP_BY_LENGTH=1)
    first = finetuned["stdout"].splitlines()[0]
    assert first.startswith("[finetune_squad] CHECKPOINT=") and "LR=3e-5 BATCH=8 EPOCHS=2 WARMUP_RATIO=0.1" in first
    dev = read_squad(squad_files.dev)[:QUESTIONS]
    predictions = json.loads((finetuned["save"] / "dev_predictions.json").read_text())
    assert list(predictions) == [e.qid for e in dev]
    metrics = json.loads((finetuned["save"] / "dev_metrics.json").read_text())
    assert set(metrics) == {"exact_match", "f1"} and 0 <= metrics["exact_match"] <= metrics["f1"] <= 100


@pytest.mark.skipif(not SHARED, reason="without the shared data every SQuAD test here runs on the generated files")
def test_generated_files_run_end_to_end_as_well(model_dir, tmp_path):
    """With the real files present (CI) the fixtures above read them; the generated files that a
    fresh clone's tests and the demo use must keep working too."""
    folder = tmp_path / "generated"
    synthetic.generate_squad(str(folder))
    names = {"TRAIN_FILE": synthetic.SQUAD_FILES["train"], "DEV_FILE": synthetic.SQUAD_FILES["dev"]}
    run_script("preprocess_squad.sh", folder, model_dir, tmp_path / "bin", **WINDOWS, **names)
    run_script("finetune_squad.sh", model_dir / "ck" / "checkpoint_last.pt", tmp_path / "bin", tmp_path / "ft",
               "--max-update", "2", "--data-buffer-size", "0", "--num-workers", "0", BATCH="8")
    dev = read_squad(str(folder / names["DEV_FILE"]))[:QUESTIONS]
    assert list(json.loads((tmp_path / "ft" / "dev_predictions.json").read_text())) == [e.qid for e in dev]
    metrics = json.loads((tmp_path / "ft" / "dev_metrics.json").read_text())
    assert set(metrics) == {"exact_match", "f1"} and 0 <= metrics["exact_match"] <= metrics["f1"] <= 100


def test_predict_gives_context_slices_that_evaluate_scores(finetuned, squad_files, tmp_path):
    dev_slice = tmp_path / "dev-slice.json"
    write_squad(first_questions(load_squad_dict(squad_files.dev), QUESTIONS), str(dev_slice))
    proc = run_tool("squad-predict", [finetuned["checkpoint"], dev_slice, "--batch-size", "16",
                                      "--nbest-file", tmp_path / "nbest.json"])
    predictions = json.loads(proc.stdout)
    examples = read_squad(str(dev_slice))
    assert list(predictions) == [e.qid for e in examples]
    nbest = json.loads((tmp_path / "nbest.json").read_text())
    for e in examples:
        answer = predictions[e.qid]
        assert answer and answer == answer.strip() and answer in e.context
        best = nbest[e.qid]
        assert 1 <= len(best) <= 20 and best[0]["text"] == answer
        assert [b["score"] for b in best] == sorted((b["score"] for b in best), reverse=True)
        assert sum(b["probability"] for b in best) == pytest.approx(1.0)
        assert all(e.context[b["char_start"]:b["char_end"]] == b["text"] for b in best)
    (tmp_path / "predictions.json").write_text(proc.stdout)
    scored = run_tool("squad-evaluate", [dev_slice, tmp_path / "predictions.json"])
    # the same model, windows and questions as the dev scoring at the end of fine-tuning
    assert json.loads(scored.stdout) == json.loads((finetuned["save"] / "dev_metrics.json").read_text())


@needs_wordnet
def test_robustness_table(finetuned, squad_files, tmp_path):
    proc = run_tool("squad-robustness", [finetuned["checkpoint"], squad_files.dev, "--limit", "12",
                                         "--output", tmp_path / "robustness.json"])
    lines = proc.stdout.splitlines()
    assert lines[0] == "| Attack | EM | F1 | ΔEM | ΔF1 |"
    assert [line.split("|")[1].strip() for line in lines[2:5]] == ["Original", "SwapSynWordNet", "SwapSynWordEmbedding"]
    report = json.loads((tmp_path / "robustness.json").read_text())
    results = report["results"]
    assert report["settings"]["questions"] == 12
    for key in ("wordnet", "embedding"):
        assert results[key]["delta_f1"] == pytest.approx(results[key]["f1"] - results["original"]["f1"])
        assert report["attacks"][key]["question_words_changed"] + report["attacks"][key]["context_words_changed"] > 0
    original = results["original"]
    assert f"| Original | {original['exact_match']:.2f} | {original['f1']:.2f} | – | – |" in lines


def test_user_errors_are_one_line(model_dir, finetuned, squad_files, windows, tmp_path):
    # a pre-trained (not fine-tuned) checkpoint
    proc = run_tool("squad-predict", [model_dir / "ck" / "checkpoint_last.pt", squad_files.dev], check=False)
    assert_one_line_error(proc, "is not fine-tuned for SQuAD (task masked_lm_ir")
    # a model folder without tokenizer
    (tmp_path / "no-tokenizer").mkdir()
    shutil.copy(model_dir / "dict.txt", tmp_path / "no-tokenizer" / "dict.txt")
    proc = run_script("preprocess_squad.sh", squad_files.folder, tmp_path / "no-tokenizer", tmp_path / "out",
                      **windows, check=False)
    assert_one_line_error(proc, "has no tokenizer")
    # data binarised with another dictionary than the checkpoint's
    other = tmp_path / "other-dict"
    other.mkdir()
    shutil.copy(model_dir / "spm.model", other / "spm.model")
    (other / "dict.txt").write_text((model_dir / "dict.txt").read_text() + "extra1 1\nextra2 1\n")
    run_script("preprocess_squad.sh", squad_files.folder, other, tmp_path / "other-bin", **dict(windows, LIMIT="5"))
    proc = run_script("finetune_squad.sh", model_dir / "ck" / "checkpoint_last.pt", tmp_path / "other-bin",
                      tmp_path / "ft", "--max-update", "1", PREDICT="0", check=False)
    assert_one_line_error(proc, "does not match the embeddings of")
    # windows longer than the model's positions
    run_script("preprocess_squad.sh", squad_files.folder, model_dir, tmp_path / "long-bin",
               **dict(windows, LIMIT="5", MAX_LENGTH="96"))
    proc = run_script("finetune_squad.sh", model_dir / "ck" / "checkpoint_last.pt", tmp_path / "long-bin",
                      tmp_path / "ft2", "--max-update", "1", PREDICT="0", check=False)
    assert_one_line_error(proc, "preprocess again with MAX_LENGTH=64")
    # the dictionary of --model-dir does not fit the fine-tuned checkpoint
    proc = run_tool("squad-predict", [finetuned["checkpoint"], squad_files.dev, "--model-dir", other, "--limit", "2"],
                    check=False)
    assert_one_line_error(proc, "does not match the embeddings of")


@pytest.mark.parametrize("damage, message", [
    (lambda path: open(path, "w").close(), "{dev} is empty"),
    (lambda path: open(path, "w").write(open(path + ".orig").read()[:3000]),
     "{dev} is not valid JSON: .* \\(the file ends early: truncated\\?\\)"),
    (lambda path: open(path, "w").write('{"version": "1.1", "data": []}'), "{dev}: no questions"),
])
def test_damaged_squad_json_is_named_before_any_output_changes(finetuned, model_dir, squad_files, windows,
                                                               tmp_path, damage, message):
    import re

    folder = tmp_path / "squad"
    folder.mkdir()
    shutil.copy(squad_files.train, folder / squad_files.train_name)
    dev = str(folder / squad_files.dev_name)
    shutil.copy(squad_files.dev, dev + ".orig")
    damage(dev)
    out = tmp_path / "bin"
    shutil.copytree(finetuned["bin"], out)
    before = folder_digest(out)
    proc = run_script("preprocess_squad.sh", folder, model_dir, out, **windows, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert re.match("ir_fairseq: error: " + message.format(dev=re.escape(dev)),
                    proc.stderr.strip().splitlines()[-1]), proc.stderr[-2000:]
    assert folder_digest(out) == before


def test_damaged_squad_bin_stops_finetuning_with_the_file_named(finetuned, model_dir, tmp_path):
    data = tmp_path / "bin"
    shutil.copytree(finetuned["bin"], data)
    damaged = data / "train.tokens.bin"
    with open(damaged, "r+b") as f:
        f.truncate(os.path.getsize(damaged) - 6)
    proc = run_script("finetune_squad.sh", model_dir / "ck" / "checkpoint_last.pt", data, tmp_path / "ft",
                      "--max-update", "1", "--num-workers", "0", check=False)
    assert_one_line_error(proc, f"{damaged} is ")
    assert not [name for name in folder_digest(tmp_path / "ft") if name.endswith(".pt")]
