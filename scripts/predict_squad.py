"""Answers of a SQuAD fine-tuned checkpoint (see ir_fairseq/squad/predict.py).

    python scripts/predict_squad.py CHECKPOINT dev-v1.1.json > predictions.json
"""
import importlib.util
import os
import sys

if importlib.util.find_spec("ir_fairseq") is None:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ir_fairseq.squad.predict import main  # noqa: E402

if __name__ == "__main__":
    main()
