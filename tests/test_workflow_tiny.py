"""The whole tiny DAG through snakemake (the integration test), and what users rely on from its outputs.

One session-scoped run (fixture `tiny_dag`, conftest.py) feeds every test here and tests/test_learning.py.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from avssl.stages import PRETRAINED_INITS, finetune_jobs, pretrain_jobs
from tests.conftest import env_with_venv, tool

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def _params(work: Path) -> dict:
    from avssl.config import load_params

    return load_params([work / "params.yaml"]).model_dump(mode="json")


def _client(work: Path):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{work / 'mlflow.db'}")


def _runs(work: Path, stage: str | None = None):
    client = _client(work)
    exp = client.get_experiment_by_name("avssl/" + _params(work)["study"]["name"])
    assert exp is not None, "no MLflow experiment for the study"
    query = f"tags.stage = '{stage}'" if stage else ""
    return client.search_runs([exp.experiment_id], query, max_results=1000)


def test_every_stage_output_exists(tiny_dag):
    params = _params(tiny_dag)
    assert (tiny_dag / "data/synth/metadata.csv").is_file()
    assert (tiny_dag / "data/synth/montage.png").is_file()
    assert (tiny_dag / "data/processed/index.csv").is_file()
    for job in pretrain_jobs(params):
        d = tiny_dag / "results/pretrain" / job["method"]
        for name in ("model.safetensors", "config.json", "metrics.json", "training_curves.png"):
            assert (d / name).is_file(), d / name
    for job in finetune_jobs(params):
        rel = f"{job['task']}/{job['init']}-{job['mode']}/f{job['fraction']}-s{job['seed']}"
        for name in ("model.safetensors", "config.json", "metrics.json"):
            assert (tiny_dag / "results/finetune" / rel / name).is_file(), rel
        for name in ("metrics.json", "predictions.csv", "snr_curve.png"):
            assert (tiny_dag / "results/evaluate" / rel / name).is_file(), rel
    suffixes = sorted(p.suffix for p in (tiny_dag / "results/tables").glob("cross_paper.*"))
    assert suffixes == [".csv", ".html", ".md", ".tex"]
    assert (tiny_dag / "results/summary.json").is_file()


def test_tiny_grid_covers_every_method_task_and_two_fractions(tiny_dag):
    jobs = finetune_jobs(_params(tiny_dag))
    assert {j["init"] for j in jobs} == {"scratch", "random", "logmel", "nuisance", "raven", "shukla_visual",
                                          "shukla_audio", "shukla_multitask"}
    assert {j["task"] for j in jobs} == {"emotion", "affect", "words_audio", "words_video", "asr", "vsr"}
    assert len({j["fraction"] for j in jobs}) >= 2


def test_broken_input_is_listed_in_rejects_and_counted_in_mlflow(tiny_dag):
    injected = json.loads((tiny_dag / "injected.json").read_text())
    with open(tiny_dag / "data/processed/rejects.csv", newline="") as fh:
        rejects = {r["clip_id"]: r for r in csv.DictReader(fh)}
    for clip_id, keyword in injected.items():
        assert clip_id in rejects, f"{clip_id} silently dropped"
        assert keyword in (rejects[clip_id]["reason"] + " " + rejects[clip_id].get("detail", "")).lower()
    with open(tiny_dag / "data/processed/index.csv", newline="") as fh:
        kept = {r["clip_id"] for r in csv.DictReader(fh)}
    assert not kept & set(injected)
    (run,) = _runs(tiny_dag, "preprocess")
    rejected = {k: v for k, v in run.data.metrics.items() if "reject" in k}
    assert rejected and max(rejected.values()) >= len(injected) - 1


def test_one_finished_mlflow_run_per_stage_execution_with_provenance(tiny_dag):
    params = _params(tiny_dag)
    expected = {"synthesize": 1, "preprocess_part": params["preprocess"]["shard_groups"], "preprocess": 1,
                "pretrain": len(pretrain_jobs(params)),
                "finetune": len(finetune_jobs(params)), "evaluate": len(finetune_jobs(params)), "report": 1}
    for stage, count in expected.items():
        runs = _runs(tiny_dag, stage)
        assert len(runs) == count, stage
        for r in runs:
            assert r.info.status == "FINISHED"
            tags = r.data.tags
            for key in ("git_commit", "git_dirty", "input_hash", "torch", "host", "seed", "dataset"):
                assert key in tags, (stage, key)
            assert tags["git_commit"] != "unknown"
            assert "study.seed" in r.data.params
    evaluate = _runs(tiny_dag, "evaluate")
    pretrained = [r for r in evaluate if r.data.tags["init"] in PRETRAINED_INITS]
    assert pretrained and all(r.data.tags.get("pretrain_run_id") for r in pretrained)
    assert all(r.data.tags.get("finetune_run_id") for r in evaluate)


def test_metrics_recompute_from_predictions(tiny_dag):
    from avssl.tasks.evaluate import read_predictions, recompute_metrics
    from avssl.tasks.uncertainty import clip_bootstrap

    for metrics_file in (tiny_dag / "results/evaluate").rglob("metrics.json"):
        recorded = json.loads(metrics_file.read_text())
        config = json.loads((Path(str(metrics_file.parent).replace("/evaluate/", "/finetune/")) / "config.json")
                            .read_text())  # fmt: skip
        again = recompute_metrics(read_predictions(metrics_file.parent / "predictions.csv"), recorded["task"],
                                  config.get("classes"))  # fmt: skip
        assert again.keys() == recorded["conditions"].keys()
        assert recorded["ci95_over_clips"] == clip_bootstrap(read_predictions(metrics_file.parent / "predictions.csv"),
                                                             recorded["task"])  # fmt: skip
        for cond, values in recorded["conditions"].items():
            for key, value in values.items():
                assert again[cond][key] == pytest.approx(value, abs=1e-9), (metrics_file, cond, key)


def test_report_cells_carry_run_ids(tiny_dag):
    text = (tiny_dag / "results/tables/cross_paper.md").read_text()
    evaluate_ids = {r.info.run_id for r in _runs(tiny_dag, "evaluate")}
    assert any(run_id in text for run_id in evaluate_ids)
    with open(tiny_dag / "results/tables/cross_paper.csv", newline="") as fh:
        assert "run_ids" in fh.readline()


def test_second_snakemake_run_is_a_no_op(tiny_dag):
    env = env_with_venv()
    env.pop("MLFLOW_TRACKING_URI", None)
    out = subprocess.run([tool("snakemake"), "--cores", "2", "--directory", ".test", "--dry-run"],
                         cwd=tiny_dag.parent, env=env, capture_output=True, text=True)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "Nothing to be done" in out.stdout + out.stderr


def test_reproduce_a_finetuning_run_gives_identical_metrics(tiny_dag):
    finetune = sorted(_runs(tiny_dag, "finetune"), key=lambda r: r.data.tags["task"])
    target = next(r for r in finetune if r.data.tags["task"] == "emotion")
    env = env_with_venv()
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{tiny_dag / 'mlflow.db'}"
    env["PYTHONPATH"] = str(tiny_dag.parent / "src")
    out = subprocess.run([sys.executable, "-m", "avssl", "reproduce", "--exact", target.info.run_id],
                         cwd=tiny_dag, env=env, capture_output=True, text=True)  # fmt: skip
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "identical" in out.stdout and "same as the recorded run" in out.stdout
    new = _client(tiny_dag).search_runs([target.info.experiment_id], f"tags.reproduces = '{target.info.run_id}'")
    assert len(new) == 1 and new[0].info.status == "FINISHED"
