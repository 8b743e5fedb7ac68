"""Does a difference between two models exceed the spread over their seeds?

The verdict used by every reproduction: the difference of means is compared with the larger of
the two sample standard deviations, and Welch's t-test (unequal variances, scipy) gives its p.
"""
import statistics
from typing import List


def seed_spread_verdict(label: str, treated: List[float], baseline: List[float]) -> str:
    diff = statistics.mean(treated) - statistics.mean(baseline)
    if len(treated) < 2 or len(baseline) < 2:
        return f"{label}: {diff:+.2f} (one seed: no spread to compare with)"
    spread = max(statistics.stdev(treated), statistics.stdev(baseline))
    if spread == 0:  # every seed scored the same (e.g. all at the majority class)
        return f"{label}: {diff:+.2f}, every seed of both models scored the same"
    from scipy.stats import ttest_ind

    p = ttest_ind(treated, baseline, equal_var=False).pvalue
    verdict = "exceeds" if abs(diff) > spread else "does not exceed"
    return f"{label}: {diff:+.2f}, {verdict} the larger seed std {spread:.2f} (Welch p={p:.2f})"
