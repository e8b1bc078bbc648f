# Stage `preprocess`: face tracking, mouth ROIs, face crops and audio into training shards.
# Scale-out: `preprocess.shard_groups` independent jobs (rule preprocess_part, one part folder each; a cluster
# runs them side by side), then one light job merges the parts into data/processed.


# One of the two part rules exists: both write data/preprocess_parts/{part}.
PART_RULE = "preprocess_part" if stage_active("preprocess_part") else "preprocess_part_dataset"

if PART_RULE == "preprocess_part":

    rule preprocess_part:
        input:
            *stage_inputs("preprocess_part"),
        output:
            *stage_outputs("preprocess_part"),
        log:
            "logs/preprocess/part{part}.log",
        wildcard_constraints:
            part=r"\d+",
        threads: stage_threads("preprocess_part")
        resources:
            **stage_resources("preprocess_part"),
        params:
            sections=stage_params("preprocess_part"),
        conda:
            CPU_ENV
        shell:
            stage_command("preprocess_part")

else:

    rule preprocess_part_dataset:
        input:
            *stage_inputs("preprocess_part_dataset"),
        output:
            *stage_outputs("preprocess_part_dataset"),
        log:
            "logs/preprocess/part{part}.log",
        wildcard_constraints:
            part=r"\d+",
        threads: stage_threads("preprocess_part_dataset")
        resources:
            **stage_resources("preprocess_part_dataset"),
        params:
            sections=stage_params("preprocess_part_dataset"),
        conda:
            CPU_ENV
        shell:
            stage_command("preprocess_part_dataset")


rule preprocess:
    input:
        *stage_inputs("preprocess"),
    output:
        *stage_outputs("preprocess"),
    log:
        "logs/preprocess/merge.log",
    threads: stage_threads("preprocess")
    resources:
        **stage_resources("preprocess"),
    params:
        sections=stage_params("preprocess"),
    conda:
        CPU_ENV
    shell:
        stage_command("preprocess")
