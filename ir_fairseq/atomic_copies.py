"""Make fairseq's checkpoint copies atomic.

fairseq writes the first checkpoint of a save atomically (``.tmp`` then rename), but makes
the others (``checkpoint_last.pt`` after ``checkpoint_1_1000.pt``, ``checkpoint_best.pt``)
with a plain file copy: a job killed during that copy leaves a truncated
``checkpoint_last.pt``, and the restart that should resume from it fails. The plugin gives
``fairseq.checkpoint_utils`` (that module only) a PathManager whose ``copy`` writes to a
temporary file in the destination folder and renames it into place.
"""
import os
import shutil

from fairseq import checkpoint_utils
from fairseq.file_io import PathManager


def atomic_copy(src_path: str, dst_path: str) -> bool:
    tmp_path = f"{dst_path}.tmp-copy-{os.getpid()}"
    try:
        shutil.copyfile(src_path, tmp_path)
        os.replace(tmp_path, dst_path)  # readers see the old file or the new one, never half
    finally:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
    return True


class AtomicCopyPathManager(PathManager):
    @staticmethod
    def copy(src_path: str, dst_path: str, overwrite: bool = False) -> bool:
        if "://" in src_path or "://" in dst_path:  # remote storage: keep ioPath's copy
            return PathManager.copy(src_path, dst_path, overwrite)
        if not overwrite and os.path.exists(dst_path):
            return False
        return atomic_copy(src_path, dst_path)


def make_checkpoint_copies_atomic():
    checkpoint_utils.PathManager = AtomicCopyPathManager
