"""``ir-fairseq COMMAND [ARGS]`` (or ``python -m ir_fairseq COMMAND``): every tool of the project.

One entry point, one convention: each command is the ``main(argv)`` of one module, and a
mistake in the user's input (``IRUserError``) ends the command with one line
``ir_fairseq: error: ...`` and exit status 1, here and nowhere else. Training itself is
fairseq's own ``fairseq-train --user-dir ir_fairseq``.

Starting fast: the recipes call cheap commands (``glue-task``, ``spm``, ...) many times, and
importing torch and fairseq costs seconds. So while this command line starts, the package does
not install the plugin (``ir_fairseq/__init__.py``), and no command's module imports torch or
fairseq when it is imported. This module is the one place that decides what a command gets: a
command in ``NEEDS_PLUGIN`` (it reads fairseq checkpoints, which takes compat's torch.load
allow-list, or has fairseq build the plugin's tasks and models) first parses its arguments with
its module's ``build_parser()``, so that ``--help`` and argument errors answer without torch,
then gets ``ir_fairseq.register()``, then runs. The others never need the plugin: most import
neither torch nor fairseq, a few use fairseq's dictionary and binary files (``check-data``,
``glue-prepare``) or torch alone (``glue-task TASK recipe`` asks it for CUDA).
"""
import importlib
import sys

from ir_fairseq.common.errors import IRUserError

# command -> (module with main(argv), one-line summary)
COMMANDS = {
    "tokenize": ("ir_fairseq.common.model_folder", "tokenise text with a model folder's tokenizer"),
    "model-flags": ("ir_fairseq.common.checkpoints", "fairseq-train flags of a checkpoint's architecture"),
    "spm": ("ir_fairseq.pretraining.spm", "train a sentencepiece model / encode text with it"),
    "synthetic-data": ("ir_fairseq.pretraining.synthetic", "write the generated demo corpus, review task and SQuAD-format questions"),
    "prepare-corpus": ("ir_fairseq.pretraining.corpus", "WikiExtractor or plain text -> documents, validation split, shards"),
    "check-data": ("ir_fairseq.data.indexed_files", "check binarized .idx/.bin pairs against their dict.txt, cheaply"),
    "evaluate": ("ir_fairseq.pretraining.evaluate", "held-out MLM loss, ECP, DPP and hidden-softmax entropy of a checkpoint"),
    "glue-task": ("ir_fairseq.glue.tasks", "a GLUE task's facts for the recipes (classes, defaults, metric flags, score)"),
    "glue-prepare": ("ir_fairseq.glue.prepare", "tokenise a GLUE task for fairseq's sentence_prediction"),
    "glue-predict": ("ir_fairseq.glue.predict", "dev metrics, dev predictions and test submission files"),
    "glue-report": ("ir_fairseq.glue.report", "Table-1 layout of fine-tuning results"),
    "squad-prepare": ("ir_fairseq.squad.prepare", "SQuAD v1.1 JSON -> binarised squad_span data"),
    "squad-predict": ("ir_fairseq.squad.predict", "answers of a fine-tuned squad_span checkpoint"),
    "squad-evaluate": ("ir_fairseq.squad.metric", "official SQuAD v1.1 exact match and F1"),
    "squad-attack": ("ir_fairseq.squad.attack", "synonym-swap attack on a SQuAD v1.1 file"),
    "squad-robustness": ("ir_fairseq.squad.robustness", "Table-6 layout: SQuAD scores under both attacks"),
    "convert-hf-to-fairseq": ("ir_fairseq.convert.hf_to_fairseq", "local HF BERT/ELECTRA folder -> fairseq model folder"),
    "convert-fairseq-to-hf": ("ir_fairseq.convert.fairseq_to_hf", "pre-training checkpoint -> HF masked-LM folder"),
}
# the commands that run with the plugin installed; their modules also have build_parser()
NEEDS_PLUGIN = {"model-flags", "evaluate", "glue-predict", "squad-prepare", "squad-predict", "squad-attack",
                "squad-robustness", "convert-hf-to-fairseq", "convert-fairseq-to-hf"}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: ir-fairseq COMMAND [ARGS]   (COMMAND --help for its arguments)", "", "commands:"]
    lines += [f"  {name:<{width}}  {summary}" for name, (_, summary) in COMMANDS.items()]
    return "\n".join(lines)


def run(command: str, argv) -> int:
    module_name, _ = COMMANDS[command]
    argv = list(argv)
    try:
        module = importlib.import_module(module_name)
        if command in NEEDS_PLUGIN:
            module.build_parser().parse_args(argv)  # --help and argument errors exit here
            import ir_fairseq

            ir_fairseq.register()
        module.main(argv)
    except IRUserError as e:
        print(f"ir_fairseq: error: {e}", file=sys.stderr)
        return 1
    return 0


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        sys.exit(0 if argv else 2)
    if argv[0] not in COMMANDS:
        print(f"ir_fairseq: error: unknown command {argv[0]!r}\n\n{usage()}", file=sys.stderr)
        sys.exit(2)
    sys.exit(run(argv[0], argv[1:]))
