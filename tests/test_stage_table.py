"""The stage table carries what a scheduler needs per job (log, threads, resources, GPU): the rules read it."""

from __future__ import annotations

import re

import pytest

from avssl.config import Params
from avssl.stages import STAGES, Stage


@pytest.fixture(scope="module")
def params() -> dict:
    return Params().model_dump(mode="json")


def test_every_stage_has_a_description_a_resources_section_and_a_known_thread_kind(params):
    for st in STAGES:
        assert st.description, st.name
        assert st.resources_key in params["resources"], st.name
        assert st.threads in ("workers", "loader") or st.threads.isdigit(), st.name


def test_every_job_writes_its_own_log_and_logs_use_only_output_wildcards(params):
    for st in STAGES:
        fields = set(re.findall(r"\{(\w+)\}", st.log_path))
        assert fields == set(st.wildcards), st.name  # one log per job, and Snakemake can fill every field
        logs = [st.log_path.format(**job) for job in st.jobs(params)]
        assert len(set(logs)) == len(logs), st.name


def test_logs_default_to_the_stage_name():
    assert Stage("x", "x", ()).log_path == "logs/x.log"
    assert Stage("x", "x", (), wildcards=("a", "b")).log_path == "logs/x/{a}-{b}.log"


def test_threads_come_from_the_params_the_stage_kind_names(params):
    params = {**params, "train": {**params["train"], "num_workers": 3},
              "resources": {**params["resources"], "synthesize": {**params["resources"]["synthesize"], "threads": 5}}}
    by_name = {st.name: st for st in STAGES}
    assert by_name["synthesize"].job_threads(params) == 5  # worker processes: resources.synthesize.threads
    assert by_name["pretrain"].job_threads(params) == 4  # one torch thread + 3 loader workers
    assert by_name["pretrain"].job_threads(params, gpus_per_job=2) == 8  # per GPU process (DDP)
    assert by_name["evaluate"].job_threads(params, gpus_per_job=2) == 4  # evaluation is not a GPU stage
    assert by_name["report"].job_threads(params) == 1

