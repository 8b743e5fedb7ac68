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

import torch

from ir_fairseq.errors import IRUserError

logger = logging.getLogger(__name__)

EMBEDDINGS = "encoder.sentence_encoder.embed_tokens.weight"


def _configured(value):
    return isinstance(value, str) and value and not value.startswith("${")


def read_checkpoint(path):
    """The checkpoint's contents, or a one-line error for a file that cannot be read."""
    if not os.path.isfile(path):
        raise IRUserError(f"checkpoint not found: {path}")
    try:
        try:
            return torch.load(path, map_location="cpu", mmap=True)
        except RuntimeError as e:
            if "mmap" not in str(e):
                raise
            return torch.load(path, map_location="cpu")  # legacy (non-zip) format
    except Exception as e:  # truncated zip, garbage, pickle of unknown classes, ...
        raise IRUserError(
            f"checkpoint {path} cannot be read (corrupt or truncated?): "
            f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        ) from e


def _saved_identity(state):
    cfg = state.get("cfg") or {}
    task = (cfg.get("task") or {}).get("_name") if isinstance(cfg, dict) else None
    model = cfg.get("model") if isinstance(cfg, dict) else None
    arch = getattr(model, "arch", None) or (model.get("_name") if isinstance(model, dict) else None)
    return task, arch


def check_shapes(path, saved_model, model, dictionary_size):
    current = model.state_dict()
    saved_embeddings = saved_model.get(EMBEDDINGS)
    if saved_embeddings is not None and saved_embeddings.size(0) == dictionary_size - 1:
        raise IRUserError(
            f"the vocabulary of {path} has no <mask> symbol (its embeddings have "
            f"{saved_embeddings.size(0)} rows, this dictionary with <mask> {dictionary_size}): "
            "masked-LM training needs a checkpoint whose vocabulary includes <mask>"
        )
    if saved_embeddings is not None and saved_embeddings.size(0) != dictionary_size:
        raise IRUserError(
            f"dictionary ({dictionary_size} symbols with <mask>) does not match the embeddings "
            f"of {path} ({saved_embeddings.size(0)}): binarize with the checkpoint's dict.txt "
            "(fairseq-preprocess --srcdict)"
        )
    missing = sorted(set(current) - set(saved_model))
    unexpected = sorted(set(saved_model) - set(current))
    if missing or unexpected:
        raise IRUserError(
            f"{path} does not fit this model: "
            + (f"{len(missing)} parameters missing there (e.g. {missing[0]})" if missing else "")
            + ("; " if missing and unexpected else "")
            + (f"{len(unexpected)} unknown here (e.g. {unexpected[0]})" if unexpected else "")
            + " (check --arch and the model sizes)"
        )
    for name, tensor in saved_model.items():
        if tuple(current[name].shape) != tuple(tensor.shape):
            raise IRUserError(
                f"{path} does not fit this model: {name} is {tuple(tensor.shape)} there and "
                f"{tuple(current[name].shape)} here (check --arch and the model sizes)"
            )


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
    save_dir = task_cfg.save_dir if _configured(task_cfg.save_dir) else None
    restore_file = task_cfg.restore_file if _configured(task_cfg.restore_file) else None
    if save_dir is None or restore_file is None:
        return  # not built by fairseq-train (e.g. loading a model for inference)

    auto_resume = restore_file == "checkpoint_last.pt"
    path = os.path.join(save_dir, restore_file) if auto_resume else restore_file
    if not os.path.exists(path):
        if not auto_resume:
            raise IRUserError(f"--restore-file not found: {path}")
        return  # a fresh run
    if os.path.isfile(path) and os.path.getsize(path) == 0:
        raise IRUserError(f"checkpoint {path} is empty (truncated?)")
    state = read_checkpoint(path)
    if not isinstance(state, dict) or "model" not in state:
        raise IRUserError(f"{path} is not a fairseq checkpoint (no 'model' entry)")

    if auto_resume:
        saved_task, saved_arch = _saved_identity(state)
        different = (saved_task not in (None, task_name)) or (saved_arch not in (None, arch))
        try:
            check_shapes(path, state["model"], model, dictionary_size)
        except IRUserError as e:
            different, reason = True, str(e)
        else:
            reason = f"task {saved_task}, arch {saved_arch}"
        if different:
            if task_cfg.overwrite_save_dir:
                if is_main_worker:
                    move_aside(save_dir)
                return
            raise IRUserError(
                f"--save-dir {save_dir} holds a different run ({reason}); use another "
                "--save-dir, or --overwrite-save-dir to move its checkpoints aside"
            )
        return
    check_shapes(path, state["model"], model, dictionary_size)
