"""Measure MLM loss, ECP and DPP of any RoBERTa checkpoint on a binarized split.

    ir-fairseq evaluate CHECKPOINT DATA_DIR [--split valid] [--batch-size 16] [--seed 1]
        [--mask-prob 0.15] [--ir-normalize none|standardize]

Works for checkpoints trained with fairseq's ``masked_lm`` as well as with ``instance_reg``,
so a baseline's corruption and prediction penalties can be compared with an IR model's.
The model runs in eval mode (no dropout) with the paper's masking and fixed seed; prints
one JSON object with ``mlm_loss`` (base 2, as fairseq logs it), ``mlm_acc`` (%), ``ecp``
and ``dpp`` (nats per non-pad position), and the criterion's diagnostics ``target_entropy``
(mean entropy, nats, of the softmax over the hidden dimension of Ĥ, the states of the unmasked
input; its maximum ``log_hidden_dim`` = log(C) is printed beside it) and ``target_top_mass``.
Near zero entropy, ECP and DPP compare distributions concentrated on the same few dimensions
everywhere, and their small values say nothing about the content. ``--mask-prob`` measures the
penalties at another corruption rate, ``--ir-normalize`` as ``instance_reg`` computes them.
"""
import argparse
import json
import math

from ir_fairseq.common.checkpoints import Checkpoint
from ir_fairseq.common.errors import IRUserError


def evaluate(checkpoint, data_dir, split="valid", batch_size=16, seed=1, max_batches=None,
             mask_prob=0.15, ir_normalize="none"):
    import torch
    from fairseq import options, tasks
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    ckpt = Checkpoint.read(checkpoint)
    tokens_per_sample = ckpt.setting("task", "tokens_per_sample")
    if tokens_per_sample is None:
        raise IRUserError(f"{checkpoint} is not a masked-LM checkpoint (its task has no tokens_per_sample)")
    parser = options.get_training_parser()
    args = options.parse_args_and_arch(parser, [
        data_dir, "--task", "masked_lm_ir", "--criterion", "instance_reg", "--arch", "roberta_base",
        "--tokens-per-sample", str(tokens_per_sample), "--seed", str(seed), "--cpu",
        "--mask-prob", str(mask_prob), "--ir-normalize", ir_normalize,
    ])
    cfg = convert_namespace_to_omegaconf(args)
    task = tasks.setup_task(cfg.task)
    ckpt.check_dictionary(len(task.source_dictionary), data_dir)
    # the measurement's own task (masked_lm_ir) builds the model, so a fairseq masked_lm
    # checkpoint is measured with the same masking and criterion as an IR one
    model, _ = ckpt.load_model(arg_overrides={"data": data_dir}, task=task)
    del ckpt
    criterion = task.build_criterion(cfg.criterion)
    task.load_dataset(split)
    iterator = task.get_batch_iterator(
        task.dataset(split), max_sentences=batch_size, seed=seed,
        max_positions=tokens_per_sample,
    ).next_epoch_itr(shuffle=False)
    totals = {}
    torch.manual_seed(seed)  # the sampled fill of P
    with torch.no_grad():
        for index, sample in enumerate(iterator):
            if max_batches is not None and index >= max_batches:
                break
            _, _, log = criterion(model, sample)
            for key, value in log.items():
                totals[key] = totals.get(key, 0) + float(value)
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
        "target_top_mass": totals["target_top_mass"] / positions,
        "log_hidden_dim": math.log(model.args.encoder_embed_dim),
        "sentences": int(totals["nsentences"]),
    }


def build_parser():
    parser = argparse.ArgumentParser(prog="ir-fairseq evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("data_dir")
    parser.add_argument("--split", default="valid")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mask-prob", type=float, default=0.15,
                        help="fraction of tokens corrupted (80/10/10 as in training); default 0.15")
    # checked in main against ir_math's list: --help answers without importing torch
    parser.add_argument("--ir-normalize", default="none", help="as instance_reg's option: none (paper) or standardize")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if not 0 < args.mask_prob < 1:
        raise IRUserError(f"--mask-prob must be between 0 and 1, got {args.mask_prob}")
    from ir_fairseq.ir_math import NORMALIZATIONS

    if args.ir_normalize not in NORMALIZATIONS:
        raise IRUserError(f"--ir-normalize must be one of {', '.join(NORMALIZATIONS)}, got {args.ir_normalize!r}")
    result = evaluate(args.checkpoint, args.data_dir, args.split, args.batch_size, args.seed,
                      mask_prob=args.mask_prob, ir_normalize=args.ir_normalize)
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()}))
