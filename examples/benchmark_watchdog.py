"""How many requests the worker watchdog sends to the job's store, at N ranks: N watchdog
threads (the real ``WorkerWatchdog``), each on its own connection to one real TCPStore on
this machine, run for a while; every store call is counted.

    python examples/benchmark_watchdog.py --ranks 8 64 256 --interval 0.5 --seconds 10

It prints, per N, the requests per rank per interval and the requests per second the store
would serve at the interval of the default --worker-heartbeat-timeout (30 s -> 3 s), beside the
earlier design in which every rank read every other rank (1 + 3 (N - 1) requests per rank per
interval, a formula, not measured).
"""
import argparse
import os
import datetime
import json
import subprocess
import sys
import threading
import time

import torch.distributed as dist

from ir_fairseq.tasks.worker_watchdog import WorkerWatchdog

DEFAULT_INTERVAL_S = 3.0  # what start_worker_watchdog picks for the default timeout of 30 s


class CountingStore:
    """A real store client whose calls are counted (the watchdog uses these four)."""

    def __init__(self, store, counter):
        self.store, self.counter = store, counter

    def _count(self):
        with self.counter["lock"]:
            self.counter["requests"] += 1

    def set(self, key, value):
        self._count()
        return self.store.set(key, value)

    def get(self, key):
        self._count()
        return self.store.get(key)

    def check(self, keys):
        self._count()
        return self.store.check(keys)

    def multi_get(self, keys):
        self._count()
        return self.store.multi_get(keys)


def measure(ranks, interval, seconds, timeout=600.0):
    server = dist.TCPStore("127.0.0.1", 0, None, True, timeout=datetime.timedelta(seconds=60), wait_for_workers=False)
    counter = {"requests": 0, "lock": threading.Lock()}
    watchdogs = []
    for rank in range(ranks):
        client = dist.TCPStore("127.0.0.1", server.port, None, False, timeout=datetime.timedelta(seconds=60))
        watchdogs.append(WorkerWatchdog(CountingStore(client, counter), rank, ranks, timeout, interval))
    for watchdog in watchdogs:
        watchdog.start()
    time.sleep(seconds / 2)  # past the start, when a reader's first look may find beats missing
    with counter["lock"]:
        before, start = counter["requests"], time.time()
    time.sleep(seconds / 2)
    with counter["lock"]:
        requests, elapsed = counter["requests"] - before, time.time() - start
    per_rank_per_interval = requests / ranks / (elapsed / interval)
    return {"ranks": ranks, "requests": requests, "seconds": elapsed, "per_second": requests / elapsed,
            "per_rank_per_interval": per_rank_per_interval,
            "at_default_interval": per_rank_per_interval * ranks / DEFAULT_INTERVAL_S,
            "earlier_design": (1 + 3 * (ranks - 1)) * ranks / DEFAULT_INTERVAL_S}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranks", type=int, nargs="+", default=[8, 64, 256])
    parser.add_argument("--interval", type=float, default=0.5, help="heartbeat interval of the run, seconds")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long each N runs")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # one N, in a process of its own
    args = parser.parse_args()
    if args.one:  # the watchdog threads run until their process ends, each N gets its own
        print(json.dumps(measure(args.one, args.interval, args.seconds)), flush=True)
        os._exit(0)  # the watchdog threads would lose their store at exit and report it
    print(f"| ranks | requests counted | requests/s at interval {args.interval} s | per rank per interval "
          f"| requests/s at {DEFAULT_INTERVAL_S:.0f} s | earlier design at {DEFAULT_INTERVAL_S:.0f} s (formula) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for ranks in args.ranks:
        out = subprocess.run([sys.executable, __file__, "--one", str(ranks), "--interval", str(args.interval),
                              "--seconds", str(args.seconds)], capture_output=True, text=True, check=True).stdout
        row = json.loads(out.splitlines()[0])
        print(f"| {ranks} | {row['requests']} | {row['per_second']:.0f} | {row['per_rank_per_interval']:.2f} "
              f"| {row['at_default_interval']:.0f} | {row['earlier_design']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
