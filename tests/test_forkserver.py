"""Fork server (avssl.forkserver): a stage command run through a warm server behaves as a fresh process would:
its folder, environment, streams, exit status and outputs; another environment never shares a server; a
signal to the client reaches the job; nothing is forked when the feature is off."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import env_with_venv, tool
from tests.fixtures_datasets import make_ravdess


def _env(folder: Path, **extra: str) -> dict:
    env = env_with_venv()
    env.update({"AVSSL_FORKSERVER": str(folder), "AVSSL_FORKSERVER_OWNER": str(os.getpid()), **extra})
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def _key(env: dict) -> str:
    out = subprocess.run([sys.executable, "-c", "from avssl import forkserver; print(forkserver.fingerprint())"],
                         env=env, capture_output=True, text=True, check=True)  # fmt: skip
    return out.stdout.strip()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A warm server for this test process's environment (torch imported), stopped at the end."""
    folder = tmp_path_factory.mktemp("fork")
    env = _env(folder)
    key = _key(env)
    proc = subprocess.Popen([sys.executable, "-m", "avssl.forkserver", str(folder), key], env=env)
    sock = folder / f"{key}.sock"
    deadline = time.time() + 120
    while not sock.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert sock.exists(), f"the server did not start (exit {proc.poll()})"
    yield folder, env
    proc.terminate()
    proc.wait(timeout=30)
    assert not sock.exists()  # removed on the way out
    _stop_servers(folder)  # the one another environment started
    assert not folder.exists()  # the last server out leaves nothing behind (empty logs included)


def _stop_servers(folder: Path) -> None:
    """SIGTERM every server serving `folder` once it listens (a server still importing would die untidily)."""
    for pid in _pids_with_argument(str(folder)):
        deadline = time.time() + 120
        while not list(folder.glob("*.sock")) and time.time() < deadline:
            time.sleep(0.2)
        os.kill(pid, signal.SIGTERM)
        while Path(f"/proc/{pid}").exists() and time.time() < deadline:
            time.sleep(0.1)


def _pids_with_argument(argument: str) -> list[int]:
    return _pids(lambda proc: argument in (proc / "cmdline").read_bytes().decode().split("\0"))


def _index(cwd: Path, env: dict, output: str = "index.csv") -> subprocess.CompletedProcess:
    return subprocess.run([tool("avssl"), "index", "--dataset", "ravdess", "--root", ".", "--output", output],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)  # fmt: skip


def test_a_stage_runs_forked_in_the_clients_folder_with_identical_outputs(server, tmp_path):
    folder, env = server
    root = make_ravdess(tmp_path / "ravdess")
    forked = _index(root, env, "forked.csv")
    assert forked.returncode == 0, forked.stderr
    assert "forked)" in forked.stderr  # the "done in X s (start-up Y s, forked)" line
    plain = _index(root, {**env, "AVSSL_FORKSERVER": "0"}, "plain.csv")
    assert plain.returncode == 0, plain.stderr
    assert "forked" not in plain.stderr
    assert (root / "forked.csv").read_bytes() == (root / "plain.csv").read_bytes()
    assert (root / "mlflow.db").is_file()  # tracked in the client's folder, as a plain process does


def test_errors_and_exit_status_reach_the_client(server, tmp_path):
    folder, env = server
    done = subprocess.run([tool("avssl"), "finetune", "--params", "missing.yaml", "--task", "emotion", "--init",
                           "random", "--input", "x", "--output", "y"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 2
    assert "missing.yaml: params file not found" in done.stderr


def test_another_environment_gets_no_fork_from_this_server(server, tmp_path):
    """Thread counts & co. are read at import: a job whose environment differs runs as a plain process (and asks
    for a server of its own)."""
    folder, env = server
    root = make_ravdess(tmp_path / "ravdess")
    other = _index(root, {**env, "OMP_NUM_THREADS": "3"})
    assert other.returncode == 0, other.stderr
    assert "forked" not in other.stderr
    starting = {p.name.split(".")[0] for p in folder.glob("*.starting")} | {
        p.name.split(".")[0] for p in folder.glob("*.sock")}  # fmt: skip
    assert _key({**env, "OMP_NUM_THREADS": "3"}) in starting


def test_a_signal_to_the_client_ends_the_forked_job(server, tmp_path):
    folder, env = server
    subprocess.run([tool("avssl"), "params", "--defaults", "--output", "params.yaml"], cwd=tmp_path, env=env,
                   check=True)  # fmt: skip
    job = subprocess.Popen([tool("avssl"), "synth", "--set", "synth.n_speakers=6", "--output", "synth", "--no-track"],
                           cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)  # fmt: skip
    time.sleep(3.0)
    children = _jobs_named("avssl-synth")
    assert children, "the synth job should be running in a forked child"
    job.send_signal(signal.SIGTERM)
    assert job.wait(timeout=60) == 128 + signal.SIGTERM
    deadline = time.time() + 30
    while _jobs_named("avssl-synth") and time.time() < deadline:
        time.sleep(0.2)
    assert not _jobs_named("avssl-synth")


def _jobs_named(comm: str) -> list[int]:
    return _pids(lambda proc: (proc / "comm").read_text().strip() == comm)


def _pids(match) -> list[int]:
    """The processes whose /proc entry `match` accepts (one that ends while being read is skipped)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and match(entry):
                found.append(int(entry.name))
        except OSError:
            pass
    return found


def test_warm_calls_load_the_compiled_gru_before_forking_and_start_no_thread():
    """The server runs WARM_CALLS after its imports: its children get numba's float32 GRU kernels ready."""
    from avssl import forkserver

    assert all(call.rpartition(".")[0] in forkserver.WARM_MODULES for call in forkserver.WARM_CALLS)
    code = """
import importlib, threading
from avssl import forkserver
from avssl.models import gru
for call in forkserver.WARM_CALLS:
    module, _, function = call.rpartition(".")
    getattr(importlib.import_module(module), function)()
print(threading.active_count(), len(gru._forward_kernel.signatures), len(gru._backward_kernel.signatures))
"""
    out = subprocess.run([sys.executable, "-c", code], env=env_with_venv(), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "1", "1"]
