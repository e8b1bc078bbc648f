# avssl: audio-visual self-supervised speech representation learning as a reproducible DAG.
#
#   snakemake --cores all                      # the embedded default (params.yaml)
#   snakemake --cores 2 --directory .test      # the tiny preset (.test/params.yaml), what the tests run
#   snakemake --cores all --configfile OVERLAY # e.g. a paper-scale overlay on top of params.yaml
#
# Rules live in workflow/rules/ (one file per stage); their inputs, outputs and commands come from the
# stage table in src/avssl/stages.py, the same table dvc.yaml is rendered from.

from snakemake.utils import min_version

min_version("9.0")


configfile: "params.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/synthesize.smk"
include: "workflow/rules/preprocess.smk"
include: "workflow/rules/pretrain.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/finetune.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/dvc.smk"


rule all:
    default_target: True
    input:
        all_targets(),
