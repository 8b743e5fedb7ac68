"""Pre-training data and evaluation: corpus preparation and shards, sentencepiece models for
from-scratch runs, the generated demo data, and the held-out MLM/ECP/DPP measurement."""
