# Stage `finetune`: one job (and MLflow run) per (task, init, mode, label fraction, seed).
# Two rules, one command: pre-trained inits depend on their pre-training job, scratch/random do not.


rule finetune:
    input:
        *stage_inputs("finetune"),
    output:
        *stage_outputs("finetune"),
    log:
        "logs/finetune/{task}/{init}-{mode}-f{fraction}-s{seed}.log",
    wildcard_constraints:
        task=choices("finetune", "task"),
        init=choices("finetune", "init"),
        mode="frozen|finetuned",
        fraction=r"[0-9.e-]+",
        seed=r"\d+",
    threads: stage_threads("finetune")
    resources:
        **stage_resources("finetune"),
    params:
        sections=stage_params("finetune"),
        launch=launcher,
    conda:
        GPU_ENV
    shell:
        stage_command("finetune")


rule finetune_scratch:
    input:
        *stage_inputs("finetune_scratch"),
    output:
        *stage_outputs("finetune_scratch"),
    log:
        "logs/finetune/{task}/{init}-{mode}-f{fraction}-s{seed}.log",
    wildcard_constraints:
        task=choices("finetune_scratch", "task"),
        init=choices("finetune_scratch", "init"),
        mode="frozen|finetuned",
        fraction=r"[0-9.e-]+",
        seed=r"\d+",
    threads: stage_threads("finetune_scratch")
    resources:
        **stage_resources("finetune_scratch"),
    params:
        sections=stage_params("finetune_scratch"),
        launch=launcher,
    conda:
        GPU_ENV
    shell:
        stage_command("finetune_scratch")
