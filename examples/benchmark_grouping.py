"""Length-grouped vs shuffled fine-tuning batches, side by side on one model: padding, speed,
and dev scores.

    python examples/benchmark_grouping.py CHECKPOINT MODEL_DIR [--glue DIR] [--tasks RTE MRPC STS-B]
        [--batch-size 16] [--max-train-rows N] [--seeds 1] [--quality-tasks RTE STS-B] [--work-dir DIR]

For each task (the real GLUE files of ``--glue`` when they hold it, else generated pairs in the
task's layout, which the table marks): the training split is prepared once with MODEL_DIR's
tokenizer, then fine-tuned for one epoch by ``scripts/finetune_glue.sh`` with
``GROUP_BY_LENGTH=1`` and ``=0``, the two runs interleaved per seed. The table gives the share of
real (non-pad) tokens in the epoch's batches (from the task's own batch iterator), the non-pad
tokens per second (fairseq's ``wps`` of the epoch) and the seconds of the epoch's training
steps (its non-pad tokens / ``wps``: no start-up or validation), and the dev score (mean ± std over ``--seeds`` for the quality tasks).
"""
import argparse
import json
import logging
import os
import random
import shutil
import statistics
import subprocess
import sys

from fairseq import options, tasks
from fairseq.dataclass.utils import convert_namespace_to_omegaconf

from ir_fairseq.common.errors import IRUserError
from ir_fairseq.common.fairseq_logs import read_json_records
from ir_fairseq.common.tables import format_mean_std, markdown_table
from ir_fairseq.data.length_grouping import example_sizes, real_token_fraction
from ir_fairseq.glue.files import split_path
from ir_fairseq.glue.tasks import get_task, read_score

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORDS = ("the quiet farmer river orchard story market valley island painter crossed watched paints "
         "broad ancient wonderful dreadful old young city road bridge winter summer song").split()


def generated_text(rng, low, high):
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high))).capitalize() + "."


def write_generated_task(glue_dir, task, rows, seed=1):
    """The task's files with its real header columns, pairs of random length (3-60 words)."""
    rng = random.Random(seed)
    folder = os.path.join(glue_dir, task.folder)
    os.makedirs(folder, exist_ok=True)
    for split in ("train",) + task.dev_splits + task.test_splits:
        labelled = not split.startswith("test")
        header = ["index", *task.text_columns] + ([task.label_column] if labelled else [])
        lines = ["\t".join(header)]
        for i in range(rows if split == "train" else max(rows // 5, 10)):
            label = (f"{rng.uniform(0, 5):.3f}" if task.is_regression else rng.choice(task.labels))
            texts = [generated_text(rng, 3, 60) for _ in task.text_columns]
            lines.append("\t".join([str(i), *texts] + ([label] if labelled else [])))
        with open(split_path(glue_dir, task, split), "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")


def epoch_token_fraction(task_bin, task, grouped, batch_size, seed):
    args = options.parse_args_and_arch(options.get_training_parser(), [
        task_bin, "--task", "sentence_prediction_ir", "--criterion", "sentence_prediction",
        "--arch", "roberta_base", "--num-classes", "1" if task.is_regression else str(len(task.labels)),
        "--seed", str(seed), "--shorten-method", "truncate", "--init-token", "0", "--separator-token", "2",
        *(["--regression-target"] if task.is_regression else []), *(["--group-by-length"] if grouped else [])])
    fairseq_task = tasks.setup_task(convert_namespace_to_omegaconf(args).task)
    fairseq_task.load_dataset("train")
    dataset = fairseq_task.dataset("train")
    iterator = fairseq_task.get_batch_iterator(dataset, max_sentences=batch_size, seed=seed)
    return real_token_fraction(example_sizes(dataset), list(iterator.frozen_batches))


def finetune_one_epoch(task, checkpoint, task_bin, save_dir, grouped, batch_size, seed):
    metrics = os.path.join(save_dir, "dev_metrics.json")
    if not os.path.isfile(metrics):
        shutil.rmtree(save_dir, ignore_errors=True)
        env = dict(os.environ, PYTHON=sys.executable, GROUP_BY_LENGTH="1" if grouped else "0", EPOCHS="1",
                   BATCH=str(batch_size), SEED=str(seed), SUBMISSION="0")
        proc = subprocess.run(["bash", os.path.join(ROOT, "scripts", "finetune_glue.sh"), task.name, checkpoint,
                               task_bin, save_dir, "--num-workers", "0", "--data-buffer-size", "0"],
                              env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise IRUserError(f"fine-tuning {task.name} failed: {proc.stderr.strip().splitlines()[-1:]}")
    epoch = read_json_records(os.path.join(save_dir, "train.log"), "train")[0]
    # fairseq logs the wall times in whole seconds; its words/s meter times the epoch's steps
    tokens_per_second = float(epoch["wps"])
    seconds = float(epoch["wpb"]) * int(epoch["num_updates"]) / tokens_per_second
    return seconds, tokens_per_second, read_score(task, metrics)


def main(argv=None):
    default_glue = os.path.join(os.environ.get("IR_FAIRSEQ_SHARED_DATA", ""), "glue")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("model_dir", help="dict.txt and the tokenizer of the checkpoint")
    parser.add_argument("--glue", default=default_glue)
    parser.add_argument("--tasks", nargs="+", default=["RTE", "MRPC", "STS-B"])
    parser.add_argument("--quality-tasks", nargs="*", default=["RTE", "STS-B"],
                        help="tasks fine-tuned with every --seeds (the others with the first seed)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[1])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-train-rows", type=int, default=None)
    parser.add_argument("--generated-rows", type=int, default=400, help="training rows of a generated task")
    parser.add_argument("--work-dir", default="benchmark_grouping_work")
    args = parser.parse_args(argv)
    logging.getLogger("fairseq").setLevel(logging.WARNING)  # the table is the output
    work = os.path.abspath(args.work_dir)
    rows = []
    for name in args.tasks:
        task = get_task(name)
        glue_dir, source = args.glue, "real"
        if not os.path.isfile(split_path(glue_dir, task, "train")):
            glue_dir, source = os.path.join(work, "generated_glue"), "generated"
            write_generated_task(glue_dir, task, args.generated_rows)
        task_bin = os.path.join(work, "bins", name)
        if not os.path.isdir(os.path.join(task_bin, f"{name}-bin")):
            subprocess.run(["bash", os.path.join(ROOT, "scripts", "preprocess_glue.sh"), glue_dir, name,
                            args.model_dir, task_bin], check=True, capture_output=True,
                           env=dict(os.environ, PYTHON=sys.executable,
                                    MAX_TRAIN_ROWS=str(args.max_train_rows or "")))
        task_bin = os.path.join(task_bin, f"{name}-bin")
        seeds = args.seeds if name in args.quality_tasks else args.seeds[:1]
        results = {True: [], False: []}
        for seed in seeds:
            for grouped in (True, False):
                save_dir = os.path.join(work, "runs", name, f"{'grouped' if grouped else 'shuffled'}_seed{seed}")
                results[grouped].append(finetune_one_epoch(task, args.checkpoint, task_bin, save_dir, grouped,
                                                           args.batch_size, seed))
        walls = {g: statistics.median(r[0] for r in results[g]) for g in results}
        for grouped in (False, True):
            fraction = epoch_token_fraction(task_bin, task, grouped, args.batch_size, args.seeds[0])
            rows.append([f"{name} ({source})", "grouped" if grouped else "shuffled", f"{100 * fraction:.1f}",
                         f"{statistics.median(r[1] for r in results[grouped]):.0f}", f"{walls[grouped]:.1f}",
                         f"{walls[False] / walls[grouped]:.2f}×",
                         format_mean_std([r[2] for r in results[grouped]]) + f" ({len(seeds)} seed(s))"])
    table = markdown_table(["task", "batches", "real tokens %", "non-pad tokens/s", "s per epoch (steps)",
                            "speed-up vs shuffled", "dev score"], rows)
    print(table)
    with open(os.path.join(work, "grouping.json"), "w") as f:
        json.dump({"header": table.splitlines()[0], "rows": rows}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
