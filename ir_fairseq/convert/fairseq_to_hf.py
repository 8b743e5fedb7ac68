"""fairseq pre-training checkpoint (roberta_* or ir_bert) -> HF ``BertForMaskedLM`` folder
(``RobertaForMaskedLM`` for a fairseq RoBERTa folder's GPT-2 BPE).

    ir-fairseq convert-fairseq-to-hf CHECKPOINT OUT_DIR [--dict dict.txt] [--overwrite] [--no-verify]

OUT_DIR gets config.json, model.safetensors (written by ``transformers`` itself) and a tokenizer
that ``AutoTokenizer.from_pretrained(OUT_DIR)`` loads and that gives the ids the fairseq pipeline
feeds the model, fairseq's specials renamed to BERT's ([CLS] [PAD] [SEP] [UNK] [MASK]) so ids
agree without a permutation: a WordPiece model's vocab.txt (the dictionary in id order) for
BertTokenizer; a sentencepiece model's tokenizer.json (``fast_tokenizer``: its unigram pieces in
the dictionary's id order), with its spm.model copied beside it. Before anything is written the
check runs real sentences and pairs through both tokenizers and both models and refuses on any
id or hidden-state difference.
A GPT-2 BPE model (``encoder.json`` + ``vocab.bpe`` beside ``dict.txt``) becomes what HF's own
RoBERTa checkpoints are: ``RobertaForMaskedLM`` (positions after the padding offset, as fairseq
counts them), ``vocab.json`` + ``merges.txt`` + ``tokenizer.json`` whose ids are the fairseq
dictionary's, RoBERTa's special names.
A model with ELECTRA's narrow embeddings becomes an ``ElectraForMaskedLM`` (BERT has no
embedding projection). Segment embeddings are written as zeros: the fairseq model has none and
folded the type-0 row into the positions, so type-0 inputs give the same hidden states.
"""
import argparse
import json
import os
import shutil
import tempfile

from ir_fairseq.common.checkpoints import Checkpoint
from ir_fairseq.common.errors import IRUserError
from ir_fairseq.common.model_folder import (DICT_FILE, GPT2_ENCODER_FILE, GPT2_MERGES_FILE, SPM_FILE,
                                            WORDPIECE_CONFIG_FILE, WORDPIECE_FILE, load_dictionary, load_tokenizer,
                                            wordpiece_lowercase)
from ir_fairseq.convert import fast_tokenizer
from ir_fairseq.convert.fast_tokenizer import BERT_SPECIALS
from ir_fairseq.convert.layout import ENCODER, LM_HEAD, ROBERTA_HEAD_NAMES, renames
from ir_fairseq.convert.verify import SENTENCES, TOLERANCE, load_hf_model, publish_if_exact
HF_ACTIVATIONS = {"gelu": "gelu", "gelu_accurate": "gelu_new", "relu": "relu", "tanh": "tanh"}
PRETRAINING_TASKS = ("masked_lm", "masked_lm_ir")


def find_dictionary(ckpt: Checkpoint, explicit=None):
    """--dict, else dict.txt beside the checkpoint (SAVE_DIR is a model folder), else in the
    first data directory it was trained on."""
    candidates = [explicit] if explicit else [
        os.path.join(os.path.dirname(os.path.abspath(ckpt.path)), DICT_FILE),
        os.path.join(str(ckpt.setting("task", "data", "")).split(":")[0], DICT_FILE),
    ]
    for path in candidates:
        if path and os.path.isfile(path):
            return path
    raise IRUserError(f"no {DICT_FILE} for {ckpt.path}: looked at {', '.join(c for c in candidates if c)} "
                      "(pass --dict)")


def load_fairseq_model(checkpoint, dict_path=None):
    ckpt = Checkpoint.read(checkpoint)
    if ckpt.task_name not in PRETRAINING_TASKS:
        raise IRUserError(f"{checkpoint} is a {ckpt.task_name!r} checkpoint: export takes a pre-training "
                          f"checkpoint ({' or '.join(PRETRAINING_TASKS)})")
    dict_path = find_dictionary(ckpt, dict_path)
    ckpt.check_dictionary(len(load_dictionary(dict_path)), dict_path, hint="pass --dict with the model's own dict.txt")
    model, task = ckpt.load_model(arg_overrides={"data": os.path.dirname(os.path.abspath(dict_path))})
    return model, task.source_dictionary, dict_path


def hf_config(args, dictionary, embedding_size, roberta=False):
    if args.encoder_normalize_before or not args.layernorm_embedding:
        raise IRUserError("only post-LN encoders with an embedding LayerNorm (BERT's layout) can be "
                          "exported; this checkpoint is pre-LN (--encoder-normalize-before)")
    if getattr(args, "untie_weights_roberta", False):
        raise IRUserError("checkpoints with --untie-weights-roberta cannot be exported (BERT ties them)")
    if args.activation_fn not in HF_ACTIVATIONS:
        raise IRUserError(f"activation {args.activation_fn!r} has no HF equivalent")
    projected = embedding_size != args.encoder_embed_dim
    if projected and args.activation_fn != "gelu":
        raise IRUserError("ElectraForMaskedLM's head always uses gelu; this model uses "
                          f"{args.activation_fn}")
    if projected and roberta:
        raise IRUserError("RobertaForMaskedLM has no embedding projection: a GPT-2 BPE model with "
                          "--embedding-size below its hidden size cannot be exported")
    config = {
        "architectures": ["ElectraForMaskedLM" if projected else "BertForMaskedLM"],
        "model_type": "electra" if projected else "bert",
        "vocab_size": len(dictionary), "hidden_size": args.encoder_embed_dim,
        "num_hidden_layers": args.encoder_layers, "num_attention_heads": args.encoder_attention_heads,
        "intermediate_size": args.encoder_ffn_embed_dim,
        "hidden_act": HF_ACTIVATIONS[args.activation_fn],
        "hidden_dropout_prob": args.dropout, "attention_probs_dropout_prob": args.attention_dropout,
        "max_position_embeddings": args.max_positions, "type_vocab_size": 2,
        "layer_norm_eps": float(getattr(args, "layer_norm_eps", None) or 1e-5),
        "pad_token_id": dictionary.pad(), "position_embedding_type": "absolute",
        "tie_word_embeddings": True,
    }
    if projected:
        config["embedding_size"] = embedding_size
    if roberta:  # HF RoBERTa counts positions from padding_idx + 1, as fairseq does
        config.update(architectures=["RobertaForMaskedLM"], model_type="roberta", type_vocab_size=1,
                      max_position_embeddings=args.max_positions + dictionary.pad() + 1,
                      bos_token_id=dictionary.bos(), eos_token_id=dictionary.eos())
    return config


def hf_state(model, config):
    import torch

    state = model.state_dict()
    projected, roberta = config["model_type"] == "electra", config["model_type"] == "roberta"
    prefix = config["model_type"] + "."
    out = {}
    for hf_name, fs_name in renames(config["num_hidden_layers"]).items():
        if fs_name in state:
            if hf_name.startswith("cls."):
                if projected:  # ELECTRA's generator head holds the same four tensors
                    hf_name = hf_name.replace("cls.predictions.transform.", "generator_predictions.")
                elif roberta:
                    hf_name = next(r + hf_name[len(b):] for r, b in ROBERTA_HEAD_NAMES.items() if hf_name.startswith(b))
                out[hf_name] = state[fs_name]
            else:
                out[prefix + hf_name] = state[fs_name]
    words = state[ENCODER + "embed_tokens.weight"]
    positions = state[ENCODER + "embed_positions.weight"]
    out[prefix + "embeddings.word_embeddings.weight"] = words
    out[prefix + "embeddings.position_embeddings.weight"] = positions[-config["max_position_embeddings"]:]
    out[prefix + "embeddings.token_type_embeddings.weight"] = torch.zeros(config["type_vocab_size"], words.size(1))
    if roberta:
        out["lm_head.decoder.weight"] = words
        out["lm_head.bias"] = out["lm_head.decoder.bias"] = state[LM_HEAD + "bias"]
    elif projected:
        out["generator_lm_head.weight"] = words
        out["generator_lm_head.bias"] = state[LM_HEAD + "bias"]
    else:
        out["cls.predictions.decoder.weight"] = words
        out["cls.predictions.bias"] = state[LM_HEAD + "bias"]
        out["cls.predictions.decoder.bias"] = state[LM_HEAD + "bias"]
    return out


def write_vocab(dictionary, path):
    with open(path, "w", encoding="utf-8") as f:
        for symbol in dictionary.symbols:
            f.write(BERT_SPECIALS.get(symbol, symbol) + "\n")


def export(checkpoint, out_dir, dict_path=None, overwrite=False, verify=True):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import transformers
    except ImportError as e:
        raise IRUserError("export needs the `transformers` package (pip install transformers)") from e
    if os.path.exists(os.path.join(out_dir, "config.json")) and not overwrite:
        raise IRUserError(f"{out_dir} already holds an HF model (pass --overwrite to replace it)")
    model, dictionary, dict_path = load_fairseq_model(checkpoint, dict_path)
    args = model.args
    embedding_size = model.encoder.sentence_encoder.embed_tokens.embedding_dim
    model_dir = os.path.dirname(dict_path)
    config = hf_config(args, dictionary, embedding_size, roberta=is_gpt2_folder(model_dir))
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".exporting-") as scratch:
        model_class = getattr(transformers, config["architectures"][0])
        config_class = {"electra": transformers.ElectraConfig, "roberta": transformers.RobertaConfig}.get(
            config["model_type"], transformers.BertConfig)
        hf_model = model_class(config_class(**config)).eval()
        missing, unexpected = hf_model.load_state_dict(hf_state(model, config), strict=False)
        missing = [k for k in missing if not k.endswith("position_ids")]
        if missing or unexpected:
            raise IRUserError(f"export does not fit {config['architectures'][0]}: missing {missing[:5]}, "
                              f"unexpected {unexpected[:5]}")
        hf_model.save_pretrained(scratch)
        missing_pieces = write_tokenizer(scratch, model_dir, dictionary, args.max_positions)
        report = compare_exported(scratch, model, dictionary, model_dir) if verify else None
        if report is not None:
            report["pieces_not_in_dict"] = missing_pieces
        publish_if_exact(report, checkpoint, scratch, out_dir)
    return config, report


def is_gpt2_folder(model_dir):
    """fairseq RoBERTa's GPT-2 BPE, as ``load_tokenizer`` decides (sentencepiece first)."""
    return (not os.path.isfile(os.path.join(model_dir, SPM_FILE))
            and os.path.isfile(os.path.join(model_dir, GPT2_ENCODER_FILE)))


def write_tokenizer(hf_dir, model_dir, dictionary, max_length):
    """The HF tokenizer files for the model folder's own tokenizer; returns the number of
    sentencepiece pieces the dictionary lacks (None for WordPiece and GPT-2 BPE)."""
    spm_path = os.path.join(model_dir, SPM_FILE)
    if is_gpt2_folder(model_dir):
        encoder_path, merges_path = (os.path.join(model_dir, n) for n in (GPT2_ENCODER_FILE, GPT2_MERGES_FILE))
        tokenizer, vocab = fast_tokenizer.build_gpt2(encoder_path, merges_path, dictionary.symbols)
        tokenizer.save(os.path.join(hf_dir, "tokenizer.json"))
        with open(os.path.join(hf_dir, "vocab.json"), "w", encoding="utf-8") as f:
            json.dump(vocab, f, ensure_ascii=False)
        shutil.copyfile(merges_path, os.path.join(hf_dir, "merges.txt"))  # GPT-2's vocab.bpe is HF's merges.txt
        missing = None
        settings = fast_tokenizer.gpt2_tokenizer_config(max_length)
    elif os.path.isfile(spm_path):
        tokenizer, missing = fast_tokenizer.build(spm_path, dictionary.symbols)
        tokenizer.save(os.path.join(hf_dir, "tokenizer.json"))
        shutil.copyfile(spm_path, os.path.join(hf_dir, SPM_FILE))
        settings = fast_tokenizer.tokenizer_config(max_length)
    else:
        write_vocab(dictionary, os.path.join(hf_dir, WORDPIECE_FILE))
        missing = None
        settings = {"tokenizer_class": "BertTokenizer", "do_lower_case": wordpiece_lowercase(model_dir),
                    "model_max_length": max_length}
    with open(os.path.join(hf_dir, WORDPIECE_CONFIG_FILE), "w", encoding="utf-8") as f:
        json.dump(settings, f, indent=2)
    return missing


def fairseq_ids(tokenizer, dictionary, first, second=None):
    """The ids fairseq's recipes feed: ``<s> A </s>``, and for a pair ``<s> A </s> </s> B </s>``."""
    def encode(text):
        return [dictionary.index(piece) for piece in tokenizer.tokenize(text)]

    ids = [dictionary.bos()] + encode(first) + [dictionary.eos()]
    if second is not None:
        ids += [dictionary.eos()] + encode(second) + [dictionary.eos()]
    return ids


def compare_exported(hf_dir, model, dictionary, model_dir):
    """The exported tokenizer against the folder's own on real sentences (and pairs, for the fast
    tokenizers of sentencepiece and GPT-2 BPE models; the ids must be identical), then both models on
    those ids and on random real-vocabulary sequences (every id, not only those the sentences reach)."""
    import torch
    from transformers import AutoTokenizer

    hf_model = load_hf_model(hf_dir, masked_lm=True)
    hf_tokenizer = AutoTokenizer.from_pretrained(hf_dir, local_files_only=True)
    tokenizer = load_tokenizer(model_dir)
    texts = [(s, None) for s in SENTENCES]
    if tokenizer.kind != "wordpiece":
        # a pair as the GLUE recipes feed it; a WordPiece model's BertTokenizer keeps BERT's own
        # pair format ([CLS] A [SEP] B [SEP]), in which public BERT checkpoints were trained
        texts += list(zip(SENTENCES, SENTENCES[1:]))
    batches = []
    for first, second in texts:
        expected = fairseq_ids(tokenizer, dictionary, first, second)
        got = hf_tokenizer(first, second)["input_ids"]
        if got != expected:
            at = next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b), min(len(got), len(expected)))
            raise IRUserError(
                f"the exported tokenizer differs from {model_dir}'s on {first[:40]!r}...: at token {at} "
                f"HF gives {hf_tokenizer.convert_ids_to_tokens(got[at:at + 3])} where fairseq has "
                f"{[dictionary[i] for i in expected[at:at + 3]]}; nothing written")
        batches.append(torch.tensor([expected]))
    generator = torch.Generator().manual_seed(0)
    longest = model.encoder.max_positions() - 2
    for length in sorted({min(n, longest) for n in (8, 23, 64)}):
        body = torch.randint(dictionary.nspecial, len(dictionary) - 1, (2, length), generator=generator)
        batches.append(torch.cat([torch.full((2, 1), dictionary.bos()), body, torch.full((2, 1), dictionary.eos())], 1))
    worst, worst_logits, tokens, sequences = 0.0, 0.0, 0, 0
    with torch.no_grad():
        for ids in batches:
            ids = ids[:, :longest + 2]
            hf_out = hf_model(input_ids=ids, attention_mask=torch.ones_like(ids),
                              token_type_ids=torch.zeros_like(ids), output_hidden_states=True)
            fs_logits, fs_extra = model(ids, return_all_hiddens=True)
            fs_hidden = fs_extra["inner_states"][-1].transpose(0, 1)
            worst = max(worst, (hf_out.hidden_states[-1] - fs_hidden).abs().max().item())
            worst_logits = max(worst_logits, (hf_out.logits - fs_logits).abs().max().item())
            tokens += ids.numel()
            sequences += ids.size(0)
    return {"max_abs_diff": worst, "max_abs_diff_logits": worst_logits, "sentences": sequences, "tokens": tokens,
            "texts": sum(second is None for _, second in texts), "pairs": sum(second is not None for _, second in texts)}


def build_parser():
    parser = argparse.ArgumentParser(prog="ir-fairseq convert-fairseq-to-hf", description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("out_dir")
    parser.add_argument("--dict", help="the model's dict.txt (default: beside the checkpoint, "
                        "then the checkpoint's data directory)")
    parser.add_argument("--overwrite", action="store_true", help="replace an HF model already in OUT_DIR")
    parser.add_argument("--no-verify", action="store_true", help="skip the hidden-state comparison")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    config, report = export(args.checkpoint, args.out_dir, args.dict, args.overwrite, not args.no_verify)
    print(f"[convert-fairseq-to-hf] {args.checkpoint} -> {args.out_dir} ({config['architectures'][0]}, "
          f"{config['vocab_size']} tokens)")
    if report:
        print(f"[convert-fairseq-to-hf] tokenizer: identical ids on {report['texts']} real sentences and "
              f"{report['pairs']} pairs"
              + ("" if report["pieces_not_in_dict"] is None else
                 f" ({report['pieces_not_in_dict']} sentencepiece pieces are not in dict.txt and left out)"))
        print(f"[convert-fairseq-to-hf] last-layer hidden states vs transformers on {report['sentences']} "
              f"sequences ({report['tokens']} tokens): max abs diff {report['max_abs_diff']:.2e} "
              f"(limit {TOLERANCE:g}); MLM logits max abs diff {report['max_abs_diff_logits']:.2e}")
