"""The paper's GLUE metrics (Table 1), as percentages, from scikit-learn and scipy."""
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
