"""``squad_span``: SQuAD v1.1 span extraction on a RoBERTa-style encoder (``roberta_*``, ``ir_bert``).

    fairseq-train SQUAD_BIN --user-dir ir_fairseq --task squad_span --criterion squad_span ...

SQUAD_BIN is what ``scripts/preprocess_squad.sh`` writes (``ir_fairseq.squad.prepare``):
``dict.txt``, the model folder's tokenizer, ``squad_meta.json`` (window settings and counts)
and per split fairseq's binarised mmap datasets ``{split}.tokens`` (one feature per item:
``<s> query </s> window </s>``) and ``{split}.spans`` (its target ``[start, end]``; ``[0, 0]``
when the answer is not in the window). The model gets a span head
(``ir_fairseq.models.span_head``) in ``classification_heads``; the ``squad_span`` criterion
trains it. Samples: ``net_input.src_tokens`` right-padded, ``target`` (batch x 2).
"""
import json
import logging
import os
from dataclasses import dataclass, field

import numpy as np
import torch
from fairseq.data import (
    BaseWrapperDataset,
    IdDataset,
    NestedDictionaryDataset,
    NumelDataset,
    NumSamplesDataset,
    RightPadDataset,
    SortDataset,
    data_utils,
)
from fairseq.tasks import FairseqTask, register_task
from omegaconf import II, MISSING

from ir_fairseq.common.checkpoints import Checkpoint
from ir_fairseq.common.errors import IRUserError
from ir_fairseq.common.model_folder import DICT_FILE, load_dictionary
from ir_fairseq.data.indexed_files import check_indexed_split
from ir_fairseq.data.length_grouping import group_by_length
from ir_fairseq.models.span_head import DEFAULT_HEAD_NAME, register_span_head
from ir_fairseq.tasks.resume_checks import configured
from ir_fairseq.tasks.run_guards import GuardedTraining, RunGuardsConfig

logger = logging.getLogger(__name__)

META_FILE = "squad_meta.json"  # window settings and counts, written by ir-fairseq squad-prepare


@dataclass
class SquadSpanConfig(RunGuardsConfig):
    data: str = field(default=MISSING, metadata={
        "help": "folder written by scripts/preprocess_squad.sh (dict.txt, squad_meta.json, "
                "{split}.tokens and {split}.spans)"})
    span_head_name: str = field(default=DEFAULT_HEAD_NAME, metadata={
        "help": "name of the span head in the model's classification_heads"})
    span_head_inner_dim: int = field(default=0, metadata={
        "help": "hidden layer of the span head; 0 (default) is BERT's single linear layer "
                "hidden -> (start, end)"})
    no_shuffle: bool = field(default=False, metadata={"help": "keep the training features in file order"})
    group_by_length: bool = field(default=False, metadata={
        "help": "form batches from length-sorted windows and let fairseq shuffle the batches every epoch"})
    seed: int = II("common.seed")
    # read (not set) from fairseq's checkpoint options, to check the checkpoint before loading
    restore_file: str = II("checkpoint.restore_file")


def read_meta(data_dir):
    if not data_dir or not os.path.isdir(data_dir):
        raise IRUserError(f"SQuAD data folder not found: {data_dir} (make it with scripts/preprocess_squad.sh)")
    if not os.path.isfile(os.path.join(data_dir, DICT_FILE)):
        raise IRUserError(f"{data_dir} has no dict.txt: make it with scripts/preprocess_squad.sh")
    path = os.path.join(data_dir, META_FILE)
    if not os.path.isfile(path):
        return {}  # a plain model folder: enough to load a fine-tuned model for prediction
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise IRUserError(f"{path} is not valid JSON: {e}") from e


class SpanTargetDataset(BaseWrapperDataset):
    """Items [start, end]; batches (batch x 2)."""

    def collater(self, samples):
        return torch.stack(samples) if samples else torch.empty(0, 2, dtype=torch.long)


@register_task("squad_span", dataclass=SquadSpanConfig)
class SquadSpanTask(GuardedTraining, FairseqTask):
    cfg: SquadSpanConfig

    def __init__(self, cfg, dictionary, meta):
        super().__init__(cfg)
        self.dictionary = dictionary
        self.meta = meta

    @classmethod
    def setup_task(cls, cfg, **kwargs):
        meta = read_meta(cfg.data)
        cls.start_guards(cfg)
        dictionary = load_dictionary(os.path.join(cfg.data, DICT_FILE))
        logger.info("dictionary: %d types; windows: max length %s, doc stride %s, max query length %s",
                    len(dictionary), meta.get("max_length"), meta.get("doc_stride"), meta.get("max_query_length"))
        return cls(cfg, dictionary, meta)

    def load_dataset(self, split, combine=False, **kwargs):
        prefix = os.path.join(self.cfg.data, split)
        check_indexed_split(prefix + ".tokens", len(self.dictionary), os.path.join(self.cfg.data, DICT_FILE))
        check_indexed_split(prefix + ".spans")
        tokens = data_utils.load_indexed_dataset(prefix + ".tokens", None, dataset_impl="mmap")
        spans = data_utils.load_indexed_dataset(prefix + ".spans", None, dataset_impl="mmap")
        if tokens is None or spans is None:
            raise IRUserError(f"split '{split}' not found in {self.cfg.data} (expected {prefix}.tokens and "
                              f"{prefix}.spans from scripts/preprocess_squad.sh)")
        if len(tokens) != len(spans) or len(tokens) == 0:
            raise IRUserError(f"split '{split}' in {self.cfg.data} is empty or inconsistent "
                              f"({len(tokens)} features, {len(spans)} targets)")
        dataset = NestedDictionaryDataset(
            {
                "id": IdDataset(),
                "net_input": {
                    "src_tokens": RightPadDataset(tokens, pad_idx=self.dictionary.pad()),
                    "src_lengths": NumelDataset(tokens, reduce=False),
                },
                "target": SpanTargetDataset(spans),
                "nsentences": NumSamplesDataset(),
                "ntokens": NumelDataset(tokens, reduce=True),
            },
            sizes=[tokens.sizes],
        )
        if not self.cfg.no_shuffle:
            with data_utils.numpy_seed(self.cfg.seed):
                dataset = SortDataset(dataset, sort_order=[np.random.permutation(len(dataset))])
            if self.cfg.group_by_length:
                dataset = group_by_length(dataset, tokens.sizes)
        logger.info("loaded %s: %d features", split, len(dataset))
        self.datasets[split] = dataset
        return dataset

    def build_model(self, cfg, from_checkpoint=False):
        model = super().build_model(cfg, from_checkpoint)
        positions = model.max_positions()
        longest = self.meta.get("max_length")
        if positions is not None and longest is not None and longest > positions:
            raise IRUserError(
                f"{self.cfg.data} holds windows of up to {longest} tokens but the model has "
                f"--max-positions {positions}: preprocess again with MAX_LENGTH={positions}")
        register_span_head(model, self.cfg.span_head_name, self.cfg.span_head_inner_dim,
                           activation_fn=getattr(model.args, "pooler_activation_fn", "tanh"),
                           dropout=getattr(model.args, "pooler_dropout", 0.0))
        if not from_checkpoint:
            self._check_restore_file()
        return model

    def _check_restore_file(self):
        """A checkpoint whose vocabulary is not this dictionary's: one line, not a traceback."""
        path = self.cfg.restore_file if configured(self.cfg.restore_file) else None
        if path is None or path == "checkpoint_last.pt":
            return
        if not os.path.isfile(path):
            raise IRUserError(f"--restore-file not found: {path}")
        Checkpoint.read(path).check_dictionary(
            len(self.dictionary), self.cfg.data,
            hint="preprocess with the model folder (dict.txt and tokenizer) of this checkpoint")

    def max_positions(self):
        return self.meta.get("max_length")

    @property
    def source_dictionary(self):
        return self.dictionary

    @property
    def target_dictionary(self):
        return self.dictionary
