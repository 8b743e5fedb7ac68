"""Small-scale reproduction of the paper's claims on real data (Tables 3-5, Figures 3-4).

    python examples/reproduce_small.py [--quick] [--results-dir results] [--work-dir DIR]
                                       [--corpus PATH] [--glue DIR]

Pre-trains small RoBERTa/BERT models from scratch on the real Wikipedia corpus with identical
data, steps and seeds: the MLM baseline, IR (ECP+DPP), IR without ECP, IR without DPP and IR with
MSE instead of KL; fine-tunes each on real GLUE tasks with one fixed budget; writes markdown and
CSV tables and PNG plots to the results folder. Every stage goes through the project's own
recipes (prepare_pretrain_data.sh, pretrain_ir.sh, preprocess_glue.sh, finetune_glue.sh) and
skips work already done, so re-running resumes where it stopped.

One file over 300 lines on purpose: it is the experiment itself, its stages in the order they
run, then the report; the pieces other tools share (tables, the seed-spread verdict, log
reading, GLUE facts) live in ``ir_fairseq``.
"""
import argparse
import json
import os
import shutil
import statistics
import time

from ir_fairseq.common.comparison import seed_spread_verdict
from ir_fairseq.common.errors import IRUserError
from ir_fairseq.common import experiments
from ir_fairseq.common.experiments import (ARM_COLORS, Progress, default_shared_data, evaluate_checkpoint,
                                           finetune_glue, pyplot, recipe, write_report)
from ir_fairseq.common.fairseq_logs import curve, read_json_records
from ir_fairseq.common.tables import format_mean_std, write_table
from ir_fairseq.glue.prepare import is_complete
from ir_fairseq.glue.tasks import COLUMN_METRIC, get_task, read_score


# name -> (pretrain_ir.sh environment, extra fairseq arguments, label in the tables)
VARIANTS = {
    "mlm": ({"IR": "0"}, [], "MLM (baseline)"),
    "ir": ({"IR": "1"}, [], "IR (ECP+DPP, KL)"),
    "no_ecp": ({"IR": "1", "ECP_WEIGHT": "0"}, [], "IR - ECP"),
    "no_dpp": ({"IR": "1", "DPP_WEIGHT": "0"}, [], "IR - DPP"),
    "ir_mse": ({"IR": "1"}, ["--ir-distance", "mse"], "IR with MSE"),
    # the penalty study (README, "The penalties' degenerate direction"): pre-trained and measured,
    # not fine-tuned
    "ir_standardize": ({"IR": "1", "IR_NORMALIZE": "standardize"}, [], "IR + standardize"),
    "ir_dpp_none": ({"IR": "1"}, ["--dpp-grad", "none"], "IR, DPP without gradient"),
    "ir_target_dropout": ({"IR": "1"}, ["--ir-target-dropout"], "IR, dropout in the W and P passes"),
    "released": ({"IR": "1"}, ["--ecp-target", "restored", "--dpp-grad", "none", "--ir-target-dropout"],
                 "released script's objective"),
    "ir_argmax_baseline": ({"IR": "1"}, ["--dpp-baseline", "argmax"], "IR, argmax-fill DPP baseline"),
}
# the arms fine-tuned on GLUE (Tables 3-5, Figure 3); the others are pre-trained and measured only
FINETUNED = ["mlm", "ir", "no_ecp", "no_dpp", "ir_mse"]
# penalty-study arms run with the first seed only (IR and IR + standardize run every main seed)
ONE_SEED_PENALTY_ARMS = ["ir_dpp_none", "ir_target_dropout", "released", "ir_argmax_baseline"]
# the arms whose held-out ECP is measured at several corruption rates
MASK_RATE_ARMS = ["mlm", "ir", "ir_standardize"]
MASK_RATES = [0.05, 0.15, 0.30]
# Fine-tuning lr 1e-3, above the paper's BERT-base grid: these models are tiny and briefly
# pre-trained, and at lower rates the baseline stays at the majority class on SST-2. Every
# scale fine-tunes one epoch of a capped training subset per task: more epochs on whole
# training sets do not fit the run's time budget (MRPC, STS-B and RTE pairs are long). The
# measurements behind both choices are in README (Small-scale reproduction).
SCALES = {
    "full": dict(layers=4, dim=128, ffn=512, heads=4, tokens=128, batch=16, updates=800, lr=5e-4,
                 vocab=8000, main_seeds=[1, 2, 3], corpus_files=None,
                 tasks=["CoLA", "SST-2", "MRPC", "STS-B", "RTE"],
                 max_train_rows={"CoLA": 2000, "SST-2": 2000, "MRPC": 2000, "STS-B": 2000, "RTE": 2000},
                 ft_epochs=1, ft_lr=1e-3, ft_batch=32, curve_points=4, curve_tasks=["RTE", "SST-2"],
                 penalty_arms=ONE_SEED_PENALTY_ARMS),
    "quick": dict(layers=2, dim=128, ffn=512, heads=2, tokens=128, batch=16, updates=200, lr=5e-4,
                  vocab=4000, main_seeds=[1], corpus_files=3,
                  tasks=["CoLA", "STS-B", "RTE"], max_train_rows={"CoLA": 1000, "STS-B": 1000, "RTE": 1000},
                  ft_epochs=1, ft_lr=1e-3, ft_batch=32, curve_points=2, curve_tasks=["RTE", "STS-B"],
                  penalty_arms=["released"]),
}


log = Progress("reproduce_small")


def corpus_inputs(corpus, limit):
    if not os.path.exists(corpus):
        raise IRUserError(f"corpus not found: {corpus} (pass --corpus)")
    if os.path.isfile(corpus) or not limit:
        return [corpus]
    files = sorted(os.path.join(r, f) for r, _, fs in os.walk(corpus) for f in fs if not f.startswith("."))
    return files[:limit]


def prepare_data(scale, args, work):
    data_dir = os.path.join(work, "data")
    if os.path.isfile(os.path.join(data_dir, "done")):
        return data_dir
    if os.path.exists(data_dir):  # an interrupted preparation: start it again cleanly
        shutil.rmtree(data_dir)
    log(f"preparing the corpus ({args.corpus}) with a {scale['vocab']}-piece sentencepiece model")
    recipe("prepare_pretrain_data.sh", data_dir, *corpus_inputs(args.corpus, scale["corpus_files"]),
         env={"VOCAB": str(scale["vocab"]), "SHARDS": "1", "VALID_DOCS": "20"},
         log_path=os.path.join(work, "prepare_data.log"))
    open(os.path.join(data_dir, "done"), "w").close()
    return data_dir


def pretrain(scale, variant, seed, data_dir, work):
    save_dir = os.path.join(work, "pretrain", f"{variant}_seed{seed}")
    done = os.path.join(save_dir, "done")
    if os.path.isfile(done):
        return save_dir
    env, extra, _ = VARIANTS[variant]
    log(f"pre-training {variant} seed {seed} ({scale['updates']} updates)")
    os.makedirs(save_dir, exist_ok=True)
    settings = dict(env, DATA=os.path.join(data_dir, "shard0"), SAVE_DIR=save_dir, ARCH="roberta_base",
                    MAX_UPDATE=str(scale["updates"]), LR=str(scale["lr"]), WARMUP=str(scale["updates"] // 10),
                    TOKENS=str(scale["tokens"]), BATCH=str(scale["batch"]), TOTAL_BATCH=str(scale["batch"]),
                    PRECISION="fp32", SEED=str(seed), LOG_INTERVAL="10", GPUS="1",
                    SAVE_INTERVAL_UPDATES=str(scale["updates"] // scale["curve_points"]))
    recipe("pretrain_ir.sh", "--encoder-layers", scale["layers"], "--encoder-embed-dim", scale["dim"],
         "--encoder-ffn-embed-dim", scale["ffn"], "--encoder-attention-heads", scale["heads"],
         "--max-positions", scale["tokens"], "--keep-interval-updates", "-1",
         "--data-buffer-size", "0", "--num-workers", "0", *extra,
         env=settings, log_path=os.path.join(save_dir, "train.log"))
    open(done, "w").close()
    return save_dir


def evaluate_penalties(save_dir, data_dir, mask_prob=0.15, checkpoint="checkpoint_last.pt", normalize="none"):
    """``ir-fairseq evaluate`` of one checkpoint on the held-out split, cached beside it."""
    suffix = "" if mask_prob == 0.15 else f"_mask{round(mask_prob * 100)}"
    if normalize != "none":
        suffix += f"_{normalize}"
    if checkpoint != "checkpoint_last.pt":
        suffix += "_" + os.path.splitext(checkpoint)[0]
    return evaluate_checkpoint(os.path.join(save_dir, checkpoint), os.path.join(data_dir, "shard0"),
                               os.path.join(save_dir, f"valid_penalties{suffix}.json"), mask_prob, normalize)


def glue_bins(scale, args, data_dir, work):
    bins = {}
    for task in sorted(set(scale["tasks"]) | set(scale["curve_tasks"])):
        out = os.path.join(work, "glue")
        task_bin = os.path.join(out, f"{task}-bin")
        rows = scale["max_train_rows"].get(task)
        if not is_complete(task_bin, rows):  # never made, interrupted, or made for another cap
            log(f"preprocessing GLUE {task}")
            recipe("preprocess_glue.sh", args.glue, task, data_dir, out,
                 env={"MAX_TRAIN_ROWS": str(rows) if rows else ""},
                 log_path=os.path.join(work, f"preprocess_{task}.log"))
        bins[task] = task_bin
    return bins


def finetune(scale, task, checkpoint, task_bin, save_dir):
    return read_score(get_task(task), finetune_glue(task, checkpoint, task_bin, save_dir, scale["ft_lr"],
                                                    scale["ft_batch"], scale["ft_epochs"]))


def training_curve(save_dir):
    """(update, training MLM loss) of a pre-training log (``loss`` for the baseline's criterion)."""
    return curve(read_json_records(os.path.join(save_dir, "train.log"), "train_inner"), "mlm_loss", "loss")


def ir_vs_mlm_verdicts(scores, columns):
    """Whether IR - MLM exceeds the seed spread, per column."""
    return [seed_spread_verdict(column, scores["ir"][column], scores["mlm"][column]) for column in columns]


def plot(results_dir, curves, curve_scores, scale):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for variant, color in (("mlm", "tab:blue"), ("ir", "tab:red")):
        for i, (seed, points) in enumerate(sorted(curves[variant].items())):
            xs, ys = zip(*points)
            ax.plot(xs, ys, color=color, alpha=0.8 if i == 0 else 0.35,
                    label=f"{VARIANTS[variant][2]}" if i == 0 else None)
    ax.set_xlabel("pre-training updates")
    ax.set_ylabel("training MLM loss (bits)")
    ax.set_title("Figure 4 (small scale): MLM loss, all seeds")
    ax.legend()
    fig.tight_layout()
    fig4 = os.path.join(results_dir, "fig4_training_mlm_loss.png")
    fig.savefig(fig4, dpi=120)
    plt.close(fig)

    tasks = scale["curve_tasks"]
    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 4))
    for ax, task in zip(axes, tasks):
        for variant, color in (("mlm", "tab:blue"), ("ir", "tab:red")):
            xs, ys = zip(*sorted(curve_scores[variant][task].items()))
            ax.plot(xs, ys, marker="o", color=color, label=VARIANTS[variant][2])
        ax.set_xlabel("pre-training updates of the fine-tuned checkpoint")
        ax.set_ylabel(f"{task} dev {COLUMN_METRIC[get_task(task).main_metric]}")
        ax.set_title(f"Figure 3 (small scale): {task}")
        ax.legend()
    fig.tight_layout()
    fig3 = os.path.join(results_dir, "fig3_dev_vs_pretraining_steps.png")
    fig.savefig(fig3, dpi=120)
    plt.close(fig)
    return fig3, fig4


def scale_line(scale):
    model = f"{scale['layers']} layers x {scale['dim']} (ffn {scale['ffn']}, {scale['heads']} heads)"
    return (f"Scale: {model}, sentencepiece {scale['vocab']}, {scale['tokens']} tokens x {scale['batch']} "
            f"sequences per update, {scale['updates']} updates from scratch (lr {scale['lr']}) on "
            f"{'part of ' if scale['corpus_files'] else ''}the real Wikipedia corpus; pre-training seeds "
            f"{scale['main_seeds']} for MLM, IR and IR + standardize, seed {scale['main_seeds'][0]} for "
            "the other arms.")


def penalty_runs(scale):
    first = scale["main_seeds"][0]
    return ([("mlm", first)] + [(v, s) for v in ("ir", "ir_standardize") for s in scale["main_seeds"]]
            + [(v, first) for v in scale["penalty_arms"]])


def penalty_study(scale, save_dirs, data_dir, results_dir):
    """Held-out penalties of every penalty-study arm, ECP against the masking rate, and the
    ``target_entropy`` curves; writes the tables and the plot, returns the report's lines."""
    runs = penalty_runs(scale)
    raw = {key: evaluate_penalties(save_dirs[key], data_dir) for key in runs}
    standardized = {key: evaluate_penalties(save_dirs[key], data_dir, normalize="standardize") for key in runs}
    arms = list(dict.fromkeys(v for v, _ in runs))

    def column(measured, variant, key):
        return [p[key] for (v, _), p in measured.items() if v == variant]

    log_c = next(iter(raw.values()))["log_hidden_dim"]
    header = ["Model", "seeds", "valid MLM loss (bits)", "valid MLM acc %", "valid ECP", "valid DPP",
              "standardized ECP", "standardized DPP", f"target_entropy (nats, of {log_c:.2f})", "target_top_mass"]
    arms_table = write_table(os.path.join(results_dir, "penalty_arms"), header, [
        [VARIANTS[v][2], len(column(raw, v, "ecp")), format_mean_std(column(raw, v, "mlm_loss"), 3),
         format_mean_std(column(raw, v, "mlm_acc"), 1), format_mean_std(column(raw, v, "ecp"), 4),
         format_mean_std(column(raw, v, "dpp"), 4), format_mean_std(column(standardized, v, "ecp"), 4),
         format_mean_std(column(standardized, v, "dpp"), 4), format_mean_std(column(raw, v, "target_entropy"), 2),
         format_mean_std(column(raw, v, "target_top_mass"), 3)] for v in arms])

    rates = {}  # (variant, normalization) -> rate -> [ECP per seed]
    for variant, seed in runs:
        if variant in MASK_RATE_ARMS:
            for normalize in ("none", "standardize"):
                for rate in MASK_RATES:
                    ecp = evaluate_penalties(save_dirs[(variant, seed)], data_dir, mask_prob=rate,
                                             normalize=normalize)["ecp"]
                    rates.setdefault((variant, normalize), {}).setdefault(rate, []).append(ecp)
    rate_header = (["Model", "ECP measured", "seeds"] + [f"ECP, {round(r * 100)} % masked" for r in MASK_RATES]
                   + ["rises with the rate"])
    rate_rows = []
    for (variant, normalize), per_rate in sorted(rates.items(), key=lambda item: item[0][1]):
        means = [statistics.mean(per_rate[r]) for r in MASK_RATES]
        rises = all(b > a for a, b in zip(means, means[1:]))
        rate_rows.append([VARIANTS[variant][2], "raw" if normalize == "none" else "standardized",
                          len(per_rate[MASK_RATES[0]])]
                         + [format_mean_std(per_rate[r], 4) for r in MASK_RATES] + ["yes" if rises else "no"])
    rate_table = write_table(os.path.join(results_dir, "ecp_vs_mask_rate"), rate_header, rate_rows)

    # the baseline's criterion logs no penalties: its curve comes from its saved checkpoints
    first = scale["main_seeds"][0]
    step = scale["updates"] // scale["curve_points"]
    mlm_dir = save_dirs[("mlm", first)]
    mlm_curve = [(u, evaluate_penalties(mlm_dir, data_dir, checkpoint=f"checkpoint_1_{u}.pt")["target_entropy"])
                 for u in range(step, scale["updates"], step)]
    mlm_curve.append((scale["updates"], raw[("mlm", first)]["target_entropy"]))
    curves = {key: curve(read_json_records(os.path.join(save_dirs[key], "train.log"), "train_inner"),
                         "target_entropy") for key in runs if key[0] != "mlm"}
    figure = plot_target_entropy(results_dir, curves, mlm_curve, log_c)
    return [
        "## The penalties' degenerate direction: IR + standardize and the released objective", "",
        "Held-out (`ir-fairseq evaluate`, 15 % masking, eval mode) penalties of the final checkpoints, "
        "mean ± std over seeds, measured two ways for every arm: raw (the paper's softmax of the "
        "states) and standardized (`--ir-normalize standardize`: blind to the per-dimension shift and "
        "scale the LM head absorbs, so comparable across arms). `target_entropy` is the mean entropy "
        f"of the raw softmax(Ĥ) over the hidden dimension (maximum log C = {log_c:.2f}); "
        "`target_top_mass` its largest probability.", "",
        arms_table, "",
        "Does a penalty still measure corruption? Held-out ECP at three masking rates:", "", rate_table, "",
        f"Plot: `{os.path.basename(figure)}` (target_entropy against updates: IR arms from their live "
        "training logs, which give it for the distribution the penalties compare, i.e. after "
        "standardization for the standardize arm; the MLM baseline from its saved checkpoints on the "
        "held-out split).",
    ]


def plot_target_entropy(results_dir, curves, mlm_curve, log_c):
    arms = list(dict.fromkeys(v for v, _ in curves))
    labels = {v: VARIANTS[v][2] + (" (of the standardized Ĥ)" if v == "ir_standardize" else "") for v in arms}
    return experiments.plot_target_entropy(
        os.path.join(results_dir, "fig_target_entropy.png"), curves, labels, dict(zip(arms, ARM_COLORS)),
        mlm_curve, VARIANTS["mlm"][2] + " (held-out)", log_c, "pre-training updates")


def main(argv=None):
    default_shared = default_shared_data()
    parser = argparse.ArgumentParser(prog="reproduce_small", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer updates, seeds and tasks: a smoke run")
    parser.add_argument("--results-dir", default=os.environ.get("RESULTS_DIR", "results"))
    parser.add_argument("--work-dir", default=None, help="checkpoints and data (default RESULTS_DIR/work)")
    parser.add_argument("--corpus", default=os.path.join(default_shared, "corpus", "enwiki-2015-wikiextractor"))
    parser.add_argument("--glue", default=os.path.join(default_shared, "glue"))
    parser.add_argument("--part", choices=["all", "penalties"], default="all",
                        help="penalties: only the pre-training arms of the penalty study and their "
                        "held-out measurements (no GLUE); its stages are shared with the full run")
    args = parser.parse_args(argv)
    scale_name = "quick" if args.quick else "full"
    scale = SCALES[scale_name]
    if args.part == "all" and not os.path.isdir(args.glue):
        raise IRUserError(f"GLUE folder not found: {args.glue} (pass --glue)")
    results_dir = os.path.abspath(args.results_dir)
    work = os.path.abspath(args.work_dir or os.path.join(results_dir, "work", scale_name))
    os.makedirs(work, exist_ok=True)
    started = time.time()
    log(f"scale={scale_name} {json.dumps(scale)}")
    if args.quick:
        log("QUICK MODE: tiny model, few updates, one seed, subsampled tasks: a smoke run, not evidence")

    data_dir = prepare_data(scale, args, work)
    runs = [("mlm", s) for s in scale["main_seeds"]] + [("ir", s) for s in scale["main_seeds"]]
    runs += [(v, scale["main_seeds"][0]) for v in ("no_ecp", "no_dpp", "ir_mse")]
    if args.part == "penalties":
        runs = []
    runs += [key for key in penalty_runs(scale) if key not in runs]
    save_dirs = {run_key: pretrain(scale, *run_key, data_dir, work) for run_key in runs}
    os.makedirs(results_dir, exist_ok=True)
    study = penalty_study(scale, save_dirs, data_dir, results_dir)
    if args.part == "penalties":
        minutes = (time.time() - started) / 60
        write_report(results_dir, [
            f"# Small-scale reproduction, penalty study only ({scale_name}"
            f"{': a smoke run, not evidence' if args.quick else ''})", "", scale_line(scale) +
            f" This invocation took {minutes:.0f} minutes (stages finished earlier are reused, not timed).",
            "", *study])
        log(f"done in {minutes:.1f} min; results in {results_dir}")
        return
    bins = glue_bins(scale, args, data_dir, work)

    finetuned = [key for key in runs if key[0] in FINETUNED]
    scores = {v: {} for v in FINETUNED}
    for variant, seed in finetuned:
        save_dir = save_dirs[(variant, seed)]
        per_task = []
        for task in scale["tasks"]:
            log(f"fine-tuning {variant} seed {seed} on {task}")
            score = finetune(scale, task, os.path.join(save_dir, "checkpoint_last.pt"), bins[task],
                             os.path.join(work, "finetune", f"{variant}_seed{seed}", task))
            scores[variant].setdefault(task, []).append(score)
            per_task.append(score)
        scores[variant].setdefault("Avg", []).append(statistics.mean(per_task))

    curve_scores = {"mlm": {}, "ir": {}}
    seed = scale["main_seeds"][0]
    step = scale["updates"] // scale["curve_points"]
    for variant in curve_scores:
        save_dir = save_dirs[(variant, seed)]
        for task in scale["curve_tasks"]:
            curve_scores[variant][task] = {}
            for updates in range(step, scale["updates"] + 1, step):
                checkpoint = os.path.join(save_dir, f"checkpoint_1_{updates}.pt")
                if updates == scale["updates"] and task in scale["tasks"]:
                    curve_scores[variant][task][updates] = scores[variant][task][0]
                    continue
                if not os.path.isfile(checkpoint):
                    checkpoint = os.path.join(save_dir, "checkpoint_last.pt") if updates == scale["updates"] else None
                if checkpoint is None:
                    raise IRUserError(f"{save_dir} has no checkpoint at {updates} updates")
                log(f"Figure 3: fine-tuning {variant} @ {updates} updates on {task}")
                curve_scores[variant][task][updates] = finetune(
                    scale, task, checkpoint, bins[task], os.path.join(work, "curve", variant, f"{task}_{updates}"))

    penalties = {key: evaluate_penalties(save_dirs[key], data_dir) for key in finetuned}
    curves = {v: {s: training_curve(d) for (vv, s), d in save_dirs.items() if vv == v} for v in ("mlm", "ir")}

    tasks = scale["tasks"]
    header = ["Model"] + [get_task(t).column for t in tasks] + ["Avg"]
    seeds_note = f"{len(scale['main_seeds'])} seed(s)"
    table4 = write_table(os.path.join(results_dir, "table4_mlm_vs_ir"), header, [
        [f"{VARIANTS[v][2]}, {seeds_note}"] + [format_mean_std(scores[v][c]) for c in tasks + ["Avg"]] for v in ("mlm", "ir")])

    def one_seed(v, c):
        return f"{scores[v][c][0]:.2f}"

    pen = lambda v: penalties[(v, seed)]  # noqa: E731
    ablation_header = header + ["valid MLM loss (bits)", "valid ECP", "valid DPP"]
    table3 = write_table(os.path.join(results_dir, "table3_ablation"), ablation_header, [
        [VARIANTS[v][2]] + [one_seed(v, c) for c in tasks + ["Avg"]]
        + [f"{pen(v)['mlm_loss']:.3f}", f"{pen(v)['ecp']:.4f}", f"{pen(v)['dpp']:.4f}"]
        for v in ("ir", "no_ecp", "no_dpp", "mlm")])
    table5 = write_table(os.path.join(results_dir, "table5_kl_vs_mse"), ablation_header, [
        [VARIANTS[v][2]] + [one_seed(v, c) for c in tasks + ["Avg"]]
        + [f"{pen(v)['mlm_loss']:.3f}", f"{pen(v)['ecp']:.4f}", f"{pen(v)['dpp']:.4f}"]
        for v in ("ir", "ir_mse")])
    pretraining_header = ["Model", "seed", "valid MLM loss (bits)", "valid MLM acc %", "valid ECP", "valid DPP",
                          "entropy of softmax(Ĥ) (nats)"]
    pretraining = write_table(os.path.join(results_dir, "pretraining_penalties"), pretraining_header, [
        [VARIANTS[v][2], s, f"{p['mlm_loss']:.3f}", f"{p['mlm_acc']:.1f}", f"{p['ecp']:.4f}", f"{p['dpp']:.4f}",
         f"{p['target_entropy']:.2f} of {p['log_hidden_dim']:.2f}"]
        for (v, s), p in penalties.items()])
    loss_notes = ir_vs_mlm_verdicts(
        {v: {"valid MLM loss": [penalties[(v, s)]["mlm_loss"] for s in scale["main_seeds"]]} for v in ("mlm", "ir")},
        ["valid MLM loss"])
    fig3, fig4 = plot(results_dir, curves, curve_scores, scale)
    notes = ir_vs_mlm_verdicts(scores, tasks + ["Avg"])
    minutes = (time.time() - started) / 60
    report = [
        f"# Small-scale reproduction ({scale_name}{': a smoke run, not evidence' if args.quick else ''})",
        "",
        scale_line(scale) + " Fine-tuning: the same "
        f"budget for every model (lr {scale['ft_lr']}, batch {scale['ft_batch']}, {scale['ft_epochs']} "
        f"epochs, seed 1), full dev sets, train subsampled: {scale['max_train_rows'] or 'none'}. "
        f"This invocation took {minutes:.0f} minutes (stages finished by an earlier invocation are "
        "reused, not timed).",
        "", "## Table 4 layout: MLM vs IR (mean ± std over pre-training seeds)", "", table4, "",
        "Does IR - MLM exceed the spread over seeds?", "", *[f"- {n}" for n in notes], "",
        "## Table 3 layout: ablation (seed %d)" % seed, "", table3, "",
        "## Table 5 layout: KL vs MSE (seed %d)" % seed, "", table5, "",
        "## Pre-training: held-out MLM loss and penalties of every model", "", pretraining, "",
        "Does IR - MLM exceed the spread over seeds in held-out MLM loss (bits)?", "",
        *[f"- {n}" for n in loss_notes], "",
        "Valid MLM loss / ECP / DPP: `ir-fairseq evaluate` on the held-out split, the same "
        "masking for every model (ECP and DPP are measured for the baseline too). The entropy is that "
        "of the per-position softmax over the hidden dimension of Ĥ (the unmasked input's states), "
        "against its maximum log(hidden size): near zero, every position's distribution sits on the "
        "same few dimensions, so small ECP and DPP values no longer say the corruption left the "
        "content unchanged.", "",
        f"Plots: `{os.path.basename(fig4)}` (Figure 4: training MLM loss), `{os.path.basename(fig3)}` "
        "(Figure 3: dev score against the pre-training checkpoint, seed %d)." % seed, "", *study,
    ]
    write_report(results_dir, report)
    with open(os.path.join(results_dir, "scores.json"), "w") as f:
        json.dump({"scale": scale_name, "scores": scores, "curve_scores": curve_scores,
                   "penalties": {f"{v}_seed{s}": p for (v, s), p in penalties.items()}}, f, indent=1)
    log(f"done in {minutes:.1f} min; results in {results_dir}")


if __name__ == "__main__":
    main()
