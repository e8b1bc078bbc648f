"""Shared test fixtures: the repo root, the venv binaries, and a quiet torch."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# Every `snakemake` process imports its installed executor plugins, and the SLURM one runs `scontrol show config`
# at import: where a SLURM client is installed without a reachable controller (as on the development machines)
# that waits 9-10 s for its timeout, per snakemake command. The tests never use SLURM, so tests/bin/scontrol
# answers "no controller" at once for every process they start (measured: a no-op `snakemake` 10.7 s -> 1.7 s).
os.environ["PATH"] = f"{REPO / 'tests' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"

# RAVEn encoders small enough for CPU unit tests (`RavenParams(**RAVEN_TINY)`).
RAVEN_TINY = dict(size="custom", layers=2, adim=64, heads=4, ffn=256, frontend_width=8, predictor_width=64,
                  predictor_heads=4, predictor_ffn=256)


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


def tool(name: str) -> str:
    """A console script of the running environment (snakemake, dvc, avssl)."""
    path = BIN / name
    return str(path) if path.exists() else name


def env_with_venv() -> dict:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("MPLBACKEND", "Agg")
    return env


def modules_imported_by(code: str, watch: tuple[str, ...]) -> list[str]:
    """Run ``code`` in a fresh interpreter (this checkout's src first on the path) and return the modules of
    ``watch`` that were imported afterwards, in ``watch`` order. The code must succeed (its stderr is shown if not).

    Why a subprocess: this test session has long imported torch, so only a fresh process can tell what an
    import or a command costs at start-up."""
    import json
    import subprocess

    probe = f"{code}\nimport json as _json, sys as _sys\nprint(_json.dumps([m for m in {list(watch)!r} if m in _sys.modules]))\n"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env_with_venv())
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def copy_repo(dest: Path) -> Path:
    """A clean copy of the checkout (tracked + untracked-not-ignored files), made a git repo of its own
    so runs inside it record a commit (what `avssl reproduce` checks)."""
    import subprocess

    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.split(b"\0")
    dest.mkdir(parents=True, exist_ok=True)
    for name in filter(None, files):
        src = REPO / name.decode()
        if src.is_file():
            target = dest / name.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(src.read_bytes())
            target.chmod(src.stat().st_mode)
    git = ["git", "-c", "user.name=avssl-test", "-c", "user.email=test@avssl.invalid"]
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    subprocess.run(git + ["add", "-A"], cwd=dest, check=True)
    subprocess.run(git + ["commit", "-qm", "test copy"], cwd=dest, check=True)
    return dest


def inject_broken_clips(synth: Path) -> dict[str, str]:
    """Add the kinds of bad input users have to a finished corpus; returns clip_id -> expected reject reason
    keyword."""
    import csv

    mp4s = sorted(synth.glob("*.mp4"))
    donor = mp4s[0].stem
    # truncated video
    (synth / "broken_video.mp4").write_bytes((synth / f"{donor}.mp4").read_bytes()[:2000])
    (synth / "broken_video.wav").write_bytes((synth / f"{donor}.wav").read_bytes())
    # empty audio next to a good video
    (synth / "empty_audio.mp4").write_bytes((synth / f"{donor}.mp4").read_bytes())
    (synth / "empty_audio.wav").write_bytes(b"")
    # files without a metadata row
    (synth / "no_metadata.mp4").write_bytes((synth / f"{donor}.mp4").read_bytes())
    (synth / "no_metadata.wav").write_bytes((synth / f"{donor}.wav").read_bytes())
    # a metadata row without files
    with open(synth / "metadata.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    fields = list(rows[0])
    extra = []
    for cid in ("broken_video", "empty_audio", "missing_files"):
        row = dict(rows[0], clip_id=cid)
        extra.append(row)
    with open(synth / "metadata.csv", "a", newline="") as fh:
        csv.DictWriter(fh, fieldnames=fields).writerows(extra)
    return {"broken_video": "video", "empty_audio": "audio", "no_metadata": "metadata", "missing_files": "file"}


def _build_tiny_dag(base: Path, procs: list) -> Path:
    """The tiny preset through snakemake in a temporary copy (with broken input injected after synthesis)."""
    import json
    import subprocess

    root = copy_repo(base / "repo")
    work = root / ".test"
    env = env_with_venv()
    env.pop("MLFLOW_TRACKING_URI", None)
    env["PYTHONPATH"] = str(root / "src")
    smk = [tool("snakemake"), "--cores", "2", "--directory", ".test"]

    def run(cmd: list[str], log: Path) -> tuple[int, str]:
        with open(log, "w") as out:  # a file, not a pipe: nobody reads while the DAG runs
            proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)  # fmt: skip
            procs.append(proc)
            code = proc.wait()
        return code, log.read_text(errors="replace")

    code, text = run(smk + ["synthesize"], base / "synthesize.out")
    assert code == 0, text[-6000:]
    injected = inject_broken_clips(work / "data" / "synth")
    (work / "injected.json").write_text(json.dumps(injected))
    code, text = run(smk, work / "snakemake.out")
    assert code == 0, text[-10000:]
    return work


_TINY: dict = {}


def _start_tiny_dag(tmp_path_factory) -> None:
    import threading

    base = tmp_path_factory.mktemp("tiny")
    state = _TINY  # the thread fills in "work" or "error" later: the fixture reads this same dict
    state.clear()
    state["procs"] = []

    def work() -> None:
        try:
            state["work"] = _build_tiny_dag(base, state["procs"])
        except BaseException as exc:  # re-raised by the fixture, in the first test that needs the DAG
            state["error"] = exc

    state["thread"] = threading.Thread(target=work, name="tiny-dag", daemon=True)
    state["thread"].start()


def pytest_collection_modifyitems(session, config, items):
    """Tests that read the finished tiny DAG run last: the DAG starts in the background at session start
    (`_tiny_dag_in_background`), and the unit tests, mostly single-threaded, run beside it meanwhile."""
    items.sort(key=lambda item: "tiny_dag" in getattr(item, "fixturenames", ()))


@pytest.fixture(scope="session", autouse=True)
def _tiny_dag_in_background(request, tmp_path_factory):
    """Start the tiny DAG when the session begins if any selected test needs it; stop it if the session ends
    first (interrupted, -x)."""
    import signal

    needed = any("tiny_dag" in getattr(item, "fixturenames", ()) for item in request.session.items)
    if needed and not os.environ.get("AVSSL_TEST_TINY_DAG"):
        _start_tiny_dag(tmp_path_factory)
    yield
    for proc in _TINY.get("procs", []):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)


@pytest.fixture(scope="session")
def tiny_dag(tmp_path_factory) -> Path:
    """The tiny preset run through snakemake in a temporary copy (with broken input injected after synthesis).

    Returns the copy's `.test` folder; `.test/injected.json` lists the injected clips. The run starts in the
    background at session start; this waits for it.
    """
    reuse = os.environ.get("AVSSL_TEST_TINY_DAG")  # developers: point at a finished run's .test to iterate
    if reuse:
        return Path(reuse)
    if "thread" not in _TINY:
        _start_tiny_dag(tmp_path_factory)
    _TINY["thread"].join()
    if "error" in _TINY:
        raise _TINY["error"]
    return _TINY["work"]


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models run fastest single-threaded, and the test machine is shared: avoid oversubscription.
    Use with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def env_for_copy(root: Path) -> dict:
    """Environment to run a repository copy's own code: the venv's tools first, the copy's `src` on the path, and
    no inherited MLflow store (each copy keeps its own)."""
    env = env_with_venv()
    env.pop("MLFLOW_TRACKING_URI", None)
    env["PYTHONPATH"] = str(root / "src")
    return env
