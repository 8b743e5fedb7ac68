"""ir_fairseq: Instance Regularization (Zhang et al., EMNLP 2022) as a fairseq plugin.

Use with ``fairseq-train --user-dir ir_fairseq --task masked_lm_ir --criterion instance_reg``.
fairseq imports a user dir's ``tasks/`` and ``models/`` by itself but not ``criterions/``,
so everything is registered here, once, on import.
"""
from ir_fairseq.atomic_copies import make_checkpoint_copies_atomic
from ir_fairseq.checkpoint_loading import allow_fairseq_checkpoints
from ir_fairseq.errors import IRUserError, install_excepthook

allow_fairseq_checkpoints()
make_checkpoint_copies_atomic()
install_excepthook()

from ir_fairseq.data import word_starts, wordpiece_bpe  # noqa: E402,F401  (register bpes)
from ir_fairseq.models import bert_compat  # noqa: E402,F401
from ir_fairseq.tasks import masked_lm_ir  # noqa: E402,F401
from ir_fairseq.criterions import instance_reg  # noqa: E402,F401
from ir_fairseq.tasks import squad_span  # noqa: E402,F401  (task, criterion and span head)

__all__ = ["IRUserError"]
