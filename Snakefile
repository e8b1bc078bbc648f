# avssl: audio-visual self-supervised speech representation learning as a reproducible DAG.
#
#   snakemake --cores all                      # the embedded default (params.yaml)
#   snakemake --cores 2 --directory .test      # the tiny preset (.test/params.yaml), what the tests run
#   snakemake --cores all --configfile OVERLAY # e.g. a paper-scale overlay on top of params.yaml
#
# Rules are built in workflow/rules/stages.smk, one per stage of the stage table in src/avssl/stages.py (the
# same table dvc.yaml is rendered from): inputs, outputs, commands, logs, threads, resources and conda envs.

from snakemake.utils import min_version

min_version("9.0")


configfile: "params.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/stages.smk"
include: "workflow/rules/dvc.smk"
include: "workflow/rules/forkserver.smk"


rule all:
    default_target: True
    input:
        all_targets(),
