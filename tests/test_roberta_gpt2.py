"""fairseq RoBERTa folders (GPT-2 byte-level BPE: encoder.json + vocab.bpe, a dict.txt of GPT-2
ids) through every recipe that takes a model folder: tokenisation identical to fairseq's own
``--bpe gpt2``, pre-training data and continued pre-training with whole-word masking, GLUE and
SQuAD preprocessing, export to HF ``RobertaForMaskedLM`` and import back.

The folder is made here, offline, the way fairseq's RoBERTa folders are: a byte-level BPE in
GPT-2's file format trained with HF ``tokenizers`` on the project's generated corpus, the corpus
encoded by fairseq's GPT-2 encoder, a dict.txt of its counts that lists every BPE token (as
RoBERTa's lists every GPT-2 id), and a small RoBERTa trained a few updates on it."""
import json
import os
import shutil

import pytest
import torch

from builders import build
from conftest import fairseq_train, json_log_records, run_cli, run_script, run_tool
from ir_fairseq.common.model_folder import load_model_folder, load_tokenizer
from ir_fairseq.convert.verify import SENTENCES
from ir_fairseq.squad.data import read_squad
from ir_fairseq.squad.features import WindowConfig, build_all_features
from squad_sources import squad_files  # noqa: F401  (a fixture)
from test_squad_pipeline import WINDOWS

BPE_FILES = ("encoder.json", "vocab.bpe")


def fairseq_gpt2(folder):
    """fairseq's own ``--bpe gpt2`` on the folder's files."""
    from fairseq.data.encoders.gpt2_bpe import GPT2BPE, GPT2BPEConfig

    return GPT2BPE(GPT2BPEConfig(gpt2_encoder_json=str(folder / "encoder.json"),
                                 gpt2_vocab_bpe=str(folder / "vocab.bpe")))


def write_complete_dictionary(counts_path, encoder_path, out_path):
    """fairseq-preprocess's counts, then every other BPE id with count 0."""
    lines = counts_path.read_text(encoding="utf-8").splitlines()
    listed = {line.split()[0] for line in lines}
    ids = sorted(json.loads(encoder_path.read_text(encoding="utf-8")).values())
    lines += [f"{i} 0" for i in ids if str(i) not in listed]
    out_path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def roberta(corpus, tmp_path_factory):
    from tokenizers import ByteLevelBPETokenizer

    root = tmp_path_factory.mktemp("roberta_gpt2")
    folder = root / "roberta.tiny"
    folder.mkdir()
    trainer = ByteLevelBPETokenizer(add_prefix_space=False)
    trainer.train([str(corpus["raw"] / "train.txt")], vocab_size=500, min_frequency=2, show_progress=False)
    trainer.save_model(str(root))  # vocab.json + merges.txt: GPT-2's encoder.json + vocab.bpe
    os.replace(root / "vocab.json", folder / "encoder.json")
    os.replace(root / "merges.txt", folder / "vocab.bpe")
    bpe = fairseq_gpt2(folder)
    for split in ("train", "valid"):
        lines = (corpus["raw"] / f"{split}.txt").read_text(encoding="utf-8").splitlines()
        (root / f"{split}.bpe").write_text("".join(bpe.encode(line.strip()) + "\n" for line in lines),
                                           encoding="utf-8")
    run_cli("fairseq_cli.preprocess", ["--only-source", "--dict-only", "--trainpref", str(root / "train.bpe"),
                                       "--destdir", str(root / "counts"), "--workers", "1"])
    write_complete_dictionary(root / "counts" / "dict.txt", folder / "encoder.json", folder / "dict.txt")
    run_cli("fairseq_cli.preprocess", ["--only-source", "--srcdict", str(folder / "dict.txt"),
                                       "--trainpref", str(root / "train.bpe"), "--validpref", str(root / "valid.bpe"),
                                       "--destdir", str(root / "bin"), "--workers", "1"])
    fairseq_train(str(root / "bin"), str(root / "ck"), "--max-update", "3", "--disable-validation")
    shutil.copy(root / "ck" / "checkpoint_last.pt", folder / "model.pt")
    return {"root": root, "folder": folder, "bin": root / "bin"}


def test_folder_tokenizes_as_fairseqs_gpt2_bpe_with_character_offsets(roberta, corpus):
    folder = roberta["folder"]
    tokenizer, reference = load_tokenizer(str(folder)), fairseq_gpt2(folder)
    lines = [line.strip() for line in (corpus["raw"] / "valid.txt").read_text(encoding="utf-8").splitlines()]
    texts = [t for t in lines if t][:50] + SENTENCES
    assert len(texts) > 20
    for text in texts:
        pieces = tokenizer.tokenize(text)
        assert " ".join(pieces) == reference.encode(text)
        for piece, start, end in tokenizer.tokenize_with_offsets(text):
            spelled = reference.decode(piece)
            if "\ufffd" not in spelled:  # a piece holding part of a character spells nothing alone
                assert text[start:end] == spelled.strip(), (text, piece)
    assert run_tool("tokenize", [folder, "--describe"]).stdout.split() == ["gpt2", "cased"]
    model = load_model_folder(str(folder))
    assert model.unknown_rate(model.dictionary.index(p) for t in texts for p in tokenizer.tokenize(t)) == 0


def test_pretraining_data_and_continued_pretraining_with_whole_word_masks(roberta, corpus):
    root = roberta["root"]
    prepared = run_script("prepare_pretrain_data.sh", root / "data", corpus["raw"] / "train.txt",
                          MODEL_DIR=str(roberta["folder"]), VALID_DOCS="2", WORKERS="1")
    shard = prepared.stdout.strip().splitlines()[-1].split("=", 1)[1]
    assert (open(os.path.join(shard, "dict.txt")).read() == (roberta["folder"] / "dict.txt").read_text())
    tokens = (root / "data" / "text" / "valid.tok").read_text(encoding="utf-8").split()
    assert tokens and all(t.isdigit() for t in tokens)

    save = root / "continued"
    proc = run_script("pretrain_ir.sh", "--mask-whole-words", "--data-buffer-size", "0", "--num-workers", "0",
                      DATA=shard, MODEL_DIR=str(roberta["folder"]), SAVE_DIR=str(save), MAX_UPDATE="2",
                      TOKENS="64", BATCH="4", TOTAL_BATCH="4", LOG_INTERVAL="1", SAVE_INTERVAL_UPDATES="1000",
                      PRECISION="fp32")
    records = json_log_records(proc.stdout + proc.stderr, "train_inner")
    assert [int(r["num_updates"]) for r in records] == [1, 2]
    assert all(float(r["ecp"]) > 0 and float(r["dpp"]) > 0 for r in records)
    assert "loading pretrained model from" in proc.stdout + proc.stderr  # the RoBERTa, not a fresh init
    for name in ("checkpoint_last.pt", "dict.txt") + BPE_FILES:
        assert (save / name).is_file()
    saved = torch.load(save / "checkpoint_last.pt", weights_only=False)["cfg"]
    assert saved["bpe"]["_name"] == "gpt2"  # RobertaModel.from_pretrained(save) can encode text

    # whole words as fairseq's gpt2 BPE sees them: a word starts at a piece spelled with a space
    task, _, _ = build(shard, extra=("--mask-whole-words", "--mask-prob", "0.3"))
    task.load_dataset("train")
    dictionary, bpe, pad = task.source_dictionary, fairseq_gpt2(roberta["folder"]), task.source_dictionary.pad()
    together = 0
    for index in range(30):
        item = task.dataset("train")[index]
        source, target = item["net_input.src_tokens"].tolist(), item["target"].tolist()
        original = [t if t != pad else s for s, t in zip(source, target)]
        words, current = [], -1
        for i in original:
            current += i < dictionary.nspecial or bpe.decode(dictionary[i]).startswith(" ")
            words.append(current)
        for word in set(words):
            flags = {t != pad for t, w in zip(target, words) if w == word}
            assert len(flags) == 1, "a word was partly masked"
            together += flags == {True} and words.count(word) > 1
    assert together > 0


def test_glue_and_squad_from_a_gpt2_folder(roberta, corpus, squad_files, tmp_path):  # noqa: F811
    folder = roberta["folder"]
    run_script("preprocess_glue.sh", corpus["raw"] / "glue", "SST-2", folder, tmp_path / "glue", WORKERS="1")
    task_bin = tmp_path / "glue" / "SST-2-bin"
    first = (task_bin / "raw" / "train.input0").read_text(encoding="utf-8").splitlines()[0].split()
    assert first and all(t.isdigit() for t in first)
    run_script("finetune_glue.sh", "SST-2", folder / "model.pt", task_bin, tmp_path / "sst2",
               "--max-update", "2", "--batch-size", "8", "--num-workers", "0", SUBMISSION="0")
    assert set(json.loads((tmp_path / "sst2" / "dev_metrics.json").read_text())) == {"accuracy"}

    # SQuAD answers are found through the byte-level pieces' character offsets
    model = load_model_folder(str(folder))
    examples = read_squad(squad_files.train)[:60]
    features, stats = build_all_features(examples, model.tokenizer, model.dictionary, WindowConfig(128, 48, 32),
                                         with_targets=True)
    assert stats.unmappable_answers == 0
    located = [f for f in features if f.answer_in_window]
    assert len(located) >= 40
    exact = 0
    for feature in located:
        answer = examples[feature.example_index].answers[0].text.strip()
        start, end = feature.char_span(feature.start_position, feature.end_position)
        found = examples[feature.example_index].context[start:end]
        assert answer in found and len(found) <= len(answer) + 12  # whole pieces around the answer
        exact += found == answer
    assert exact >= 0.9 * len(located)
    run_script("preprocess_squad.sh", squad_files.folder, folder, tmp_path / "squad",
               **dict(WINDOWS, TRAIN_FILE=squad_files.train_name, DEV_FILE=squad_files.dev_name))
    assert load_tokenizer(str(tmp_path / "squad")).kind == "gpt2"  # prediction re-reads the folder copy


def roberta_hub(folder, checkpoint="model.pt"):
    import ir_fairseq  # noqa: F401
    from fairseq.models.roberta import RobertaModel

    return RobertaModel.from_pretrained(str(folder), checkpoint_file=checkpoint, bpe="gpt2",
                                        gpt2_encoder_json=str(folder / "encoder.json"),
                                        gpt2_vocab_bpe=str(folder / "vocab.bpe")).eval()


def test_export_to_roberta_for_masked_lm_and_import_back(roberta, corpus, tmp_path):
    transformers = pytest.importorskip("transformers", reason="transformers runs the HF side of the checks")
    from test_hf_conversion import FARMER, convert, perturbed, printed_max_diff

    # moved LayerNorms and biases, so a misplaced one shows
    folder = tmp_path / "moved"
    shutil.copytree(roberta["folder"], folder)
    state = torch.load(folder / "model.pt", weights_only=False)
    generator = torch.Generator().manual_seed(1)
    for name, value in state["model"].items():
        if "layer_norm" in name or name.endswith("bias"):
            value.add_(0.2 * torch.randn(value.shape, generator=generator))
    torch.save(state, folder / "model.pt")

    out = tmp_path / "hf"
    stdout = convert("convert-fairseq-to-hf", folder / "model.pt", out).stdout
    assert "RobertaForMaskedLM" in stdout and printed_max_diff(stdout) <= 1e-4
    assert json.loads((out / "config.json").read_text())["architectures"] == ["RobertaForMaskedLM"]
    for name in ("vocab.json", "merges.txt", "tokenizer.json"):
        assert (out / name).is_file()
    tokenizer = transformers.AutoTokenizer.from_pretrained(out)
    model = transformers.AutoModelForMaskedLM.from_pretrained(out).eval()
    assert type(model).__name__ == "RobertaForMaskedLM"
    hub = roberta_hub(folder)
    lines = (corpus["raw"] / "valid.txt").read_text(encoding="utf-8").splitlines()[:20]
    for text in [FARMER] + SENTENCES + [line for line in lines if line]:
        expected = hub.encode(text).tolist()
        encoded = tokenizer(text, return_tensors="pt")
        assert encoded["input_ids"][0].tolist() == expected, text
        if len(expected) <= hub.model.max_positions():
            with torch.no_grad():
                hf_states = model(**encoded, output_hidden_states=True).hidden_states[-1]
                assert (hf_states - hub.extract_features(torch.tensor(expected))).abs().max().item() <= 1e-4
    assert tokenizer("The river.", "The farmer.")["input_ids"] == hub.encode("The river.", "The farmer.").tolist()
    assert tokenizer.mask_token_id == len(hub.task.source_dictionary) - 1

    # HF RoBERTa -> fairseq: the exported folder and one transformers builds itself
    back = tmp_path / "back"
    stdout = convert("convert-hf-to-fairseq", out, back).stdout
    assert printed_max_diff(stdout) <= 1e-4
    assert load_tokenizer(str(back)).kind == "gpt2"
    returned = roberta_hub(back)
    for text in [FARMER] + SENTENCES:
        ids = hub.encode(text)
        assert returned.encode(text).tolist() == ids.tolist()
        ids = ids[:hub.model.max_positions()]
        with torch.no_grad():
            assert (returned.extract_features(ids) - hub.extract_features(ids)).abs().max().item() <= 1e-4
    config = transformers.RobertaConfig(vocab_size=model.config.vocab_size, hidden_size=32, num_hidden_layers=2,
                                        num_attention_heads=4, intermediate_size=64, max_position_embeddings=66)
    torch.manual_seed(0)
    built = tmp_path / "built"
    perturbed(transformers.RobertaForMaskedLM(config)).save_pretrained(built)
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(out / name, built / name)
    assert printed_max_diff(convert("convert-hf-to-fairseq", built, tmp_path / "built_fs").stdout) <= 1e-4


def test_export_refuses_a_dictionary_without_every_bpe_token(roberta, tmp_path):
    from test_hf_conversion import convert

    folder = tmp_path / "partial"
    shutil.copytree(roberta["folder"], folder)
    # the tokens the corpus never produced become fillers, as in RoBERTa's dict.txt (same size)
    lines = (folder / "dict.txt").read_text(encoding="utf-8").splitlines()
    unseen = [i for i, line in enumerate(lines) if line.endswith(" 0") and line.split()[0].isdigit()]
    assert unseen
    for k, i in enumerate(unseen):
        lines[i] = f"madeupword{k + 100:04d} 0"  # beside the fillers fairseq-preprocess pads with
    (folder / "dict.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = convert("convert-fairseq-to-hf", folder / "model.pt", tmp_path / "hf", check=False)
    message = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert message.startswith(f"ir_fairseq: error: dict.txt lacks {len(unseen)} of the") and "nothing written" in message
    assert not (tmp_path / "hf").exists() or not any(p for p in (tmp_path / "hf").iterdir() if not p.name.startswith("."))


def test_a_checkpoint_in_fairseqs_released_roberta_format(roberta, corpus, tmp_path):
    """fairseq's RoBERTa downloads predate its dataclass configs: one flat ``args`` Namespace,
    task ``masked_lm``, no ``cfg``. Such a folder exports and fine-tunes like the others."""
    from test_hf_conversion import convert, printed_max_diff

    folder = tmp_path / "roberta.release"
    shutil.copytree(roberta["folder"], folder)
    state = torch.load(folder / "model.pt", weights_only=False)
    args = state.pop("cfg")["model"]
    args.task, args.criterion, args.user_dir, args.data = "masked_lm", "masked_lm", None, "/nonexistent/data-bin"
    state["args"] = args
    torch.save(state, folder / "model.pt")
    assert run_tool("model-flags", [folder / "model.pt"]).stdout.split()[:2] == ["--arch", "roberta_base"]
    assert printed_max_diff(convert("convert-fairseq-to-hf", folder / "model.pt", tmp_path / "hf").stdout) <= 1e-4
    run_script("preprocess_glue.sh", corpus["raw"] / "glue", "SST-2", folder, tmp_path / "glue", WORKERS="1")
    run_script("finetune_glue.sh", "SST-2", folder / "model.pt", tmp_path / "glue" / "SST-2-bin", tmp_path / "sst2",
               "--max-update", "2", "--batch-size", "8", "--num-workers", "0", SUBMISSION="0")
    assert (tmp_path / "sst2" / "dev_metrics.json").is_file()
