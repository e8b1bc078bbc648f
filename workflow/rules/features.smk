# Stage `features`: each frozen pre-trained encoder's features, once for every task, label fraction and seed
# (every clip clean, the test clips in each evaluation noise condition); frozen heads read them.


rule features:
    input:
        *stage_inputs("features"),
    output:
        *stage_outputs("features"),
    log:
        "logs/features/{init}.log",
    wildcard_constraints:
        init=choices("features", "init"),
    threads: stage_threads("features")
    resources:
        **stage_resources("features"),
    params:
        sections=stage_params("features"),
    conda:
        CPU_ENV
    shell:
        stage_command("features")
