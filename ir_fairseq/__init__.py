"""ir_fairseq: Instance Regularization (Zhang et al., EMNLP 2022) as a fairseq plugin.

Use with ``fairseq-train --user-dir ir_fairseq --task masked_lm_ir --criterion instance_reg``.
Importing the package makes an uncaught ``IRUserError`` one line and installs the plugin
(``register``): it patches what it must in fairseq and torch (``compat``) and registers
everything once: each of ``models``, ``tasks`` and ``criterions`` registers its own modules,
``data`` its two BPEs. So fairseq's ``--user-dir`` (and Hydra's ``common.user_dir``) and a
plain ``import ir_fairseq`` get the whole plugin.

The one exception is the ``ir-fairseq`` command line, which the recipes call for cheap facts
many times: importing torch and fairseq costs seconds, so while it starts the package only
installs the excepthook, and the command line (``cli``) calls ``register`` before the commands
that need the plugin.
"""
import os
import sys

from ir_fairseq.common.errors import IRUserError, install_excepthook

__all__ = ["IRUserError", "register"]


def register() -> None:
    """Install the plugin into fairseq and torch: ``compat``'s patches (torch.load's allow-list,
    atomic checkpoint copies), then the registered tasks, criterions, models and BPEs. Calling it
    again does nothing new (the patches are idempotent, each module registers when imported)."""
    from ir_fairseq import compat

    compat.install()
    from ir_fairseq import criterions, models, tasks  # noqa: F401  (registrations)
    from ir_fairseq.data import word_starts, wordpiece_bpe  # noqa: F401  (registered BPEs)


def _starting_the_command_line() -> bool:
    """Whether Python is starting ``ir-fairseq`` right now: ``python -m ir_fairseq`` imports the
    package while ``sys.argv[0]`` is ``"-m"`` (Python's placeholder while it locates the module,
    whose name is then the word of the original command line just before the command's own
    arguments); the console script is named ``ir-fairseq``."""
    argv = getattr(sys, "argv", None) or [""]
    if argv[0] == "-m":
        original = getattr(sys, "orig_argv", [])
        word = original[-len(argv)] if len(original) >= len(argv) else ""
        return word == __name__ or (word.startswith("-") and word.endswith("m" + __name__))
    return os.path.splitext(os.path.basename(argv[0]))[0] == "ir-fairseq"


install_excepthook()
if not _starting_the_command_line():
    register()
