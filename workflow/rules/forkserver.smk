# Local runs: jobs start from a warm fork server instead of importing torch & co. in every new process
# (src/avssl/forkserver.py: same outputs, same MLflow runs; ~1.3 s less start-up per job). Not for cluster
# executors (jobs run on other hosts) nor with AVSSL_FORKSERVER=0 in the environment.


onstart:
    from avssl.forkserver import enable_for_workflow

    enable_for_workflow(workflow.local_exec, log=logger.info)
