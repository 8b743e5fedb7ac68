"""The paper's GLUE metrics (Table 1), as percentages, from scikit-learn and scipy."""
from collections import Counter

from ir_fairseq.glue.tasks import GlueTask


def compute_metrics(task: GlueTask, predictions, labels) -> dict:
    """Every metric of the task by name; predictions and labels are the strings written to
    and read from the files (scores as decimal text for STS-B)."""
    from scipy.stats import pearsonr, spearmanr
    from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

    if len(predictions) != len(labels) or not labels:
        raise ValueError(f"{len(predictions)} predictions for {len(labels)} labels")
    result = {}
    for metric in task.metrics:
        if metric == "accuracy":
            result[metric] = 100.0 * accuracy_score(labels, predictions)
        elif metric == "f1":
            result[metric] = 100.0 * f1_score(labels, predictions, pos_label="1")
        elif metric == "mcc":
            result[metric] = 100.0 * matthews_corrcoef(labels, predictions)
        elif metric == "pearson":
            result[metric] = 100.0 * pearsonr([float(p) for p in predictions], [float(x) for x in labels])[0]
        elif metric == "spearman":
            result[metric] = 100.0 * spearmanr([float(p) for p in predictions], [float(x) for x in labels])[0]
    return result


def above_majority_p(task: GlueTask, predictions, labels) -> float:
    """One-sided p-value that the predictions beat the majority-class predictor of these labels,
    on the same rows, in the task's main metric. Accuracy: exact McNemar test on the rows where
    exactly one of the two is right (the majority predictor is the dev set's own most common
    label); MCC: Fisher's exact test of a positive association in the 2 x 2 table (the majority
    predictor's MCC is 0); Spearman / Pearson: the correlation test against 0. A paired test on
    the same rows, because the majority predictor is scored on them too."""
    from scipy.stats import binomtest, fisher_exact, pearsonr, spearmanr

    if len(predictions) != len(labels) or not labels:
        raise ValueError(f"{len(predictions)} predictions for {len(labels)} labels")
    metric = task.main_metric
    if metric in ("spearman", "pearson"):
        test = spearmanr if metric == "spearman" else pearsonr
        if len(set(predictions)) < 2:  # a constant prediction has no correlation to test
            return 1.0
        return float(test([float(p) for p in predictions], [float(x) for x in labels], alternative="greater").pvalue)
    if metric == "mcc":
        classes = sorted(set(labels) | set(predictions))
        if len(classes) > 2:
            raise ValueError(f"{task.name}: the MCC test needs two classes, got {classes}")
        positive = classes[-1]
        cells = Counter((lab == positive, pred == positive) for pred, lab in zip(predictions, labels))
        table = [[cells[True, True], cells[True, False]], [cells[False, True], cells[False, False]]]
        return float(fisher_exact(table, alternative="greater").pvalue)
    if metric != "accuracy":
        raise ValueError(f"{task.name}: no majority-class test for {metric}")
    majority = Counter(labels).most_common(1)[0][0]
    only_model = sum(pred == lab != majority for pred, lab in zip(predictions, labels))
    only_majority = sum(pred != lab == majority for pred, lab in zip(predictions, labels))
    if only_model + only_majority == 0:  # the two agree on every row
        return 1.0
    return float(binomtest(only_model, only_model + only_majority, 0.5, alternative="greater").pvalue)
