"""Print the fairseq-train flags that rebuild a checkpoint's RoBERTa architecture.

    python -m ir_fairseq.model_flags CHECKPOINT   # -> --arch roberta_base --encoder-layers 4 ...

Fine-tuning recipes use it so that a small or converted model is rebuilt with its own sizes
rather than with the defaults of ``--arch``.
"""
import argparse
import sys

import ir_fairseq  # noqa: F401  (torch.load allow-list)
from ir_fairseq.checkpoint_checks import read_checkpoint
from ir_fairseq.errors import IRUserError

ARCHITECTURE_FIELDS = (
    "encoder_layers", "encoder_embed_dim", "encoder_ffn_embed_dim", "encoder_attention_heads",
    "max_positions", "activation_fn", "encoder_normalize_before",
    "layer_norm_eps", "embedding_size",  # ir_bert (converted BERT/ELECTRA) only
)


def architecture_flags(checkpoint):
    state = read_checkpoint(checkpoint)
    cfg = state.get("cfg") or {}
    model = cfg.get("model") if isinstance(cfg, dict) else None
    if model is None and state.get("args") is not None:
        model = state["args"]
    if model is None:
        raise IRUserError(f"{checkpoint} holds no model configuration")
    get = (lambda k: model.get(k)) if isinstance(model, dict) else (lambda k: getattr(model, k, None))
    flags = ["--arch", get("arch") or get("_name") or "roberta_base"]
    for field in ARCHITECTURE_FIELDS:
        value = get(field)
        if value is None:
            continue
        flag = "--" + field.replace("_", "-")
        if isinstance(value, bool):
            if value:
                flags.append(flag)
        else:
            flags += [flag, str(value)]
    return flags


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m ir_fairseq.model_flags", description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    args = parser.parse_args(argv)
    try:
        print(" ".join(architecture_flags(args.checkpoint)))
    except IRUserError as e:
        sys.exit(f"ir_fairseq: error: {e}")


if __name__ == "__main__":
    main()
