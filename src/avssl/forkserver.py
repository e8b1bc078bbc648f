"""Fork server: stage jobs start from a process that has already imported torch and the stage code.

Why: a workflow runs hundreds of short jobs (228 for the default preset with 3 seeds), and each new Python
process spends ~1.3 s importing torch, pydantic, numpy, matplotlib and the stage modules before its work begins
(the "start-up" of bench/bench_workflow.py). With ``AVSSL_FORKSERVER=<folder>`` in the environment (the Snakefile
sets it for local runs), ``avssl <stage command>`` asks a warm server for its exact environment to fork a child,
and the child runs the command with the client's arguments, working directory, environment, umask, CPU affinity
and standard streams; the client relays signals to it and exits with its status. Everything else about the job
is unchanged: same outputs, same MLflow run, same log.

Exactness: libraries read some environment variables once, at import (thread counts: Snakemake sets
``OMP_NUM_THREADS`` etc. per job), so a server serves only clients whose interpreter, environment (every variable
but shell bookkeeping), host, user, cgroup and avssl source files equal its own: their fingerprint names its
socket. The first job of a fingerprint finds no server, runs as a normal process and starts one for the next
jobs; any failure to reach a server also runs the job normally. Children reseed ``random`` and NumPy's global
generator from the OS, as a fresh interpreter does (torch's default seed is a constant either way). A server
exits when the process named by ``AVSSL_FORKSERVER_OWNER`` (Snakemake) has gone, or after ``IDLE_S`` seconds
without a request. ``AVSSL_FORKSERVER=0`` (or unset) turns it off.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import struct
import sys
import time

from avssl.process_clock import process_created

IDLE_S = 600.0
# Shell bookkeeping that differs between jobs of one workflow and that no library reads at import time.
ENV_IGNORED = frozenset({"_", "PWD", "OLDPWD", "SHLVL"})
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
# What a stage process imports before its work: loaded once in the server (a missing optional one is skipped).
WARM_MODULES = (
    "numpy", "torch", "torchaudio", "yaml", "pydantic", "safetensors.torch", "sentencepiece", "threadpoolctl",
    "statistics", "matplotlib.pyplot", "PIL.PngImagePlugin",
    "avssl.cli", "avssl.config", "avssl.config.view", "avssl.progress", "avssl.tracking.run",
    "avssl.tracking.sqlite_run", "avssl.tracking.provenance", "avssl.data.processed", "avssl.data.batching",
    "avssl.models.registry", "avssl.models.load", "avssl.models.encode", "avssl.models.checkpoint",
    "avssl.models.gru", "avssl.models.logmel", "avssl.models.shukla", "avssl.models.shukla.audio_attributes",
    "avssl.models.raven", "avssl.training.loop", "avssl.training.pretrain", "avssl.training.plots",
    "avssl.training.raven", "avssl.training.shukla", "avssl.tasks.finetune", "avssl.tasks.evaluate",
    "avssl.tasks.features", "avssl.tasks.base", "avssl.tasks.kinds", "avssl.tasks.classification",
    "avssl.tasks.affect", "avssl.tasks.gru_head", "avssl.tasks.speech_recognition", "avssl.tasks.metrics",
    "avssl.tasks.noise", "avssl.tasks.plots", "avssl.tasks.tokenizer", "avssl.report.stage",
)  # fmt: skip
# Called once the modules are in, before any fork: numba's compiled GRU loop is loaded from its cache (or compiled,
# the first time) here rather than in every child (~0.35 s cache load, ~3 s compile).
WARM_CALLS = ("avssl.models.gru.warm",)


def enabled_folder() -> str | None:
    folder = os.environ.get("AVSSL_FORKSERVER", "")
    return folder if folder not in ("", "0") and os.path.isdir(folder) else None


def fingerprint() -> str:
    """What a fresh process's imported state depends on, hashed: equal fingerprints, interchangeable processes."""
    try:
        with open("/proc/self/cgroup") as fh:
            cgroup = fh.read()
    except OSError:
        cgroup = ""
    facts = {
        "python": os.path.realpath(sys.executable),
        "env": sorted((k, v) for k, v in os.environ.items() if k not in ENV_IGNORED),
        "host": socket.gethostname(),
        "uid": os.getuid(),
        "cgroup": cgroup,
        "sources": _source_stamp(),
    }
    return hashlib.sha256(json.dumps(facts).encode()).hexdigest()[:24]


def _source_stamp() -> list:
    """The avssl package's location and its .py files' sizes and mtimes: an edit means a new server."""
    root = os.path.dirname(os.path.abspath(__file__))
    stamp = [root]
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            if name.endswith(".py"):
                st = os.stat(os.path.join(folder, name))
                stamp.append((name, st.st_size, st.st_mtime_ns))
    return stamp


def enable_for_workflow(local: bool, log=print) -> None:
    """Snakemake's onstart: let this run's jobs use fork servers owned by this process (its environment is
    what every job inherits). Off for cluster executors and when the user set AVSSL_FORKSERVER=0."""
    import tempfile

    if not local or os.environ.get("AVSSL_FORKSERVER") == "0":
        return
    folder = os.path.abspath(os.path.join(".snakemake", "forkserver", str(os.getpid())))
    if len(folder) > 60:  # a socket path must stay under ~107 bytes
        folder = tempfile.mkdtemp(prefix="avssl-fork-")
    os.makedirs(folder, mode=0o700, exist_ok=True)
    os.environ["AVSSL_FORKSERVER"] = folder
    os.environ["AVSSL_FORKSERVER_OWNER"] = str(os.getpid())
    log(f"avssl: jobs start from fork servers in {folder} (AVSSL_FORKSERVER=0 turns this off)")


# ---- client -------------------------------------------------------------------------------------------------
def delegate(argv: list[str]) -> int | None:
    """Run ``avssl argv`` in a forked child of a warm server; None: no server took it (run it here)."""
    folder = enabled_folder()
    if folder is None:
        return None
    key = fingerprint()
    path = os.path.join(folder, f"{key}.sock")
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)
    except OSError:
        conn.close()
        _start_server(folder, key)
        return None
    with conn:
        return _run_remote(conn, argv, key)


def _run_remote(conn: socket.socket, argv: list[str], key: str) -> int | None:
    request = {"key": key, "argv": argv, "argv0": sys.argv[0], "cwd": os.getcwd(), "env": dict(os.environ),
               "umask": _umask(), "affinity": sorted(os.sched_getaffinity(0)),
               "created": process_created()}  # fmt: skip
    payload = json.dumps(request).encode()
    try:
        socket.send_fds(conn, [struct.pack("!Q", len(payload))], [0, 1, 2])
        conn.sendall(payload)
        replies = conn.makefile("rb")
        first = json.loads(replies.readline() or b"{}")
    except (OSError, ValueError):
        return None
    if "pid" not in first:
        return None  # refused or gone before forking: nothing ran
    pid, forwarded = first["pid"], []

    def forward(signum, _frame):
        forwarded.append(signum)
        try:
            os.killpg(pid, signum)
        except ProcessLookupError:
            pass

    for signum in FORWARDED_SIGNALS:
        signal.signal(signum, forward)
    try:
        last = json.loads(replies.readline() or b"{}")
    except (OSError, ValueError):
        last = {}
    if "exit" in last:
        return int(last["exit"])
    if forwarded:
        return 128 + forwarded[-1]
    print(f"avssl: the forked job process {pid} ended without an exit status (killed?)", file=sys.stderr)
    return 1


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _start_server(folder: str, key: str) -> None:
    """Start the server of this fingerprint in the background, unless another job is already starting it."""
    import subprocess

    try:
        os.close(os.open(os.path.join(folder, f"{key}.starting"), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except OSError:
        return
    with open(os.path.join(folder, f"{key}.log"), "ab") as log:
        subprocess.Popen([sys.executable, "-m", "avssl.forkserver", folder, key], stdin=subprocess.DEVNULL,
                         stdout=log, stderr=log, cwd=folder, start_new_session=True, close_fds=True)  # fmt: skip


# ---- server -------------------------------------------------------------------------------------------------
def serve(folder: str, key: str) -> None:
    """Import the stage code, listen on ``<folder>/<key>.sock``, fork a child per request, until idle/orphaned."""
    import importlib
    import select

    starting = os.path.join(folder, f"{key}.starting")
    # Should anything below fail, `.starting` stays: no later job of this run tries again (the reason is in
    # <key>.log) and jobs run as plain processes.
    if fingerprint() != key:  # started from another environment than its clients': serve nobody
        raise RuntimeError("the server's fingerprint differs from the one it was started for")
    import matplotlib

    matplotlib.use("Agg", force=True)  # as every avssl plot does before importing pyplot
    for name in WARM_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    for call in WARM_CALLS:
        module, _, function = call.rpartition(".")
        if module in sys.modules:
            getattr(sys.modules[module], function)()
    import threading

    if threading.active_count() > 1:  # a fork copies only the calling thread: locks held by others stay held
        raise RuntimeError(f"importing the stage modules started threads: {threading.enumerate()}")
    path = os.path.join(folder, f"{key}.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(f"{path}.{os.getpid()}")
    listener.listen(64)
    os.rename(f"{path}.{os.getpid()}", path)  # appears only when ready
    if os.path.exists(starting):  # (absent when started by hand)
        os.unlink(starting)  # a later job may start a new server once this one has exited
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop cleanly: the socket goes with the server
    owner = int(os.environ.get("AVSSL_FORKSERVER_OWNER", "0") or 0)
    last = time.monotonic()
    try:
        while _owner_alive(owner) and time.monotonic() - last < IDLE_S:
            if select.select([listener], [], [], 1.0)[0]:
                conn, _ = listener.accept()
                last = time.monotonic()
                _accept(conn, listener, key)
    finally:
        listener.close()
        if os.path.exists(path):
            os.unlink(path)
        if owner > 0:
            _tidy(folder, key)


def _tidy(folder: str, key: str) -> None:
    """Leave nothing of a run's servers behind but a log that has something to say (the last one out removes the
    folder; a folder made under /tmp for a long working path would otherwise pile up)."""
    log = os.path.join(folder, f"{key}.log")
    try:
        if os.path.getsize(log) == 0:
            os.unlink(log)
    except OSError:
        pass
    try:
        os.rmdir(folder)
    except OSError:  # another server still runs here, or a log stays for the user
        pass


def _owner_alive(owner: int) -> bool:
    if owner <= 0:
        return True
    try:
        os.kill(owner, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _accept(conn: socket.socket, listener: socket.socket, key: str) -> None:
    """Read one request (header with the client's stdin/stdout/stderr, then JSON) and fork its child."""
    fds: list[int] = []
    try:
        uid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))[1]
        header, fds, _, _ = socket.recv_fds(conn, 8, 3)
        size = struct.unpack("!Q", header)[0]
        payload = b""
        while len(payload) < size:
            chunk = conn.recv(size - len(payload))
            if not chunk:
                raise OSError("client closed the connection")
            payload += chunk
        request = json.loads(payload)
        if uid != os.getuid() or request.get("key") != key or len(fds) != 3:
            raise OSError("refused: another user or another fingerprint")
    except (OSError, ValueError, struct.error):
        for fd in fds:
            os.close(fd)
        conn.close()
        return
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        listener.close()
        code = 1
        try:
            code = _child(conn, request, fds)
        finally:
            os._exit(code)
    for fd in fds:
        os.close(fd)
    conn.close()


def _child(conn: socket.socket, request: dict, fds: list[int]) -> int:
    """Become the client's job: its streams, folder, environment, umask and CPUs; run the command; report."""
    import atexit
    import random
    import threading

    os.setpgid(0, 0)  # the job and its worker processes form one group: a relayed signal reaches them all
    for signum in (signal.SIGCHLD, *FORWARDED_SIGNALS):  # as in a fresh interpreter
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    _reopen_stdio()
    os.chdir(request["cwd"])
    os.umask(request["umask"])
    os.environ.clear()
    os.environ.update(request["env"])
    try:
        os.sched_setaffinity(0, request["affinity"])
    except OSError:
        pass
    sys.argv = [request["argv0"], *request["argv"]]
    _set_name(f"avssl-{request['argv'][0] if request['argv'] else ''}")
    random.seed()
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()
    from avssl.tracking import run

    run.set_process_created(request["created"])
    conn.sendall(json.dumps({"pid": os.getpid()}).encode() + b"\n")
    # The client died without relaying a signal (e.g. SIGKILL): end as a killed job would.
    threading.Thread(target=_die_with_client, args=(conn,), daemon=True).start()
    code = _run_cli(request["argv"])
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    try:
        conn.sendall(json.dumps({"exit": code}).encode() + b"\n")
    except OSError:
        pass
    return code


def _set_name(name: str) -> None:
    """Name the job in `ps`/`top` by its command (a child would otherwise show the server's command line)."""
    try:
        with open("/proc/self/comm", "w") as fh:
            fh.write(name[:15])
    except OSError:
        pass


def _run_cli(argv: list[str]) -> int:
    """``sys.exit(avssl.cli.main())`` as the console script does, returning the status instead."""
    import traceback

    from avssl import cli

    try:
        code = cli.main(argv)
    except SystemExit as exc:
        code = exc.code
    except BaseException:
        traceback.print_exc()
        return 1
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _die_with_client(conn: socket.socket) -> None:
    try:
        while conn.recv(4096):
            pass
    except OSError:
        pass
    os.killpg(0, signal.SIGTERM)


def _reopen_stdio() -> None:
    """New stdin/stdout/stderr objects on fds 0-2, buffered as a fresh interpreter would buffer them there."""
    import io

    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        old = getattr(sys, name)
        encoding = getattr(old, "encoding", None) or "utf-8"
        if fd == 0:
            new = io.TextIOWrapper(io.open(fd, "rb", closefd=False), encoding=encoding)
        else:
            tty = os.isatty(fd)
            new = io.TextIOWrapper(io.open(fd, "wb", closefd=False), encoding=encoding,
                                   errors="backslashreplace" if fd == 2 else "strict",
                                   line_buffering=tty or fd == 2, write_through=fd == 2)  # fmt: skip
        setattr(sys, name, new)
        setattr(sys, f"__{name}__", new)


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2])
