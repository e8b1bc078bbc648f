# Where the clips come from: stage `synthesize` (the embedded eSpeak NG audio-visual corpus, when
# study.dataset = synthetic) or stage `index` (the clip index of a real dataset under datasets.<name>_root).


rule synthesize:
    output:
        *stage_outputs("synthesize"),
    log:
        "logs/synthesize.log",
    threads: stage_threads("synthesize")
    resources:
        **stage_resources("synthesize"),
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
    threads: stage_threads("index")
    resources:
        **stage_resources("index"),
    params:
        sections=stage_params("index"),
    conda:
        CPU_ENV
    shell:
        stage_command("index")
