"""Stage `report`: tables and figures built from the study's MLflow runs (never from loose result files).

Every number in a table is traceable: each cell lists the MLflow run ids it averages. Reading from MLflow
(not from results/evaluate/**) means a table reflects exactly the finished runs, latest per configuration.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from avssl.config.report import ReportParams
from avssl.report import artifacts, figures
from avssl.report.findings import build_findings, findings_markdown, table_lines
from avssl.report.render import FORMATS, write_table
from avssl.report.runs import experiment_id, latest_per_key, open_client, search_stage_runs
from avssl.report.summary import build_summary
from avssl.report.tables import BUILDERS, raven_wer, with_uncertainty_note
from avssl.report.values import Formatter
from avssl.tracking.run import NullRun, experiment_name
from avssl.tracking.store import resolve_uri


def report_params(params: Any) -> ReportParams:
    """params.report when the root model has the section, else the defaults."""
    cfg = getattr(params, "report", None)
    return cfg if isinstance(cfg, ReportParams) else ReportParams()


def _write_index(tables_dir: Path, written: dict[str, list[str]], skipped: dict[str, str]) -> Path:
    lines = ["# Report tables", "", "Built by `avssl report` from MLflow.", ""]
    lines += [f"- [{name}]({name}.md)" for name in written]
    if skipped:
        lines += ["", "## Skipped", ""] + [f"- {name}: {why}" for name, why in skipped.items()]
    path = tables_dir / "README.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def run_report(params: Any, output_dir: Path, run: NullRun = NullRun(), tracking_uri: str | None = None) -> dict:
    """Write ``output_dir``/tables/<name>.{md,tex,csv}, ``output_dir``/summary.json and figures/*.png|csv.

    Returns {"tables": {name: [paths]}, "skipped": {name: reason}, "figures": [paths], "summary": path,
    "n_evaluate_runs", "n_pretrain_runs"}. Empty tables are skipped with a note (and stale files removed).
    """
    cfg = report_params(params)
    output_dir = Path(output_dir)
    tables_dir, figures_dir = output_dir / "tables", output_dir / "figures"
    tables_dir.mkdir(parents=True, exist_ok=True)
    figures_dir.mkdir(parents=True, exist_ok=True)

    client = open_client(tracking_uri or resolve_uri(params.tracking.uri))
    exp_id = experiment_id(client, experiment_name(params))
    evaluate = pretrain = []
    if exp_id is not None:
        evaluate = latest_per_key(search_stage_runs(client, exp_id, "evaluate", cfg.max_runs))
        pretrain = latest_per_key(search_stage_runs(client, exp_id, "pretrain", cfg.max_runs), ("method", "dataset"))

    fmt = Formatter(cfg.percent, cfg.decimals, cfg.ccc_decimals)
    findings = build_findings(evaluate, cfg.main_fraction, artifacts.PredictionLoader(client), fmt.scale)
    (tables_dir / "findings.md").write_text(findings_markdown(findings, fmt.digits))
    built, written, skipped = {}, {}, {}
    for name in cfg.tables:
        if name == "raven_wer":
            table = raven_wer(evaluate, fmt, reference=cfg.published_reference)
        else:
            table = BUILDERS[name](evaluate, fmt, cfg.main_fraction)
        table = with_uncertainty_note(table)
        table.notes += table_lines(findings, name, fmt.digits)
        built[name] = table
        if table.is_empty():
            skipped[name] = "no finished evaluate run provides these cells"
            for ext, _ in FORMATS:
                (tables_dir / f"{name}.{ext}").unlink(missing_ok=True)
            continue
        written[name] = [str(p) for p in write_table(table, tables_dir)]
    if exp_id is None:
        skipped["*"] = f"MLflow experiment {experiment_name(params)!r} not found"
    _write_index(tables_dir, written, skipped)

    summary = build_summary(built, len(evaluate), len(pretrain))
    summary_path = output_dir / "summary.json"  # DVC metrics file (stage table: results/summary.json)
    summary_path.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")

    figs: list[Path] = []
    if cfg.figures:
        histories = artifacts.metric_histories(client, pretrain) if pretrain else {}
        figs += figures.training_curves(pretrain, histories, figures_dir)
        figs += figures.snr_curves(evaluate, fmt, cfg.main_fraction, figures_dir)
        figs += figures.label_fraction_curves(evaluate, fmt, figures_dir)
    if cfg.confusion_matrices:
        main = [r for r in evaluate if abs(r.fraction - cfg.main_fraction) < 1e-9]
        figs += artifacts.copy_confusion_matrices(client, main, figures_dir)

    run.log_metrics({"report/evaluate_runs": len(evaluate), "report/pretrain_runs": len(pretrain),
                     "report/tables": len(written)})
    run.log_artifact(tables_dir, "tables")
    run.log_artifact(figures_dir, "figures")
    return {"tables": written, "skipped": skipped, "figures": [str(p) for p in figs], "summary": str(summary_path),
            "n_evaluate_runs": len(evaluate), "n_pretrain_runs": len(pretrain)}
