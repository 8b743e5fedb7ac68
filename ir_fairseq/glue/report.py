"""Table-1-style GLUE dev results: one row per RESULTS_DIR sub-folder, a column per task.

    ir-fairseq glue-report RESULTS_DIR

RESULTS_DIR/<model>/<TASK>/dev_metrics.json (as written by finetune_glue.sh) -> a markdown
table on stdout and RESULTS_DIR/glue_results.csv. Scores as in the paper's Table 1: CoLA
Matthews correlation, STS-B Spearman, MNLI matched accuracy, accuracy elsewhere; the
average is over the tasks present for every model.
"""
import argparse
import os

from ir_fairseq.common.errors import IRUserError
from ir_fairseq.common.tables import markdown_table, write_csv
from ir_fairseq.glue.tasks import TASKS, read_score

CSV_FILE = "glue_results.csv"


def collect(results_dir):
    """{model: {task: main score}} for every <model>/<TASK>/dev_metrics.json."""
    table = {}
    for model in sorted(os.listdir(results_dir)):
        for name, task in TASKS.items():
            path = os.path.join(results_dir, model, name, "dev_metrics.json")
            if os.path.isfile(path):
                table.setdefault(model, {})[name] = read_score(task, path)
    return table


def report(results_dir):
    """The table as markdown; its CSV is written to RESULTS_DIR/glue_results.csv."""
    if not os.path.isdir(results_dir):
        raise IRUserError(f"results folder not found: {results_dir}")
    table = collect(results_dir)
    if not table:
        raise IRUserError(f"no <model>/<TASK>/dev_metrics.json under {results_dir}")
    tasks = [t for t in TASKS if all(t in scores for scores in table.values())]
    if not tasks:
        raise IRUserError(f"no GLUE task has results for every model under {results_dir}")
    header = ["Model"] + [TASKS[t].column for t in tasks] + ["Average"]
    rows = []
    for model, scores in table.items():
        values = [scores[t] for t in tasks]
        rows.append([model] + [f"{v:.2f}" for v in values] + [f"{sum(values) / len(values):.2f}"])
    write_csv(os.path.join(results_dir, CSV_FILE), header, rows)
    return markdown_table(header, rows)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="ir-fairseq glue-report", description=__doc__.splitlines()[0])
    parser.add_argument("results_dir")
    args = parser.parse_args(argv)
    print(report(args.results_dir))
