"""Look at the checkpoint fairseq is about to train from, before it does.

fairseq loads ``--restore-file`` (by default ``SAVE_DIR/checkpoint_last.pt``) after the model
is built. Left alone it starts from scratch when an explicit ``--restore-file`` is missing,
prints a long traceback for a truncated file or a dictionary that does not fit the
embeddings, and resumes whatever run happens to sit in ``--save-dir``. The
``masked_lm_ir`` task calls ``check_training_checkpoint`` from ``build_model`` so each of
these is one clear error, and nothing on disk is touched unless the user asks for it.
"""
import logging
import os
import time

import torch.distributed as dist

from ir_fairseq.common.checkpoints import Checkpoint
from ir_fairseq.common.errors import IRUserError
from ir_fairseq.tasks.save_dir_lock import lock_save_dir

logger = logging.getLogger(__name__)


def configured(value) -> bool:
    """Whether a config value interpolated from fairseq's own options (``II(...)``) is set."""
    return isinstance(value, str) and bool(value) and not value.startswith("${")


def check_compatible(checkpoint: Checkpoint, model, dictionary_size: int, source: str) -> None:
    checkpoint.check_dictionary(dictionary_size, source,
                                hint="binarize with the checkpoint's dict.txt (fairseq-preprocess --srcdict)")
    checkpoint.check_fits(model)


def move_aside(save_dir):
    """Move the files of a previous run into a dated sub-folder of save_dir (nothing is lost)."""
    target = os.path.join(save_dir, time.strftime("replaced-%Y%m%d-%H%M%S"))
    os.makedirs(target, exist_ok=True)
    for name in os.listdir(save_dir):
        if name.startswith("checkpoint") and name.endswith(".pt"):
            os.replace(os.path.join(save_dir, name), os.path.join(target, name))
    logger.warning("moved the previous run's checkpoints to %s (--overwrite-save-dir)", target)
    return target


def check_training_checkpoint(task_cfg, task_name, arch, model, dictionary_size, is_main_worker=True):
    save_dir = task_cfg.save_dir if configured(task_cfg.save_dir) else None
    restore_file = task_cfg.restore_file if configured(task_cfg.restore_file) else None
    if save_dir is None or restore_file is None:
        return  # not built by fairseq-train (e.g. loading a model for inference)

    auto_resume = restore_file == "checkpoint_last.pt"
    path = os.path.join(save_dir, restore_file) if auto_resume else restore_file
    if not os.path.exists(path):
        if not auto_resume:
            raise IRUserError(f"--restore-file not found: {path}")
        return  # a fresh run
    checkpoint = Checkpoint.read(path)
    source = f"{task_cfg.data}"
    if not auto_resume:
        check_compatible(checkpoint, model, dictionary_size, source)
        return

    saved_task, saved_arch = checkpoint.task_name, checkpoint.arch
    different = (saved_task not in (None, task_name)) or (saved_arch not in (None, arch))
    try:
        check_compatible(checkpoint, model, dictionary_size, source)
    except IRUserError as e:
        different, reason = True, str(e)
    else:
        reason = f"task {saved_task}, arch {saved_arch}"
    if not different:
        return
    if task_cfg.overwrite_save_dir:
        # a live run in save_dir (a mistaken second launch) keeps its checkpoints: the lock,
        # otherwise taken before the first update, refuses this run before anything is moved
        lock_save_dir(save_dir, dist.get_rank() if dist.is_initialized() else 0)
        if is_main_worker:
            move_aside(save_dir)
        return
    raise IRUserError(
        f"--save-dir {save_dir} holds a different run ({reason}); use another "
        "--save-dir, or --overwrite-save-dir to move its checkpoints aside")
