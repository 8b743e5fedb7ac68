"""Result tables: markdown for READMEs and terminals, CSV for anyone who recomputes them."""
import csv
import math
import statistics
from typing import List, Optional, Sequence


def markdown_table(header: Sequence, rows: Sequence[Sequence], align: Optional[str] = None) -> str:
    """A markdown table; align is one character per column, ``l`` or ``r`` (default: the first
    column left, the others right, which suits a label followed by numbers)."""
    align = align or "l" + "r" * (len(header) - 1)
    if len(align) != len(header):
        raise ValueError(f"align {align!r} does not have one letter per column ({len(header)})")
    rule = "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"
    lines = ["| " + " | ".join(map(str, header)) + " |", rule]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return "\n".join(lines)


def write_csv(path: str, header: Sequence, rows: Sequence[Sequence]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([list(header)] + [list(row) for row in rows])


def write_table(path_base: str, header: Sequence, rows: Sequence[Sequence]) -> str:
    """``path_base.csv`` on disk; the same table as markdown, returned."""
    write_csv(path_base + ".csv", header, rows)
    return markdown_table(header, rows)


def mean_std(values: List[float]):
    """Mean and sample standard deviation (NaN for a single value)."""
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else float("nan")


def format_mean_std(values: List[float], digits: int = 2) -> str:
    """``mean ± std`` over seeds, or the single value."""
    mean, std = mean_std(values)
    return f"{mean:.{digits}f}" if math.isnan(std) else f"{mean:.{digits}f} ± {std:.{digits}f}"
