# Stage `finetune`: one job (and MLflow run) per (task, init, mode, label fraction, seed).
# Three rules, one command: pre-trained inits depend on their pre-training job, scratch/random do not, and a
# frozen pre-trained encoder's heads also read its cached features (rule `features`).

ruleorder: finetune_frozen > finetune


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
        mode=choices("finetune", "mode"),
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


rule finetune_frozen:
    input:
        *stage_inputs("finetune_frozen"),
    output:
        *stage_outputs("finetune_frozen"),
    log:
        "logs/finetune/{task}/{init}-{mode}-f{fraction}-s{seed}.log",
    wildcard_constraints:
        task=choices("finetune_frozen", "task"),
        init=choices("finetune_frozen", "init"),
        mode=choices("finetune_frozen", "mode"),
        fraction=r"[0-9.e-]+",
        seed=r"\d+",
    threads: stage_threads("finetune_frozen")
    resources:
        **stage_resources("finetune_frozen"),
    params:
        sections=stage_params("finetune_frozen"),
        launch=launcher,
    conda:
        GPU_ENV
    shell:
        stage_command("finetune_frozen")


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
