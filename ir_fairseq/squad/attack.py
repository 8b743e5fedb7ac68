"""Synonym-swap attacks on SQuAD v1.1, after TextFlint's SwapSynWordNet and SwapSynWordEmbedding.

    ir-fairseq squad-attack dev-v1.1.json OUT.json --attack wordnet [--swap-prob 0.5] [--seed 1]
    ir-fairseq squad-attack dev-v1.1.json OUT.json --attack embedding --checkpoint CKPT [--dict dict.txt]
    ir-fairseq squad-attack dev-v1.1.json OUT.json --attack embedding --vectors glove.txt

Writes the same dataset (same layout, ids and extra keys) with words of the contexts and
questions replaced by synonyms, to measure how much a reader model relies on exact wording.
Which words may change, and their replacements, are ``ir_fairseq.perturb``'s (words,
wordnet, embeddings); here every gold answer of every question of a paragraph is protected,
so the answers stay valid, and every ``answer_start`` is moved with the swaps before it. The
swaps are drawn from ``random.Random(--seed)`` in file order (each context, then its
questions).

wordnet: the first single-word synonym of the word's most frequent WordNet 3.0 sense, from
$IR_FAIRSEQ_WORDNET_DIR or /usr/share/wordnet. embedding: the nearest whole word by cosine in
a fairseq checkpoint's input embeddings (``encoder.sentence_encoder.embed_tokens.weight``,
with dict.txt next to the checkpoint or --dict) or in a word2vec / GloVe text file.
"""
import argparse
import json
import random
from typing import Optional

from ir_fairseq.common.errors import IRUserError
from ir_fairseq.perturb import ATTACKS, check_attack, synonym_source
from ir_fairseq.perturb.words import DEFAULT_SWAP_PROB, apply_swaps, candidate_words, choose_swaps
from ir_fairseq.squad.data import check_not_input, examples_from_dict, load_squad_dict, write_squad


def check_options(attack, swap_prob, checkpoint=None, dictionary=None, vectors=None, space=None):
    check_attack(attack)
    if not 0.0 <= swap_prob <= 1.0:
        raise IRUserError(f"--swap-prob must be between 0 and 1, got {swap_prob}")
    if attack == "wordnet" and (checkpoint or vectors):
        raise IRUserError("--checkpoint and --vectors are for --attack embedding")
    if attack == "embedding" and space is None and bool(checkpoint) == bool(vectors):
        raise IRUserError("--attack embedding needs one of --checkpoint (a fairseq model) or --vectors (a word-vectors text file)")
    if dictionary and not checkpoint:
        raise IRUserError("--dict goes with --checkpoint")


def _texts(dataset):
    """(paragraph, qa or None, candidate words, word count) of every context and question, in
    file order; a context's candidates avoid every gold answer of its questions."""
    for article in dataset["data"]:
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            protected = bytearray(len(context))
            for qa in paragraph["qas"]:
                for answer in qa["answers"]:
                    start = answer["answer_start"]
                    protected[start:start + len(answer["text"])] = b"\1" * len(answer["text"])
            yield (paragraph, None, *candidate_words(context, protected))
            for qa in paragraph["qas"]:
                yield (paragraph, qa, *candidate_words(qa["question"]))


def attack_dataset(dataset: dict, attack: str, *, swap_prob: float = DEFAULT_SWAP_PROB, seed: int = 1,
                   checkpoint: Optional[str] = None, dictionary: Optional[str] = None,
                   vectors: Optional[str] = None, wordnet_dir: Optional[str] = None,
                   space: Optional[object] = None, source: str = "dataset"):
    """A transformed copy of a parsed SQuAD v1.1 dataset, and counts of what changed.

    attack is "wordnet" or "embedding" (with checkpoint [+ dictionary] or vectors, or an
    already built space: a WordNet or EmbeddingSpace, reused across calls). The input dict
    is not modified."""
    check_options(attack, swap_prob, checkpoint, dictionary, vectors, space)
    questions = len(examples_from_dict(dataset, source))  # offsets are consistent from here on
    result = json.loads(json.dumps(dataset))
    texts = list(_texts(result))
    if space is None:
        space = synonym_source(attack, checkpoint, dictionary, vectors, wordnet_dir)
    table = space.replacements(list(dict.fromkeys(word.lower() for _, _, found, _ in texts for _, _, word in found)))

    rng = random.Random(seed)
    counts = {f"{kind}_words{what}": 0 for kind in ("context", "question") for what in ("", "_swappable", "_changed")}
    for paragraph, qa, found, total in texts:
        kind = "context" if qa is None else "question"
        swaps, swappable = choose_swaps(found, table, rng, swap_prob)
        counts[f"{kind}_words"] += total
        counts[f"{kind}_words_swappable"] += swappable
        counts[f"{kind}_words_changed"] += len(swaps)
        if not swaps:
            continue
        if qa is not None:
            qa["question"] = apply_swaps(qa["question"], swaps)[0]
            continue
        paragraph["context"], moved = apply_swaps(paragraph["context"], swaps)
        for other in paragraph["qas"]:
            for answer in other["answers"]:
                answer["answer_start"] = moved(answer["answer_start"])  # no swap overlaps an answer
                start = answer["answer_start"]
                if paragraph["context"][start:start + len(answer["text"])] != answer["text"]:
                    raise AssertionError(f"answer of {other['id']} moved: a bug in the attack")
    return result, {"attack": attack, "questions": questions, "swap_prob": swap_prob, "seed": seed, **counts}


def build_parser():
    parser = argparse.ArgumentParser(
        prog="ir-fairseq squad-attack", description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog="\n".join(__doc__.splitlines()[1:]),
    )
    parser.add_argument("dataset", help="SQuAD v1.1 JSON file (e.g. dev-v1.1.json)")
    parser.add_argument("output", help="where to write the transformed dataset (JSON, same layout)")
    parser.add_argument("--attack", required=True, choices=ATTACKS)
    parser.add_argument("--checkpoint", help="embedding: a fairseq checkpoint whose input embeddings to use")
    parser.add_argument("--dict", dest="dictionary", help="embedding: the checkpoint's dict.txt (default: next to it)")
    parser.add_argument("--vectors", help="embedding: word vectors, word2vec or GloVe text format")
    parser.add_argument("--swap-prob", type=float, default=DEFAULT_SWAP_PROB,
                        help=f"probability of swapping each word that has a synonym (default {DEFAULT_SWAP_PROB})")
    parser.add_argument("--seed", type=int, default=1)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    check_not_input(args.output, args.dataset)
    dataset = load_squad_dict(args.dataset)
    result, stats = attack_dataset(
        dataset, args.attack, swap_prob=args.swap_prob, seed=args.seed, checkpoint=args.checkpoint,
        dictionary=args.dictionary, vectors=args.vectors, source=args.dataset,
    )
    write_squad(result, args.output, input_path=args.dataset)
    print(
        f"attack {args.attack}: {stats['questions']} questions; changed {stats['context_words_changed']} of "
        f"{stats['context_words']} context words and {stats['question_words_changed']} of "
        f"{stats['question_words']} question words (swap probability {args.swap_prob}, seed {args.seed}) "
        f"-> {args.output}"
    )
