# Where the clips come from: stage `synthesize` (the embedded eSpeak NG audio-visual corpus, when
# study.dataset = synthetic) or stage `index` (the clip index of a real dataset under datasets.<name>_root).


rule synthesize:
    output:
        *stage_outputs("synthesize"),
    log:
        "logs/synthesize.log",
    threads: workflow.cores
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        sections=stage_params("synthesize"),
    conda:
        CPU_ENV
    shell:
        stage_command("synthesize")


rule index:
    input:
        *stage_inputs("index"),
    output:
        *stage_outputs("index"),
    log:
        "logs/index/{dataset}.log",
    wildcard_constraints:
        dataset=choices("index", "dataset"),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        sections=stage_params("index"),
    conda:
        CPU_ENV
    shell:
        stage_command("index")
