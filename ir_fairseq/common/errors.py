"""User-facing errors: one clear line on the command line, an ordinary exception in Python.

fairseq-train prints a full traceback for any exception. For mistakes in the user's input
(a missing data directory, an impossible option) that buries the one line that matters, so
the plugin chains ``sys.excepthook``: an uncaught ``IRUserError`` prints
``ir_fairseq: error: <message>`` and the process exits with status 1. Anything else keeps
its traceback, and code that calls the plugin from Python can catch ``IRUserError``.

fairseq-hydra-train runs the job inside Hydra's own error report, which catches every
``Exception`` (the hook never sees it) and prints a traceback: the plugin's task methods are
wrapped with ``one_line_under_hydra`` so that there too a user's mistake is that one line.
"""
import functools
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


def _hydra_job_running() -> bool:
    try:
        from hydra.core.hydra_config import HydraConfig
    except ImportError:
        return False
    return HydraConfig.initialized()


def one_line_under_hydra(method):
    """``method`` (a function or classmethod) with an ``IRUserError`` raised inside a Hydra job
    printed as one line and turned into exit status 1: ``SystemExit`` is not an ``Exception``,
    so Hydra's report lets it through. Outside Hydra the error propagates unchanged."""
    if isinstance(method, classmethod):
        return classmethod(one_line_under_hydra(method.__func__))

    @functools.wraps(method)
    def reporting(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except IRUserError as e:
            if not _hydra_job_running():
                raise
            print(f"ir_fairseq: error: {e}", file=sys.stderr, flush=True)
            raise SystemExit(1) from None

    return reporting
