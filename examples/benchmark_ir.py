"""Side-by-side cost of Instance Regularization: seconds per update and peak step memory.

Same model, same batches, same process; the variants are interleaved, after warm-up:
  (a) masked_lm       fairseq's masked_lm criterion (the baseline every ratio refers to)
  (b) ir_weights_0    instance_reg with --ecp-weight 0 --dpp-weight 0
  (c) ir_default      instance_reg at its defaults
  (d) cheap modes     instance_reg --ir-instance-fraction F (penalties on a random F of the
                      sentences, reweighted: unbiased), for each F of --fractions
  (f) ir_dpp_forward  instance_reg --dpp-grad forward (the exact, expensive DPP path)
  (g) ir_standardize  instance_reg --ir-normalize standardize (the invariant penalties)
  (e) bound           (a) plus two no-grad forwards of the batch: what any exact IR costs

An update is criterion forward + backward + Adam step. Time: median over --repeats rounds of
--updates updates each, with the min-max spread of the ratio to (a). Memory: on CUDA, peak
allocated bytes during an update above the resting allocation; on CPU, the peak resident
memory of one update, above its resting size (VmHWM after resetting it through /proc/self/clear_refs,
each variant in a fresh process), so the ratio compares what the step itself adds.

    python examples/benchmark_ir.py                       # sized for a 2-core CPU
    python examples/benchmark_ir.py --device cuda --dtype bf16 --layers 12 --width 768 \
        --tokens 512 --batch 32 --vocab 50000            # a GPU at roberta_base size
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np
import torch
from fairseq.criterions.masked_lm import MaskedLmConfig, MaskedLmLoss
from fairseq.data import Dictionary, ListDataset, MaskTokensDataset, data_utils
from fairseq.models.roberta import RobertaModel
from fairseq.models.roberta.model import base_architecture

from ir_fairseq.common.tables import markdown_table
from ir_fairseq.criterions.instance_reg import InstanceRegConfig, InstanceRegularizationLoss
from ir_fairseq.tasks.masked_lm_ir import MaskedLMIRConfig, MaskedLMIRTask

HEADER = ["variant", "s/update (median)", "time ratio to (a) [min-max]", "tokens/s", "peak step MB",
          "memory ratio"]


def build_task(vocab_size):
    dictionary = Dictionary()
    for index in range(vocab_size - len(dictionary) - 1):
        dictionary.add_symbol(f"w{index}")
    return MaskedLMIRTask(MaskedLMIRConfig(data="unused"), dictionary)  # adds <mask>


def build_model(task, args):
    model_args = argparse.Namespace(
        encoder_layers=args.layers, encoder_embed_dim=args.width,
        encoder_ffn_embed_dim=4 * args.width, encoder_attention_heads=max(1, args.width // 64),
        max_positions=args.tokens, tokens_per_sample=args.tokens, arch="roberta_base",
    )
    base_architecture(model_args)
    return RobertaModel.build_model(model_args, task)


def make_batches(task, args, count):
    """Random token blocks masked by fairseq's own MaskTokensDataset (15%, 80/10/10)."""
    rng = np.random.RandomState(args.seed)
    dictionary = task.source_dictionary
    blocks = [torch.from_numpy(rng.randint(dictionary.nspecial, len(dictionary) - 1, args.tokens))
              for _ in range(count * args.batch)]
    blocks = [torch.cat([torch.tensor([dictionary.bos()]), b[1:]]) for b in blocks]
    base = ListDataset(blocks, np.array([args.tokens] * len(blocks)))
    src, tgt = MaskTokensDataset.apply_mask(
        base, dictionary, pad_idx=dictionary.pad(), mask_idx=task.mask_idx, seed=args.seed,
        mask_prob=0.15, leave_unmasked_prob=0.1, random_token_prob=0.1,
    )
    batches = []
    for start in range(0, len(blocks), args.batch):
        idx = range(start, start + args.batch)
        src_tokens = data_utils.collate_tokens([src[i] for i in idx], dictionary.pad())
        target = data_utils.collate_tokens([tgt[i] for i in idx], dictionary.pad())
        batches.append({
            "net_input": {"src_tokens": src_tokens.to(args.device),
                          "src_lengths": torch.full((args.batch,), args.tokens, device=args.device)},
            "target": target.to(args.device),
            "ntokens": src_tokens.numel(), "nsentences": args.batch,
        })
    return batches


class TwoNoGradForwards:
    """The bound (e): the baseline criterion plus two no-grad forwards of the batch."""

    def __init__(self, baseline):
        self.baseline = baseline

    def __call__(self, model, sample):
        result = self.baseline(model, sample)
        with torch.inference_mode():
            was_training = model.training
            model.eval()
            model(sample["net_input"]["src_tokens"], features_only=True)
            model(sample["net_input"]["src_tokens"], features_only=True)
            model.train(was_training)
        return result


def ir_criterion(task, **overrides):
    cfg = InstanceRegConfig(tpu=False, **overrides)
    return InstanceRegularizationLoss(cfg, task)


def update(model, criterion, optimizer, sample, autocast_dtype):
    optimizer.zero_grad(set_to_none=True)
    device_type = sample["target"].device.type
    with torch.autocast(device_type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
        loss, sample_size, _ = criterion(model, sample)
    (loss / sample_size).backward()
    optimizer.step()


def synchronize(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed_updates(model, criterion, optimizer, batches, args, autocast_dtype):
    synchronize(args.device)
    start = time.perf_counter()
    for sample in batches:
        update(model, criterion, optimizer, sample, autocast_dtype)
    synchronize(args.device)
    return (time.perf_counter() - start) / len(batches)


def proc_status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def peak_step_memory_mb(model, criterion, optimizer, batches, args, autocast_dtype):
    """Peak memory an update adds above the resting process (model, optimizer state, batch)."""
    update(model, criterion, optimizer, batches[0], autocast_dtype)  # allocates Adam state
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        resting = torch.cuda.memory_allocated()
        update(model, criterion, optimizer, batches[-1], autocast_dtype)
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - resting) / 2**20
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets the peak-RSS high-water mark (VmHWM) to the current RSS
    resting = proc_status_kb("VmRSS")
    update(model, criterion, optimizer, batches[-1], autocast_dtype)
    return (proc_status_kb("VmHWM") - resting) / 1024


def memory_in_fresh_process(name, argv):
    """CPU: each variant in its own process, so that memory freed by one variant and kept by
    the allocator cannot hide another's peak."""
    import subprocess

    # A fixed mmap threshold makes glibc return every large block to the OS on free (no
    # dynamic threshold, no cached arenas), so resident memory follows live tensors.
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536", MALLOC_TRIM_THRESHOLD_="0")
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), *argv, "--memory-probe", name],
                          capture_output=True, text=True, check=True, env=env)
    return float(proc.stdout.strip().splitlines()[-1])


def fraction_estimates(task, model, batch, fractions, draws=30):
    """Spread of the cheap mode's ECP/DPP estimates on one batch, against the exact values
    (eval mode and an argmax fill, so that only the choice of sentences varies)."""
    exact = ir_criterion(task, ir_fill="argmax", dpp_grad="none").to(batch["target"].device)
    was_training = model.training
    model.eval()
    lines = []
    with torch.no_grad():
        _, _, log = exact(model, batch)
        reference = {k: float(log[k]) for k in ("ecp", "dpp")}
        for fraction in fractions:
            cheap = ir_criterion(task, ir_fill="argmax", dpp_grad="none",
                                 ir_instance_fraction=fraction).to(batch["target"].device)
            draws_ = {k: [] for k in reference}
            for _ in range(draws):
                _, _, log = cheap(model, batch)
                for k in reference:
                    draws_[k].append(float(log[k]) / reference[k])
            lines.append(f"fraction {fraction:g}: " + ", ".join(
                f"{k.upper()} estimate / exact = {statistics.mean(v):.3f} mean, "
                f"{statistics.stdev(v):.3f} std" for k, v in draws_.items()))
    model.train(was_training)
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--vocab", type=int, default=8000)
    parser.add_argument("--updates", type=int, default=6, help="updates per variant per round")
    parser.add_argument("--repeats", type=int, default=7, help="interleaved rounds")
    parser.add_argument("--warmup", type=int, default=2, help="untimed updates per variant")
    parser.add_argument("--fractions", default="0.25,0.125", help="cheap-mode instance fractions")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="fp32", choices=["fp32", "bf16", "fp16"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--memory-probe", help=argparse.SUPPRESS)
    raw_argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(raw_argv)
    autocast_dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[args.dtype]

    torch.manual_seed(args.seed)
    task = build_task(args.vocab)
    model = build_model(task, args).to(args.device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-5)
    batches = make_batches(task, args, args.updates)
    baseline = MaskedLmLoss(MaskedLmConfig(tpu=False), task)
    variants = [
        ("(a) masked_lm", baseline),
        ("(b) ir_weights_0", ir_criterion(task, ecp_weight=0.0, dpp_weight=0.0)),
        ("(c) ir_default", ir_criterion(task)),
    ]
    for fraction in [float(f) for f in args.fractions.split(",") if f]:
        variants.append((f"(d) ir_fraction_{fraction:g}", ir_criterion(task, ir_instance_fraction=fraction)))
    variants.append(("(f) ir_dpp_forward", ir_criterion(task, dpp_grad="forward")))
    variants.append(("(g) ir_standardize", ir_criterion(task, ir_normalize="standardize")))
    variants.append(("(e) bound: (a)+2 no-grad fwd", TwoNoGradForwards(baseline)))
    for _, criterion in variants:
        if isinstance(criterion, torch.nn.Module):
            criterion.to(args.device)
    if args.memory_probe:
        criterion = dict(variants)[args.memory_probe]
        print(peak_step_memory_mb(model, criterion, optimizer, batches, args, autocast_dtype))
        return

    print(f"[benchmark] device={args.device} dtype={args.dtype} threads={torch.get_num_threads()} "
          f"model={args.layers}x{args.width} tokens={args.tokens} batch={args.batch} "
          f"vocab={args.vocab} updates/round={args.updates} rounds={args.repeats}", flush=True)
    for _, criterion in variants:
        for sample in batches[: args.warmup]:
            update(model, criterion, optimizer, sample, autocast_dtype)

    times = {name: [] for name, _ in variants}
    for _ in range(args.repeats):
        for name, criterion in variants:
            times[name].append(timed_updates(model, criterion, optimizer, batches, args, autocast_dtype))
    memory = {}
    if not args.skip_memory:
        for name, criterion in variants:
            if args.device.startswith("cuda"):
                memory[name] = peak_step_memory_mb(model, criterion, optimizer, batches, args, autocast_dtype)
            else:
                memory[name] = memory_in_fresh_process(name, raw_argv)

    base_times = times[variants[0][0]]
    base_median = statistics.median(base_times)
    base_memory = memory.get(variants[0][0])
    tokens_per_update = args.batch * args.tokens
    ratios, rows = {}, []
    for name, _ in variants:
        median = statistics.median(times[name])
        per_round = [t / b for t, b in zip(times[name], base_times)]
        ratios[name] = median / base_median
        mem = memory.get(name)
        mem_text = f"{mem:.0f}" if mem is not None else "-"
        mem_ratio = f"{mem / base_memory:.2f}" if mem is not None and base_memory else "-"
        rows.append([name, f"{median:.4f}", f"{ratios[name]:.2f} [{min(per_round):.2f}-{max(per_round):.2f}]",
                     f"{tokens_per_update / median:.0f}", mem_text, mem_ratio])
    print()
    print(markdown_table(HEADER, rows))
    bound = ratios["(e) bound: (a)+2 no-grad fwd"]
    print()
    print(f"targets: (b) time <= 1.02: {ratios['(b) ir_weights_0']:.2f}; "
          f"(c) time <= (e)+0.05 = {bound + 0.05:.2f}: {ratios['(c) ir_default']:.2f}; "
          + ", ".join(f"{n} <= 1.15: {r:.2f}" for n, r in ratios.items() if n.startswith("(d)")))
    if base_memory:
        print(f"memory: (b) <= 1.02: {memory['(b) ir_weights_0'] / base_memory:.2f}; "
              f"(c) <= 1.10: {memory['(c) ir_default'] / base_memory:.2f}")
    fractions = [float(f) for f in args.fractions.split(",") if f]
    if fractions:
        print(f"\n(d) effect on the IR terms of one batch ({args.batch} sentences, 30 draws each):")
        for line in fraction_estimates(task, model, batches[0], fractions):
            print("  " + line)


if __name__ == "__main__":
    main()
