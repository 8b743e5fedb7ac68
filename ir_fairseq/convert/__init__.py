"""Conversion between HuggingFace BERT/ELECTRA folders and fairseq checkpoints (``ir_bert``)."""
