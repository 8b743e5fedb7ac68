"""What the plugin patches in fairseq and torch when it is imported (``install``), and why.

1. **torch.load's allow-list.** Since torch 2.6, ``torch.load`` defaults to
``weights_only=True`` and refuses any class not on its allow-list. fairseq checkpoints hold an ``argparse.Namespace`` (``args``) and, through
configs and meters, a few other plain containers, so resume, ``--restore-file`` and
``from_pretrained`` all fail. Instead of passing ``weights_only=False`` (which would let a
checkpoint run arbitrary code), the plugin adds exactly these container types to torch's
allow-list.

2. **Atomic checkpoint copies.** fairseq writes the first checkpoint of a save atomically
(``.tmp`` then rename), but makes the others (``checkpoint_last.pt`` after
``checkpoint_1_1000.pt``, ``checkpoint_best.pt``) with a plain file copy: a job killed during
that copy leaves a truncated ``checkpoint_last.pt``, and the restart that should resume from
it fails. The plugin gives ``fairseq.checkpoint_utils`` (that module only) a PathManager whose
``copy`` writes a temporary file in the destination folder and renames it into place.
"""
import argparse
import collections
import os
import typing

import numpy as np
import omegaconf
import torch
from fairseq import checkpoint_utils
from fairseq.distributed import utils as fairseq_distributed_utils
from fairseq.file_io import PathManager

from ir_fairseq.common.files import atomic_copy

FAIRSEQ_CHECKPOINT_GLOBALS = [
    argparse.Namespace,
    collections.OrderedDict,
    collections.defaultdict,
    # numpy scalars: best-checkpoint scores computed with scipy/numpy (e.g. spearman)
    np.core.multiarray.scalar,
    np.dtype,
    *{type(np.dtype(t)) for t in (np.float64, np.float32, np.int64, np.int32, np.bool_)},
    # a checkpoint loaded on rank 0 reaches the other workers pickled with its config as an
    # OmegaConf object (fairseq's broadcast_object), then passes through torch.load again
    omegaconf.DictConfig,
    omegaconf.ListConfig,
    omegaconf.base.ContainerMetadata,
    omegaconf.base.Metadata,
    omegaconf.nodes.AnyNode,
    omegaconf.nodes.StringNode,
    omegaconf.nodes.IntegerNode,
    omegaconf.nodes.FloatNode,
    omegaconf.nodes.BooleanNode,
    typing.Any,
    fairseq_distributed_utils._TensorPlaceholder,  # what broadcast_object puts in for tensors
    dict,
    list,
    int,
]


def allow_fairseq_checkpoints():
    add_safe_globals = getattr(torch.serialization, "add_safe_globals", None)
    if add_safe_globals is not None:  # torch < 2.4 loads everything anyway
        add_safe_globals(FAIRSEQ_CHECKPOINT_GLOBALS)


class AtomicCopyPathManager(PathManager):
    @staticmethod
    def copy(src_path: str, dst_path: str, overwrite: bool = False) -> bool:
        if "://" in src_path or "://" in dst_path:  # remote storage: keep ioPath's copy
            return PathManager.copy(src_path, dst_path, overwrite)
        if not overwrite and os.path.exists(dst_path):
            return False
        atomic_copy(src_path, dst_path)
        return True


def make_checkpoint_copies_atomic():
    checkpoint_utils.PathManager = AtomicCopyPathManager


def install():
    allow_fairseq_checkpoints()
    make_checkpoint_copies_atomic()
