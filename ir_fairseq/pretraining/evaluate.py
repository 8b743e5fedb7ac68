"""Measure MLM loss, ECP and DPP of any RoBERTa checkpoint on a binarized split.

    python -m ir_fairseq.evaluate CHECKPOINT DATA_DIR [--split valid] [--batch-size 16]

Works for checkpoints trained with fairseq's ``masked_lm`` as well as with ``instance_reg``,
so a baseline's corruption and prediction penalties can be compared with an IR model's.
The model runs in eval mode (no dropout) with the paper's masking and fixed seed; prints
one JSON object with ``mlm_loss`` (base 2, as fairseq logs it), ``mlm_acc`` (%), ``ecp``
and ``dpp`` (nats per non-pad position), and ``target_entropy``: the mean entropy (nats) of the
softmax over the hidden dimension of Ĥ, the states of the unmasked input, next to its
maximum ``log_hidden_dim`` = log(C). Near zero, ECP and DPP compare distributions concentrated
on the same few dimensions everywhere, and their small values say nothing about the content.
"""
import argparse
import json
import math
import sys

import torch
from fairseq import checkpoint_utils, tasks
from fairseq.dataclass.utils import convert_namespace_to_omegaconf
from fairseq import options

import ir_fairseq  # noqa: F401  (registers the task and criterion; allow-lists checkpoints)
from ir_fairseq.checkpoint_checks import EMBEDDINGS, read_checkpoint
from ir_fairseq.common.errors import IRUserError
from ir_fairseq.ir_math import hidden_distribution_entropy, restore_original


def evaluate(checkpoint, data_dir, split="valid", batch_size=16, seed=1, max_batches=None):
    state = read_checkpoint(checkpoint)
    task_cfg = (state.get("cfg") or {}).get("task") or {}
    tokens_per_sample = task_cfg.get("tokens_per_sample")
    if tokens_per_sample is None:
        raise IRUserError(f"{checkpoint} is not a masked-LM checkpoint (its task has no tokens_per_sample)")
    parser = options.get_training_parser()
    args = options.parse_args_and_arch(parser, [
        data_dir, "--task", "masked_lm_ir", "--criterion", "instance_reg", "--arch", "roberta_base",
        "--tokens-per-sample", str(tokens_per_sample), "--seed", str(seed), "--cpu",
    ])
    cfg = convert_namespace_to_omegaconf(args)
    task = tasks.setup_task(cfg.task)
    embeddings = state["model"].get(EMBEDDINGS)
    if embeddings is not None and embeddings.size(0) != len(task.source_dictionary):
        raise IRUserError(
            f"dictionary of {data_dir} ({len(task.source_dictionary)} symbols with <mask>) does "
            f"not match the checkpoint's embeddings ({embeddings.size(0)} rows)"
        )
    del state
    models, _ = checkpoint_utils.load_model_ensemble([checkpoint], arg_overrides={"data": data_dir})
    model = models[0].eval()
    criterion = task.build_criterion(cfg.criterion)
    task.load_dataset(split)
    iterator = task.get_batch_iterator(
        task.dataset(split), max_sentences=batch_size, seed=seed,
        max_positions=tokens_per_sample,
    ).next_epoch_itr(shuffle=False)
    totals = {}
    hidden_dim = None
    torch.manual_seed(seed)  # the sampled fill of P
    with torch.no_grad():
        for index, sample in enumerate(iterator):
            if max_batches is not None and index >= max_batches:
                break
            _, _, log = criterion(model, sample)
            for key, value in log.items():
                totals[key] = totals.get(key, 0) + float(value)
            src_tokens = sample["net_input"]["src_tokens"]
            original = restore_original(src_tokens, sample["target"], task.source_dictionary.pad())
            states = model(original, features_only=True)[0]
            hidden_dim = states.size(-1)
            totals["target_entropy"] = totals.get("target_entropy", 0) + float(
                hidden_distribution_entropy(states, original.ne(task.source_dictionary.pad())))
    if not totals:
        raise IRUserError(f"split {split!r} of {data_dir} has no sentences to evaluate")
    masked = max(totals.get("sample_size", 0), 1)
    positions = max(totals.get("ir_positions", 0), 1)
    return {
        "mlm_loss": totals["mlm_loss"] / masked / math.log(2),
        "mlm_acc": 100.0 * totals["mlm_correct"] / masked,
        "ecp": totals["ecp"] / positions,
        "dpp": totals["dpp"] / positions,
        "target_entropy": totals["target_entropy"] / positions,
        "log_hidden_dim": math.log(hidden_dim),
        "sentences": int(totals["nsentences"]),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m ir_fairseq.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("data_dir")
    parser.add_argument("--split", default="valid")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        result = evaluate(args.checkpoint, args.data_dir, args.split, args.batch_size, args.seed)
    except IRUserError as e:
        sys.exit(f"ir_fairseq: error: {e}")
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()}))


if __name__ == "__main__":
    main()
