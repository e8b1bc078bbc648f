"""Report building blocks without MLflow: cells, de-duplication, ordering, rendering."""

from __future__ import annotations

import pytest

from avssl.config.report import ReportParams
from avssl.report.cells import Cell
from avssl.report.labels import condition_sort_key
from avssl.report.render import latex_escape, to_csv, to_html, to_latex, to_markdown
from avssl.report.runs import RunRecord, latest_per_key
from avssl.report.table import Table
from avssl.report.tables import raven_wer
from avssl.report.values import Formatter


def _run(rid, start, acc, **tags):
    base = dict(stage="evaluate", task="emotion", init="raven", mode="frozen", fraction="1.0", seed="0",
                dataset="crema_d")
    return RunRecord(rid, {**base, **tags}, {"accuracy.clean": acc}, start)


def test_cell_mean_std_and_text():
    c = Cell.of([(0.5, "a"), (0.6, "b"), (float("nan"), "c")], decimals=2, scale=100)
    assert c.n == 2 and c.mean == pytest.approx(55.0) and c.std == pytest.approx(7.0710678)
    # two seeds: mean ± half-width of the 95 % t-interval (t = 12.706 at 1 df): 12.706 * 7.071 / sqrt(2)
    assert c.text() == "55.00 ± 63.53" and c.run_ids == ("a", "b")
    assert c.ci95 == pytest.approx((55.0 - 63.5300, 55.0 + 63.5300), abs=1e-3)
    assert Cell.of([(None, "x")]) is None
    assert Cell.of([(0.3, "x")]).text() == "0.3"
    one = Cell.of([(0.5, "a")], decimals=1, scale=100, clip_interval=(0.4, 0.62))
    assert one.text() == "50.0 [40.0, 62.0]" and one.ci95 == pytest.approx((40.0, 62.0))
    # the clip interval belongs to a single run: with several seeds the seed interval is used
    assert "[" not in Cell.of([(0.5, "a"), (0.6, "b")], clip_interval=(0.4, 0.62)).text()


def test_uncertainty_note_states_n_and_the_method():
    from avssl.report.cells import uncertainty_note

    three = Cell.of([(0.5, "a"), (0.6, "b"), (0.55, "c")])
    one = Cell.of([(0.5, "a")], clip_interval=(0.4, 0.6))
    assert uncertainty_note([three]).startswith("n = 3 seed(s) per cell.") and "Student's t" in uncertainty_note([three])
    assert "one pre-training run" in uncertainty_note([three])  # what the interval does not cover
    mixed = uncertainty_note([three, one, None])
    assert "n = 1-3" in mixed and "bootstrap" in mixed
    assert uncertainty_note([None]) == "No finished runs."


def test_latest_run_wins_and_fraction_normalised():
    runs = [_run("old", 1, 0.1), _run("new", 5, 0.2, fraction="1"), _run("other", 2, 0.3, seed="1")]
    kept = latest_per_key(runs)
    assert sorted(r.run_id for r in kept) == ["new", "other"]


def test_conditions_clean_first_then_snr_descending():
    conds = ["babble_-5", "white_0", "clean", "babble_10", "babble_0"]
    assert sorted(conds, key=condition_sort_key) == ["clean", "babble_10", "babble_0", "babble_-5", "white_0"]


def test_missing_cells_render_as_dash_everywhere():
    t = Table("x", "X")
    t.set("a_1", ("g", "c1"), Cell((1.0,), ("r1",)))
    t.add_column(("g", "c2"))
    assert "| – |" in to_markdown(t) or "– |" in to_markdown(t)
    assert "& --" in to_latex(t) and r"a\_1" in to_latex(t)
    assert ",missing," in to_csv(t)


def test_latex_escape():
    assert latex_escape("a_b & 50% #1") == r"a\_b \& 50\% \#1"


def test_raven_wer_without_lrs3_has_no_paper_columns():
    runs = [_run("v", 1, 0.0, task="vsr", dataset="synthetic", mode="finetuned")]
    runs[0].metrics["wer.clean"] = 0.5
    t = raven_wer(runs, Formatter())
    assert all("paper" not in c[1] for c in t.columns) and not t.is_empty()


def test_report_params_defaults_are_valid():
    p = ReportParams()
    assert "raven_wer" in p.tables and p.percent
    with pytest.raises(Exception):
        ReportParams(tables=["nope"])


def test_html_table_has_caption_grouped_headers_footnotes_with_run_ids_and_notes():
    """What `snakemake --report` shows inline: every cell links to the footnote naming its MLflow runs."""
    t = Table("emotion", "Emotion <CREMA-D> accuracy", notes=["UAR in percent"])
    t.set("RAVEn, frozen", ("Clean", "Acc"), Cell((50.0, 60.0), ("r1", "r2")))
    t.set("RAVEn, frozen", ("Babble", "0 dB"), Cell((40.0,), ("r3",)))
    t.set("Scratch", ("Clean", "Acc"), Cell((50.0, 60.0), ("r1", "r2")))
    t.add_column(("Babble", "-5 dB"))
    page = to_html(t)
    assert "<h2>Emotion &lt;CREMA-D&gt; accuracy</h2>\n<table>" in page
    assert '<th class="g" colspan="1">Clean</th><th class="g" colspan="2">Babble</th>' in page
    assert page.count('href="#fn1"') == 2 and page.count('href="#fn2"') == 1
    assert '<li id="fn1">MLflow runs: <code>r1</code>, <code>r2</code></li>' in page
    assert '<li id="fn2">MLflow run: <code>r3</code></li>' in page
    assert "<li>UAR in percent</li>" in page and '<td class="v">–</td>' in page
