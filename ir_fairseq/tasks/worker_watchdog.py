"""A worker that dies brings the whole multi-worker job down, naming its rank.

fairseq's workers meet in collectives; when one dies (SIGKILL, out-of-memory killer, a lost
node), the others block in the next all-reduce until gloo/NCCL's own timeout, 30 minutes by
default, with no output, or fail with a traceback that names an address, not a rank. Here
every worker writes a heartbeat (time, host, pid namespace, pid) into the job's rendezvous
store (the one ``torch.distributed`` was initialised with) from a daemon thread. One reader,
rank 0, reads them all in one request and decides: a worker in its own pid namespace whose
process is gone, or a worker whose heartbeat is older than ``timeout`` seconds (a lost node, a
hung process), is a verdict it publishes in the store before it stops. The other workers read
only the verdict and rank 0's heartbeat, so the store serves about three requests per worker
per interval (N, not N², at scale; measured in ``docs/results/watchdog/``). A verdict, a silent
rank 0, or a store that can no longer be reached (it lives in rank 0, or in torchrun's agent)
stops a worker with a one-line error naming the rank and exit status 1, so the launcher (or
``pretrain_ir.sh``) sees the job fail. A collective that fails because a peer vanished waits
for the watchdog to name it rather than print gloo's traceback.

A worker that finishes normally says so in the store before it exits (``atexit``, skipped when
an exception escaped), so the others, still writing their last checkpoint, are not stopped.
The heartbeat runs in its own thread, on a store connection of its own with the timeout
above, so a worker busy in a long step, a validation or a checkpoint save still beats.
"""
import atexit
import datetime
import logging
import os
import socket
import sys
import threading
import time

import torch.distributed as dist

logger = logging.getLogger(__name__)

PREFIX = "ir_fairseq_watchdog"
HOST = socket.gethostname()
# what a collective raises when a peer's process or connection is gone
LOST_PEER_ERRORS = ("Connection reset by peer", "Connection closed by peer", "Broken pipe", "Connection refused")
# once the store is gone, how long a worker that is itself shutting down may take to exit
STORE_LOSS_GRACE_S = 10.0

_started = None


READER = 0
VERDICT_KEY = f"{PREFIX}/verdict"


def beat_key(rank):
    return f"{PREFIX}/beat/{rank}"


def finished_key(rank):
    return f"{PREFIX}/finished/{rank}"


def pid_namespace():
    """Processes can be checked by pid only inside one pid namespace: containers on one host
    (host networking, one hostname) each have their own."""
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return "-"


class WorkerWatchdog(threading.Thread):
    def __init__(self, store, rank, world_size, timeout, interval):
        super().__init__(name="ir_fairseq-worker-watchdog", daemon=True)
        self.store, self.rank, self.world_size = store, rank, world_size
        self.timeout, self.interval = timeout, interval
        self.failed = False  # an exception escaped the main thread: never report "finished"
        self.here = f"{HOST} {pid_namespace()}"
        self.watched = [r for r in range(world_size) if r != rank] if rank == READER else [READER]
        self.beat_keys = [beat_key(r) for r in self.watched]
        self.all_beating = False  # every watched worker has written a heartbeat once

    def run(self):
        started = time.time()
        last_seen = {}  # rank -> (heartbeat value, local time it was first seen)
        store_lost = None
        while True:
            now = time.time()
            try:
                self.store.set(beat_key(self.rank), f"{now!r} {self.here} {os.getpid()}")
                if self.rank != READER and self.store.check([VERDICT_KEY]):
                    stop(self.store.get(VERDICT_KEY).decode())
                problem = None
                for other, value in zip(self.watched, self.read_beats()):
                    seen_value, seen_at = last_seen.get(other, (None, started))
                    if value is not None and value != seen_value:
                        last_seen[other] = (value, now)
                        seen_at = now
                    problem = problem or self.judge(other, value, now - seen_at)
                if problem:
                    self.publish_and_stop(problem)
                store_lost = None
            except Exception as e:  # the store's host (rank 0 or torchrun's agent) is gone
                store_lost = store_lost or now
                if now - store_lost > STORE_LOSS_GRACE_S:
                    stop(f"lost the job's rendezvous store ({type(e).__name__}: {str(e).splitlines()[0][:120]}): "
                         "rank 0 or the launcher died: stopping the job")
            time.sleep(self.interval)

    def read_beats(self):
        """The watched workers' heartbeats (None: not written yet), in one request once all exist."""
        if not self.all_beating:
            self.all_beating = self.store.check(self.beat_keys)
        if self.all_beating:
            return self.store.multi_get(self.beat_keys)
        return [self.store.get(key) if self.store.check([key]) else None for key in self.beat_keys]

    def judge(self, other, value, silent_for):
        """What is wrong with worker ``other`` (None: nothing), from its last heartbeat."""
        if value is not None:
            _, host, namespace, pid = value.decode().split()
            if f"{host} {namespace}" == self.here and not process_exists(int(pid)):
                if not self.store.check([finished_key(other)]):
                    return f"rank {other} of {self.world_size} (pid {pid} on this host) is gone: stopping the job"
        if silent_for > self.timeout and not self.store.check([finished_key(other)]):
            return (f"rank {other} of {self.world_size} sent no heartbeat for {silent_for:.0f} s "
                    "(it died, hangs, or its host is lost): stopping the job")
        return None

    def publish_and_stop(self, problem):
        if self.rank == READER:  # the others stop with the same line at their next look
            self.store.set(VERDICT_KEY, problem)
            time.sleep(2 * self.interval)  # the store may live in this process: let them read it
        stop(problem)

    def report_finished(self):
        if self.failed:
            return
        try:
            self.store.set(finished_key(self.rank), "1")
        except Exception:  # the others are gone already: nothing to tell
            pass


def process_exists(pid):
    """Whether pid is a live process (a zombie, dead but not yet reaped by its parent, is not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: ask the kernel
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def stop(message):
    rank = dist.get_rank() if dist.is_initialized() else "?"
    sys.stderr.write(f"ir_fairseq: error: rank {rank}: {message}\n")
    sys.stderr.flush()
    logging.shutdown()
    os._exit(1)  # the main thread is blocked in a collective: a normal exit would wait for it


def start_worker_watchdog(timeout, interval=None):
    """Start the heartbeat of this worker (once per process); a no-op for a single worker,
    without ``torch.distributed``, or with ``timeout`` <= 0."""
    global _started
    if _started is not None or timeout <= 0 or not dist.is_initialized() or dist.get_world_size() < 2:
        return _started
    from torch.distributed import distributed_c10d

    # a connection of its own: the thread never interleaves with the main thread's calls, and
    # its timeout (a vanished store must not block it) is not imposed on the job's store
    try:
        store = distributed_c10d._get_default_store().clone()
    except (AttributeError, RuntimeError) as e:
        logger.warning("worker watchdog off: no connection of its own to the job's store (%s)", e)
        return None
    store.set_timeout(datetime.timedelta(seconds=timeout))
    interval = interval or max(0.5, min(5.0, timeout / 10))
    _started = WorkerWatchdog(store, dist.get_rank(), dist.get_world_size(), timeout, interval)
    previous_hook = sys.excepthook

    def mark_failed(kind, error, trace):
        _started.failed = True
        if any(fragment in str(error) for fragment in LOST_PEER_ERRORS):
            # a peer vanished: give the watchdog the time to name it (it exits the process)
            sys.stderr.write(f"ir_fairseq: rank {_started.rank}: a collective failed ({kind.__name__}: "
                             f"{str(error).splitlines()[0][:160]}); finding the worker that stopped\n")
            sys.stderr.flush()
            time.sleep(timeout + STORE_LOSS_GRACE_S + 3 * interval)
        previous_hook(kind, error, trace)

    sys.excepthook = mark_failed
    atexit.register(_started.report_finished)
    _started.start()
    logger.info("worker watchdog: rank %d of %d stops the job if a worker is silent for %.0f s",
                _started.rank, _started.world_size, timeout)
    return _started
