"""`dvc plots show` on the report's curves: each CSV plot has its axes and a template that draws one chart per
panel and one line per series, Snakemake's folder marker is not a plot, and the page needs no network."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from avssl.dvc_sync import ensure_plots_page
from avssl.report import figures
from avssl.report.runs import RunRecord
from avssl.report.values import Formatter
from avssl.stages import REPORT_PLOTS
from tests.conftest import env_with_venv, tool

REPO = Path(__file__).resolve().parents[1]


def _runs() -> tuple[list[RunRecord], list[RunRecord], dict]:
    evaluate = []
    for i, (init, mode) in enumerate([("scratch", "finetuned"), ("raven", "frozen")]):
        for fraction in (0.1, 1.0):
            metrics = {"accuracy.clean": 50.0 + 10 * i + 20 * fraction, "accuracy.babble_0": 40.0 + 10 * i,
                       "accuracy.babble_10": 45.0 + 10 * i}  # fmt: skip
            tags = {"task": "emotion", "dataset": "crema_d", "init": init, "mode": mode, "fraction": str(fraction),
                    "seed": "0"}  # fmt: skip
            evaluate.append(RunRecord(f"e{i}{fraction}", tags, metrics))
    pretrain = [RunRecord(f"p{m}", {"method": m}, {}) for m in ("raven", "shukla_audio")]
    histories = {f"p{m}": {"train/loss": [(s, 2.0 - s / 10 - k) for s in range(0, 30, 10)],
                           "val/loss": [(s, 1.5 - k) for s in range(0, 30, 10)]}
                 for k, m in enumerate(("raven", "shukla_audio"))}  # fmt: skip
    return evaluate, pretrain, histories


def _project(tmp_path: Path) -> Path:
    evaluate, pretrain, histories = _runs()
    out = tmp_path / "results/figures"
    fmt = Formatter()
    figures.training_curves(pretrain, histories, out)
    figures.snr_curves(evaluate, fmt, 1.0, out)
    figures.label_fraction_curves(evaluate, fmt, out)
    (out / ".snakemake_timestamp").write_text("")
    env = env_with_venv()
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([tool("dvc"), "init", "-q"], cwd=tmp_path, check=True, env=env)
    shutil.copy(REPO / ".dvc/config", tmp_path / ".dvc/config")
    shutil.copytree(REPO / ".dvc/plots", tmp_path / ".dvc/plots", ignore=shutil.ignore_patterns("page.html"))
    ensure_plots_page(tmp_path)  # generated from the installed snakemake package (make / onsuccess), not committed
    shutil.copy(REPO / ".dvcignore", tmp_path / ".dvcignore")
    dvc_yaml = yaml.safe_load((REPO / "dvc.yaml").read_text())
    report = dvc_yaml["stages"]["report"]
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"report": {
        "cmd": "true", "outs": [{o: {"cache": False}} for o in report["outs"] if "figures" in o]}},
        "plots": dvc_yaml["plots"]}))  # fmt: skip
    return tmp_path


@pytest.mark.slow
def test_each_report_curve_declares_axes_and_a_panel_series_template(tmp_path):
    root = _project(tmp_path)
    env = env_with_venv()
    shown = subprocess.run([tool("dvc"), "plots", "show", "--json"], cwd=root, env=env, capture_output=True,
                           text=True, check=True)  # fmt: skip
    assert "failed" not in shown.stderr.lower(), shown.stderr
    data = json.loads(shown.stdout)
    assert not data.get("errors"), data.get("errors")
    specs = {k: v[0] for k, v in data["data"].items()}
    assert set(specs) == {p[0] for p in REPORT_PLOTS}  # no .snakemake_timestamp, no CSV without axes
    for path, template, x, y, *_ in REPORT_PLOTS:
        content = specs[path]["content"]
        enc = content["spec"]["encoding"]
        assert (enc["x"]["field"], enc["y"]["field"]) == (x, y)
        assert enc["color"]["field"] == "series" and content["facet"]["field"] == "panel"
        values = content["data"]["values"]
        assert values and all(x in v and y in v and v["series"] and v["panel"] for v in values), path
    curves = {(v["panel"], v["series"]) for v in specs["results/figures/training_curves.csv"]["content"]["data"]
              ["values"]}  # fmt: skip
    assert curves == {(p, m) for p in ("train/loss", "val/loss") for m in ("raven", "shukla_audio")}


@pytest.mark.slow
def test_the_plots_page_loads_no_script_from_the_network(tmp_path):
    from avssl.plots_page import render_page

    root = _project(tmp_path)
    assert (root / ".dvc/plots/page.html").read_text() == render_page()
    subprocess.run([tool("dvc"), "plots", "show", "-o", "out"], cwd=root, env=env_with_venv(), check=True,
                   capture_output=True)  # fmt: skip
    page = (root / "out/index.html").read_text()
    assert "<script src=" not in page and "vegaEmbed" in page
    assert page.count("vega-lite/vega-lite.js") == 1
