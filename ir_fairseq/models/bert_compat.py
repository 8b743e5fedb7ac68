"""``ir_bert``: fairseq's RoBERTa encoder made able to hold BERT and ELECTRA weights exactly.

fairseq's RoBERTa is BERT's architecture (post-LN, learned positions, embedding LayerNorm,
tied MLM head) with two hard-wired differences that change hidden states of converted
checkpoints by far more than 1e-4:

- LayerNorm epsilon is fixed at 1e-5; BERT and ELECTRA use 1e-12 (``--layer-norm-eps``).
- the token embedding width is the hidden width; ELECTRA-small embeds in 128 dimensions and
  projects to the hidden size after the embedding LayerNorm (``--embedding-size``). Its MLM
  head then maps hidden states back to the embedding width before the tied output
  projection, as ELECTRA's generator head does.

Segment (token-type) embeddings have no place in fairseq's encoder: the converter folds the
type-0 row into the position table, which is exact for every single-segment input fairseq
feeds (masked LM, sentence_prediction, SQuAD all use type 0 only).
Everything else is RobertaModel, so fairseq's tasks, hub interface and classification heads
work unchanged.
"""
import torch.nn as nn
from fairseq.models import register_model, register_model_architecture
from fairseq.models.roberta.model import (
    RobertaEncoder,
    RobertaLMHead,
    RobertaModel,
    base_architecture,
)
from fairseq.models.transformer import TransformerEncoder
from fairseq.utils import safe_getattr, safe_hasattr

from ir_fairseq.common.errors import IRUserError


class ProjectedEmbeddingTransformerEncoder(TransformerEncoder):
    """Embeds at ``embedding_size``, normalises, drops out, then projects to the hidden size."""

    def __init__(self, args, dictionary, embed_tokens):
        super().__init__(args, dictionary, embed_tokens)
        self.embedding_projection = nn.Linear(embed_tokens.embedding_dim, args.encoder_embed_dim)

    def forward_embedding(self, src_tokens, token_embedding=None):
        x, embed = super().forward_embedding(src_tokens, token_embedding)
        return self.embedding_projection(x), embed


class NarrowEmbeddingLMHead(RobertaLMHead):
    """RoBERTa's MLM head for embeddings narrower than the hidden states (ELECTRA-style)."""

    def __init__(self, hidden_dim, embedding_dim, output_dim, activation_fn, weight=None):
        super().__init__(embedding_dim, output_dim, activation_fn, weight)
        self.dense = nn.Linear(hidden_dim, embedding_dim)


class BertCompatibleEncoder(RobertaEncoder):
    def __init__(self, args, dictionary):
        super().__init__(args, dictionary)
        for module in self.modules():
            if hasattr(module, "normalized_shape"):  # torch's LayerNorm and apex's fused one
                module.eps = args.layer_norm_eps

    def _projects_embeddings(self):
        return self.args.embedding_size != self.args.encoder_embed_dim

    def build_embedding(self, vocab_size, embedding_dim, padding_idx):
        return nn.Embedding(vocab_size, self.args.embedding_size, padding_idx)

    def build_encoder(self, args, dictionary, embed_tokens):
        if not self._projects_embeddings():
            return super().build_encoder(args, dictionary, embed_tokens)
        from fairseq.modules.transformer_sentence_encoder import init_bert_params

        encoder = ProjectedEmbeddingTransformerEncoder(args, dictionary, embed_tokens)
        encoder.apply(init_bert_params)
        return encoder

    def build_lm_head(self, embed_dim, output_dim, activation_fn, weight):
        if not self._projects_embeddings():
            return super().build_lm_head(embed_dim, output_dim, activation_fn, weight)
        return NarrowEmbeddingLMHead(embed_dim, self.args.embedding_size, output_dim,
                                     activation_fn, weight)


@register_model("ir_bert")
class BertCompatibleModel(RobertaModel):
    @staticmethod
    def add_args(parser):
        RobertaModel.add_args(parser)
        parser.add_argument("--layer-norm-eps", type=float, metavar="EPS",
                            help="epsilon of every LayerNorm (BERT/ELECTRA: 1e-12; fairseq: 1e-5)")
        parser.add_argument("--embedding-size", type=int, metavar="D",
                            help="token embedding width; if it differs from --encoder-embed-dim "
                            "the embeddings are projected to it (ELECTRA-small: 128)")

    @classmethod
    def build_model(cls, args, task):
        from omegaconf import OmegaConf

        if OmegaConf.is_config(args):
            OmegaConf.set_struct(args, False)
        ir_bert_architecture(args)
        if not safe_hasattr(args, "max_positions"):
            args.max_positions = safe_getattr(args, "tokens_per_sample", None) or task.max_positions()
        if args.untie_weights_roberta and args.embedding_size != args.encoder_embed_dim:
            raise IRUserError("--untie-weights-roberta is not supported with --embedding-size "
                              "different from --encoder-embed-dim")
        encoder = BertCompatibleEncoder(args, task.source_dictionary)
        if OmegaConf.is_config(args):
            OmegaConf.set_struct(args, True)
        return cls(args, encoder)


@register_model_architecture("ir_bert", "ir_bert")
def ir_bert_architecture(args):
    args.layer_norm_eps = safe_getattr(args, "layer_norm_eps", 1e-12)
    base_architecture(args)
    args.embedding_size = safe_getattr(args, "embedding_size", None) or args.encoder_embed_dim
