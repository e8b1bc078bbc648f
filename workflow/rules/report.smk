# Stage `report`: the papers' tables and figures, built from the study's MLflow runs.


rule report:
    input:
        *stage_inputs("report"),
    output:
        report(
            directory("results/tables"),
            patterns=["{name}.html"],  # rendered inline; caption, notes and run-id footnotes inside
            caption="../report/tables.rst",
            category="Tables",
            labels={"table": "{name}"},
        ),
        "results/summary.json",
        report(
            directory("results/figures"),
            patterns=["{name}.png"],
            caption="../report/figures.rst",  # one caption per kind of figure, chosen by file name
            category="Figures",
            labels={"figure": "{name}"},
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
