"""`avssl index` outside a project folder, and a dataset folder holding our own outputs (issue 13.6)."""

from __future__ import annotations

import csv
from pathlib import Path

from avssl.cli import main
from avssl.data.datasets import index_to_files, problems_path
from avssl.tracking.provenance import fingerprint_dir
from tests.fixtures_datasets import make_ravdess, touch


def _problems(path: Path) -> list[str]:
    with open(path, newline="") as fh:
        return [row["path"] for row in csv.DictReader(fh)]


def test_store_and_own_index_inside_the_root_are_not_problems(tmp_path):
    root = make_ravdess(tmp_path / "ravdess")
    baseline = index_to_files("ravdess", root, tmp_path / "baseline.csv")
    expected = _problems(problems_path(tmp_path / "baseline.csv"))
    for rel in ("mlflow.db", "mlflow.db.ready", "mlflow.db.lock", "mlflow.db-journal",
                "mlartifacts/1/x/artifacts/a.json", "mlruns/0/meta.yaml", "Actor_01/mlflow.db"):
        touch(root, rel)
    first = index_to_files("ravdess", root, root / "index.csv")
    again = index_to_files("ravdess", root, root / "index.csv")  # now index.csv and problems.csv lie in the root
    assert first == baseline and again == baseline
    assert _problems(root / "problems.csv") == expected
    assert "Actor_01/readme.txt" in expected  # a stranger's file still is a problem


def test_fingerprint_ignores_a_store_in_the_data_folder(tmp_path):
    root = make_ravdess(tmp_path / "ravdess")
    before = fingerprint_dir(root)
    touch(root, "mlflow.db", "x" * 100)
    touch(root, "mlartifacts/1/r/artifacts/params.resolved.json")
    assert fingerprint_dir(root) == before
    touch(root, "Actor_02/01-01-01-01-02-01-02.mp4")
    assert fingerprint_dir(root) != before


def test_index_runs_outside_a_project_with_the_defaults(tmp_path, monkeypatch, capsys):
    """The reported case: cwd without params.yaml, the dataset root as cwd, so the store lands in the root."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    root = make_ravdess(tmp_path / "ravdess")
    monkeypatch.chdir(root)
    assert not Path("params.yaml").exists()
    expected = index_to_files("ravdess", root, tmp_path / "baseline.csv")
    assert main(["index", "--dataset", "ravdess", "--root", str(root), "--output", str(tmp_path / "out.csv")]) == 0
    assert (root / "mlflow.db").is_file() and (root / "mlartifacts").is_dir()
    # A second run from the same folder: the store it left is not data.
    assert main(["index", "--dataset", "ravdess", "--root", ".", "--output", "index.csv"]) == 0
    with open(root / "index.csv", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == expected["clips"]
    assert len(_problems(root / "problems.csv")) == expected["problems"]


def test_index_help_says_defaults_apply(capsys):
    try:
        main(["index", "--help"])
    except SystemExit:
        pass
    assert "no params.yaml in the current folder, the defaults apply" in " ".join(capsys.readouterr().out.split())
