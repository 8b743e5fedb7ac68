"""Let fairseq load its own checkpoints under torch >= 2.6 without turning safety off.

Since torch 2.6, ``torch.load`` defaults to ``weights_only=True`` and refuses any class not on
its allow-list. fairseq checkpoints hold an ``argparse.Namespace`` (``args``) and, through
configs and meters, a few other plain containers, so resume, ``--restore-file`` and
``from_pretrained`` all fail. Instead of passing ``weights_only=False`` (which would let a
checkpoint run arbitrary code), the plugin adds exactly these container types to torch's
allow-list when it is imported.
"""
import argparse
import collections
import typing

import numpy as np
import omegaconf
import torch
from fairseq.distributed import utils as fairseq_distributed_utils

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
