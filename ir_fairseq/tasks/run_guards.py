"""What every training task of the plugin does to protect a run: one run per ``--save-dir``
(``save_dir_lock``) and a job that stops when one of its workers dies (``worker_watchdog``).

A task mixes ``GuardedTraining`` in before its fairseq base class and ``RunGuardsConfig`` into
its config; ``setup_task`` calls ``start_guards`` (the watchdog needs the process group, which
fairseq-train has initialised by then).
"""
from dataclasses import dataclass, field

import torch.distributed as dist
from fairseq.dataclass import FairseqDataclass
from omegaconf import II

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


class GuardedTraining:
    @staticmethod
    def start_guards(cfg) -> None:
        start_worker_watchdog(cfg.worker_heartbeat_timeout)

    def begin_epoch(self, epoch, model):
        # fairseq-train calls this before the first update and nothing in-process does, so the
        # lock covers training runs only (building a model in a notebook locks nothing)
        if configured(self.cfg.save_dir):
            lock_save_dir(self.cfg.save_dir, dist.get_rank() if dist.is_initialized() else 0)
        super().begin_epoch(epoch, model)
