#!/usr/bin/env python
"""fairseq pre-training checkpoint -> HF BertForMaskedLM folder; see ir_fairseq/convert/fairseq_to_hf.py."""
import ir_fairseq  # noqa: F401  (registers ir_bert, masked_lm_ir, ir_wordpiece)
from ir_fairseq.convert.fairseq_to_hf import main

if __name__ == "__main__":
    main()
