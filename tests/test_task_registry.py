"""Adding a downstream task is one file and one registry call: a toy task flows through config validation, the
stage grid, a Snakemake dry run and the report without any other edit.

The toy, ``emotion_video``, is the emotion label read by a video encoder: an existing kind (classification) over
an existing column of the synthetic corpus, with a section of its own (``finetune.emotion_video``) that no config
class declares. Its registration is undone after each test.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from avssl import stages
from avssl.registry import tasks as task_registry
from avssl.config import ParamsError, params_from_dict
from avssl.config.load import deep_merge, read_yaml

REPO = Path(__file__).resolve().parents[1]
TOY = "emotion_video"
TOY_MODULE = '''"""A toy task: the emotion label read from the lips (classification kind, video encoder)."""
from avssl.registry.tasks import Task, register

register(Task("emotion_video", "classification", "video", "emotion_video", ("emotion",), ("accuracy", "uar"),
              "accuracy", scratch_arch="raven", label="emotion (lips)"))
'''
TOY_PARAMS = {"finetune": {"jobs": [{"task": TOY, "init": "scratch", "mode": "finetuned"},
                                    {"task": TOY, "init": "raven", "mode": "frozen"}],
                           TOY: {"epochs": 3, "hidden": 16}}}  # fmt: skip


@pytest.fixture
def toy_module(tmp_path, monkeypatch):
    """The toy task's module on sys.path, imported (= registered); unregistered afterwards."""
    (tmp_path / "avssl_toy_task.py").write_text(TOY_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module("avssl_toy_task")
    try:
        yield tmp_path
    finally:
        task_registry.unregister(TOY)
        sys.modules.pop("avssl_toy_task", None)


def _tiny(overlay: dict) -> dict:
    return deep_merge(read_yaml(REPO / ".test" / "params.yaml"), overlay)


def test_a_registered_task_validates_with_its_own_section_and_unknown_names_are_refused(toy_module):
    params = params_from_dict(_tiny(TOY_PARAMS))
    assert params.finetune.emotion_video.epochs == 3 and params.finetune.emotion_video.hidden == 16
    assert params.finetune.emotion_video.lr_head == 1e-4  # the section model's defaults fill the rest
    assert params_from_dict(_tiny({})).finetune.emotion_video.epochs == 50  # section absent: defaults
    with pytest.raises(ParamsError, match=r"finetune\.jobs\.0\.task = 'emotion_vide'.*unknown task 'emotion_vide'"):
        params_from_dict(_tiny({"finetune": {"jobs": [{"task": "emotion_vide", "init": "scratch"}]}}))
    with pytest.raises(ParamsError, match=r"finetune\.emotion_video\.hidden = 0"):
        params_from_dict(_tiny({"finetune": {TOY: {"hidden": 0}}}))
    with pytest.raises(ParamsError, match=r"finetune\.emotion_vide: unknown key"):
        params_from_dict(_tiny({"finetune": {"emotion_vide": {"hidden": 3}}}))


def test_without_the_registration_the_toy_is_refused_naming_the_key():
    assert TOY not in task_registry.names()
    with pytest.raises(ParamsError) as err:
        params_from_dict(_tiny(TOY_PARAMS))
    assert "finetune.jobs.0.task = 'emotion_video'" in str(err.value)
    assert "finetune.emotion_video: unknown key" in str(err.value)
    with pytest.raises(ValueError, match="already registered"):
        task_registry.register(task_registry.TASKS["emotion"])


def test_the_stage_grid_runs_the_toy_with_its_section_and_its_scratch_architecture(toy_module):
    resolved = params_from_dict(_tiny(TOY_PARAMS)).model_dump(mode="json")
    jobs = [(st, job) for st in stages.STAGES for job in st.jobs(resolved) if job.get("task") == TOY]
    assert {st.command for st, _ in jobs} == {"finetune", "evaluate"}
    scratch = next(job for st, job in jobs if st.command == "finetune" and job["init"] == "scratch")
    declared = stages.job_params(stages.BY_NAME[next(st.name for st, j in jobs if j is scratch)], scratch)
    assert f"finetune.{TOY}" in declared and "raven.layers" in declared  # its section, RAVEn's scratch encoder
    # the job's params view lets it read its own section (and records the read), not another task's
    from avssl.config.view import UndeclaredParam, params_view, read_keys

    view = params_view(params_from_dict(_tiny(TOY_PARAMS)), "finetune", declared, scratch)
    assert view.finetune.emotion_video.epochs == 3 and f"finetune.{TOY}.epochs" in read_keys(view)
    with pytest.raises(UndeclaredParam):
        view.finetune.emotion.epochs
    # the grid form: a video task takes scratch and raven only, whatever finetune.inits lists
    grid = params_from_dict(_tiny({"finetune": {"jobs": [], "tasks": [TOY], "encoder_modes": ["frozen"]}}))
    assert {j["init"] for j in stages.finetune_jobs(grid.model_dump(mode="json"))} == {"scratch", "raven"}


def test_the_report_tables_name_the_toy_with_its_label_and_main_metric(toy_module):
    from avssl.report.render import to_markdown
    from avssl.report.runs import RunRecord
    from avssl.report.tables import cross_paper, small_data
    from avssl.report.values import Formatter

    def run(rid, init, mode, acc, task=TOY):
        tags = dict(stage="evaluate", task=task, init=init, mode=mode, fraction="1.0", seed="0", dataset="synthetic")
        return RunRecord(rid, tags, {"accuracy.clean": acc}, 0)

    runs = [run("a", "raven", "frozen", 0.75), run("b", "scratch", "finetuned", 0.5), run("c", "raven", "frozen",
                                                                                          0.25, task="emotion")]
    table = cross_paper(runs, Formatter(), 1.0)
    text = to_markdown(table)
    assert "emotion (lips) Acc" in text and "75.0" in text and "50.0" in text
    # registry order: the built-in tasks first, the toy after them
    assert text.index("emotion Acc") < text.index("emotion (lips) Acc")
    assert "RAVEn (video encoder), frozen" in to_markdown(small_data(runs, Formatter()))


@pytest.mark.slow
def test_snakemake_dry_run_of_a_params_file_that_enables_the_toy(toy_module, tmp_path):
    """The toy module named in AVSSL_TASK_MODULES: Snakemake (its own process) plans its jobs, and the schema
    Snakemake validates against, generated with the toy registered, accepts its section."""
    from avssl.config.schema import render_schema

    flow = tmp_path / "flow"
    shutil.copytree(REPO / "workflow", flow / "workflow", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "Snakefile", flow / "Snakefile")
    (flow / "workflow" / "schemas" / "params.schema.json").write_text(render_schema())
    work = tmp_path / "work"
    work.mkdir()
    import yaml

    (work / "params.yaml").write_text(yaml.safe_dump(_tiny(TOY_PARAMS)))
    env = {**os.environ, "AVSSL_TASK_MODULES": "avssl_toy_task",
           "PYTHONPATH": os.pathsep.join([str(toy_module), str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
           "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])}  # fmt: skip
    out = subprocess.run([shutil.which("snakemake", path=env["PATH"]), "--dry-run", "--printshellcmds", "--cores",
                          "1", "--snakefile", str(flow / "Snakefile"), "--directory", str(work)],
                         capture_output=True, text=True, env=env)  # fmt: skip
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    commands = re.findall(r"python -m avssl (finetune|evaluate) .*--task emotion_video --init (\w+)", out.stdout)
    assert sorted(set(commands)) == [("evaluate", "raven"), ("evaluate", "scratch"), ("finetune", "raven"),
                                     ("finetune", "scratch")]  # fmt: skip
