"""User-facing errors: one clear line on the command line, an ordinary exception in Python.

fairseq-train prints a full traceback for any exception. For mistakes in the user's input
(a missing data directory, an impossible option) that buries the one line that matters, so
the plugin chains ``sys.excepthook``: an uncaught ``IRUserError`` prints
``ir_fairseq: error: <message>`` and the process exits with status 1. Anything else keeps
its traceback, and code that calls the plugin from Python can catch ``IRUserError``.
"""
import sys


class IRUserError(ValueError):
    """A problem with the user's data, options or files, explained in one line."""


def _print_user_errors(previous_hook):
    def hook(exc_type, exc, tb):
        if issubclass(exc_type, IRUserError):
            print(f"ir_fairseq: error: {exc}", file=sys.stderr)
            return
        previous_hook(exc_type, exc, tb)

    hook._ir_fairseq = True
    return hook


def install_excepthook():
    if not getattr(sys.excepthook, "_ir_fairseq", False):
        sys.excepthook = _print_user_errors(sys.excepthook)
