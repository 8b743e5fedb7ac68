"""fairseq-preprocess run inside the calling process.

A recipe that binarises several inputs used to start ``python -m fairseq_cli.preprocess`` for
each, paying the torch + fairseq import (seconds) every time. Calling fairseq-preprocess's own
``main`` here writes the same ``.bin``/``.idx`` files for one import. Its log goes to a file of
the caller's choice, as the recipes' redirections did, so the console shows only the recipe.
"""
import logging

LOG_FORMAT = "%(asctime)s | %(levelname)s | %(name)s | %(message)s"


def fairseq_preprocess(argv, log_path: str) -> None:
    """``fairseq-preprocess ARGV``, logging to ``log_path``."""
    from fairseq import options
    from fairseq_cli import preprocess

    args = options.get_preprocessing_parser().parse_args(list(argv))
    logger = preprocess.logger
    handlers_before, propagate_before = list(logger.handlers), logger.propagate
    to_file = logging.FileHandler(log_path, encoding="utf-8")
    to_file.setFormatter(logging.Formatter(LOG_FORMAT))
    logger.addHandler(to_file)
    logger.propagate = False
    try:
        preprocess.main(args)
    finally:
        # fairseq's main adds a handler of its own on every call: a later call in this process
        # must not write into this destination's log
        for handler in [h for h in logger.handlers if h not in handlers_before]:
            logger.removeHandler(handler)
            handler.close()
        logger.propagate = propagate_before
