"""A warm Python for the test suite: most tests start fairseq in a fresh interpreter (through a
recipe or a command) and spend seconds importing torch and fairseq before doing milliseconds of
work. A server imports those two once and forks one child per start; a tiny client put where the
tests' ``PYTHON`` is hands it its command line, environment, working directory and standard
streams, forwards the signals it receives and exits with the child's status.

What stays real in every child: the project's own imports (``ir_fairseq`` is never pre-imported,
so ``--user-dir`` and ``register()`` run as in a user's process), ``fairseq_cli``'s modules (run
as ``__main__`` the way ``python -m`` runs them, logging configured by them), the environment,
torch's thread count, numpy's seed, threads joined and atexit run at exit, files left open
flushed. What differs: ``sys.modules`` already holds torch and fairseq, ``sys.executable`` is the
real interpreter, children share the server's hash seed, and the exit skips the interpreter's
teardown of every module (a second each). A start the server cannot reproduce exactly
(interpreter options, a different ``PYTHONPATH`` or another variable read at start-up) runs the
real interpreter instead; tests that stop, freeze or find processes by their command line use
the real interpreter (``conftest.REAL_PYTHON``). ``IR_FAIRSEQ_TEST_WARM=0`` turns it off.

    python tests/warm_python.py serve SOCKET       # the server (conftest starts one per worker)
    <client> -m fairseq_cli.train ...              # the client: written by ``write_client``
"""
import json
import os
import signal
import socket
import struct
import sys

# variables Python, torch, OpenMP or MKL read while they start: a child would inherit the
# server's values, so a different value (or one set on one side only) means a real start
READ_AT_START = ("PYTHON", "TORCH_", "OMP_", "MKL_", "KMP_", "GOMP_", "LD_", "MALLOC_", "CUDA_")
# ... except these: set in each child, read later, or (PYTHON) the recipes' own, not Python's
SET_PER_CHILD = {"OMP_NUM_THREADS", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "PYTHONBREAKPOINT", "PYTHON"}
FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
                     signal.SIGUSR2, signal.SIGCONT)


def _send(sock, payload, fds=()):
    data = json.dumps(payload).encode()
    socket.send_fds(sock, [struct.pack("!I", len(data))], list(fds))
    sock.sendall(data)


def _receive(sock, max_fds=0):
    header, fds, _, _ = socket.recv_fds(sock, 4, max_fds)
    if len(header) < 4:
        return None, fds
    size, = struct.unpack("!I", header)
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None, fds
        data += chunk
    return json.loads(data), fds


# ---------------------------------------------------------------- client (standard library only)

def client(socket_path, real_python):
    argv = sys.argv[1:]
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.connect(socket_path)
        _send(sock, {"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}, fds=(0, 1, 2))
        reply, _ = _receive(sock)
    except OSError:
        reply = None
    if not reply or "pid" not in reply:  # no server, or a start it cannot reproduce
        sock.close()
        os.execv(real_python, [real_python, *argv])
    child = reply["pid"]
    for signum in FORWARDED_SIGNALS:
        signal.signal(signum, lambda number, frame: os.kill(child, number))
    outcome, _ = _receive(sock)
    if outcome is None:  # the server died: the child went with it
        os._exit(1)
    if "signal" in outcome:
        signal.signal(outcome["signal"], signal.SIG_DFL)
        os.kill(os.getpid(), outcome["signal"])
        os._exit(128 + outcome["signal"])
    os._exit(outcome["exit"])


def write_client(path, socket_path, real_python):
    """An executable that behaves as ``real_python`` but starts its programs in the server."""
    here = os.path.dirname(os.path.abspath(__file__))
    with open(path, "w") as f:
        f.write(f"#!{real_python} -SE\n"  # -S -E: no site-packages, no PYTHON* variables: ~20 ms
                f"import sys\nsys.path.insert(0, {here!r})\nimport warm_python\n"
                f"warm_python.client({socket_path!r}, {real_python!r})\n")
    os.chmod(path, 0o755)
    return path


# ---------------------------------------------------------------- server

def _preload():
    """What every fairseq start imports and the project does not own; nothing of ir_fairseq."""
    import logging

    import numpy  # noqa: F401
    import torch  # noqa: F401
    import fairseq  # noqa: F401
    import fairseq_cli.train  # noqa: F401  (its imports; the module itself runs fresh as __main__)
    import fairseq_cli.preprocess  # noqa: F401

    default_threads = torch.get_num_threads()  # the server starts without OMP_NUM_THREADS
    for name in ("fairseq_cli.train", "fairseq_cli.preprocess"):
        sys.modules.pop(name)
        delattr(sys.modules["fairseq_cli"], name.split(".")[1])
    # fairseq_cli.train configured logging on import: a child's own run configures it again
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(logging.WARNING)
    return default_threads


def _start_env_differs(env, at_start):
    names = {n for n in set(env) | set(at_start) if n.startswith(READ_AT_START)} - SET_PER_CHILD
    return any(env.get(n) != at_start.get(n) for n in names)


def _parse(argv):
    """(kind, target, arguments, unbuffered) for the command lines the server runs; None for any other."""
    unbuffered = False
    while argv and argv[0] == "-u":
        unbuffered, argv = True, argv[1:]
    if not argv or argv[0] == "-":
        return None
    if argv[0] in ("-m", "-c"):
        return (argv[0], argv[1], argv[2:], unbuffered) if len(argv) > 1 else None
    if argv[0].startswith("-"):
        return None
    return ("script", argv[0], argv[1:], unbuffered)


def serve(socket_path):
    here = os.path.dirname(os.path.abspath(__file__))
    base_path = [p for p in sys.path[1:] if os.path.abspath(p or ".") != here]
    env_at_start = dict(os.environ)
    default_threads = _preload()
    import gc

    gc.collect()
    gc.freeze()  # the children's collections skip what every child shares, and so does the exit
    # what the imports set (sklearn's KMP_* for instance), a real process has after them too
    set_by_imports = {n: v for n, v in os.environ.items() if env_at_start.get(n) != v}
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(socket_path)
    listener.listen(128)
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    parent = os.getppid()
    connections = {}  # child pid -> the client's connection
    orphans = set()  # children whose client died, killed and not yet reaped

    import select

    while True:
        watched = [listener, wake_read, *(c for p, c in connections.items() if p not in orphans)]
        try:
            ready, _, _ = select.select(watched, [], [], 1.0)
        except InterruptedError:
            continue
        if os.getppid() != parent:  # the test session is gone: so are the server and its children
            for pid in connections:
                os.kill(pid, signal.SIGKILL)
            return
        if wake_read in ready:
            os.read(wake_read, 4096)
            while connections:
                pid, status = os.waitpid(-1, os.WNOHANG)
                if pid == 0:
                    break
                conn = connections.pop(pid, None)
                orphans.discard(pid)
                if conn is not None:
                    outcome = ({"signal": os.WTERMSIG(status)} if os.WIFSIGNALED(status)
                               else {"exit": os.waitstatus_to_exitcode(status)})
                    try:
                        _send(conn, outcome)
                    except OSError:
                        pass
                    conn.close()
        for pid, conn in list(connections.items()):
            if conn in ready and pid not in orphans:  # the client is gone (killed): so is its program
                orphans.add(pid)
                os.kill(pid, signal.SIGKILL)
        if listener in ready:
            conn, _ = listener.accept()
            request, fds = _receive(conn, max_fds=3)
            command = _parse(request["argv"]) if request and len(fds) == 3 else None
            if command is None or _start_env_differs(request["env"], env_at_start):
                print("real start:", request and request["argv"][:3], flush=True)
                _send(conn, {"cold": True})
                conn.close()
            else:
                pid = os.fork()
                if pid == 0:
                    os.close(wake_read)
                    os.close(wake_write)
                    for other in (listener, conn, *connections.values()):
                        other.close()
                    _run_child(command, request, fds, base_path, set_by_imports, default_threads)
                connections[pid] = conn
                _send(conn, {"pid": pid})
            for fd in fds:
                os.close(fd)


def _run_child(command, request, fds, base_path, set_by_imports, default_threads):
    import ctypes
    import io
    import runpy
    import types

    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: no child outlives the server
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for fd, target in zip(fds, (0, 1, 2)):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    os.environ.update(set_by_imports)
    kind, target, arguments, unbuffered = command
    unbuffered = unbuffered or bool(os.environ.get("PYTHONUNBUFFERED"))

    def stream(fd, mode, errors):
        raw = io.FileIO(fd, mode, closefd=False)
        tty = raw.isatty()
        buffered = io.BufferedReader(raw) if mode == "r" else io.BufferedWriter(raw)
        return io.TextIOWrapper(buffered, encoding=sys.stdout.encoding, errors=errors,
                                line_buffering=tty or (fd == 2), write_through=unbuffered or fd == 2)

    sys.stdin = sys.__stdin__ = stream(0, "r", "strict")
    sys.stdout = sys.__stdout__ = stream(1, "w", "strict")
    sys.stderr = sys.__stderr__ = stream(2, "w", "backslashreplace")

    import numpy
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or default_threads))
    numpy.random.seed()  # a fresh interpreter seeds numpy from the OS

    main = types.ModuleType("__main__")
    main.__dict__["__builtins__"] = __builtins__
    sys.modules["__main__"] = main
    sys.orig_argv = [sys.executable, *request["argv"]]
    code = 0
    try:
        if kind == "-m":
            sys.argv = ["-m", *arguments]
            sys.path[:] = [os.getcwd(), *base_path]
            runpy._run_module_as_main(target, alter_argv=True)
        elif kind == "-c":
            sys.argv = ["-c", *arguments]
            sys.path[:] = ["", *base_path]
            exec(compile(target, "<string>", "exec"), main.__dict__)
        else:
            sys.argv = [target, *arguments]
            sys.path[:] = [os.path.dirname(os.path.realpath(target)), *base_path]
            runpy.run_path(target, run_name="__main__")
    except SystemExit as stop:
        if stop.code is None:
            code = 0
        elif isinstance(stop.code, int):
            code = stop.code
        else:
            print(stop.code, file=sys.stderr)
            code = 1
    except KeyboardInterrupt:
        sys.excepthook(*sys.exc_info())
        code = -signal.SIGINT
    except BaseException:
        sys.excepthook(*sys.exc_info())
        code = 1
    _exit_as_the_interpreter_does(code)


def _exit_as_the_interpreter_does(code):
    """Join the threads, run atexit, flush what was written and never closed, exit. Without the
    interpreter's own teardown of every module (a second for torch and fairseq): its only effect
    a program could see is files flushed as they are freed, done here for the child's own."""
    import atexit
    import gc
    import io
    import threading

    threading._shutdown()
    atexit._run_exitfuncs()
    # the server froze its own objects (gc.freeze): what gc still sees was made by the program
    left_open = [o for o in gc.get_objects() if isinstance(o, io.IOBase) and o not in (sys.stdout, sys.stderr)]
    for kind in (io.TextIOBase, io.BufferedIOBase):  # text first: it writes into its buffer
        for stream in left_open:
            if isinstance(stream, kind) and not stream.closed and stream.writable():
                try:
                    stream.flush()
                except (OSError, ValueError):
                    pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    if code == -signal.SIGINT:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    os._exit(code & 0xFF)

if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"] and len(sys.argv) == 3:
        serve(sys.argv[2])
    else:
        sys.exit("usage: python tests/warm_python.py serve SOCKET")
