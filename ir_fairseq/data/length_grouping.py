"""Length-grouped batches: sort the examples by length, ties in a seeded random order.

fairseq's ``batch_by_size`` cuts the ordered indices into consecutive batches, and its epoch
iterator shuffles those batches every epoch, so sorting by length first (as fairseq's
translation task does) gives batches of similar lengths, in a new random order each epoch,
with little padding. Ties keep the dataset's seeded shuffle, so equal-length examples are not
always batched together in file order.
"""
import numpy as np
from fairseq.data import SortDataset


def group_by_length(dataset, sizes, seed_order=None):
    """``dataset`` in (length, seed_order) order; ``dataset`` may already be fairseq's
    ``SortDataset`` of a random permutation, whose permutation is then kept for the ties."""
    if isinstance(dataset, SortDataset) and seed_order is None:
        seed_order, dataset = dataset.sort_order[0], dataset.dataset
    if seed_order is None:
        seed_order = np.arange(len(dataset))
    return SortDataset(dataset, sort_order=[seed_order, np.asarray(sizes)])


def example_sizes(dataset):
    """Tokens per example of a fairseq dataset (a ``NestedDictionaryDataset`` keeps a list), as
    a copy: fairseq's sizes are views of the memory-mapped index, gone with the dataset."""
    sizes = dataset.sizes
    return np.array(sizes[0] if isinstance(sizes, (list, tuple)) else sizes)


def real_token_fraction(sizes, batches):
    """Non-pad share of the tokens in batches (lists of indices) padded to their longest."""
    sizes = np.asarray(sizes)
    real = sum(int(sizes[b].sum()) for b in batches)
    padded = sum(int(sizes[b].max()) * len(b) for b in batches)
    return real / max(padded, 1)
