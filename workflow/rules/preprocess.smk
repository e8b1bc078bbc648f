# Stage `preprocess`: face tracking, mouth ROIs, face crops and audio into training shards.


rule preprocess:
    input:
        *stage_inputs("preprocess"),
    output:
        *stage_outputs("preprocess"),
    log:
        "logs/preprocess.log",
    threads: workflow.cores
    resources:
        mem_mb=8000,
        runtime=240,
    params:
        sections=stage_params("preprocess"),
    conda:
        CPU_ENV
    shell:
        stage_command("preprocess")
