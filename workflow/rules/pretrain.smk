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
    threads: stage_threads("pretrain")
    resources:
        **stage_resources("pretrain"),
    params:
        sections=stage_params("pretrain"),
        launch=launcher,
    conda:
        GPU_ENV
    shell:
        stage_command("pretrain")
