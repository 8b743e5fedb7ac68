"""Atomic file writes: a reader sees the old file or the new one, never half of it.

Everything is written to a temporary file in the destination folder (same file system) and
renamed into place; the temporary file is removed whatever happens.
"""
import contextlib
import os
import shutil


@contextlib.contextmanager
def atomic_output(path: str, mode: str = "w", **open_kwargs):
    """``with atomic_output(path) as f: f.write(...)``: path appears only if the block succeeds."""
    tmp_path = os.path.join(os.path.dirname(os.path.abspath(path)),
                            f".{os.path.basename(path)}.tmp-{os.getpid()}")
    if "b" not in mode:
        open_kwargs.setdefault("encoding", "utf-8")
    try:
        with open(tmp_path, mode, **open_kwargs) as f:
            yield f
        os.replace(tmp_path, path)
    finally:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)


def atomic_copy(src_path: str, dst_path: str) -> None:
    with atomic_output(dst_path, "wb") as out, open(src_path, "rb") as src:
        shutil.copyfileobj(src, out)
