"""Registered tasks: ``masked_lm_ir`` (pre-training), ``sentence_prediction_ir`` (GLUE) and
``squad_span`` (SQuAD fine-tuning)."""
from ir_fairseq.tasks import masked_lm_ir, sentence_prediction_ir, squad_span  # noqa: F401
