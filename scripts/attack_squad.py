"""Synonym-swap attacks on a SQuAD v1.1 file (see ir_fairseq/squad/attack.py).

    python scripts/attack_squad.py dev-v1.1.json OUT.json --attack wordnet|embedding
        [--checkpoint C [--dict D] | --vectors FILE] [--swap-prob 0.5] [--seed 1]
"""
import importlib.util
import os
import sys

if importlib.util.find_spec("ir_fairseq") is None:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ir_fairseq.squad.attack import main  # noqa: E402

if __name__ == "__main__":
    main()
