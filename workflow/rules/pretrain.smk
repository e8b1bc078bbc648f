# Stage `pretrain`: one self-supervised pre-training job (and MLflow run) per method in pretrain.methods.


rule pretrain:
    input:
        *stage_inputs("pretrain"),
    output:
        *stage_outputs("pretrain"),
    log:
        "logs/pretrain/{method}.log",
    wildcard_constraints:
        method=choices("pretrain", "method"),
    threads: 1
    resources:
        mem_mb=8000,
        runtime=720,
        gpu=1,
    params:
        sections=stage_params("pretrain"),
        launch=launcher,
    conda:
        GPU_ENV
    shell:
        stage_command("pretrain")
