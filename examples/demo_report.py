"""Print the demo's pre-training table from its logs and evaluations (JSON files); the
fine-tuning table comes from scripts/glue_report.py."""
import json
import sys


def inner_records(log_path):
    records = []
    with open(log_path, encoding="utf-8") as f:
        for line in f:
            if "| train_inner |" in line and "{" in line:
                records.append(json.loads(line[line.index("{"):]))
    return records


def main(work_dir):
    rows = []
    for name in ("masked_lm", "instance_reg"):
        records = inner_records(f"{work_dir}/pretrain_{name}.log")
        # ups excludes validation and checkpointing; skip the first interval (warm-up)
        ups = [float(r["ups"]) for r in records[1:]] or [float(r["ups"]) for r in records]
        seconds_per_update = sum(1.0 / u for u in ups) / len(ups)  # equal-length intervals
        with open(f"{work_dir}/eval_{name}.json", encoding="utf-8") as f:
            evaluation = json.load(f)
        rows.append((name, evaluation, seconds_per_update))
    print()
    print("| pre-training | valid MLM loss (bits) | valid MLM acc % | valid ECP | valid DPP | s/update |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, ev, spu in rows:
        print(f"| {name} | {ev['mlm_loss']:.3f} | {ev['mlm_acc']:.1f} | {ev['ecp']:.4f} | "
              f"{ev['dpp']:.4f} | {spu:.3f} |")
    print(f"\nIR / MLM time per update: {rows[1][2] / rows[0][2]:.2f}x")
    print("ECP/DPP of both models are measured the same way (ir_fairseq.evaluate: eval mode, same "
          "masks); the masked_lm model never trained on them.\n\nFine-tuned, dev set:\n")


if __name__ == "__main__":
    main(sys.argv[1])
