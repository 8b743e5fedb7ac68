"""What every training task of the plugin does to protect a run: one run per ``--save-dir``
(``save_dir_lock``) and a job that stops when one of its workers dies (``worker_watchdog``).

A task mixes ``GuardedTraining`` in before its fairseq base class and ``RunGuardsConfig`` into
its config; ``setup_task`` calls ``start_guards`` (the watchdog needs the process group, which
fairseq-train has initialised by then). The mixin also keeps the plugin's one-line errors under
fairseq-hydra-train: every method fairseq's training loop calls on the task (the subclass's own
and the fairseq base's, e.g. ``build_criterion``, which builds the criterion) reports an
``IRUserError`` as one line there (``errors.one_line_under_hydra``).
"""
from dataclasses import dataclass, field

import torch.distributed as dist
from fairseq.dataclass import FairseqDataclass
from omegaconf import II

from ir_fairseq.common.errors import one_line_under_hydra
from ir_fairseq.tasks.resume_checks import configured
from ir_fairseq.tasks.save_dir_lock import lock_save_dir
from ir_fairseq.tasks.worker_watchdog import start_worker_watchdog


@dataclass
class RunGuardsConfig(FairseqDataclass):
    worker_heartbeat_timeout: float = field(
        default=30.0,
        metadata={"help": "with several workers, stop the job (exit status 1, naming the rank) "
                  "when a worker has sent no heartbeat for this many seconds; 0 turns it off"},
    )
    # read (not set) from fairseq's checkpoint options
    save_dir: str = II("checkpoint.save_dir")


# the task methods fairseq_cli.train calls, where a user's mistake surfaces
REPORTED_METHODS = ("setup_task", "load_dataset", "build_model", "build_criterion", "begin_epoch",
                    "train_step", "valid_step")


class GuardedTraining:
    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in REPORTED_METHODS:
            if name in cls.__dict__:
                setattr(cls, name, one_line_under_hydra(cls.__dict__[name]))

    @staticmethod
    def start_guards(cfg) -> None:
        start_worker_watchdog(cfg.worker_heartbeat_timeout)

    @classmethod
    def setup_task(cls, cfg, **kwargs):
        return super().setup_task(cfg, **kwargs)

    def load_dataset(self, *args, **kwargs):
        return super().load_dataset(*args, **kwargs)

    def build_model(self, *args, **kwargs):
        return super().build_model(*args, **kwargs)

    def build_criterion(self, *args, **kwargs):
        return super().build_criterion(*args, **kwargs)

    def train_step(self, *args, **kwargs):
        return super().train_step(*args, **kwargs)

    def valid_step(self, *args, **kwargs):
        return super().valid_step(*args, **kwargs)

    def begin_epoch(self, epoch, model):
        # fairseq-train calls this before the first update and nothing in-process does, so the
        # lock covers training runs only (building a model in a notebook locks nothing)
        if configured(self.cfg.save_dir):
            lock_save_dir(self.cfg.save_dir, dist.get_rank() if dist.is_initialized() else 0)
        super().begin_epoch(epoch, model)


for _name in REPORTED_METHODS:
    setattr(GuardedTraining, _name, one_line_under_hydra(GuardedTraining.__dict__[_name]))

del _name
