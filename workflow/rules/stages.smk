# One rule per stage of the stage table (src/avssl/stages.py), all built by this one loop: the table gives
# each rule its inputs, outputs, command, log, threads, resources, conda env, wildcard constraints and
# description (the rule's docstring, listed by `snakemake --list-rules`); common.smk reads them with the params. A new stage is a new table entry, not a rule.
#
# A stage that is not part of this study (Stage.active) has no rule: `synthesize` + `preprocess_part` for the
# embedded corpus, `index` + `preprocess_part_dataset` for a real dataset (both part rules write
# data/preprocess_parts/{part}). Pre-trained and scratch fine-tuning are two rules with one command: the first
# depends on its pre-training job, the second does not. Preprocessing scales out over
# `preprocess.shard_groups` part jobs (side by side on a cluster), then one light job merges the parts.


for _stage in stage_table.STAGES:
    if not _stage.is_active(RESOLVED):
        continue

    rule:
        name:
            _stage.name
        input:
            *stage_inputs(_stage.name),
        output:
            *stage_outputs(_stage.name),
        log:
            _stage.log_path,
        wildcard_constraints:
            **stage_constraints(_stage.name),
        threads: stage_threads(_stage.name)
        resources:
            **stage_resources(_stage.name),
        params:
            sections=stage_params(_stage.name),
            **stage_launch(_stage.name),
        conda:
            stage_conda(_stage.name)
        shell:
            job_command(_stage.name, locals())

    workflow.get_rule(_stage.name).docstring = _stage.description  # what `snakemake --list-rules` shows


# A frozen pre-trained job is evaluated from its encoder's cached features (stage `features`). When the study also
# fine-tunes pre-trained encoders, `evaluate` matches the same (init, mode) values and the frozen rule wins.
# (`finetune` and `finetune_frozen` never overlap: their `mode` values differ.)
ruleorder: evaluate_frozen > evaluate
