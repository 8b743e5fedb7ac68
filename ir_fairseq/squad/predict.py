"""Answers of a fine-tuned ``squad_span`` checkpoint for a SQuAD v1.1 file.

    ir-fairseq squad-predict CHECKPOINT dev-v1.1.json > predictions.json
        [--model-dir DIR] [--batch-size 32] [--limit N] [--nbest-file nbest.json]
        [--metrics-file metrics.json] [--cpu]

The questions are windowed exactly as for training (``ir_fairseq.squad.features``; by default
with the settings the checkpoint was fine-tuned with) and tokenised by the model folder's
tokenizer: ``--model-dir`` (``dict.txt`` + ``spm.model`` or ``vocab.txt``), by default the
fine-tuning data folder recorded in the checkpoint, which preprocess_squad.sh makes a model
folder. Windows run in batches of similar length, on the GPU when there is one.

Decoding, per question: in every window, the 20 highest start logits and the 20 highest end
logits among the window's context tokens give candidate spans (start <= end, at most 30
tokens, the start token in its max-context window); score = start logit + end logit. The
best candidate over all windows is the answer, and its text is the original context
between the first character of its first token and the last character of its last token.
The n-best list (``--nbest-file``) holds the 20 best distinct spans with softmax
probabilities over their scores. A question without any candidate gets "".
"""
import argparse
import json
import math
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List, Optional

from ir_fairseq.common.checkpoints import Checkpoint
from ir_fairseq.common.errors import IRUserError
from ir_fairseq.common.files import atomic_output
from ir_fairseq.common.model_folder import DICT_FILE, load_model_folder
from ir_fairseq.squad.data import read_squad
from ir_fairseq.squad.features import WindowConfig, build_all_features

if TYPE_CHECKING:  # torch and the plugin's modules are imported where a model is loaded or run
    import torch

N_BEST = 20
MAX_ANSWER_LENGTH = 30
DEFAULT_WINDOW = WindowConfig()


@dataclass
class SpanModel:
    model: "torch.nn.Module"
    task: object
    tokenizer: object
    window: WindowConfig
    head_name: str
    model_dir: str
    device: "torch.device"
    checkpoint: Checkpoint  # as read, for what else needs its weights (the embedding attack)

    @property
    def dictionary(self):
        return self.task.source_dictionary


def load_span_model(checkpoint, model_dir=None, device=None, window_overrides: Optional[dict] = None) -> SpanModel:
    """The fine-tuned model, its task and tokenizer, checked for the usual mix-ups first.

    Windows are cut as for fine-tuning (the data folder's squad_meta.json) unless
    window_overrides (max_length, doc_stride, max_query_length) says otherwise."""
    import torch

    from ir_fairseq.models.span_head import DEFAULT_HEAD_NAME, has_span_head
    from ir_fairseq.tasks.squad_span import META_FILE, read_meta

    ckpt = Checkpoint.read(checkpoint)
    if not ckpt.state.get("cfg"):
        raise IRUserError(f"{checkpoint} is not a fairseq checkpoint with a configuration")
    head_name = ckpt.setting("task", "span_head_name", DEFAULT_HEAD_NAME)
    if ckpt.task_name != "squad_span" or not has_span_head(ckpt.weights, head_name):
        raise IRUserError(f"{checkpoint} is not fine-tuned for SQuAD (task {ckpt.task_name}, no span head "
                          f"'{head_name}'): fine-tune it with scripts/finetune_squad.sh")
    train_dir = ckpt.setting("task", "data")
    if model_dir is None:
        if not train_dir or not os.path.isfile(os.path.join(train_dir, DICT_FILE)):
            raise IRUserError(f"the fine-tuning data folder recorded in {checkpoint} ({train_dir}) is gone: "
                              f"pass --model-dir ({DICT_FILE} and spm.model or vocab.txt)")
        model_dir = train_dir
    folder = load_model_folder(model_dir)
    ckpt.check_dictionary(len(folder.dictionary), model_dir,
                          hint="pass the model folder of this checkpoint with --model-dir")
    model, task = ckpt.load_model(arg_overrides={"data": model_dir})
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model = model.to(device)
    meta = task.meta
    if not meta and train_dir and os.path.isfile(os.path.join(train_dir, META_FILE)):
        meta = read_meta(train_dir)
    window = training_window(meta, model.max_positions())
    window = WindowConfig(**{**window.__dict__, **{k: v for k, v in (window_overrides or {}).items() if v}})
    if model.max_positions() is not None and window.max_length > model.max_positions():
        raise IRUserError(f"--max-length {window.max_length} exceeds the model's --max-positions "
                          f"{model.max_positions()}")
    return SpanModel(model, task, folder.tokenizer, window.check(), head_name, model_dir, device, ckpt)


def training_window(meta: dict, max_positions=None) -> WindowConfig:
    """The window settings of the fine-tuning data (its squad_meta.json); the standard ones,
    shortened to the model's positions, without it."""
    if meta:
        return WindowConfig(meta["max_length"], meta["doc_stride"], meta["max_query_length"])
    if max_positions is not None and max_positions < DEFAULT_WINDOW.max_length:
        return WindowConfig(max_positions, min(DEFAULT_WINDOW.doc_stride, max_positions // 4),
                            min(DEFAULT_WINDOW.max_query_length, max_positions // 4))
    return DEFAULT_WINDOW


def window_candidates(feature, start_logits, end_logits, n_best=N_BEST, max_answer_length=MAX_ANSWER_LENGTH):
    """(score, char_start, char_end, start_logit, end_logit) of the window's candidate spans."""
    offset, count = feature.context_offset, len(feature.spans)
    if count == 0:
        return []
    starts = start_logits[offset:offset + count]
    ends = end_logits[offset:offset + count]
    top_starts = starts.topk(min(n_best, count))
    top_ends = ends.topk(min(n_best, count))
    found = []
    for s_value, s in zip(top_starts.values.tolist(), top_starts.indices.tolist()):
        if not feature.max_context[s] or feature.spans[s][0] >= feature.spans[s][1]:
            continue
        for e_value, e in zip(top_ends.values.tolist(), top_ends.indices.tolist()):
            if e < s or e - s + 1 > max_answer_length or feature.spans[e][0] >= feature.spans[e][1]:
                continue
            found.append((s_value + e_value, feature.spans[s][0], feature.spans[e][1], s_value, e_value))
    return found


def _batches(features, batch_size):
    order = sorted(range(len(features)), key=lambda i: len(features[i].tokens))
    for begin in range(0, len(order), batch_size):
        yield order[begin:begin + batch_size]


def predict(span_model: SpanModel, examples, batch_size=32, n_best=N_BEST, max_answer_length=MAX_ANSWER_LENGTH):
    """{qid: answer text} and {qid: n-best list} for a list of SquadExample."""
    import torch

    from ir_fairseq.models.span_head import span_logits

    dictionary = span_model.dictionary
    features, _ = build_all_features(examples, span_model.tokenizer, dictionary, span_model.window)
    candidates: List[list] = [[] for _ in examples]
    pad = dictionary.pad()
    with torch.inference_mode():
        for batch in _batches(features, batch_size):
            length = max(len(features[i].tokens) for i in batch)
            tokens = torch.full((len(batch), length), pad, dtype=torch.long)
            for row, i in enumerate(batch):
                tokens[row, :len(features[i].tokens)] = torch.tensor(features[i].tokens)
            start, end = span_logits(span_model.model, tokens.to(span_model.device), pad, span_model.head_name)
            start, end = start.cpu(), end.cpu()
            for row, i in enumerate(batch):
                feature = features[i]
                candidates[feature.example_index] += window_candidates(
                    feature, start[row], end[row], n_best, max_answer_length)
    predictions: Dict[str, str] = {}
    nbest: Dict[str, list] = {}
    for example, found in zip(examples, candidates):
        best, seen = [], set()
        for score, char_start, char_end, s_logit, e_logit in sorted(found, key=lambda c: -c[0]):
            if (char_start, char_end) in seen:  # the same span from another window
                continue
            seen.add((char_start, char_end))
            best.append({"text": example.context[char_start:char_end], "char_start": char_start,
                         "char_end": char_end, "score": score, "start_logit": s_logit, "end_logit": e_logit})
            if len(best) == n_best:
                break
        if best:
            top = best[0]["score"]
            weights = [math.exp(c["score"] - top) for c in best]
            for c, w in zip(best, weights):
                c["probability"] = w / sum(weights)
        predictions[example.qid] = best[0]["text"] if best else ""
        nbest[example.qid] = best
    return predictions, nbest


def build_parser():
    parser = argparse.ArgumentParser(prog="ir-fairseq squad-predict", description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("squad_file", help="SQuAD v1.1 JSON (answers are not needed, but the file is checked)")
    parser.add_argument("--model-dir", help="dict.txt and spm.model or vocab.txt (default: the fine-tuning data "
                        "folder recorded in the checkpoint)")
    parser.add_argument("--batch-size", type=int, default=32, help="windows per forward pass (default 32)")
    parser.add_argument("--n-best", type=int, default=N_BEST)
    parser.add_argument("--max-answer-length", type=int, default=MAX_ANSWER_LENGTH, help="in tokens")
    parser.add_argument("--max-length", type=int, help="window length (default: as fine-tuned)")
    parser.add_argument("--doc-stride", type=int)
    parser.add_argument("--max-query-length", type=int)
    parser.add_argument("--limit", type=int, help="predict the first N questions only")
    parser.add_argument("--output", "-o", help="write the predictions here instead of stdout")
    parser.add_argument("--nbest-file", help="also write the n-best lists (JSON) here")
    parser.add_argument("--metrics-file", help="also score the predictions against the file's answers "
                        "(official EM/F1 over the questions predicted) and write them here (JSON)")
    parser.add_argument("--cpu", action="store_true", help="run on the CPU even if a GPU is available")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.batch_size < 1 or args.n_best < 1 or args.max_answer_length < 1:
        raise IRUserError("--batch-size, --n-best and --max-answer-length must be positive")
    examples = read_squad(args.squad_file)
    if args.limit is not None:
        examples = examples[:args.limit]
    window = {"max_length": args.max_length, "doc_stride": args.doc_stride,
              "max_query_length": args.max_query_length}
    span_model = load_span_model(args.checkpoint, args.model_dir, "cpu" if args.cpu else None, window)
    predictions, nbest = predict(span_model, examples, args.batch_size, args.n_best, args.max_answer_length)
    text = json.dumps(predictions, ensure_ascii=False, indent=1) + "\n"
    if args.output:
        with atomic_output(args.output) as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    if args.nbest_file:
        with atomic_output(args.nbest_file) as f:
            json.dump(nbest, f, ensure_ascii=False, indent=1)
    if args.metrics_file:
        from ir_fairseq.squad.metric import evaluate

        with atomic_output(args.metrics_file) as f:
            json.dump(evaluate(examples, predictions), f, indent=1)
