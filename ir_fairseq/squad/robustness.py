"""Robustness of a SQuAD fine-tuned checkpoint to synonym swaps, in the layout of the paper's Table 6.

    ir-fairseq squad-robustness CHECKPOINT dev-v1.1.json [--limit N] [--output results.json]

The dev questions (the first N with ``--limit``) are answered three times by the same model:
as they are, after SwapSynWordNet and after SwapSynWordEmbedding (``ir_fairseq.squad.attack``;
the embedding attack takes nearest neighbours in the checkpoint's own input embeddings, with
the model folder's dict.txt). Each set is scored with the official metric against its own
(unchanged, re-located) answers. Prints a markdown table with EM, F1 and their change from
the original questions (ΔEM, ΔF1: attacked minus original, so a drop is negative) and writes
the numbers, the attack statistics and the settings as JSON (default: robustness_squad.json
next to the checkpoint).
"""
import argparse
import json
import os
import sys
import time

from ir_fairseq.common.errors import IRUserError
from ir_fairseq.common.files import atomic_output
from ir_fairseq.common.model_folder import DICT_FILE
from ir_fairseq.common.tables import markdown_table
from ir_fairseq.perturb import synonym_source
from ir_fairseq.perturb.words import DEFAULT_SWAP_PROB
from ir_fairseq.squad.attack import attack_dataset
from ir_fairseq.squad.data import examples_from_dict, load_squad_dict
from ir_fairseq.squad.metric import evaluate
from ir_fairseq.squad.predict import load_span_model, predict

ROWS = (("original", "Original", None), ("wordnet", "SwapSynWordNet", "wordnet"),
        ("embedding", "SwapSynWordEmbedding", "embedding"))


def first_questions(dataset, limit):
    """The dataset cut after its first `limit` questions (file order), layout unchanged."""
    if limit is None:
        return dataset
    articles, left = [], limit
    for article in dataset["data"]:
        paragraphs = []
        for paragraph in article["paragraphs"]:
            if left <= 0:
                break
            qas = paragraph["qas"][:left]
            left -= len(qas)
            paragraphs.append({**paragraph, "qas": qas})
        if paragraphs:
            articles.append({**article, "paragraphs": paragraphs})
        if left <= 0:
            break
    return {**dataset, "data": articles}


def results_table(results):
    base = results["original"]
    rows = []
    for key, label, _ in ROWS:
        row = results[key]
        deltas = (("–", "–") if key == "original" else
                  (f"{row['exact_match'] - base['exact_match']:+.2f}", f"{row['f1'] - base['f1']:+.2f}"))
        rows.append([label, f"{row['exact_match']:.2f}", f"{row['f1']:.2f}", *deltas])
    return markdown_table(["Attack", "EM", "F1", "ΔEM", "ΔF1"], rows)


def run(checkpoint, squad_file, model_dir=None, limit=None, batch_size=32, swap_prob=DEFAULT_SWAP_PROB,
        seed=1, wordnet_dir=None, device=None, log=lambda message: print(message, file=sys.stderr)):
    from ir_fairseq.perturb.embeddings import checkpoint_space  # imports fairseq: not for --help

    dataset = first_questions(load_squad_dict(squad_file), limit)
    span_model = load_span_model(checkpoint, model_dir, device)
    results, attacks, predictions = {}, {}, {}
    for key, label, attack in ROWS:
        began = time.time()
        data = dataset
        if attack is not None:
            space = (checkpoint_space(span_model.checkpoint, os.path.join(span_model.model_dir, DICT_FILE))
                     if attack == "embedding" else synonym_source(attack, wordnet_dir=wordnet_dir))
            data, attacks[key] = attack_dataset(dataset, attack, swap_prob=swap_prob, seed=seed,
                                                space=space, source=squad_file)
        examples = examples_from_dict(data, squad_file)
        predictions[key], _ = predict(span_model, examples, batch_size)
        results[key] = evaluate(examples, predictions[key], warn=False)
        log(f"[squad-robustness] {label}: {len(examples)} questions, EM {results[key]['exact_match']:.2f} "
            f"F1 {results[key]['f1']:.2f} ({time.time() - began:.0f} s)")
    for key in ("wordnet", "embedding"):
        results[key]["delta_exact_match"] = results[key]["exact_match"] - results["original"]["exact_match"]
        results[key]["delta_f1"] = results[key]["f1"] - results["original"]["f1"]
    settings = {"checkpoint": os.path.abspath(checkpoint), "squad_file": os.path.abspath(squad_file),
                "limit": limit, "questions": len(examples_from_dict(dataset, squad_file)),
                "swap_prob": swap_prob, "seed": seed, "model_dir": span_model.model_dir,
                "window": span_model.window.__dict__}
    return {"results": results, "attacks": attacks, "settings": settings}, predictions


def build_parser():
    parser = argparse.ArgumentParser(prog="ir-fairseq squad-robustness", description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="a checkpoint fine-tuned with scripts/finetune_squad.sh")
    parser.add_argument("squad_file", help="SQuAD v1.1 dev JSON")
    parser.add_argument("--model-dir", help="dict.txt and tokenizer (default: the fine-tuning data folder)")
    parser.add_argument("--limit", type=int, help="the first N questions only (a dev slice)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--swap-prob", type=float, default=DEFAULT_SWAP_PROB,
                        help=f"probability of swapping each swappable word (default {DEFAULT_SWAP_PROB})")
    parser.add_argument("--seed", type=int, default=1, help="seed of the attacks' word choice")
    parser.add_argument("--wordnet-dir", help="WordNet 3.0 database folder (default: $IR_FAIRSEQ_WORDNET_DIR "
                        "or /usr/share/wordnet)")
    parser.add_argument("--output", help="results JSON (default: robustness_squad.json next to the checkpoint)")
    parser.add_argument("--predictions-dir", help="also write predictions_{original,wordnet,embedding}.json here")
    parser.add_argument("--cpu", action="store_true", help="run on the CPU even if a GPU is available")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.limit is not None and args.limit < 1:
        raise IRUserError("--limit must be a positive number of questions")
    report, predictions = run(args.checkpoint, args.squad_file, args.model_dir, args.limit, args.batch_size,
                              args.swap_prob, args.seed, args.wordnet_dir, "cpu" if args.cpu else None)
    output = args.output or os.path.join(os.path.dirname(os.path.abspath(args.checkpoint)), "robustness_squad.json")
    with atomic_output(output) as f:
        json.dump(report, f, indent=1)
    if args.predictions_dir:
        os.makedirs(args.predictions_dir, exist_ok=True)
        for key, values in predictions.items():
            with atomic_output(os.path.join(args.predictions_dir, f"predictions_{key}.json")) as f:
                json.dump(values, f, ensure_ascii=False, indent=1)
    print(results_table(report["results"]))
    print(f"\n{report['settings']['questions']} questions of {args.squad_file}; results: {output}")
