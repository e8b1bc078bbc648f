"""Adding a corpus = one adapter module + one registry line: a toy corpus, defined here, flows everywhere.

The adapter below is the whole "new file"; ``REGISTER`` is the one registry line. Both are installed in a fresh
interpreter before anything else of avssl is imported (config Literals and params fields are built at import
time, exactly as for a corpus added to src/), which then checks config validation, the params schema, the
CLI, the stage grid and dvc.yaml, indexing a fixture tree and reading that index as preprocessing input.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import env_with_venv

TOY_ADAPTER = '''
"""Toy corpus: <split>/<speaker>/<emotion>_<n>.mp4 + the same stem .wav."""
import re
from pathlib import Path

from avssl.data.datasets.schema import ClipRow, Problem
from avssl.data.datasets.walk import walk_files

NAME = "toy"
_CLIP = re.compile(r"^(train|val|test)/(\\w+)/([a-z]+)_(\\d+)\\.mp4$")


def index(root: Path, params) -> tuple[list[ClipRow], list[Problem]]:
    rows, problems = [], []
    files = set(walk_files(root))
    for rel in sorted(files):
        if rel.endswith(".wav"):
            continue
        m = _CLIP.match(rel)
        if m is None:
            problems.append(Problem(NAME, rel, "not <split>/<speaker>/<emotion>_<n>.mp4"))
            continue
        wav = rel[:-4] + ".wav"
        if wav not in files:
            problems.append(Problem(NAME, rel, "no .wav next to it"))
            continue
        split, speaker, emotion, n = m.groups()
        rows.append(ClipRow(dataset=NAME, clip_id=f"{speaker}_{emotion}_{n}", split=split, speaker=speaker,
                            kind="sentence", emotion=emotion, video=rel, audio=wav))
    return rows, problems
'''

REGISTER = 'reg.DATASETS += (reg.Dataset("toy", "toy_corpus", "public", "Toy root holding <split>/<speaker>/."),)'

CHECKS = '''
import json, sys
from pathlib import Path
from avssl.registry import datasets as reg
{register}

root, out = Path(sys.argv[1]), Path(sys.argv[2])
result = {{}}
from avssl.config import ParamsError, load_params
params = load_params([], ["study.dataset=toy"])
result["validated"] = [params.study.dataset, params.datasets.root("toy")]
try:
    load_params([], ["study.dataset=toyy"])
except ParamsError as exc:
    result["refused"] = str(exc)
from avssl.config.schema import render_schema
schema = json.loads(render_schema())
result["schema_root"] = "toy_root" in json.dumps(schema)
from avssl.cli import build_parser
sub = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
result["cli_choices"] = {{c: list(sub.choices[c]._option_string_actions["--dataset"].choices)
                          for c in ("index", "acquire", "preprocess")}}
result["index_help"] = sub.choices["index"].format_help()
args = build_parser().parse_args(["index", "--dataset", "toy", "--output", "x.csv"])
result["parsed"] = args.dataset
from avssl import stages
raw = params.model_dump(mode="json")
result["index_jobs"] = stages.BY_NAME["index"].jobs(raw)
result["dvc_index"] = stages.to_dvc(raw)["stages"]["index"]
from avssl.data.datasets import index_to_files
result["counts"] = index_to_files("toy", root, out, params.datasets)
from avssl.preprocessing.index_input import read_dataset_index
clips, rejects = read_dataset_index(out, "toy", root)
result["clips"] = [[c.clip_id, c.meta.get("emotion"), c.meta.get("split")] for c in clips]
from avssl.data.acquire import AcquireError, run_acquire
try:
    run_acquire(params, "toy", root)
except AcquireError as exc:
    result["acquire"] = str(exc)
print(json.dumps(result, default=str))
'''


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """Run the checks once in a fresh interpreter with the toy corpus registered; their results as a dict."""
    tmp = tmp_path_factory.mktemp("toy")
    (tmp / "toy_corpus.py").write_text(textwrap.dedent(TOY_ADAPTER))
    root = tmp / "raw"
    for rel in ("train/ann/happy_1", "train/bob/sad_1", "val/cy/happy_2", "test/dee/sad_3"):
        for ext in (".mp4", ".wav"):
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / (rel + ext)).write_bytes(b"x")
    (root / "test/dee/angry_4.mp4").write_bytes(b"x")  # no .wav: a problem row
    (root / "notes.txt").write_text("x")  # not a clip: a problem row
    env = env_with_venv()
    env["PYTHONPATH"] = f"{tmp}:{env['PYTHONPATH']}"
    script = CHECKS.format(register=REGISTER)
    res = subprocess.run([sys.executable, "-c", script, str(root), str(tmp / "index" / "toy.csv")],
                         capture_output=True, text=True, env=env, cwd=tmp)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_config_accepts_the_new_dataset_and_gives_it_a_root(toy):
    assert toy["validated"] == ["toy", "data/raw/toy"]
    assert toy["schema_root"]


def test_an_unknown_dataset_is_refused_naming_the_key_and_the_choices(toy):
    msg = toy["refused"]
    assert "study.dataset" in msg and "'toyy'" in msg
    assert "'toy'" in msg and "'lrs3'" in msg and "'synthetic'" in msg


def test_the_cli_offers_it(toy):
    for command, choices in toy["cli_choices"].items():
        assert "toy" in choices and "lrs3" in choices, command
    assert "toy" in toy["index_help"] and toy["parsed"] == "toy"


def test_the_stage_grid_indexes_it_from_its_root(toy):
    assert toy["index_jobs"] == [{"dataset": "toy"}]
    assert toy["dvc_index"]["do"]["deps"] == ["data/raw/toy"]
    assert list(toy["dvc_index"]["foreach"]) == ["toy"]


def test_acquire_says_the_adapter_declares_no_source(toy):
    assert toy["acquire"].startswith("toy: its adapter (toy_corpus) declares neither SOURCE")


def test_its_adapter_index_feeds_preprocessing(toy):
    assert toy["counts"]["clips"] == 4 and toy["counts"]["problems"] == 2
    assert toy["counts"]["clips_train"] == 2 and toy["counts"]["clips_test"] == 1
    assert toy["clips"] == [["ann_happy_1", "happy", "train"], ["bob_sad_1", "sad", "train"],
                            ["cy_happy_2", "happy", "val"], ["dee_sad_3", "sad", "test"]]
