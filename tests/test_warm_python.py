"""The warm interpreter most tests start their programs with (tests/warm_python.py) must behave as
the real one: same arguments, module search path, working directory, environment, thread count,
streams, exit statuses and signals; a start it cannot reproduce runs the real interpreter."""
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import REAL_PYTHON, python

pytestmark = pytest.mark.quick

PROBE = r"""
import json, os, sys
preloaded = "fairseq" in sys.modules
import torch
left_open = open(os.environ["PROBE_FILE"], "w")
left_open.write("written, never closed")  # the interpreter's exit flushes it
print(json.dumps({
    "preloaded": preloaded, "name": __name__, "argv": sys.argv, "orig_argv": sys.orig_argv[1:],
    "path": sys.path, "cwd": os.getcwd(), "pythonpath": os.environ.get("PYTHONPATH"),
    "value": os.environ.get("PROBE_VALUE"), "threads": torch.get_num_threads(), "stdin": sys.stdin.read(),
}))
print("to stderr", file=sys.stderr)
if os.environ.get("PROBE_FAIL"):
    raise ValueError("probe failed")
sys.exit(int(os.environ.get("PROBE_EXIT", "0")))
"""


def run_probe(interpreter, form, folder, **env):
    with open(folder / "probe.py", "w") as f:
        f.write(PROBE)
    argv = {"script": [str(folder / "probe.py"), "a", "b"], "module": ["-m", "probe", "a", "b"],
            "code": ["-c", PROBE, "a", "b"]}[form]
    environment = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    environment.update(PROBE_FILE=str(folder / f"file-{os.path.basename(interpreter)}"), **env)
    proc = subprocess.run([interpreter, *argv], cwd=folder, input="from stdin", capture_output=True, text=True,
                          env=environment, timeout=300)
    report = json.loads(proc.stdout) if proc.stdout.strip() else {}
    written = open(environment["PROBE_FILE"]).read()
    return report, proc, written


@pytest.mark.parametrize("form", ["script", "module", "code"])
@pytest.mark.parametrize("threads", [None, "1"])
def test_a_warm_start_sees_what_a_real_start_sees(form, threads, tmp_path):
    env = {"PROBE_VALUE": "ü", "PROBE_EXIT": "3", "PYTHON": "the recipes' interpreter, not read by Python"}
    env |= {"OMP_NUM_THREADS": threads} if threads else {}
    real, real_proc, real_written = run_probe(REAL_PYTHON, form, tmp_path, **env)
    warm, warm_proc, warm_written = run_probe(python(), form, tmp_path, **env)
    assert (real.pop("preloaded"), warm.pop("preloaded")) == (False, True)  # the server did run it
    real_argv, warm_argv = real.pop("orig_argv"), warm.pop("orig_argv")
    assert warm_argv == real_argv
    assert warm == real
    assert (warm_proc.returncode, warm_proc.stderr) == (real_proc.returncode, real_proc.stderr) == (3, "to stderr\n")
    assert warm_written == real_written == "written, never closed"


def test_exit_statuses_are_the_real_ones(tmp_path):
    for env, expected in (({"PROBE_FAIL": "1"}, 1), ({"PROBE_EXIT": "0"}, 0)):
        _, real, _ = run_probe(REAL_PYTHON, "script", tmp_path, **env)
        _, warm, _ = run_probe(python(), "script", tmp_path, **env)
        assert warm.returncode == real.returncode == expected
        assert warm.stderr.splitlines()[-1] == real.stderr.splitlines()[-1]
    killed_by_itself = ["-c", "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"]
    assert subprocess.run([python(), *killed_by_itself]).returncode == -signal.SIGTERM


def wait_until_gone(pid):
    deadline = time.monotonic() + 120
    while os.path.exists(f"/proc/{pid}") and open(f"/proc/{pid}/stat").read().split()[2] != "Z":
        assert time.monotonic() < deadline, f"process {pid} still runs"
        time.sleep(0.05)


HANDLES_SIGTERM = """
import os, signal, sys, time
# os.write: the signal may arrive while print() below is still flushing
signal.signal(signal.SIGTERM, lambda *_: (os.write(1, b"stopping cleanly\\n"), sys.exit(5)))
print(os.getpid(), flush=True)
time.sleep(600)
"""


def test_a_signal_to_the_client_reaches_the_program():
    client = subprocess.Popen([python(), "-c", HANDLES_SIGTERM], stdout=subprocess.PIPE, text=True)
    program = int(client.stdout.readline())
    assert program != client.pid  # it runs in the server's child
    client.send_signal(signal.SIGTERM)  # the program's own handler answers, as in a real process
    assert client.wait(timeout=120) == 5
    assert client.stdout.read() == "stopping cleanly\n"
    wait_until_gone(program)


def test_a_killed_client_takes_its_program_with_it():
    client = subprocess.Popen([python(), "-c", HANDLES_SIGTERM], stdout=subprocess.PIPE, text=True)
    program = int(client.stdout.readline())
    client.kill()
    assert client.wait(timeout=120) == -signal.SIGKILL
    wait_until_gone(program)


def test_a_start_it_cannot_reproduce_runs_the_real_interpreter(tmp_path):
    report, proc, _ = run_probe(python(), "script", tmp_path, PYTHONPATH=str(tmp_path / "elsewhere"))
    assert proc.returncode == 0
    assert report["preloaded"] is False and report["path"][1] == str(tmp_path / "elsewhere")
    assert subprocess.run([python(), "-I", "-c", "import sys; sys.exit(sys.flags.isolated)"]).returncode == 1
