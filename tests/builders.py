"""Build real fairseq task / model / criterion objects in-process from command-line flags."""
import os

import torch
from fairseq import options, tasks, utils
from fairseq.dataclass.utils import convert_namespace_to_omegaconf

from conftest import ROOT, TINY_MODEL


def build(data_dir, *criterion_flags, task="masked_lm_ir", criterion="instance_reg", extra=()):
    parser = options.get_training_parser()
    args = options.parse_args_and_arch(parser, [
        data_dir, "--user-dir", os.path.join(ROOT, "ir_fairseq"), "--task", task,
        "--criterion", criterion, *TINY_MODEL, "--cpu", "--seed", "1", *extra,
        *criterion_flags,
    ])
    cfg = convert_namespace_to_omegaconf(args)
    utils.import_user_module(cfg.common)
    torch.manual_seed(1)
    fairseq_task = tasks.setup_task(cfg.task)
    model = fairseq_task.build_model(cfg.model)
    crit = fairseq_task.build_criterion(cfg.criterion)
    return fairseq_task, model, crit


def first_batch(fairseq_task, split="valid", batch_size=4):
    fairseq_task.load_dataset(split)
    dataset = fairseq_task.dataset(split)
    return dataset.collater([dataset[i] for i in range(batch_size)])
