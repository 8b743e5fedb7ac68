"""Summary of ``scripts/gpu_check.sh``: each step's status and time, the training checks (no
NaN/inf in loss, ECP, DPP; the loss falls), the recipe's launch, the benchmark table.

    python examples/gpu_check_report.py OUT_DIR MODE

Prints markdown (the script keeps it as OUT_DIR/summary.md); exit status 1 when a check fails.
"""
import math
import os
import sys

from ir_fairseq.common.fairseq_logs import read_json_records
from ir_fairseq.common.tables import markdown_table

PENALTY_KEYS = ("loss", "ecp", "dpp")


def training_checks(log_path):
    """(passed, what was seen) for one training log."""
    records = read_json_records(log_path, "train_inner")
    if len(records) < 2:
        return False, f"{len(records)} train_inner records"
    values = {key: [float(r[key]) for r in records] for key in PENALTY_KEYS}
    finite = all(math.isfinite(v) for series in values.values() for v in series)
    head, tail = values["loss"][: max(1, len(records) // 4)], values["loss"][-max(1, len(records) // 4):]
    falls = sum(tail) / len(tail) < sum(head) / len(head)
    seen = (f"{len(records)} records, loss {head[0]:.3f} -> {tail[-1]:.3f}, last ECP {values['ecp'][-1]:.4f}, "
            f"DPP {values['dpp'][-1]:.4f}, {'all finite' if finite else 'NaN/inf seen'}")
    return finite and falls, seen


def main(out_dir, mode):
    steps = [line.rstrip("\n").split("\t") for line in open(os.path.join(out_dir, "steps.tsv"), encoding="utf-8")]
    rows, failed = [], []
    for name, status, seconds in steps:
        log_path = os.path.join(out_dir, f"{name}.log")
        ok, seen = status == "0", f"exit status {status}"
        if ok and (name.startswith("train_") or name == "recipe"):
            ok, seen = training_checks(log_path)
        if ok and name == "recipe" and mode == "gpu":
            launched = "torch.distributed.run" in open(log_path, encoding="utf-8", errors="replace").read() or \
                "pytorch_ddp" in open(log_path, encoding="utf-8", errors="replace").read()
            seen += ", torchrun + pytorch_ddp" if launched else ", no torchrun/pytorch_ddp in the log"
            ok = launched
        rows.append([name, "pass" if ok else "FAIL", seconds, seen])
        if not ok:
            failed.append(name)
    print(f"# GPU check ({'CPU rehearsal: tiny sizes, no CUDA' if mode == 'cpu' else 'one CUDA GPU'})\n")
    print(markdown_table(["step", "result", "seconds", "checked"], rows, align="llrl"))
    benchmark = os.path.join(out_dir, "benchmark.log")
    if os.path.isfile(benchmark):
        table = [line for line in open(benchmark, encoding="utf-8", errors="replace") if line.startswith("|")]
        print("\n## Cost benchmark\n\n" + "".join(table).rstrip())
    print("\n" + ("all checks passed" if not failed else f"FAILED: {', '.join(failed)}"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
