"""One training run per ``--save-dir``.

Two runs in one folder (a double launch, a scheduler's requeue while the old job still runs)
would load each other's ``checkpoint_last.pt`` and overwrite each other's checkpoints in turn.
Each worker of a run holds an exclusive ``flock`` on ``SAVE_DIR/.ir_fairseq.lock.rank<N>`` for
the life of its process; a second run's worker of the same rank is refused with one line
naming the folder and the holder (pid, host, start time, command). The operating system drops
the lock when the process exits in any way, SIGKILL included, so a lock file left by a dead
run is taken over, never trusted. (``flock`` on network file systems is as reliable as the
file system's locking: NFSv4 and Lustre honour it.)
"""
import fcntl
import os
import socket
import sys
import time

from ir_fairseq.common.errors import IRUserError

LOCK_PREFIX = ".ir_fairseq.lock.rank"

_held = {}  # lock path -> open file, kept open (and so locked) until the process ends


def lock_save_dir(save_dir: str, rank: int = 0) -> str:
    path = os.path.join(save_dir, f"{LOCK_PREFIX}{rank}")
    if path in _held:
        return path
    os.makedirs(save_dir, exist_ok=True)
    handle = open(path, "a+", encoding="utf-8")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "a process that has not written its name yet"
        handle.close()
        raise IRUserError(f"--save-dir {save_dir} is in use by another run ({holder}): wait for it, "
                          "stop it, or train in another --save-dir") from None
    handle.seek(0)
    handle.truncate()
    command = " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv))
    handle.write(f"pid {os.getpid()} on {socket.gethostname()}, rank {rank}, started "
                 f"{time.strftime('%Y-%m-%d %H:%M:%S')}: {command[:300]}\n")
    handle.flush()
    _held[path] = handle
    return path
