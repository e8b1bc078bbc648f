"""'What this run shows': generated comparisons with paired clip-bootstrap intervals and honest verdicts."""

from __future__ import annotations

from avssl.report.findings import build_findings, findings_markdown, table_lines
from avssl.report.runs import RunRecord
from avssl.report.values import Formatter


def _rows(n_correct: int, n: int = 80) -> list[dict]:
    classes = ["anger", "happy", "sad", "neutral"]
    return [{"clip_id": f"c{i:03d}", "condition": "clean", "decoder": "argmax", "reference": classes[i % 4],
             "prediction": classes[i % 4] if i < n_correct else classes[(i + 1) % 4]} for i in range(n)]  # fmt: skip


def _run(rid: str, init: str, mode: str, seed: int, n_correct: int) -> tuple[RunRecord, list[dict]]:
    tags = dict(stage="evaluate", task="emotion", init=init, mode=mode, fraction="1.0", seed=str(seed),
                dataset="synthetic")  # fmt: skip
    return RunRecord(rid, tags, {"accuracy.clean": n_correct / 80}), _rows(n_correct)


def _study(audio_correct: list[int], scratch_correct: list[int], nuisance_correct: list[int]):
    runs, rows = [], {}
    for name, init, mode, counts in (("a", "shukla_audio", "frozen", audio_correct),
                                     ("s", "scratch", "finetuned", scratch_correct),
                                     ("n", "nuisance", "frozen", nuisance_correct)):  # fmt: skip
        for seed, k in enumerate(counts):
            run, r = _run(f"{name}{seed}", init, mode, seed, k)
            runs.append(run)
            rows[run.run_id] = r
    fmt = Formatter()
    return build_findings(runs, 1.0, lambda run: rows[run.run_id], fmt.scale), fmt


def test_clear_gap_is_better_and_small_gap_is_not_a_ranking():
    findings, fmt = _study([60, 62, 61], [30, 31, 29], [58, 61, 57])
    by_ref = {f.b[0]: f for f in findings}
    assert set(by_ref) == {"scratch", "nuisance"}
    assert by_ref["scratch"].verdict == "better" and by_ref["scratch"].difference > 30
    assert by_ref["scratch"].low > 0 and by_ref["scratch"].n_a == 3 and by_ref["scratch"].n_clips == 80
    # 2.3 points over the nuisance row: the data cannot rank them
    assert by_ref["nuisance"].verdict == "no detectable difference"
    lines = table_lines(findings, "emotion", fmt.digits)
    assert len(lines) == 2 and all(line.startswith("What this run shows: emotion (Acc)") for line in lines)
    assert "95 % CI [" in lines[0] and "n = 3 vs 3 seed(s), 80 test clips" in lines[0]
    assert table_lines(findings, "affect", fmt.digits) == []
    md = findings_markdown(findings, fmt.digits)
    assert "`a0`" in md and "`s2`" in md


def test_worse_is_said_and_runs_without_predictions_are_skipped():
    findings, _ = _study([20], [60], [])
    assert [f.verdict for f in findings] == ["worse"]
    runs = [_run("x", "raven", "frozen", 0, 40)[0], _run("y", "scratch", "finetuned", 0, 20)[0]]
    assert build_findings(runs, 1.0, lambda run: None, Formatter().scale) == []
