"""``masked_lm_ir``: fairseq's masked LM task, checked, with ``--mask-whole-words`` fixed.

The data pipeline is fairseq's own (``MaskTokensDataset``: ``--mask-prob 0.15``,
``--leave-unmasked-prob 0.1``, ``--random-token-prob 0.1`` by default, i.e. the paper's
15% with 80% <mask> / 10% random / 10% kept). What the ``instance_reg`` criterion needs
beyond W' is already in every sample: the masked positions D are ``target != pad`` and the
original sentence W is ``target`` on D and ``src_tokens`` elsewhere
(``ir_fairseq.ir_math.restore_original``), so no second copy of the batch is loaded.
"""
import argparse
import logging
import os
from dataclasses import dataclass, field

import torch.distributed as dist
from fairseq import utils
from fairseq.tasks import register_task
from fairseq.tasks.masked_lm import MaskedLMConfig, MaskedLMTask
from omegaconf import II

from ir_fairseq.common.errors import IRUserError
from ir_fairseq.common.model_folder import GPT2_ENCODER_FILE, GPT2_MERGES_FILE
from ir_fairseq.data.indexed_files import check_indexed_split
from ir_fairseq.data.word_starts import detect_word_start_style
from ir_fairseq.tasks.resume_checks import check_training_checkpoint
from ir_fairseq.tasks.run_guards import GuardedTraining, RunGuardsConfig

logger = logging.getLogger(__name__)


@dataclass
class MaskedLMIRConfig(MaskedLMConfig, RunGuardsConfig):
    overwrite_save_dir: bool = field(
        default=False,
        metadata={"help": "train afresh in a --save-dir whose checkpoint_last.pt belongs to a "
                  "different run (another task, architecture or dictionary): its checkpoints "
                  "are moved to a dated sub-folder, never deleted"},
    )
    # read (not set) from fairseq's checkpoint options, to check the checkpoint before loading
    restore_file: str = II("checkpoint.restore_file")


def check_data_dirs(data: str) -> None:
    paths = utils.split_paths(data) if data else []
    if not paths:
        raise IRUserError("no data directory given (the first positional argument)")
    for path in paths:
        if not os.path.isdir(path):
            raise IRUserError(f"data directory not found: {path}")
        if not os.path.isfile(os.path.join(path, "dict.txt")):
            raise IRUserError(
                f"data directory {path} has no dict.txt: binarize text with "
                "fairseq-preprocess --only-source --destdir " + path
            )


@register_task("masked_lm_ir", dataclass=MaskedLMIRConfig)
class MaskedLMIRTask(GuardedTraining, MaskedLMTask):
    cfg: MaskedLMIRConfig

    @classmethod
    def setup_task(cls, cfg: MaskedLMIRConfig, **kwargs):
        check_data_dirs(cfg.data)
        cls.start_guards(cfg)
        return super().setup_task(cfg, **kwargs)

    @property
    def args(self):
        # fairseq's MaskedLMTask.load_dataset builds the whole-word mask from `self.args`
        # (an argparse leftover); answer with a BPE that reads word starts off the dictionary.
        style = detect_word_start_style(self.source_dictionary.symbols)
        if style == "gpt2":
            data_dir = utils.split_paths(self.cfg.data)[0]
            files = [os.path.join(data_dir, name) for name in (GPT2_ENCODER_FILE, GPT2_MERGES_FILE)]
            if not all(os.path.isfile(f) for f in files):
                raise IRUserError(
                    f"--mask-whole-words with a GPT-2 BPE dictionary needs {GPT2_ENCODER_FILE} and "
                    f"{GPT2_MERGES_FILE} beside {data_dir}/dict.txt (scripts/prepare_pretrain_data.sh copies "
                    "the model folder's)")
            return argparse.Namespace(bpe="gpt2", gpt2_encoder_json=files[0], gpt2_vocab_bpe=files[1])
        return argparse.Namespace(bpe="ir_dictionary_word_starts", word_start_style=style)

    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        paths = utils.split_paths(self.cfg.data)
        data_path = paths[(epoch - 1) % len(paths)]
        check_indexed_split(os.path.join(data_path, split), len(self.source_dictionary),
                            os.path.join(data_path, "dict.txt"))
        try:
            super().load_dataset(split, epoch=epoch, combine=combine, **kwargs)
        except FileNotFoundError as e:
            raise IRUserError(
                f"split '{split}' not found in {self.cfg.data} ({e}); "
                "binarize it with fairseq-preprocess"
            ) from e
        if len(self.datasets[split]) == 0:
            raise IRUserError(f"split '{split}' in {self.cfg.data} holds no data")

    def build_model(self, cfg, from_checkpoint=False):
        model = super().build_model(cfg, from_checkpoint)
        model_positions = model.max_positions()
        if model_positions is not None and self.cfg.tokens_per_sample > model_positions:
            raise IRUserError(
                f"--tokens-per-sample {self.cfg.tokens_per_sample} exceeds the model's "
                f"--max-positions {model_positions}"
            )
        if not from_checkpoint:
            main_worker = not dist.is_initialized() or dist.get_rank() == 0
            check_training_checkpoint(
                self.cfg, "masked_lm_ir", getattr(cfg, "arch", getattr(cfg, "_name", None)),
                model, len(self.source_dictionary), main_worker,
            )
        return model
