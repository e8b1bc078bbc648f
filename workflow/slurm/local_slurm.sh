#!/usr/bin/env bash
# A single-node SLURM on localhost, the tiny DAG through workflow/profiles/slurm, and a pre-emption check.
#
#   workflow/slurm/local_slurm.sh nogres [TARGET...]   # node without GRES, AVSSL_SLURM_GPU=none (CPU-only)
#   workflow/slurm/local_slurm.sh gres   [TARGET...]   # node with a fake gpu:1 GRES, AVSSL_SLURM_GPU=gres
#   workflow/slurm/local_slurm.sh gpus   [TARGET...]   # same node, AVSSL_SLURM_GPU=gpus (--gpus=1, cons_tres)
#   workflow/slurm/local_slurm.sh stop                 # stop the daemons this script started
#
# Needs root and Debian/Ubuntu packages (installed when missing: slurmctld slurmd slurm-client munge); no
# systemd: munged, slurmctld and slurmd are started by hand. Not part of the default test run (`make test`).
# It runs in a fresh copy of the checkout under $AVSSL_SLURM_WORK (default /tmp/avssl-slurm-<mode>):
#   1. the tiny DAG (`--directory .test`, or only TARGET...) through the profile, with the status command
#      `squeue` (no slurmdbd/accounting here) and no account;
#   2. while the first pretrain job runs and has written a checkpoint: `scontrol requeue` it. SLURM sends it
#      SIGTERM (the training loop checkpoints and exits), puts it back in the queue and starts it again; the
#      job resumes from its checkpoint and the DAG completes;
#   3. prints jobs, requeues and wall time (also to $WORK/slurm-summary.txt).
# A GRES of type gpu whose device file is /dev/null is enough for SLURM to schedule `--gres=gpu:1` / `--gpus=1`; the jobs
# themselves then train on the CPU (train.device auto finds no CUDA).
set -euo pipefail

MODE=${1:-nogres}
shift || true
REPO=$(cd "$(dirname "$0")/../.." && pwd)
HOST=$(hostname -s)
ETC=/etc/slurm
STATE=/var/lib/avssl-slurm

stop_daemons() {
    # the controller that answers (perhaps not the one in the pid file: a second slurmctld exits when the port is
    # taken but leaves its pid there), then whatever the pid files name
    if [ -f "$ETC/slurm.conf" ] && scontrol ping >/dev/null 2>&1; then
        scontrol shutdown >/dev/null 2>&1 || true
        for _ in $(seq 30); do scontrol ping >/dev/null 2>&1 || break; sleep 1; done
    fi
    for name in slurmd slurmctld; do
        if [ -f "$STATE/$name.pid" ]; then
            pid=$(cat "$STATE/$name.pid")
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
            rm -f "$STATE/$name.pid"
        fi
    done
}

if [ "$MODE" = stop ]; then stop_daemons; exit 0; fi
case "$MODE" in
    nogres) GPU_SWITCH=none; GRES=0 ;;
    gres) GPU_SWITCH=gres; GRES=1 ;;
    gpus) GPU_SWITCH=gpus; GRES=1 ;;
    *) echo "usage: $0 nogres|gres|gpus [TARGET...] | stop" >&2; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || { echo "$0: needs root (starts slurmctld/slurmd/munged)" >&2; exit 2; }

# --- install -----------------------------------------------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null || ! command -v sbatch >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurmctld slurmd slurm-client munge
fi

# --- munge -------------------------------------------------------------------------------------------------
mkdir -p /etc/munge /var/run/munge /var/lib/munge /var/log/munge
if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
fi
chown -R munge:munge /etc/munge /var/run/munge /var/lib/munge /var/log/munge
chmod 0700 /etc/munge && chmod 0400 /etc/munge/munge.key
if ! munge -n >/dev/null 2>&1; then
    runuser -u munge -- /usr/sbin/munged
    sleep 1
fi
munge -n | unmunge >/dev/null

# --- slurm.conf: one node, this host, every CPU, memory less 1 GB -------------------------------------------
stop_daemons
mkdir -p "$ETC" "$STATE/ctld" "$STATE/d" /var/log/slurm
CPUS=$(nproc)
MEM=$(( $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) - 1024 ))
NODE_GRES=""
if [ "$GRES" = 1 ]; then
    NODE_GRES="Gres=gpu:1"
    printf 'AutoDetect=off\nNodeName=%s Name=gpu File=/dev/null\n' "$HOST" > "$ETC/gres.conf"
else
    rm -f "$ETC/gres.conf"
fi
cat > "$ETC/slurm.conf" <<EOF
ClusterName=avssl-local
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
ReturnToService=2
MinJobAge=3600
KillWait=60
JobRequeue=1
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/backfill
NodeName=$HOST CPUs=$CPUS RealMemory=$MEM $NODE_GRES State=UNKNOWN
PartitionName=cpu Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -c    # clean state: no jobs from an earlier run
slurmd
for _ in $(seq 30); do sinfo -h -o %T 2>/dev/null | grep -q idle && break; sleep 1; done
sinfo
if ! sinfo -h -o %T | grep -q idle; then
    echo "$0: the node did not come up:" >&2; scontrol show node "$HOST" | grep -i 'state\|reason' >&2; exit 1
fi

# --- the DAG -----------------------------------------------------------------------------------------------
WORK=${AVSSL_SLURM_WORK:-/tmp/avssl-slurm-$MODE}
rm -rf "$WORK" && mkdir -p "$WORK"
(cd "$REPO" && git ls-files -co --exclude-standard -z | grep -zv '^\.test/\(data\|results\|logs\)/' \
    | xargs -0 cp --parents -t "$WORK")
cd "$WORK"
export AVSSL_SLURM_GPU=$GPU_SWITCH AVSSL_SLURM_PARTITION=cpu
unset AVSSL_SLURM_GPU_PARTITION AVSSL_SLURM_ACCOUNT MLFLOW_TRACKING_URI
export PYTHONPATH=$WORK/src${PYTHONPATH:+:$PYTHONPATH}

python "$WORK/workflow/slurm/sbatch_preview.py" --directory .test | tee sbatch-preview.txt

LAST_BEFORE=$(squeue -h -t all -o %i | sort -n | tail -1)
LAST_BEFORE=${LAST_BEFORE:-0}
START=$(date +%s)
snakemake --profile workflow/profiles/slurm --directory .test --slurm-status-command squeue --slurm-no-account \
    --slurm-init-seconds-before-status-checks 5 --seconds-between-status-checks 10 "$@" > snakemake-slurm.log 2>&1 &
SMK=$!

# pre-emption: requeue the first pretrain job once it has written a checkpoint
REQUEUED=""
TAIL=""
while kill -0 $SMK 2>/dev/null; do
    if [ -z "$REQUEUED" ] && compgen -G ".test/results/pretrain/*/checkpoints/*" >/dev/null; then
        JOB=$(squeue -h -t R -o '%i %k' | awk '$2 ~ /^rule_pretrain/ {print $1; exit}')
        if [ -n "$JOB" ]; then
            COMMENT=$(squeue -h -j "$JOB" -o %k)
            METHOD=${COMMENT##*_wildcards_}
            echo "requeue job $JOB ($COMMENT) at $(date -u +%T)" | tee -a requeue.txt
            tail -v -F -n +1 .test/logs/pretrain/*.log > pretrain-logs-followed.txt 2>/dev/null &
            TAIL=$!
            scontrol requeue "$JOB"
            REQUEUED=$JOB
        fi
    fi
    sleep 5
done
wait $SMK && RC=0 || RC=$?
END=$(date +%s)
[ -n "$TAIL" ] && kill "$TAIL" 2>/dev/null || true

{
    echo "mode=$MODE AVSSL_SLURM_GPU=$GPU_SWITCH cpus=$CPUS exit=$RC wall=$((END - START))s"
    echo "jobs submitted: $(squeue -h -t all -o %i | awk -v n="$LAST_BEFORE" '$1 > n' | wc -l)" \
        "completed: $(squeue -h -t all -o '%i %T' | awk -v n="$LAST_BEFORE" '$1 > n && $2 == "COMPLETED"' | wc -l)"
    if [ -n "$REQUEUED" ]; then
        echo "requeued job $REQUEUED: $(scontrol show job "$REQUEUED" | grep -o 'Restarts=[0-9]*') $(scontrol show job "$REQUEUED" | grep -o 'JobState=[A-Z]*')"
        # tail -F interleaves every pretrain log ("==> FILE <==" headers): keep the requeued job's
        tr '\r' '\n' < pretrain-logs-followed.txt | awk -v f="pretrain/$METHOD.log" '/^==> /{cur=$2} index(cur, f)' \
            > requeued-job-log.txt
        STEP=$(grep -ao 'preempted at step [0-9]*' requeued-job-log.txt | head -1 | awk '{print $4}')
        if [ -n "$STEP" ]; then
            echo "SIGTERM: checkpoint at step $STEP"
            FIRST=$(sed -n '/preempted at step/,$p' requeued-job-log.txt | grep -aoE -m1 '[0-9]+/[0-9]+ \[' || true)
            echo "the requeued job's first progress line: ${FIRST:-none} (resumed: $([ "${FIRST%%/*}" = "$STEP" ] && echo yes || echo no))"
        else
            echo "(no 'preempted at step' line captured)"
        fi
    else
        echo "no pretrain job was requeued"
    fi
    echo "sbatch logs kept: $(find .test/logs/slurm logs/slurm -name '*.log' 2>/dev/null | wc -l)"
    snakemake -n --directory .test "$@" 2>&1 | grep -E 'Nothing to be done|Job stats' || true
} | tee slurm-summary.txt
exit $RC
