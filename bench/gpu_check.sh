#!/usr/bin/env bash
# GPU check in one command (issue 14), for a machine with an NVIDIA GPU and this repository with its Python
# environment already in place (it installs nothing and needs no network):
#
#     bash bench/gpu_check.sh                 # PYTHON=/path/to/python to choose the interpreter
#
# Runs, each timed, each logged to $WORK/<check>.log:
#   1. tiny_dag     the tiny preset (.test/params.yaml) through snakemake in a scratch copy, with the overlay
#                   bench/gpu_overlay.yaml (train.device: cuda, train.bf16: true, train.compile: true)
#   2. raven_base   RAVEn Base pre-training throughput, step time, peak memory and MFU in bf16
#                   (bench/gpu_pretrain_mfu.py, 16 x 150 frames = 2,400 frames per step), eager and compiled;
#                   and (informational, not counted as a failure) whether the step runs with deterministic kernels
#   3. ddp_1gpu     torchrun --nproc_per_node=1: the same step wrapped in SyncBatchNorm + DDP on an NCCL group,
#                   and the tiny RAVEn pre-training job (avssl pretrain) launched by torchrun
#   4. ft_eval      one fine-tuning + evaluation job of the tiny preset (RAVEn encoder, lip reading) on the GPU
# then prints one summary table and writes it to $OUT/gpu_check.md (if OUT is set) and $WORK/gpu_check.md.
# Exit status: 0 when every check passed. WORK (default: a new temporary folder) holds logs and outputs.
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="${WORK:-$(mktemp -d -t avssl-gpu-check.XXXXXX)}"
mkdir -p "$WORK"

die() { echo "gpu_check: $*" >&2; exit 2; }

# --- the interpreter: $PYTHON, else the repository's .venv, else python3 on PATH --------------------------------
PY="${PYTHON:-}"
if [[ -z "$PY" ]]; then
    for cand in "$REPO/.venv/bin/python" "$(command -v python3 || true)" "$(command -v python || true)"; do
        if [[ -n "$cand" && -x "$cand" ]]; then PY="$cand"; break; fi
    done
fi
[[ -n "$PY" && -x "$PY" ]] || die "no Python found: set PYTHON=/path/to/python (the environment with torch and avssl's requirements)"
export PYTHONPATH="$REPO/src${PYTHONPATH:+:$PYTHONPATH}"
"$PY" - <<'EOF' || die "the Python at $PY cannot run the checks (see above); set PYTHON to the project's environment"
import importlib.util
import sys
missing = [m for m in ("torch", "avssl", "snakemake", "mlflow") if importlib.util.find_spec(m) is None]
if missing:
    sys.exit(f"{sys.executable}: missing modules {missing}")
import torch
if not torch.cuda.is_available():
    sys.exit(f"torch {torch.__version__} sees no CUDA device (torch.cuda.is_available() is False; CUDA build: {torch.version.cuda})")
EOF
BIN="$(dirname "$PY")"
export PATH="$BIN:$PATH"  # snakemake jobs run `python -m avssl`: the same interpreter

SUMMARY="$WORK/summary.tsv"
: > "$SUMMARY"
FAILED=0
row() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$SUMMARY"; }  # check, status, seconds, figures

run_check() {  # name, figures-command, command...
    local name="$1" figures="$2"; shift 2
    local t0 t1 status secs
    echo "== $name: $*"
    t0=$(date +%s.%N)
    if "$@" > "$WORK/$name.log" 2>&1; then
        status=ok
    elif [[ -n "${INFO:-}" ]]; then
        status="failed, informational (see $WORK/$name.log)"
    else
        status="FAILED (see $WORK/$name.log)"; FAILED=1
    fi
    t1=$(date +%s.%N)
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    row "$name" "$status" "$secs" "$([[ $status == ok ]] && eval "$figures" || grep -v '^\s*$' "$WORK/$name.log" | tail -n 2 | tr '\n\t' '  ' | cut -c1-240)"
    echo "   $status, $secs s"
}

json_fig() {  # file: one line of the pre-training figures
    "$PY" - "$1" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
mfu = f"MFU {100 * r['mfu']:.1f} % of {r['peak_tflops']:.0f} TFLOP/s ({r['peak_source']})" if r["mfu"] else "MFU n/a"
print(f"{r['frames_per_s']:,.0f} frames/s, step {1000 * r['step_s']:.0f} ms ({r['frames_per_step']} frames), "
      f"peak {r['peak_mem_gb']:.1f} GiB, {r['tflop_per_step']:.2f} TFLOP/step = {r['achieved_tflops']:.0f} TFLOP/s, {mfu}")
EOF
}

"$PY" - > "$WORK/env.txt" <<'EOF'
import torch
p = torch.cuda.get_device_properties(0)
print(f"{torch.cuda.get_device_name(0)} ({p.total_memory / 2**30:.0f} GiB, {torch.cuda.device_count()} visible), "
      f"torch {torch.__version__}, CUDA {torch.version.cuda}")
EOF
echo "gpu_check: $(cat "$WORK/env.txt"); python $PY; work folder $WORK"

# --- 1. tiny DAG on the GPU (bf16 + compile) ----------------------------------------------------------------------
TINY="$WORK/tiny"
rm -rf "$TINY"; mkdir -p "$TINY"
cp "$REPO/.test/params.yaml" "$TINY/params.yaml"
cp "$REPO/bench/gpu_overlay.yaml" "$TINY/gpu.yaml"
export MLFLOW_TRACKING_URI="sqlite:///$TINY/mlflow.db"
run_check tiny_dag \
    'echo "$(grep -o "[0-9]* of [0-9]* steps ([0-9]*%) done" "$WORK/tiny_dag.log" | tail -1); $(ls "$TINY"/results/evaluate/*/*/*/metrics.json 2>/dev/null | wc -l) evaluation metrics files"' \
    "$PY" -m snakemake --snakefile "$REPO/Snakefile" --directory "$TINY" --cores "$(nproc)" --configfile "$TINY/gpu.yaml"

# --- 2. RAVEn Base pre-training throughput / MFU in bf16 ------------------------------------------------------------
run_check raven_base_bf16 'json_fig "$WORK/raven_base_bf16.json"' \
    "$PY" "$REPO/bench/gpu_pretrain_mfu.py" --device cuda --bf16 --steps 30 --json "$WORK/raven_base_bf16.json"
run_check raven_base_bf16_compile 'json_fig "$WORK/raven_base_bf16_compile.json"' \
    "$PY" "$REPO/bench/gpu_pretrain_mfu.py" --device cuda --bf16 --compile --steps 30 \
    --json "$WORK/raven_base_bf16_compile.json"

# informational: train.deterministic (the default) on CUDA -- does every kernel of a RAVEn step have a
# deterministic implementation? (The overlay turns it off; see bench/gpu_overlay.yaml.)
INFO=1 run_check raven_deterministic 'json_fig "$WORK/raven_deterministic.json"' \
    "$PY" "$REPO/bench/gpu_pretrain_mfu.py" --device cuda --bf16 --deterministic --steps 3 --warmup 1 \
    --json "$WORK/raven_deterministic.json"

# --- 3. torchrun, one process: DDP + SyncBN on NCCL, and a real pre-training job launched by torchrun -----------------
run_check ddp_1gpu_step 'json_fig "$WORK/ddp_1gpu.json"' \
    "$PY" -m torch.distributed.run --standalone --nproc_per_node=1 "$REPO/bench/gpu_pretrain_mfu.py" \
    --device cuda --bf16 --ddp --steps 10 --json "$WORK/ddp_1gpu.json"
if [[ -d "$TINY/data/processed" ]]; then
    run_check torchrun_pretrain_job \
        '"$PY" -c "import json,sys; m=json.load(open(sys.argv[1])); print(\", \".join(f\"{k} {v:.4g}\" for k, v in m.items() if isinstance(v, (int, float)))[:200])" "$WORK/torchrun_pretrain/metrics.json"' \
        bash -c "cd '$TINY' && '$PY' -m torch.distributed.run --standalone --nproc_per_node=1 -m avssl pretrain \
            --params params.yaml --params gpu.yaml --method raven --input data/processed --output '$WORK/torchrun_pretrain'"
else
    row torchrun_pretrain_job "skipped (the tiny DAG did not produce data/processed)" 0 ""; FAILED=1
fi

# --- 4. one fine-tuning + evaluation job (commands from the stage table, as the DAG runs them) -----------------------
"$PY" - "$TINY" > "$WORK/ft_eval.sh" <<'EOF'
import sys
from pathlib import Path

from avssl import stages
from avssl.config import load_params

work = Path(sys.argv[1])
params = load_params([work / "params.yaml", work / "gpu.yaml"]).model_dump(mode="json")
jobs = [j for j in stages.finetune_jobs(params) if j["init"] == "raven"] or stages.finetune_jobs(params)
job = jobs[0]
files = ("params.yaml", "gpu.yaml")
ft = stages.BY_NAME["finetune" if job["init"] != "scratch" else "finetune_scratch"].cli(files).format(**job)
ev = stages.BY_NAME["evaluate"].cli(files).format(**job)
print(f"# job {job}\nset -e\ncd '{work}'\n{ft}\n{ev}")
EOF
run_check ft_eval 'echo "$(head -1 "$WORK/ft_eval.sh" | cut -c3-)"' bash "$WORK/ft_eval.sh"

# --- summary ---------------------------------------------------------------------------------------------------------------
{
    echo "# GPU check, $(date -u +%Y-%m-%dT%H:%MZ)"
    echo
    echo "$(cat "$WORK/env.txt"); MFU peak: dense bf16 989 TFLOP/s (H100/H200 SXM spec) unless stated"
    echo
    echo "| check | status | seconds | figures |"
    echo "|---|---|---|---|"
    awk -F'\t' '{ printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4 }' "$SUMMARY"
} > "$WORK/gpu_check.md"
cat "$WORK/gpu_check.md"
if [[ -n "${OUT:-}" ]]; then
    mkdir -p "$OUT"
    cp "$WORK/gpu_check.md" "$OUT/gpu_check.md"
    cp "$WORK"/*.json "$WORK"/*.log "$OUT"/ 2>/dev/null || true
fi
exit "$FAILED"
