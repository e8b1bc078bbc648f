# Stage `synthesize`: the embedded eSpeak NG audio-visual corpus.


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
