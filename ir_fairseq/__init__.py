"""ir_fairseq: Instance Regularization (Zhang et al., EMNLP 2022) as a fairseq plugin.

Use with ``fairseq-train --user-dir ir_fairseq --task masked_lm_ir --criterion instance_reg``.
Importing the package patches what it must in fairseq and torch (``compat``), makes an
uncaught ``IRUserError`` one line, and registers everything once: each of ``data``,
``models``, ``tasks`` and ``criterions`` registers its own modules.
"""
from ir_fairseq import compat
from ir_fairseq.common.errors import IRUserError, install_excepthook

compat.install()
install_excepthook()

from ir_fairseq import criterions, data, models, tasks  # noqa: E402,F401  (registrations)

__all__ = ["IRUserError"]
