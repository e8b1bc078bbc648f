# Stage `report`: the papers' tables and figures, built from the study's MLflow runs.


rule report:
    input:
        *stage_inputs("report"),
    output:
        report(
            directory("results/tables"),
            patterns=["{name}.md"],
            caption="../report/tables.rst",
            category="Tables",
        ),
        "results/summary.json",
        report(
            directory("results/figures"),
            patterns=["{name}.png"],
            caption="../report/figures.rst",
            category="Figures",
        ),
    log:
        "logs/report.log",
    threads: stage_threads("report")
    resources:
        **stage_resources("report"),
    params:
        sections=stage_params("report"),
    conda:
        CPU_ENV
    shell:
        stage_command("report")
