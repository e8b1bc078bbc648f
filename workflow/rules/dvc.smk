# After a successful run: record the finished jobs' stages in dvc.lock and DVC's cache (link cache, no second
# copy) and keep every output's mtime, so `dvc status` and `snakemake -n` both report nothing to do
# (avssl.dvc_sync). Skipped, with the reason printed, outside the DVC project root (e.g. --directory .test),
# with --configfile overlays, when dvc.yaml is stale, or with AVSSL_DVC_SYNC=0.


onsuccess:
    from avssl.dvc_sync import after_snakemake

    after_snakemake(workflow, PARAMS_FILES, RESOLVED, log=logger.info)
