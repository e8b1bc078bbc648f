# Stage `evaluate`: every fine-tuned model, clean and at each SNR / noise type, in one process.


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
