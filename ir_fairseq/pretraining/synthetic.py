"""Generate the small embedded demo data: a synthetic corpus, a sentiment task and SQuAD-format questions.

Everything is produced here from a tiny grammar with a fixed seed, so the demo and the tests
need no downloaded or copied text. The corpus has documents (blank-line separated) of
paragraphs, one per line; the classification task labels short reviews positive/negative
from the polarity of their adjectives and negations, which a pre-trained encoder has to read;
the questions ask for the subject, object or place of one sentence of a short paragraph, and
their answers are that sentence's words (``answer_start`` is their character offset).

    ir-fairseq synthetic-data OUT_DIR [--docs 400] [--reviews 1200] [--seed 1]

writes OUT_DIR/train.txt, OUT_DIR/valid.txt (pre-training), the review task in GLUE's SST-2
layout, OUT_DIR/glue/SST-2/{train,dev,test}.tsv (test unlabelled), for scripts/preprocess_glue.sh,
and OUT_DIR/squad/{train,dev}-v1.1.json in SQuAD v1.1's layout (one answer per training
question, two or three per dev question, as in the official files), for scripts/preprocess_squad.sh.
"""
import argparse
import json
import os
import random

from ir_fairseq.common.files import atomic_output

NAMES = ["Alice", "Bruno", "Chen", "Dara", "Emil", "Farah", "Goran", "Hana", "Ines", "Jonas"]
NOUNS = ["river", "village", "teacher", "farmer", "engine", "garden", "library", "harbor",
         "market", "bridge", "doctor", "painter", "forest", "castle", "student", "orchard",
         "merchant", "valley", "window", "letter", "storm", "kitchen", "soldier", "island"]
VERBS = [("builds", "built"), ("visits", "visited"), ("paints", "painted"),
         ("repairs", "repaired"), ("watches", "watched"), ("describes", "described"),
         ("follows", "followed"), ("protects", "protected"), ("crosses", "crossed"),
         ("studies", "studied"), ("opens", "opened"), ("remembers", "remembered")]
ADJECTIVES = ["old", "quiet", "narrow", "bright", "distant", "small", "ancient", "busy",
              "green", "cold", "famous", "hidden", "northern", "wooden", "broad", "early"]
PLACES = ["near the coast", "in the north", "after the war", "during the winter",
          "before the festival", "across the valley", "in the old town", "by the river"]
CONNECTIVES = ["Later", "Meanwhile", "In the spring", "According to the records", "Years later",
               "At first", "Soon after", "By then"]
POSITIVE = ["wonderful", "charming", "delightful", "brilliant", "moving", "excellent", "clever"]
NEGATIVE = ["boring", "dreadful", "clumsy", "tedious", "awful", "shallow", "confusing"]
SUBJECTS = ["the film", "the story", "the acting", "the ending", "the music", "the book",
            "the script", "the performance"]


def noun_phrase(rng):
    adjective = rng.choice(ADJECTIVES) + " " if rng.random() < 0.5 else ""
    return f"the {adjective}{rng.choice(NOUNS)}"


def sentence(rng):
    subject = rng.choice(NAMES) if rng.random() < 0.4 else noun_phrase(rng)
    present, past = rng.choice(VERBS)
    verb = past if rng.random() < 0.6 else present
    text = f"{subject} {verb} {noun_phrase(rng)}"
    if rng.random() < 0.5:
        text += " " + rng.choice(PLACES)
    if rng.random() < 0.3:
        text += f" because {noun_phrase(rng)} {rng.choice(VERBS)[1]} {noun_phrase(rng)}"
    if rng.random() < 0.25:
        text = rng.choice(CONNECTIVES) + ", " + text
    return text[0].upper() + text[1:] + "."


def document(rng):
    paragraphs = []
    for _ in range(rng.randint(2, 5)):
        paragraphs.append(" ".join(sentence(rng) for _ in range(rng.randint(2, 6))))
    return paragraphs


def review(rng):
    """A short review and its label: 1 positive, 0 negative."""
    polarity = rng.random() < 0.5
    negated = rng.random() < 0.35
    adjective = rng.choice(POSITIVE if polarity else NEGATIVE)
    clause = f"{rng.choice(SUBJECTS)} was {'not ' if negated else ''}{adjective}"
    if rng.random() < 0.5:
        clause = f"{sentence(rng)[:-1]} and {clause}"
    label = int(polarity != negated)
    return clause[0].upper() + clause[1:] + ".", label


def write_lines(path, lines):
    with open(path, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(line + "\n")


def generate(out_dir, docs=400, reviews=1200, seed=1):
    rng = random.Random(seed)
    task_dir = os.path.join(out_dir, "glue", "SST-2")
    os.makedirs(task_dir, exist_ok=True)
    documents = [document(rng) for _ in range(docs)]
    n_valid = max(1, docs // 20)
    for name, part in (("valid.txt", documents[:n_valid]), ("train.txt", documents[n_valid:])):
        lines = []
        for paragraphs in part:
            lines.extend(paragraphs)
            lines.append("")  # document boundary, as fairseq-preprocess expects
        write_lines(os.path.join(out_dir, name), lines)
    examples = [review(rng) for _ in range(reviews)]
    n_held_out = reviews // 5
    dev, test, train = (examples[:n_held_out], examples[n_held_out:2 * n_held_out],
                        examples[2 * n_held_out:])
    for name, part in (("dev.tsv", dev), ("train.tsv", train)):
        write_lines(os.path.join(task_dir, name),
                    ["sentence\tlabel"] + [f"{text}\t{label}" for text, label in part])
    write_lines(os.path.join(task_dir, "test.tsv"),
                ["index\tsentence"] + [f"{i}\t{text}" for i, (text, _) in enumerate(test)])


SQUAD_FILES = {"train": "train-v1.1.json", "dev": "dev-v1.1.json"}
SQUAD_PARAGRAPHS = {"train": 240, "dev": 60}
PARAGRAPHS_PER_ARTICLE = 6
TIME_PREPOSITIONS = ("after", "during", "before")


def base_form(present):
    """builds -> build, studies -> study, watches -> watch, crosses -> cross."""
    if present.endswith("ies"):
        return present[:-3] + "y"
    if present.endswith(("ches", "shes", "sses")):
        return present[:-2]
    return present[:-1]


def squad_sentence(rng, at):
    """A sentence starting at character `at` of its paragraph, and (question, answer text,
    answer offset, shorter answer or None) for each of its subject, object and place."""
    name = rng.random() < 0.5
    subject = rng.choice(NAMES) if name else noun_phrase(rng)
    present, past = rng.choice(VERBS)
    obj = noun_phrase(rng)
    place = rng.choice(PLACES) if rng.random() < 0.6 else None
    prefix = rng.choice(CONNECTIVES) + ", " if rng.random() < 0.25 else ""
    shown = subject if prefix else subject[0].upper() + subject[1:]
    text = f"{prefix}{shown} {past} {obj}" + (f" {place}" if place else "") + "."
    subject_at = at + len(prefix)
    object_at = subject_at + len(shown) + len(past) + 2
    questions = [(f"{'Who' if name else 'What'} {past} {obj}?", shown, subject_at,
                  None if name else (shown[4:], subject_at + 4)),
                 (f"What did {subject} {base_form(present)}?", obj, object_at, (obj[4:], object_at + 4))]
    if place:
        word, rest = place.split(" ", 1)
        asks = "When" if word in TIME_PREPOSITIONS else "Where"
        place_at = object_at + len(obj) + 1
        questions.append((f"{asks} did {subject} {base_form(present)} {obj}?", place, place_at,
                          (rest, place_at + len(word) + 1)))
    return text, questions


def squad_paragraph(rng, split, next_id):
    sentences, candidates, at = [], [], 0
    for _ in range(rng.randint(3, 5)):
        text, questions = squad_sentence(rng, at)
        sentences.append(text)
        candidates.append(questions)
        at += len(text) + 1
    qas = []
    for questions in rng.sample(candidates, rng.randint(1, 2) if split == "train" else rng.randint(2, 3)):
        question, answer, start, shorter = rng.choice(questions)
        answers = [{"answer_start": start, "text": answer}]
        if split != "train":  # several annotators: the same span again, or a shorter one
            alternative = shorter if shorter and rng.random() < 0.7 else (answer, start)
            answers.append({"answer_start": alternative[1], "text": alternative[0]})
            if rng.random() < 0.5:
                answers.append({"answer_start": start, "text": answer})
        qas.append({"answers": answers, "question": question, "id": f"synthetic-{split}-{next_id + len(qas):05d}"})
    return {"context": " ".join(sentences), "qas": qas}


def generate_squad(out_dir, paragraphs=None, seed=1):
    """OUT_DIR/train-v1.1.json and dev-v1.1.json; their own random stream, so the corpus and
    review task of the same seed do not change."""
    rng = random.Random(f"squad:{seed}")
    os.makedirs(out_dir, exist_ok=True)
    for split, count in {**SQUAD_PARAGRAPHS, **(paragraphs or {})}.items():
        articles, questions = [], 0
        for k in range(count):
            if k % PARAGRAPHS_PER_ARTICLE == 0:
                articles.append({"title": f"{rng.choice(NOUNS).capitalize()}_{len(articles) + 1}", "paragraphs": []})
            paragraph = squad_paragraph(rng, split, questions)
            questions += len(paragraph["qas"])
            articles[-1]["paragraphs"].append(paragraph)
        with atomic_output(os.path.join(out_dir, SQUAD_FILES[split])) as f:
            json.dump({"data": articles, "version": "1.1"}, f)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="ir-fairseq synthetic-data", description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--docs", type=int, default=400)
    parser.add_argument("--reviews", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    generate(args.out_dir, args.docs, args.reviews, args.seed)
    generate_squad(os.path.join(args.out_dir, "squad"), seed=args.seed)
