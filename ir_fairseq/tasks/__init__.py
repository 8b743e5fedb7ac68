"""Registered tasks: ``masked_lm_ir`` (pre-training) and ``squad_span`` (SQuAD fine-tuning)."""
from ir_fairseq.tasks import masked_lm_ir, squad_span  # noqa: F401
