"""Table-1-style GLUE dev results: one row per RESULTS_DIR sub-folder, a column per task.

    python scripts/glue_report.py RESULTS_DIR

RESULTS_DIR/<model>/<TASK>/dev_metrics.json (as written by finetune_glue.sh) -> a markdown
table on stdout and RESULTS_DIR/glue_results.csv. Scores as in the paper's Table 1: CoLA
Matthews correlation, STS-B Spearman, MNLI matched accuracy, accuracy elsewhere; the
average is over the tasks present for every model.
"""
import csv
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ir_fairseq.glue import TASKS, main_score  # noqa: E402

COLUMN_METRIC = {"CoLA": "Mcc", "STS-B": "Spear"}


def collect(results_dir):
    table = {}
    for model in sorted(os.listdir(results_dir)):
        for task in TASKS:
            path = os.path.join(results_dir, model, task, "dev_metrics.json")
            if os.path.isfile(path):
                with open(path, encoding="utf-8") as f:
                    table.setdefault(model, {})[task] = main_score(TASKS[task], json.load(f))
    return table


def main(results_dir):
    table = collect(results_dir)
    if not table:
        sys.exit(f"ir_fairseq: error: no <model>/<TASK>/dev_metrics.json under {results_dir}")
    tasks = [t for t in TASKS if all(t in scores for scores in table.values())]
    header = ["Model"] + [f"{t} ({COLUMN_METRIC.get(t, 'Acc')})" for t in tasks] + ["Average"]
    rows = []
    for model, scores in table.items():
        values = [scores[t] for t in tasks]
        rows.append([model] + [f"{v:.2f}" for v in values] + [f"{sum(values) / len(values):.2f}"])
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    with open(os.path.join(results_dir, "glue_results.csv"), "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python scripts/glue_report.py RESULTS_DIR")
    main(sys.argv[1])
