"""The SQuAD span head: start and end logits for every position of a RoBERTa-style encoder.

It lives in ``model.classification_heads`` like fairseq's sentence-level heads, so fairseq's
checkpoint saving, loading and ``RobertaModel.upgrade_state_dict_named`` handle it unchanged
(restoring a pre-trained checkpoint without the head keeps the head's fresh weights; a
fine-tuned checkpoint loads it back). That method reads the sizes of every head's
``dense.weight`` and ``out_proj.weight``, so the head has both:

- ``inner_dim = 0`` (default): BERT's SQuAD head, one linear map hidden -> (start, end).
  ``dense`` is then a placeholder without parameters whose ``weight`` buffer is empty
  (0 x hidden), so the state dict still tells fairseq the head's inner size (0);
- ``inner_dim > 0``: a hidden layer first (dense, activation, dropout), as in fairseq's
  sentence classification head but applied at every position.

Only RobertaModel's public interface is used (``classification_heads``, ``args`` and
``forward(..., classification_head_name=...)``), so subclasses such as ``ir_bert`` work too.
"""
import torch
import torch.nn as nn
from fairseq import utils
from fairseq.modules.transformer_sentence_encoder import init_bert_params

from ir_fairseq.common.errors import IRUserError

DEFAULT_HEAD_NAME = "squad_span_head"


class NoHiddenLayer(nn.Module):
    """Stands in for ``dense`` when the head has no hidden layer: an empty ``weight`` buffer."""

    def __init__(self, in_features):
        super().__init__()
        self.in_features = in_features
        self.out_features = 0
        self.register_buffer("weight", torch.empty(0, in_features))

    def forward(self, x):
        return x


class SpanHead(nn.Module):
    def __init__(self, input_dim, inner_dim=0, activation_fn="gelu", dropout=0.0):
        super().__init__()
        if inner_dim > 0:
            self.dense = nn.Linear(input_dim, inner_dim)
            self.activation_fn = utils.get_activation_fn(activation_fn)
        else:
            self.dense = NoHiddenLayer(input_dim)
            self.activation_fn = None
        self.dropout = nn.Dropout(p=dropout)
        self.out_proj = nn.Linear(inner_dim if inner_dim > 0 else input_dim, 2)
        self.apply(init_bert_params)  # N(0, 0.02) weights, zero biases, as BERT's head

    def forward(self, features, **kwargs):
        x = features
        if self.activation_fn is not None:  # BERT's head (no hidden layer) has no dropout of its own
            x = self.dropout(self.activation_fn(self.dense(self.dropout(x))))
        return self.out_proj(x)


def register_span_head(model, name=DEFAULT_HEAD_NAME, inner_dim=0, activation_fn="gelu", dropout=0.0):
    heads = getattr(model, "classification_heads", None)
    if not isinstance(heads, nn.ModuleDict):
        raise IRUserError(f"the span head needs a RoBERTa-style model (with classification heads), "
                          f"not {type(model).__name__}")
    heads[name] = SpanHead(model.args.encoder_embed_dim, inner_dim, activation_fn, dropout)
    return heads[name]


def has_span_head(state_dict, name=DEFAULT_HEAD_NAME):
    prefix = f"classification_heads.{name}."
    weight = state_dict.get(prefix + "out_proj.weight")
    return weight is not None and weight.size(0) == 2


def span_logits(model, src_tokens, padding_idx, head_name=DEFAULT_HEAD_NAME):
    """Start and end logits (batch x length, float32); padding positions are -inf."""
    logits, _ = model(src_tokens, features_only=True, classification_head_name=head_name)
    logits = logits.float().masked_fill(src_tokens.eq(padding_idx).unsqueeze(-1), float("-inf"))
    return logits[..., 0], logits[..., 1]
