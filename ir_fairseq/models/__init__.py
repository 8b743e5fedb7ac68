"""Registered models: ``ir_bert`` (fairseq RoBERTa with BERT/ELECTRA options) and the span head."""
from ir_fairseq.models import bert_compat, span_head  # noqa: F401
