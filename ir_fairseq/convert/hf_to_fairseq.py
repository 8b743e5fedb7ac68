"""HF BERT / ELECTRA-discriminator / RoBERTa folder -> fairseq ``ir_bert`` checkpoint + dictionary.

    ir-fairseq convert-hf-to-fairseq HF_DIR OUT_DIR [--overwrite] [--no-verify]

OUT_DIR gets ``model.pt`` (fairseq checkpoint, task masked_lm_ir, arch ir_bert), ``dict.txt``
and the tokenizer files (``vocab.txt``, ``tokenizer_config.json``), so it is a model folder for
preprocessing and for ``RobertaModel.from_pretrained(OUT_DIR, checkpoint_file="model.pt")``.

Vocabulary: fairseq's Dictionary reserves ids 0-3 for <s> <pad> </s> <unk> and the masked LM
task appends <mask>; BERT's [CLS] [PAD] [SEP] [UNK] [MASK] take those places and every other
WordPiece string keeps its text (``##ing``) in dict.txt, in vocab.txt order. The embedding rows
are permuted to match, so both models see the same sentence as the same vectors.
A RoBERTa folder becomes a fairseq RoBERTa folder: its ``vocab.json`` and ``merges.txt`` are
GPT-2's ``encoder.json`` and ``vocab.bpe`` with HF's ids, and ``dict.txt`` lists those ids, as
fairseq's RoBERTa dictionaries list GPT-2's.
"""
import argparse
import logging
import os
import shutil
import tempfile
import warnings

from ir_fairseq.convert.hf_folder import ACTIVATIONS, IGNORED_PREFIXES, HFCheckpoint, read_hf_folder
from ir_fairseq.convert.layout import ENCODER, LM_HEAD, renames
from ir_fairseq.convert.verify import TOLERANCE, compare_hidden_states, publish_if_exact
from ir_fairseq.common.errors import IRUserError
from ir_fairseq.common.model_folder import (DICT_FILE, GPT2_ENCODER_FILE, GPT2_MERGES_FILE, WORDPIECE_CONFIG_FILE,
                                            WORDPIECE_FILE)
from ir_fairseq.convert.hf_folder import BPE_MERGES_FILE, BPE_VOCAB_FILE

FAIRSEQ_SPECIALS = ("cls_token", "pad_token", "sep_token", "unk_token")  # -> ids 0, 1, 2, 3
TOKENIZER_FILES = (WORDPIECE_FILE, WORDPIECE_CONFIG_FILE, "special_tokens_map.json", "tokenizer.json")


def fairseq_vocab_order(hf: HFCheckpoint):
    """HF ids in fairseq id order, and the dict.txt symbols (everything but the specials)."""
    special_ids = [hf.vocab.index(hf.special_tokens[k]) for k in FAIRSEQ_SPECIALS]
    mask_id = hf.vocab.index(hf.special_tokens["mask_token"])
    reserved = set(special_ids) | {mask_id}
    body = [i for i in range(len(hf.vocab)) if i not in reserved]
    # a byte-level BPE's dictionary names tokens by id, which its encoder.json maps them to
    symbols = [str(i) if hf.byte_level_bpe else hf.vocab[i] for i in body]
    clashes = {"<s>", "<pad>", "</s>", "<unk>", "<mask>"} & set(symbols)
    if clashes:
        raise IRUserError(f"vocab.txt holds fairseq's reserved symbols {sorted(clashes)} as ordinary tokens")
    return special_ids + body + [mask_id], symbols


def write_dictionary(symbols, path):
    seen = set()
    with open(path, "w", encoding="utf-8") as f:
        for symbol in symbols:
            # a repeated WordPiece string keeps its own row (fairseq's overwrite flag)
            flag = " #fairseq:overwrite" if symbol in seen else ""
            seen.add(symbol)
            f.write(f"{symbol} 1{flag}\n")


def model_flags(hf: HFCheckpoint):
    c = hf.config
    max_positions = hf.max_positions
    return [
        "--arch", "ir_bert", "--encoder-layers", str(c["num_hidden_layers"]),
        "--encoder-embed-dim", str(c["hidden_size"]),
        "--encoder-ffn-embed-dim", str(c["intermediate_size"]),
        "--encoder-attention-heads", str(c["num_attention_heads"]),
        "--embedding-size", str(hf.embedding_size),
        "--layer-norm-eps", repr(float(c.get("layer_norm_eps", 1e-5 if hf.byte_level_bpe else 1e-12))),
        "--activation-fn", ACTIVATIONS[c.get("hidden_act", "gelu")],
        "--dropout", str(c.get("hidden_dropout_prob", 0.1)),
        "--attention-dropout", str(c.get("attention_probs_dropout_prob", 0.1)),
        "--max-positions", str(max_positions), "--tokens-per-sample", str(min(512, max_positions)),
    ]


def build_fairseq_model(data_dir, flags):
    """A fairseq model and its full training config, made by fairseq's own option parsing."""
    from fairseq import options, tasks
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    parser = options.get_training_parser()
    args = options.parse_args_and_arch(parser, [
        data_dir, "--task", "masked_lm_ir", "--criterion", "instance_reg", *flags, "--cpu",
    ])
    # hydra's deprecation chatter would bury the converter's two lines of output
    logging.getLogger("hydra").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cfg = convert_namespace_to_omegaconf(args)
    task = tasks.setup_task(cfg.task)
    model = task.build_model(cfg.model, from_checkpoint=True)
    return cfg, task, model


def convert_state(hf: HFCheckpoint, fairseq_state, vocab_order):
    import torch

    num_layers = hf.config["num_hidden_layers"]
    weights = dict(hf.weights)
    state = {}
    for hf_name, fs_name in renames(num_layers).items():
        if hf_name in weights:
            state[fs_name] = weights.pop(hf_name)
    order = torch.tensor(vocab_order)
    word = weights.pop("embeddings.word_embeddings.weight")
    state[ENCODER + "embed_tokens.weight"] = word[order]
    positions = weights.pop("embeddings.position_embeddings.weight")
    token_types = weights.pop("embeddings.token_type_embeddings.weight", None)
    if token_types is not None:
        positions = positions + token_types[0]  # every fairseq input is segment 0
    table = fairseq_state[ENCODER + "embed_positions.weight"].clone().zero_()
    offset = table.size(0) - positions.size(0)  # fairseq positions start after padding_idx
    table[offset:] = positions
    state[ENCODER + "embed_positions.weight"] = table
    if hf.has_mlm_head:
        bias = weights.pop("cls.predictions.bias")
        state[LM_HEAD + "bias"] = bias[order]
        weights.pop("cls.predictions.decoder.weight", None)  # tied to the word embeddings
        weights.pop("cls.predictions.decoder.bias", None)  # the same tensor as cls.predictions.bias
    state[LM_HEAD + "weight"] = state[ENCODER + "embed_tokens.weight"]
    leftover = [k for k in weights if not k.startswith(IGNORED_PREFIXES)]
    if leftover:
        raise IRUserError(f"{hf.folder}: tensors the converter does not know: {', '.join(sorted(leftover)[:5])}")
    for name, value in fairseq_state.items():
        if name not in state:
            if name.startswith(LM_HEAD) and not hf.has_mlm_head:
                state[name] = value  # ELECTRA discriminator: fresh MLM head (fairseq's init)
            elif name.endswith("version"):
                state[name] = value
        elif state[name].shape != value.shape:
            raise IRUserError(f"{name}: checkpoint shape {tuple(state[name].shape)} does not fit "
                              f"the model's {tuple(value.shape)}")
    missing = sorted(set(fairseq_state) - set(state))
    if missing:
        raise IRUserError(f"{hf.folder}: no weights for {', '.join(missing[:5])}")
    return state


def write_checkpoint(cfg, state, path, model_dir, source):
    import torch
    from omegaconf import OmegaConf

    container = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    container["common"]["user_dir"] = None
    container["task"]["data"] = os.path.abspath(model_dir)
    if source["architecture"].startswith("Roberta"):
        container["bpe"] = {"_name": "gpt2", "gpt2_encoder_json": "${task.data}/" + GPT2_ENCODER_FILE,
                            "gpt2_vocab_bpe": "${task.data}/" + GPT2_MERGES_FILE}
    else:
        container["bpe"] = {"_name": "ir_wordpiece", "wordpiece_vocab": "${task.data}/vocab.txt",
                            "wordpiece_cased": not source["lowercase"]}
    # what fairseq's loader expects of a checkpoint that has never been trained: no optimizer
    # state, update 0, the data iterator at the start of epoch 1
    history = {"criterion_name": "none", "optimizer_name": "none", "num_updates": 0,
               "lr_scheduler_state": {"best": None}}
    checkpoint = {"cfg": container, "model": state, "args": None, "optimizer_history": [history],
                  "extra_state": {"train_iterator": {"epoch": 1, "iterations_in_epoch": 0}},
                  "last_optimizer_state": None, "ir_fairseq_source": source}
    torch.save(checkpoint, path)


def convert(hf_dir, out_dir, overwrite=False, verify=True, seed=0):
    import torch

    hf = read_hf_folder(hf_dir)
    target = os.path.join(out_dir, "model.pt")
    if os.path.exists(target) and not overwrite:
        raise IRUserError(f"{target} already exists (pass --overwrite to replace it)")
    os.makedirs(out_dir, exist_ok=True)
    vocab_order, symbols = fairseq_vocab_order(hf)
    # build in a scratch folder: OUT_DIR changes only once everything converted and checked
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".converting-") as scratch:
        write_dictionary(symbols, os.path.join(scratch, DICT_FILE))
        if hf.byte_level_bpe:
            for name, fairseq_name in ((BPE_VOCAB_FILE, GPT2_ENCODER_FILE), (BPE_MERGES_FILE, GPT2_MERGES_FILE)):
                shutil.copyfile(os.path.join(hf_dir, name), os.path.join(scratch, fairseq_name))
        else:
            for name in TOKENIZER_FILES:
                if os.path.isfile(os.path.join(hf_dir, name)):
                    shutil.copyfile(os.path.join(hf_dir, name), os.path.join(scratch, name))
        torch.manual_seed(seed)  # a fresh ELECTRA MLM head is initialised reproducibly
        cfg, task, model = build_fairseq_model(scratch, model_flags(hf))
        if len(task.source_dictionary) != len(hf.vocab):
            raise IRUserError(f"fairseq dictionary has {len(task.source_dictionary)} symbols, "
                              f"the HF vocabulary {len(hf.vocab)}")
        state = convert_state(hf, model.state_dict(), vocab_order)
        model.load_state_dict(state, strict=True)
        source = {"hf_folder": os.path.abspath(hf_dir), "architecture": hf.architecture,
                  "mlm_head": "converted" if hf.has_mlm_head else "fresh", "lowercase": hf.lowercase}
        write_checkpoint(cfg, model.state_dict(), os.path.join(scratch, "model.pt"), out_dir, source)
        report = compare_hidden_states(hf, model, task.source_dictionary, scratch) if verify else None
        publish_if_exact(report, hf_dir, scratch, out_dir)
    return hf, report


def build_parser():
    parser = argparse.ArgumentParser(prog="ir-fairseq convert-hf-to-fairseq", description=__doc__.splitlines()[0])
    parser.add_argument("hf_dir", help="local HF folder: config.json, model.safetensors or pytorch_model.bin, "
                        "vocab.txt (BERT, ELECTRA) or vocab.json + merges.txt (RoBERTa)")
    parser.add_argument("out_dir")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing OUT_DIR/model.pt")
    parser.add_argument("--no-verify", action="store_true",
                        help="skip the hidden-state comparison with transformers")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    hf, report = convert(args.hf_dir, args.out_dir, args.overwrite, not args.no_verify)
    head = "converted" if hf.has_mlm_head else "freshly initialised (tied to the input embeddings)"
    print(f"[convert-hf-to-fairseq] {hf.architecture} -> {args.out_dir}/model.pt, dict.txt "
          f"({len(hf.vocab)} symbols); MLM head {head}")
    if report:
        print(f"[convert-hf-to-fairseq] last-layer hidden states vs transformers on "
              f"{report['sentences']} sentences ({report['tokens']} tokens): max abs diff "
              f"{report['max_abs_diff']:.2e} (limit {TOLERANCE:g})")
