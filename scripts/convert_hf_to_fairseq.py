#!/usr/bin/env python
"""HF BERT/ELECTRA folder -> fairseq checkpoint folder; see ir_fairseq/convert/hf_to_fairseq.py."""
import ir_fairseq  # noqa: F401  (registers ir_bert, masked_lm_ir, ir_wordpiece)
from ir_fairseq.convert.hf_to_fairseq import main

if __name__ == "__main__":
    main()
