"""Which HuggingFace BERT tensor is which fairseq ``ir_bert`` tensor (both directions use it).

Token embeddings, positions and the MLM output bias are not a plain rename (vocabulary order,
position offset, folded segment embedding) and are handled by the converters themselves.
"""
ENCODER = "encoder.sentence_encoder."
LM_HEAD = "encoder.lm_head."

EMBEDDING_RENAMES = {
    "embeddings.LayerNorm.weight": ENCODER + "layernorm_embedding.weight",
    "embeddings.LayerNorm.bias": ENCODER + "layernorm_embedding.bias",
    "embeddings_project.weight": ENCODER + "embedding_projection.weight",
    "embeddings_project.bias": ENCODER + "embedding_projection.bias",
}
LAYER_RENAMES = {
    "attention.self.query": "self_attn.q_proj",
    "attention.self.key": "self_attn.k_proj",
    "attention.self.value": "self_attn.v_proj",
    "attention.output.dense": "self_attn.out_proj",
    "attention.output.LayerNorm": "self_attn_layer_norm",
    "intermediate.dense": "fc1",
    "output.dense": "fc2",
    "output.LayerNorm": "final_layer_norm",
}
MLM_HEAD_RENAMES = {
    "cls.predictions.transform.dense.weight": LM_HEAD + "dense.weight",
    "cls.predictions.transform.dense.bias": LM_HEAD + "dense.bias",
    "cls.predictions.transform.LayerNorm.weight": LM_HEAD + "layer_norm.weight",
    "cls.predictions.transform.LayerNorm.bias": LM_HEAD + "layer_norm.bias",
}


# RoBERTa's MLM head names -> BERT's, under which the converters handle it
ROBERTA_HEAD_NAMES = {"lm_head.dense.": "cls.predictions.transform.dense.",
                      "lm_head.layer_norm.": "cls.predictions.transform.LayerNorm.",
                      "lm_head.decoder.": "cls.predictions.decoder.", "lm_head.bias": "cls.predictions.bias"}


def renames(num_layers: int):
    """HF name -> fairseq name for every renamed tensor of a ``num_layers`` encoder."""
    table = dict(EMBEDDING_RENAMES)
    for i in range(num_layers):
        for hf, fs in LAYER_RENAMES.items():
            for kind in ("weight", "bias"):
                table[f"encoder.layer.{i}.{hf}.{kind}"] = f"{ENCODER}layers.{i}.{fs}.{kind}"
    table.update(MLM_HEAD_RENAMES)
    return table
