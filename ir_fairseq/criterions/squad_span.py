"""``squad_span``: cross-entropy of the answer's start and end positions, averaged.

Per feature (one window of one question) the loss is (CE(start) + CE(end)) / 2 over the
window's positions (padding excluded); ``sample_size`` is the number of features, so after
fairseq divides by it one batch optimises the mean over its features, the standard BERT
SQuAD objective. Logged (summable across workers and ``--update-freq`` steps): ``loss`` in
base 2 like fairseq's ``sentence_prediction``, and ``start_acc``, ``end_acc``, ``span_acc``
(both right), in percent of features, argmax over all positions (a window without the answer
counts as right when it predicts ``<s>``).
"""
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from fairseq import metrics
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.dataclass import FairseqDataclass

from ir_fairseq.models.span_head import DEFAULT_HEAD_NAME, span_logits


@dataclass
class SquadSpanCriterionConfig(FairseqDataclass):
    pass


@register_criterion("squad_span", dataclass=SquadSpanCriterionConfig)
class SquadSpanCriterion(FairseqCriterion):
    def __init__(self, task):
        super().__init__(task)
        self.head_name = getattr(getattr(task, "cfg", None), "span_head_name", DEFAULT_HEAD_NAME)

    def forward(self, model, sample, reduce=True):
        src_tokens = sample["net_input"]["src_tokens"]
        start_logits, end_logits = span_logits(model, src_tokens, self.padding_idx, self.head_name)
        target = sample["target"].to(src_tokens.device)
        starts, ends = target[:, 0], target[:, 1]
        reduction = "sum" if reduce else "none"
        loss = 0.5 * (F.cross_entropy(start_logits, starts, reduction=reduction)
                      + F.cross_entropy(end_logits, ends, reduction=reduction))
        with torch.no_grad():
            start_right = start_logits.argmax(-1).eq(starts)
            end_right = end_logits.argmax(-1).eq(ends)
        sample_size = src_tokens.size(0)
        logging_output = {
            "loss": loss.data,
            "ntokens": sample["ntokens"],
            "nsentences": sample_size,
            "sample_size": sample_size,
            "start_correct": start_right.sum().item(),
            "end_correct": end_right.sum().item(),
            "span_correct": (start_right & end_right).sum().item(),
        }
        return loss, sample_size, logging_output

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        def total(key):
            return sum(log.get(key, 0) for log in logging_outputs)

        loss_sum, sample_size = total("loss"), total("sample_size")
        if sample_size == 0:
            return
        metrics.log_scalar("loss", loss_sum / sample_size / math.log(2), sample_size, round=3)
        nsentences = total("nsentences")
        if nsentences:
            for name in ("start", "end", "span"):
                metrics.log_scalar(f"{name}_acc", 100.0 * total(f"{name}_correct") / nsentences,
                                   nsentences, round=1)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True
