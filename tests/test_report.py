"""`avssl report` end to end on a temporary sqlite MLflow store with fake-but-plausible runs."""

from __future__ import annotations

import csv
import json
import re
import statistics
from pathlib import Path

import pytest

from avssl.config.params import Params
from avssl.report import run_report

EXPERIMENT = "report-test"
T0 = 1_700_000_000_000  # ms


def _csv_rows(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def _find(rows, row_contains, column, group=None):
    hits = [r for r in rows if row_contains in r["row"] and r["column"] == column
            and (group is None or r["group"] == group)]
    assert len(hits) == 1, (row_contains, column, group, hits)
    return hits[0]


class Store:
    """Logs runs the way the evaluate / pretrain stages do (tags + dotted metrics), with explicit start times."""

    def __init__(self, uri, artifacts: Path):
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri=uri)
        # artifacts beside the store (MLflow's default, ./mlruns, would write into the checkout)
        self.exp = self.client.create_experiment("avssl/" + EXPERIMENT, artifact_location=artifacts.as_uri())
        self.clock = T0

    def run(self, tags, metrics, status="FINISHED", history=None, artifact=None):
        from mlflow.entities import Metric

        self.clock += 1000
        r = self.client.create_run(self.exp, start_time=self.clock, tags={k: str(v) for k, v in tags.items()})
        rid = r.info.run_id
        ms = [Metric(k, float(v), self.clock, 0) for k, v in metrics.items()]
        for key, values in (history or {}).items():
            ms += [Metric(key, float(v), self.clock + i, i * 10) for i, v in enumerate(values)]
        self.client.log_batch(rid, metrics=ms)
        if artifact is not None:
            self.client.log_artifact(rid, str(artifact))
        self.client.set_terminated(rid, status=status, end_time=self.clock + 500)
        return rid

    def evaluate(self, task, init, mode, seed, metrics, fraction=1.0, dataset="crema_d", **kw):
        tags = dict(stage="evaluate", task=task, init=init, mode=mode, fraction=fraction, seed=seed,
                    dataset=dataset, paper="raven" if task in ("asr", "vsr") else "shukla")
        return self.run(tags, metrics, **kw)


def _emotion(acc, uar, noisy=True):
    m = {"accuracy.clean": acc, "uar.clean": uar}
    if noisy:
        m.update({"accuracy.babble_10": acc - 0.05, "accuracy.babble_0": acc - 0.15, "accuracy.babble_-5": acc - 0.2,
                  "uar.babble_10": uar - 0.05})
    return m


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    s = Store(uri, tmp / "mlartifacts")
    # a confusion matrix PNG as the evaluate stage writes it
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.imshow([[3, 1], [0, 4]])
    png = tmp / "confusion_matrix.png"
    fig.savefig(png)
    plt.close(fig)

    ids = {}
    # emotion: two seeds for scratch and shukla_audio; a stale duplicate that must lose to the later run
    ids["stale"] = s.evaluate("emotion", "shukla_audio", "frozen", 0, _emotion(0.99, 0.99))
    ids["sa0"] = s.evaluate("emotion", "shukla_audio", "frozen", 0, _emotion(0.55, 0.52), artifact=png)
    ids["sa1"] = s.evaluate("emotion", "shukla_audio", "frozen", 1, _emotion(0.57, 0.50))
    ids["sc0"] = s.evaluate("emotion", "scratch", "finetuned", 0, _emotion(0.48, 0.45))
    ids["sc1"] = s.evaluate("emotion", "scratch", "finetuned", 1, _emotion(0.46, 0.44))
    ids["rv0"] = s.evaluate("emotion", "raven", "frozen", 0, _emotion(0.60, 0.58))
    ids["failed"] = s.evaluate("emotion", "raven", "frozen", 1, _emotion(0.10, 0.10), status="FAILED")
    ids["rav"] = s.evaluate("emotion", "scratch", "finetuned", 0, _emotion(0.40, 0.38, noisy=False),
                            dataset="ravdess")
    # small data
    ids["sa_f"] = s.evaluate("emotion", "shukla_audio", "frozen", 0, _emotion(0.41, 0.40, False), fraction=0.1)
    ids["sc_f"] = s.evaluate("emotion", "scratch", "finetuned", 0, _emotion(0.30, 0.28, False), fraction=0.1)
    # affect, words
    ids["aff"] = s.evaluate("affect", "shukla_multitask", "frozen", 0,
                            {"ccc_arousal.clean": 0.41, "ccc_valence.clean": 0.29}, dataset="synthetic")
    ids["wa"] = s.evaluate("words_audio", "shukla_visual", "frozen", 0, {"accuracy.clean": 0.8,
                                                                        "accuracy.babble_0": 0.6}, dataset="lrw")
    ids["wv"] = s.evaluate("words_video", "raven", "finetuned", 0, {"accuracy.clean": 0.7}, dataset="lrw")
    # RAVEn layout on LRS3: high resource (2 seeds) and low resource
    ids["vsr0"] = s.evaluate("vsr", "raven", "finetuned", 0, {"wer.clean": 0.40}, dataset="lrs3")
    ids["vsr1"] = s.evaluate("vsr", "raven", "finetuned", 1, {"wer.clean": 0.42}, dataset="lrs3")
    ids["vsr_low"] = s.evaluate("vsr", "raven", "finetuned", 0, {"wer.clean": 0.50}, fraction=0.07, dataset="lrs3")
    ids["asr"] = s.evaluate("asr", "scratch", "finetuned", 0, {"wer.clean": 0.08}, dataset="lrs3")
    # pre-training runs with a loss history
    ids["pt"] = s.run({"stage": "pretrain", "method": "raven", "dataset": "synthetic"},
                      {}, history={"train/loss": [1.0, 0.8, 0.6, 0.5], "val/loss": [1.1, 0.9]})
    s.run({"stage": "pretrain", "method": "shukla_audio", "dataset": "synthetic"}, {},
          history={"train/loss": [2.0, 1.5, 1.2]})

    params = Params(study={"name": EXPERIMENT}, tracking={"uri": uri})
    out = tmp / "results"
    result = run_report(params, out, tracking_uri=uri)
    return {"result": result, "out": out, "ids": ids, "uri": uri, "params": params}


def test_counts_skip_failed_and_duplicates(report):
    # 15 configurations logged (+1 stale duplicate, +1 FAILED run)
    assert report["result"]["n_evaluate_runs"] == 15
    assert report["result"]["n_pretrain_runs"] == 2


def test_emotion_cells_are_mean_and_95ci_over_seeds_with_run_ids(report):
    rows = _csv_rows(report["out"] / "tables" / "emotion.csv")
    ids = report["ids"]
    cell = _find(rows, "Audio SSL (Shukla), frozen", "Acc", "crema_d")
    assert float(cell["mean"]) == pytest.approx(statistics.mean([55.0, 57.0]))
    assert float(cell["std"]) == pytest.approx(statistics.stdev([55.0, 57.0]))
    assert cell["n"] == "2"
    assert set(cell["run_ids"].split(";")) == {ids["sa0"], ids["sa1"]}  # latest run wins: stale id absent
    # 95 % t-interval over 2 seeds: 12.706 * 1.414 / sqrt(2) = 12.7
    assert cell["text"] == "56.0 ± 12.7"
    assert float(cell["ci95_low"]) == pytest.approx(56.0 - 12.706, abs=1e-3)
    uar = _find(rows, "Supervised (scratch), finetuned", "UAR", "crema_d")
    assert float(uar["mean"]) == pytest.approx(44.5)
    single = _find(rows, "RAVEn (audio encoder), frozen", "Acc", "crema_d")
    assert single["text"] == "60.0" and single["run_ids"] == ids["rv0"]  # FAILED seed 1 ignored
    missing = _find(rows, "Audio SSL (Shukla), frozen", "Acc", "ravdess")
    assert missing["kind"] == "missing" and missing["text"] == "–"


def test_markdown_footnotes_and_missing_dash(report):
    md = (report["out"] / "tables" / "emotion.md").read_text()
    ids = report["ids"]
    assert "56.0 ± 12.7[^" in md
    assert "n = 1-2 seed(s) per cell." in md and "Student's t" in md
    for key in ("sa0", "sa1", "sc0", "rv0", "rav"):
        assert ids[key] in md
    assert ids["stale"] not in md and ids["failed"] not in md
    assert "| –" in md or "– |" in md
    # every footnote reference has its definition
    refs = set(re.findall(r"\[\^(\d+)\](?!:)", md))
    defs = set(re.findall(r"^\[\^(\d+)\]:", md, flags=re.M))
    assert refs == defs and refs


def _balanced(tex: str) -> bool:
    depth = 0
    for line in tex.splitlines():
        if line.lstrip().startswith("%"):
            continue
        line = line.replace(r"\{", "").replace(r"\}", "")
        for ch in line:
            depth += {"{": 1, "}": -1}.get(ch, 0)
            if depth < 0:
                return False
    return depth == 0


@pytest.mark.parametrize("name", ["emotion", "affect", "words", "noise", "small_data", "raven_wer", "cross_paper"])
def test_latex_looks_compilable(report, name):
    tex = (report["out"] / "tables" / f"{name}.tex").read_text()
    assert r"\begin{tabular}" in tex and r"\end{tabular}" in tex and _balanced(tex)
    ncols = len(re.search(r"\\begin\{tabular\}\{(lr*)\}", tex).group(1))
    body = [l for l in tex.splitlines() if l.endswith(r"\\") and not l.startswith("%")]
    for line in body:
        if r"\multicolumn" not in line:
            assert line.count("&") == ncols - 1, line
    assert "_" not in re.sub(r"\\_", "", "\n".join(body))  # underscores escaped outside comments
    assert not re.search("[Δ±–]", "\n".join(body))  # unicode only in comments


def test_latex_carries_run_ids_in_comments(report):
    tex = (report["out"] / "tables" / "emotion.tex").read_text()
    comments = "\n".join(l for l in tex.splitlines() if l.startswith("%"))
    assert report["ids"]["sa0"] in comments and report["ids"]["sa1"] in comments
    assert r"56.0 $\pm$ 12.7" in tex and "--" in tex


def test_raven_wer_published_beside_ours_for_lrs3(report):
    rows = _csv_rows(report["out"] / "tables" / "raven_wer.csv")
    ours = _find(rows, "RAVEn, finetuned", "433 h, f=1", "VSR")
    assert float(ours["mean"]) == pytest.approx(41.0)
    pub = _find(rows, "RAVEn, finetuned", "433 h, f=1 paper", "VSR")
    assert pub["kind"] == "published" and float(pub["mean"]) == pytest.approx(39.1)
    delta = _find(rows, "RAVEn, finetuned", "433 h, f=1 Δ", "VSR")
    assert float(delta["mean"]) == pytest.approx(41.0 - 39.1)
    low = _find(rows, "RAVEn, finetuned", "30 h, f=0.07 paper", "VSR")
    assert float(low["mean"]) == pytest.approx(47.0)
    # the published numbers of other models stand as their own rows; scratch gets no paper number
    assert _find(rows, "RAVEn paper: Large, LRS3+Vox2", "433 h, f=1 paper", "VSR")["mean"] == "27.8"
    asr_scratch_pub = _find(rows, "Supervised (scratch), finetuned", "433 h, f=1 paper", "ASR")
    assert asr_scratch_pub["kind"] == "missing"
    assert not [r for r in rows if r["row"].startswith("RAVEn (")]  # one RAVEn row, not one per encoder
    md = (report["out"] / "tables" / "raven_wer.md").read_text()
    assert "39.1" in md and "+1.9" in md


def test_other_tables(report):
    t = report["out"] / "tables"
    aff = _csv_rows(t / "affect.csv")
    assert _find(aff, "multi-task", "CCC aro")["text"] == "0.410"
    noise = _csv_rows(t / "noise.csv")
    cols = [(r["group"], r["column"]) for r in noise if r["row"] == noise[0]["row"]]
    assert cols[0] == ("", "clean") and cols[1:4] == [("babble", "10 dB"), ("babble", "0 dB"), ("babble", "-5 dB")]
    assert float(_find(noise, "emotion/crema_d: Audio SSL", "0 dB")["mean"]) == pytest.approx(41.0)
    small = _csv_rows(t / "small_data.csv")
    assert float(_find(small, "emotion/crema_d [Acc]: Supervised (scratch)", "10%")["mean"]) == pytest.approx(30.0)
    cross = _csv_rows(t / "cross_paper.csv")
    assert float(_find(cross, "multi-task SSL (Shukla), frozen", "affect CCC", "synthetic")["mean"]) == pytest.approx(0.35)
    assert float(_find(cross, "RAVEn, finetuned", "vsr WER", "lrs3")["mean"]) == pytest.approx(41.0)
    words = _csv_rows(t / "words.csv")
    assert _find(words, "Visual SSL", "Acc (words_audio)")["text"] == "80.0"


def test_summary_json(report):
    summary = json.loads((report["out"] / "summary.json").read_text())
    assert summary["runs"] == {"evaluate": 15, "pretrain": 2}
    assert summary["cross_paper"]["raven_finetuned"]["lrs3_vsr_wer"] == 41.0
    assert "raven_wer" in summary


def test_figures_and_plot_csvs(report):
    f = report["out"] / "figures"
    for name in ("training_curves_raven.png", "training_curves_shukla_audio.png", "snr_curves_emotion.png",
                 "snr_curves_words_audio.png", "label_fraction_emotion.png"):
        assert (f / name).stat().st_size > 1000, name
    snr = _csv_rows(f / "snr_curves.csv")
    pt = [r for r in snr if r["task"] == "emotion" and r["init"] == "shukla_audio" and r["snr"] == "-5.0"]
    assert float(pt[0]["mean"]) == pytest.approx(36.0)
    tc = _csv_rows(f / "training_curves.csv")
    assert [float(r["value"]) for r in tc if r["method"] == "raven" and r["metric"] == "train/loss"] == \
        [1.0, 0.8, 0.6, 0.5]
    assert _csv_rows(f / "label_fraction.csv")
    confusion = list((f / "confusion").glob("*.png"))
    assert [p.name for p in confusion] == ["emotion-crema_d-shukla_audio-frozen-f1-s0.png"]


def test_missing_experiment_skips_everything(tmp_path, report):
    params = Params(study={"name": "does-not-exist"}, tracking={"uri": report["uri"]})
    result = run_report(params, tmp_path / "results", tracking_uri=report["uri"])
    assert result["tables"] == {} and "emotion" in result["skipped"]
    assert not list((tmp_path / "results" / "tables").glob("*.tex"))
    assert json.loads((tmp_path / "results" / "summary.json").read_text())["runs"]["evaluate"] == 0
