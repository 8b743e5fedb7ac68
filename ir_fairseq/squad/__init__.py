"""SQuAD v1.1: reading and writing the official JSON files, the official EM/F1 metric, and
synonym-swap attacks on the dev set (TextFlint's SwapSynWordNet and SwapSynWordEmbedding)."""
