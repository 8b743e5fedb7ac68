"""Check a binarized split (fairseq's ``mmap`` pair ``PREFIX.idx`` + ``PREFIX.bin``) before
fairseq memory-maps it.

fairseq trusts the pair: a truncated ``.bin`` dies later in numpy with ``offset must be
non-negative and no greater than buffer length``, naming no file; a ``.bin`` binarized with a
larger dictionary feeds ids past the embedding table. These checks read the index (which
fairseq reads anyway) and at most ``SAMPLE_BYTES`` from each end of the ``.bin``, never the
whole data, and refuse with one line naming the file:
- the index header (magic, version, dtype) and the index size its sequence count implies;
- the ``.bin`` size the index implies (sum of the sizes × the item size), and the pointers'
  agreement with the sizes;
- a dictionary the ids do not fit: an id, among those sampled from both ends, at or beyond
  the dictionary's size.
The legacy ``TNTIDX`` formats (``--dataset-impl lazy|cached``) are left to fairseq.
"""
import os
import struct

import numpy as np

from ir_fairseq.common.errors import IRUserError

MMAP_MAGIC = b"MMIDIDX\x00\x00"
LEGACY_MAGIC = b"TNTIDX\x00\x00"
HEADER_BYTES = len(MMAP_MAGIC) + 8 + 1 + 8  # magic, version, dtype code, sequence count
SAMPLE_BYTES = 1 << 20


def check_indexed_split(prefix: str, dictionary_size: int = None, dictionary_name: str = "dict.txt") -> bool:
    """Refuse a damaged or mismatched ``prefix.idx``/``prefix.bin`` pair; False when neither
    file exists (the caller says the split is missing), True when the pair was checked."""
    from fairseq.data.indexed_dataset import _code_to_dtype  # here: check-data --help starts without fairseq

    index_path, data_path = prefix + ".idx", prefix + ".bin"
    has_index, has_data = os.path.isfile(index_path), os.path.isfile(data_path)
    if not (has_index or has_data):
        return False
    if not has_index or not has_data:
        present, missing = (index_path, data_path) if has_index else (data_path, index_path)
        raise IRUserError(f"{present} has no partner {missing}: binarize the split again")
    with open(index_path, "rb") as f:
        header = f.read(HEADER_BYTES)
        if header[:len(LEGACY_MAGIC)] == LEGACY_MAGIC:
            return True
        if not MMAP_MAGIC.startswith(header[:len(MMAP_MAGIC)]) or not header:
            raise IRUserError(f"{index_path} is not a fairseq index file (it starts with {header[:9]!r})")
        if len(header) < HEADER_BYTES:
            raise IRUserError(f"{index_path} is truncated ({len(header)} bytes, not even a header): binarize again")
        version, code, count = struct.unpack("<QBQ", header[len(MMAP_MAGIC):])
        if version != 1 or code not in _code_to_dtype:
            raise IRUserError(f"{index_path}: unknown index version {version} or dtype code {code}")
        dtype = np.dtype(_code_to_dtype[code])
        expected_index = HEADER_BYTES + count * (4 + 8)
        actual_index = os.path.getsize(index_path)
        if actual_index != expected_index:
            raise IRUserError(f"{index_path} is {actual_index} bytes but its header lists {count} sequences "
                              f"({expected_index} bytes): truncated or damaged, binarize again")
        sizes = np.fromfile(f, dtype=np.int32, count=count)
        pointers = np.fromfile(f, dtype=np.int64, count=count)
    if count and (sizes.min() < 0 or pointers[0] != 0
                  or not np.array_equal(np.diff(pointers), sizes[:-1].astype(np.int64) * dtype.itemsize)):
        raise IRUserError(f"{index_path}: its sequence sizes and offsets disagree: damaged, binarize again")
    expected_data = int(sizes.sum(dtype=np.int64)) * dtype.itemsize
    actual_data = os.path.getsize(data_path)
    if actual_data != expected_data:
        raise IRUserError(
            f"{data_path} is {actual_data} bytes but {os.path.basename(index_path)} describes {expected_data} "
            f"({expected_data // dtype.itemsize} tokens of {dtype.name}): truncated, or the pair comes from "
            "different runs; binarize again")
    if dictionary_size is not None and expected_data:
        check_ids_fit(data_path, dtype, dictionary_size, dictionary_name)
    return True


def check_ids_fit(data_path, dtype, dictionary_size, dictionary_name):
    data = np.memmap(data_path, dtype=dtype, mode="r")
    sample = SAMPLE_BYTES // dtype.itemsize
    largest = int(max(data[:sample].max(), data[-sample:].max()))
    del data
    if largest >= dictionary_size:
        raise IRUserError(f"{data_path} holds token id {largest} but {dictionary_name} has {dictionary_size} "
                          "symbols: the data was binarized with another dictionary")


def check_folder(folder: str) -> int:
    """Check every binarized pair under folder, each against the ``dict.txt`` beside it;
    returns the number of pairs."""
    from fairseq.data import Dictionary

    if not os.path.isdir(folder):
        raise IRUserError(f"data folder not found: {folder}")
    checked = 0
    for root, _, files in sorted(os.walk(folder)):
        prefixes = sorted({os.path.splitext(name)[0] for name in files if name.endswith((".idx", ".bin"))})
        dictionary_path = os.path.join(root, "dict.txt")
        size = len(Dictionary.load(dictionary_path)) if prefixes and os.path.isfile(dictionary_path) else None
        for prefix in prefixes:
            checked += check_indexed_split(os.path.join(root, prefix), size, dictionary_path)
    if not checked:
        raise IRUserError(f"{folder} holds no binarized data (.idx/.bin pairs)")
    return checked


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(prog="ir-fairseq check-data", description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", help="folders of binarized data, searched recursively")
    for folder in parser.parse_args(argv).folders:
        print(f"[check-data] {folder}: {check_folder(folder)} binarized pairs are whole and fit their dict.txt")
