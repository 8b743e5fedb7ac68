"""Registered criterions: ``instance_reg`` (MLM + ECP + DPP) and ``squad_span``."""
from ir_fairseq.criterions import instance_reg, squad_span  # noqa: F401
