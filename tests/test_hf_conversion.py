"""HF BERT/ELECTRA -> fairseq -> HF: exactness on the real public all-MiniLM-L6-v2 checkpoint
and on BERT/ELECTRA models built by transformers itself, plus the converters' user errors."""
import os
import re
import shutil

import pytest
import torch

from conftest import minilm_dir, needs_minilm, run_tool

os.environ.setdefault("HF_HUB_OFFLINE", "1")
transformers = pytest.importorskip("transformers", reason="transformers runs the HF side of the checks")

SENTENCE = "The Normans gave their name to Normandy, a region in France, in the 10th century."


def convert(command, *args, check=True):
    """``ir-fairseq convert-hf-to-fairseq|convert-fairseq-to-hf ARGS``, offline."""
    return run_tool(command, args, check=check, env_extra={"HF_HUB_OFFLINE": "1"})


def printed_max_diff(stdout):
    found = re.findall(r"hidden states vs transformers .*? max abs diff ([0-9.e+-]+)", stdout)
    assert found, stdout
    return float(found[-1])


def load_hub(folder, checkpoint="model.pt"):
    import ir_fairseq  # noqa: F401
    from fairseq.models.roberta import RobertaModel

    return RobertaModel.from_pretrained(folder, checkpoint_file=checkpoint).eval()


def perturbed(model):
    """Random init leaves LayerNorms at 1/0 and biases at 0, which would hide eps/affine/bias
    mistakes: move them."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name or name.endswith("bias"):
                p.add_(0.2 * torch.randn(p.shape, generator=generator))
    return model


def save_hf(model, folder, vocab_from):
    model.save_pretrained(folder)
    shutil.copy(os.path.join(vocab_from, "vocab.txt"), os.path.join(folder, "vocab.txt"))
    return folder


@needs_minilm
def test_minilm_converts_within_tolerance_and_loads_offline(converted_minilm):
    out, stdout = converted_minilm
    assert printed_max_diff(stdout) <= 1e-4
    for name in ("model.pt", "dict.txt", "vocab.txt", "tokenizer_config.json"):
        assert (out / name).is_file(), name
    symbols = [line.split()[0] for line in (out / "dict.txt").read_text(encoding="utf-8").splitlines()]
    assert "##ing" in symbols and "[CLS]" not in symbols and "[MASK]" not in symbols

    # independent check: HF's own tokenizer and model against fairseq's hub interface
    hf_tokenizer = transformers.AutoTokenizer.from_pretrained(minilm_dir())
    hf_model = transformers.AutoModel.from_pretrained(minilm_dir()).eval()
    encoded = hf_tokenizer(SENTENCE, return_tensors="pt")
    hub = load_hub(str(out))  # RobertaModel.from_pretrained: no bpe argument, no download
    fairseq_ids = hub.encode(SENTENCE)
    hf_tokens = hf_tokenizer.convert_ids_to_tokens(encoded["input_ids"][0])
    renamed = {"<s>": "[CLS]", "</s>": "[SEP]", "<unk>": "[UNK]", "<pad>": "[PAD]", "<mask>": "[MASK]"}
    fairseq_tokens = [renamed.get(s, s) for s in (hub.task.source_dictionary[i] for i in fairseq_ids)]
    assert fairseq_tokens == hf_tokens
    with torch.no_grad():
        expected = hf_model(**encoded).last_hidden_state
        got = hub.extract_features(fairseq_ids)
    assert (expected - got).abs().max().item() <= 1e-4


def test_bert_mlm_head_and_vocabulary_order_round_trip(tmp_path):
    vocab_dir = tmp_path / "vocab"
    vocab_dir.mkdir()
    # a WordPiece vocabulary whose specials are NOT at fairseq's places, so the permutation matters
    words = ["[PAD]", "hello", "[UNK]", "world", "[CLS]", "[SEP]", "[MASK]", "play", "##ing", "the",
             "norman", "##s", ",", "."] + [f"tok{i}" for i in range(50)]
    (vocab_dir / "vocab.txt").write_text("\n".join(words) + "\n", encoding="utf-8")
    config = transformers.BertConfig(vocab_size=len(words), hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=4, intermediate_size=64,
                                     max_position_embeddings=40, pad_token_id=0, hidden_act="gelu_new")
    torch.manual_seed(0)
    hf = perturbed(transformers.BertForMaskedLM(config)).eval()
    hf_dir = save_hf(hf, tmp_path / "hf", vocab_dir)
    fs_dir = tmp_path / "fairseq"
    assert printed_max_diff(convert("convert-hf-to-fairseq", hf_dir, fs_dir).stdout) <= 1e-4

    hub = load_hub(str(fs_dir))
    dictionary = hub.task.source_dictionary
    hf_ids = torch.tensor([[4, 1, 7, 8, 3, 12, 10, 11, 2, 5]])  # [CLS] hello play ##ing world , ...
    renamed = {"[CLS]": "<s>", "[SEP]": "</s>", "[UNK]": "<unk>", "[PAD]": "<pad>", "[MASK]": "<mask>"}
    to_fairseq = torch.tensor([dictionary.index(renamed.get(w, w)) for w in words])
    with torch.no_grad():
        hf_logits = hf(input_ids=hf_ids).logits
        fs_logits = hub.model(to_fairseq[hf_ids])[0]
    # fairseq's logit for symbol j is HF's logit for the same WordPiece string
    assert (fs_logits[..., to_fairseq] - hf_logits).abs().max().item() <= 1e-4

    back = tmp_path / "hf_back"
    stdout = convert("convert-fairseq-to-hf", fs_dir / "model.pt", back).stdout
    assert printed_max_diff(stdout) <= 1e-4
    exported = transformers.AutoModelForMaskedLM.from_pretrained(back).eval()
    assert type(exported).__name__ == "BertForMaskedLM"
    exported_vocab = (back / "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1]
    to_exported = torch.tensor([exported_vocab.index(w) for w in words])
    with torch.no_grad():
        back_logits = exported(input_ids=to_exported[hf_ids]).logits
    assert (back_logits[..., to_exported] - hf_logits).abs().max().item() <= 1e-4

    def export_fails(*args):
        proc = convert("convert-fairseq-to-hf", *args, check=False)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
        return proc.stderr.strip().splitlines()[-1]

    other_dict = tmp_path / "other" / "dict.txt"
    other_dict.parent.mkdir()
    other_dict.write_text("".join(f"w{i} 1\n" for i in range(10)))
    assert "does not match the embeddings of" in export_fails(fs_dir / "model.pt", tmp_path / "o1", "--dict", other_dict)
    assert "checkpoint not found" in export_fails(tmp_path / "nope.pt", tmp_path / "o2")
    assert not (tmp_path / "o1").exists()


@needs_minilm
def test_electra_discriminator_with_embedding_projection_round_trip(tmp_path):
    config = transformers.ElectraConfig(vocab_size=30522, embedding_size=16, hidden_size=32,
                                        num_hidden_layers=2, num_attention_heads=4,
                                        intermediate_size=64, max_position_embeddings=64)
    torch.manual_seed(0)
    hf_dir = save_hf(perturbed(transformers.ElectraForPreTraining(config)), tmp_path / "hf", minilm_dir())
    fs_dir = tmp_path / "fairseq"
    stdout = convert("convert-hf-to-fairseq", hf_dir, fs_dir).stdout
    assert printed_max_diff(stdout) <= 1e-4 and "freshly initialised" in stdout
    hub = load_hub(str(fs_dir))
    encoder = hub.model.encoder
    # the fresh MLM head is tied to the input embeddings and maps back to the embedding width
    assert encoder.lm_head.weight is encoder.sentence_encoder.embed_tokens.weight
    assert encoder.lm_head.dense.out_features == 16
    back = tmp_path / "hf_back"
    assert printed_max_diff(convert("convert-fairseq-to-hf", fs_dir / "model.pt", back).stdout) <= 1e-4
    assert transformers.AutoConfig.from_pretrained(back).architectures == ["ElectraForMaskedLM"]


@needs_minilm
def test_converter_user_errors_are_one_line_and_keep_existing_output(tmp_path):
    def fails(*args):
        proc = convert("convert-hf-to-fairseq", *args, check=False)
        assert proc.returncode == 1
        assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
        return proc.stderr.strip().splitlines()[-1]

    def relabelled(name, architecture, model_type):
        folder = tmp_path / name
        shutil.copytree(minilm_dir(), folder)
        config = (folder / "config.json").read_text().replace('"BertModel"', f'"{architecture}"')
        (folder / "config.json").write_text(config.replace('"model_type": "bert"', f'"model_type": "{model_type}"'))
        return folder

    assert "unsupported architecture ['DebertaModel']" in fails(relabelled("deberta", "DebertaModel", "deberta"),
                                                                tmp_path / "o1")
    # a RoBERTa folder needs its byte-level BPE files, not BERT's vocab.txt
    assert "has no vocab.json" in fails(relabelled("roberta", "RobertaModel", "roberta"), tmp_path / "o1b")

    no_vocab = tmp_path / "no_vocab"
    shutil.copytree(minilm_dir(), no_vocab)
    (no_vocab / "vocab.txt").unlink()
    assert "has no vocab.txt" in fails(no_vocab, tmp_path / "o2")

    truncated = tmp_path / "truncated"
    shutil.copytree(minilm_dir(), truncated)
    weights = truncated / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: 1 << 20])
    assert "cannot read weights" in fails(truncated, tmp_path / "o3")
    assert not (tmp_path / "o3" / "model.pt").exists()

    assert "HuggingFace model folder not found" in fails(tmp_path / "missing", tmp_path / "o4")

    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "model.pt").write_bytes(b"an earlier conversion")
    assert "already exists" in fails(minilm_dir(), occupied)
    assert (occupied / "model.pt").read_bytes() == b"an earlier conversion"


# the sentence the exported sentencepiece model used to turn into fourteen [UNK]
FARMER = "The quiet farmer crossed the orchard by the river and the story was wonderful."


@pytest.fixture(scope="module")
def sentencepiece_model(corpus, tmp_path_factory):
    """A from-scratch checkpoint of the project's own sentencepiece pipeline (the demo's kind):
    ``prepare_pretrain_data.sh`` trains the sentencepiece model and writes a dict.txt that lists
    every piece; its save dir holds dict.txt and spm.model, as pretrain_ir.sh leaves it."""
    from conftest import fairseq_train
    from ir_fairseq.convert.fast_tokenizer import sentencepiece_pieces
    from conftest import run_script

    root = tmp_path_factory.mktemp("spm_model")
    prepared = run_script("prepare_pretrain_data.sh", root / "data", corpus["raw"] / "train.txt",
                          VOCAB="300", VALID_DOCS="2", WORKERS="1")
    assert "pieces of" in (root / "data" / "preprocess_dict.log").read_text()
    pieces, _ = sentencepiece_pieces(str(root / "data" / "spm.model"))
    symbols = [line.split(" ")[0] for line in (root / "data" / "dict.txt").read_text(encoding="utf-8").splitlines()]
    assert set(pieces) <= set(symbols) and len(symbols) == len(set(symbols))
    save_dir = root / "checkpoints"
    fairseq_train(prepared.stdout.strip().splitlines()[-1].split("=", 1)[1], str(save_dir), "--max-update", "2",
                  "--disable-validation")
    shutil.copy(root / "data" / "dict.txt", save_dir / "dict.txt")
    shutil.copy(root / "data" / "spm.model", save_dir / "spm.model")
    return save_dir


def fairseq_hub(save_dir):
    import ir_fairseq  # noqa: F401
    from fairseq.models.roberta import RobertaModel

    return RobertaModel.from_pretrained(str(save_dir), checkpoint_file="checkpoint_last.pt", bpe="sentencepiece",
                                        sentencepiece_model=str(save_dir / "spm.model")).eval()


def test_sentencepiece_export_tokenizes_text_into_the_fairseq_ids(sentencepiece_model, corpus, tmp_path):
    out = tmp_path / "hf"
    stdout = convert("convert-fairseq-to-hf", sentencepiece_model / "checkpoint_last.pt", out).stdout
    assert "tokenizer: identical ids on" in stdout and "(0 sentencepiece pieces are not in dict.txt" in stdout
    assert printed_max_diff(stdout) <= 1e-4
    assert (out / "tokenizer.json").is_file() and (out / "spm.model").is_file()
    tokenizer = transformers.AutoTokenizer.from_pretrained(out)
    model = transformers.AutoModelForMaskedLM.from_pretrained(out).eval()
    hub = fairseq_hub(sentencepiece_model)
    texts = [FARMER] + (corpus["raw"] / "valid.txt").read_text(encoding="utf-8").split("\n")[:20]
    for text in filter(None, texts):
        expected = hub.encode(text).tolist()
        encoded = tokenizer(text, return_tensors="pt")
        assert encoded["input_ids"][0].tolist() == expected, text
        if len(expected) > hub.model.max_positions():  # the tiny model's 64
            continue
        with torch.no_grad():
            hf_states = model(**encoded, output_hidden_states=True).hidden_states[-1]
            assert (hf_states - hub.extract_features(torch.tensor(expected))).abs().max().item() <= 1e-4
    farmer = tokenizer.convert_ids_to_tokens(tokenizer(FARMER)["input_ids"])
    assert farmer.count("[UNK]") == hub.encode(FARMER).tolist().count(hub.task.source_dictionary.unk())
    assert farmer.count("[UNK]") < 3, farmer
    # a pair as the GLUE recipes feed it: <s> A </s> </s> B </s>
    pair = tokenizer("The river.", "The farmer.")["input_ids"]
    assert pair == hub.encode("The river.", "The farmer.").tolist()
    assert tokenizer.mask_token_id == len(hub.task.source_dictionary) - 1


def test_sentencepiece_export_refuses_a_tokenizer_it_cannot_reproduce(sentencepiece_model, tmp_path):
    # rename a piece the check sentences need: sentencepiece still produces it (fairseq then
    # looks it up as <unk>) but the fast tokenizer has no id for it and segments differently
    model_dir = tmp_path / "renamed"
    shutil.copytree(sentencepiece_model, model_dir)
    lines = (model_dir / "dict.txt").read_text(encoding="utf-8").split("\n")
    index = next(i for i, line in enumerate(lines) if line.split(" ")[0] == "▁the")
    lines[index] = lines[index].replace("▁the", "▁thezzz", 1)
    (model_dir / "dict.txt").write_text("\n".join(lines), encoding="utf-8")
    out = tmp_path / "hf"
    proc = convert("convert-fairseq-to-hf", model_dir / "checkpoint_last.pt", out, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    message = proc.stderr.strip().splitlines()[-1]
    assert message.startswith("ir_fairseq: error: the exported tokenizer differs from") and "nothing written" in message
    assert not out.exists() or not any(p for p in out.iterdir() if not p.name.startswith("."))
