"""Dev metrics, dev predictions and GLUE test submission files of a fine-tuned checkpoint.

    ir-fairseq glue-predict CHECKPOINT TASK TASK_BIN SAVE_DIR [--no-submission]

Runs the model once over every dev and test split of TASK_BIN (made by preprocess_glue.sh),
in file order, and writes to SAVE_DIR:
- ``dev_metrics.json``: the task's metrics by name, in percent (MNLI: one object per dev set);
- ``dev_predictions.tsv``: ``index, prediction, label, split`` for every dev row (STS-B scores
  unclipped; the metrics are computed from exactly these strings);
- ``submission/<TASK>.tsv`` (MNLI: ``MNLI-m.tsv``, ``MNLI-mm.tsv``, ``AX.tsv``): ``index`` and
  ``prediction`` with the label strings the GLUE server expects.
Computing the dev metrics here, from all rows on one process, keeps them exact whatever
the number of workers used for training.
"""
import argparse
import json
import os

from ir_fairseq.common.checkpoints import Checkpoint
from ir_fairseq.common.errors import IRUserError
from ir_fairseq.common.files import atomic_output
from ir_fairseq.glue.metrics import compute_metrics
from ir_fairseq.glue.prepare import read_splits
from ir_fairseq.glue.tasks import get_task

SUBMISSION_NAMES = {"test_matched": "MNLI-m", "test_mismatched": "MNLI-mm", "diagnostic": "AX"}
HEAD = "sentence_classification_head"  # fairseq's sentence_prediction head name


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def load_finetuned(checkpoint, task_bin):
    import torch

    ckpt = Checkpoint.read(checkpoint)
    if ckpt.task_name not in ("sentence_prediction", "sentence_prediction_ir"):
        raise IRUserError(f"{checkpoint} was trained with task {ckpt.task_name!r}, not sentence_prediction: "
                          "pass the fine-tuned checkpoint_best.pt of finetune_glue.sh")
    model, task = ckpt.load_model(arg_overrides={"data": task_bin})
    if HEAD not in getattr(model, "classification_heads", {}):
        raise IRUserError(f"{checkpoint} has no {HEAD}")
    return (model.cuda() if torch.cuda.is_available() else model), task


def predict_split(model, task, split, regression, batch_size=32):
    import torch

    task.load_dataset(split)
    dataset = task.dataset(split)
    iterator = task.get_batch_iterator(dataset, max_sentences=batch_size, ignore_invalid_inputs=False,
                                       max_positions=model.max_positions())
    predictions = [None] * len(dataset)
    device = next(model.parameters()).device
    with torch.no_grad():
        for sample in iterator.next_epoch_itr(shuffle=False):
            tokens = sample["net_input"]["src_tokens"].to(device)
            logits = model(tokens, features_only=True, classification_head_name=HEAD)[0]
            for row, sample_id in enumerate(sample["id"].tolist()):
                if regression:
                    predictions[sample_id] = float(logits[row, 0])
                else:
                    label_id = int(logits[row].argmax()) + task.label_dictionary.nspecial
                    predictions[sample_id] = task.label_dictionary[label_id]
    return predictions


def format_prediction(value, regression):
    return f"{min(max(value, 0.0), 5.0):.3f}" if regression else value


def write_tsv(path, header, rows):
    with atomic_output(path) as f:
        f.write("\t".join(header) + "\n")
        f.writelines("\t".join(row) + "\n" for row in rows)


def read_dev_predictions(save_dir, split=None):
    """(predictions, labels) from SAVE_DIR/dev_predictions.tsv as ``run`` writes it; ``split``
    picks one dev set where a task has two (MNLI)."""
    path = os.path.join(save_dir, "dev_predictions.tsv")
    if not os.path.isfile(path):
        raise IRUserError(f"{path} not found (written by ir-fairseq glue-predict)")
    predictions, labels = [], []
    for number, row in enumerate(read_lines(path)[1:], start=2):
        fields = row.split("\t")
        if len(fields) != 4:
            raise IRUserError(f"{path}, line {number}: {len(fields)} fields, expected 4 (index, prediction, label, split)")
        _, prediction, label, row_split = fields
        if split is None or row_split == split:
            predictions.append(prediction)
            labels.append(label)
    return predictions, labels


def run(checkpoint, task_name, task_bin, save_dir, submission=True):
    glue_task = get_task(task_name)
    splits = read_splits(task_bin)
    model, task = load_finetuned(checkpoint, task_bin)
    regression = glue_task.is_regression
    os.makedirs(os.path.join(save_dir, "submission") if submission else save_dir, exist_ok=True)
    metrics, dev_rows = {}, []
    for fairseq_split, glue_split, _, _ in splits:
        if fairseq_split == "train" or (not submission and not fairseq_split.startswith("valid")):
            continue
        raw = os.path.join(task_bin, "raw", fairseq_split)
        indices = read_lines(raw + ".index")
        predictions = predict_split(model, task, fairseq_split, regression)
        if len(predictions) != len(indices):
            raise IRUserError(f"{task_bin}: {fairseq_split} has {len(predictions)} rows, its index {len(indices)}")
        if fairseq_split.startswith("valid"):
            labels = read_lines(raw + ".label")
            # dev predictions are written unclipped, and the metrics are computed from exactly
            # the written strings, so anyone can recompute them from dev_predictions.tsv
            written = [f"{p:.6f}" if regression else p for p in predictions]
            metrics[glue_split] = compute_metrics(glue_task, written, labels)
            dev_rows += [(i, w, l, glue_split) for i, w, l in zip(indices, written, labels)]
        else:
            name = SUBMISSION_NAMES.get(glue_split, task_name)
            write_tsv(os.path.join(save_dir, "submission", f"{name}.tsv"), ("index", "prediction"),
                      [(i, format_prediction(p, regression)) for i, p in zip(indices, predictions)])
    result = metrics[glue_task.dev_splits[0]] if len(metrics) == 1 else metrics
    write_tsv(os.path.join(save_dir, "dev_predictions.tsv"), ("index", "prediction", "label", "split"), dev_rows)
    # last: the sweep and the reproduction take dev_metrics.json as "this run is done"
    with atomic_output(os.path.join(save_dir, "dev_metrics.json")) as f:
        json.dump(result, f, indent=1, sort_keys=True)
    return result


def build_parser():
    parser = argparse.ArgumentParser(prog="ir-fairseq glue-predict", description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("task")
    parser.add_argument("task_bin")
    parser.add_argument("save_dir")
    parser.add_argument("--no-submission", action="store_true",
                        help="dev metrics and predictions only; skip the unlabelled test sets")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    print(json.dumps(run(args.checkpoint, args.task, args.task_bin, args.save_dir,
                         submission=not args.no_submission)))
