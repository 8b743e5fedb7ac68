"""Print the demo's pre-training table from its logs and evaluations (JSON files); the
fine-tuning table comes from ``ir-fairseq glue-report``.

    python examples/demo_report.py WORK_DIR
"""
import json
import sys

from ir_fairseq.common.fairseq_logs import read_json_records
from ir_fairseq.common.tables import markdown_table

HEADER = ["pre-training", "valid MLM loss (bits)", "valid MLM acc %", "valid ECP", "valid DPP",
          "target_entropy (nats)", "s/update"]


def seconds_per_update(log_path):
    records = read_json_records(log_path, "train_inner")
    # ups excludes validation and checkpointing; skip the first interval (warm-up)
    ups = [float(r["ups"]) for r in records[1:]] or [float(r["ups"]) for r in records]
    return sum(1.0 / u for u in ups) / len(ups)  # equal-length intervals


def main(work_dir):
    rows, times = [], []
    for name in ("no_pretraining", "masked_lm", "instance_reg"):
        with open(f"{work_dir}/eval_{name}.json", encoding="utf-8") as f:
            ev = json.load(f)
        spu = None if name == "no_pretraining" else seconds_per_update(f"{work_dir}/pretrain_{name}.log")
        rows.append([name, f"{ev['mlm_loss']:.3f}", f"{ev['mlm_acc']:.1f}", f"{ev['ecp']:.4f}", f"{ev['dpp']:.4f}",
                     f"{ev['target_entropy']:.2f} of {ev['log_hidden_dim']:.2f}", "–" if spu is None else f"{spu:.3f}"])
        times.append(spu)
    print()
    print(markdown_table(HEADER, rows))
    print(f"\nIR / MLM time per update: {times[2] / times[1]:.2f}x")
    print("ECP/DPP/target_entropy of every model are measured the same way (ir-fairseq evaluate: eval "
          "mode, same masks); only instance_reg trained on them; no_pretraining is the random "
          "initialisation.\n\nFine-tuned, dev set:\n")


if __name__ == "__main__":
    main(sys.argv[1])
