"""How noisy is DPP's score-function gradient? Measured on a trained checkpoint.

    python examples/dpp_gradient_noise.py CHECKPOINT DATA_DIR [--batches 4] [--draws 8] [--batch-size 16]
                                          [--baselines leave_one_out argmax]

For a few held-out batches, in eval mode (so that the only randomness is the sampled fill of
P), the gradient of the MLM loss alone and, for ``--draws`` independent fills, the gradient the
DPP term adds (``instance_reg --ecp-weight 0`` minus the MLM gradient, both normalised by the
same ``sample_size``). Per batch it prints ||g_MLM||, the mean norm of one draw's g_DPP, the
norm of their mean over draws, the norm of the expected gradient with the draws' noise taken
out (||mean||² - σ²/K, σ² the unbiased per-draw variance, K draws; 0 when the mean is no larger
than its noise) and the signal-to-noise ratio of one draw, that norm / σ: below 1, a single
step's DPP gradient is mostly noise. Each ``--dpp-baseline`` is measured on the same fills, with
the spread (std over the batch's sentences, averaged over draws) of its advantages, the reward
(a sentence's mean DPP per position) minus the baseline.
"""
import argparse
import sys

import torch
from fairseq import options, tasks
from fairseq.dataclass.utils import convert_namespace_to_omegaconf

from ir_fairseq.common.checkpoints import Checkpoint
from ir_fairseq.common.tables import markdown_table
from ir_fairseq.ir_math import (fill_predictions, hidden_log_probs, restore_original, restore_sentence_markers,
                                sentence_penalties)


def build(data_dir, tokens_per_sample, *criterion_flags):
    args = options.parse_args_and_arch(options.get_training_parser(), [
        data_dir, "--task", "masked_lm_ir", "--criterion", "instance_reg", "--arch", "roberta_base",
        "--tokens-per-sample", str(tokens_per_sample), "--cpu", "--seed", "1", *criterion_flags])
    cfg = convert_namespace_to_omegaconf(args)
    task = tasks.setup_task(cfg.task)
    return task, task.build_criterion(cfg.criterion)


def flat_gradient(model, criterion, sample, seed):
    model.zero_grad()
    torch.manual_seed(seed)
    loss, sample_size, _ = criterion(model, sample)
    (loss / sample_size).backward()
    return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


def advantage_spread(model, criterion, sample, seed, baseline):
    """Std over the batch's sentences of reward - baseline for the fill drawn with seed."""
    masked = sample["target"].ne(criterion.padding_idx)
    src = sample["net_input"]["src_tokens"]
    with torch.no_grad():
        torch.manual_seed(seed)
        log_probs = torch.log_softmax(model(**sample["net_input"], masked_tokens=masked)[0].float(), dim=-1)
        original = restore_original(src, sample["target"], criterion.padding_idx)
        non_pad = src.ne(criterion.padding_idx)
        target = hidden_log_probs(model(original, features_only=True)[0], non_pad)
        positions = non_pad.sum(dim=-1).clamp(min=1)

        def reward(mode):
            filled, _ = fill_predictions(src, masked, log_probs, criterion.fill_forbidden_ids, mode)
            filled, _ = restore_sentence_markers(filled, original, masked, criterion.sentence_marker_ids)
            return sentence_penalties(target, model(filled, features_only=True)[0], non_pad) / positions

        sampled = reward("sample")
        if baseline == "argmax":
            base = reward("argmax")
        else:
            base = (sampled.sum() - sampled) / (sampled.numel() - 1)
        return (sampled - base).std().item()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("data_dir")
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--draws", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--baselines", nargs="+", default=["leave_one_out", "argmax"])
    args = parser.parse_args(argv)
    checkpoint = Checkpoint.read(args.checkpoint)
    tokens = checkpoint.setting("task", "tokens_per_sample")
    task, mlm = build(args.data_dir, tokens, "--ecp-weight", "0", "--dpp-weight", "0")
    with_dpp = {baseline: build(args.data_dir, tokens, "--ecp-weight", "0", "--dpp-weight", "1",
                                "--dpp-baseline", baseline)[1] for baseline in args.baselines}
    model, _ = checkpoint.load_model(arg_overrides={"data": args.data_dir}, task=task)
    model.eval()
    task.load_dataset("valid")
    batches = task.get_batch_iterator(task.dataset("valid"), max_sentences=args.batch_size, seed=1,
                                      max_positions=tokens).next_epoch_itr(shuffle=False)
    rows = []
    for index, sample in enumerate(batches):
        if index >= args.batches:
            break
        g_mlm = flat_gradient(model, mlm, sample, seed=0)
        for baseline, criterion in with_dpp.items():
            draws = torch.stack([flat_gradient(model, criterion, sample, seed=k) - g_mlm for k in range(args.draws)])
            mean = draws.mean(dim=0)
            variance = (draws - mean).pow(2).sum(dim=1).sum() / (args.draws - 1)
            signal = (mean.norm().pow(2) - variance / args.draws).clamp(min=0).sqrt()
            spread = sum(advantage_spread(model, criterion, sample, k, baseline) for k in range(args.draws)) / args.draws
            rows.append([index, baseline, f"{g_mlm.norm():.4f}", f"{draws.norm(dim=1).mean():.4f}",
                         f"{mean.norm():.4f}", f"{signal:.4f}", f"{(signal / variance.sqrt()):.2f}", f"{spread:.4f}"])
    print(markdown_table(["batch", "baseline", "‖g_MLM‖", "‖g_DPP‖ (one draw, mean)", f"‖mean of {args.draws} draws‖",
                          "‖E g_DPP‖ (noise removed)", "SNR of one draw", "advantage std"], rows))


if __name__ == "__main__":
    sys.exit(main())
