# Stage `evaluate`: every fine-tuned model, clean and at each SNR / noise type, in one process. Models with a
# frozen pre-trained encoder (`evaluate_frozen`) read its cached features (rule `features`) instead.

ruleorder: evaluate_frozen > evaluate


rule evaluate:
    input:
        *stage_inputs("evaluate"),
    output:
        *stage_outputs("evaluate"),
    log:
        "logs/evaluate/{task}/{init}-{mode}-f{fraction}-s{seed}.log",
    wildcard_constraints:
        task=choices("evaluate", "task"),
        init=choices("evaluate", "init"),
        mode="frozen|finetuned",
        fraction=r"[0-9.e-]+",
        seed=r"\d+",
    threads: stage_threads("evaluate")
    resources:
        **stage_resources("evaluate"),
    params:
        sections=stage_params("evaluate"),
    conda:
        CPU_ENV
    shell:
        stage_command("evaluate")


rule evaluate_frozen:
    input:
        *stage_inputs("evaluate_frozen"),
    output:
        *stage_outputs("evaluate_frozen"),
    log:
        "logs/evaluate/{task}/{init}-{mode}-f{fraction}-s{seed}.log",
    wildcard_constraints:
        task=choices("evaluate_frozen", "task"),
        init=choices("evaluate_frozen", "init"),
        mode="frozen",
        fraction=r"[0-9.e-]+",
        seed=r"\d+",
    threads: stage_threads("evaluate_frozen")
    resources:
        **stage_resources("evaluate_frozen"),
    params:
        sections=stage_params("evaluate_frozen"),
    conda:
        CPU_ENV
    shell:
        stage_command("evaluate_frozen")
