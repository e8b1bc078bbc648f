"""`avssl` command line: one sub-command per pipeline stage, plus tools.

Convention for every stage: ``avssl <stage> --params FILE [--params OVERLAY ...] [--set section.key=value ...]``
plus explicit ``--input``/``--output`` paths. Snakemake rules and DVC stages call exactly these commands, so
any stage can be re-run by hand. Heavy libraries (torch, mlflow, cv2) are imported only inside the
sub-command that needs them: ``avssl --help`` stays well under a second.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from avssl.registry import tasks as task_registry
from avssl.registry import datasets, inits  # import-light: names and help texts, no torch/pydantic
PARAMS_HELP = (
    "params file (YAML); repeat to overlay files in order (later wins). Default: params.yaml. "
    "Unknown keys, wrong types and out-of-range values stop the stage before any work."
)
SET_HELP = "override one parameter, e.g. --set synth.n_speakers=4 (value parsed as YAML); repeatable"


class CliError(Exception):
    """A user error: printed as one clear message, exit status 2."""


def _add_common(p: argparse.ArgumentParser, threads: bool = True, track: bool = True) -> None:
    p.add_argument("--params", action="append", metavar="FILE", help=PARAMS_HELP)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=SET_HELP)
    if threads:
        p.add_argument(
            "--threads",
            type=int,
            default=int(os.environ.get("AVSSL_THREADS", "0")),
            help="worker processes / torch threads (0 = the CPUs given to this process: SLURM_CPUS_PER_TASK or the "
            "affinity mask; Snakemake passes its `threads`). "
            "Results do not depend on it.",
        )
    if track:
        p.add_argument("--no-track", action="store_true", help="do not log to MLflow (library/debug use)")


def _stage_parser(sub, name: str, summary: str, body: str, params_read: str) -> argparse.ArgumentParser:
    epilog = f"params read: {params_read}\n\nThe run is logged to MLflow (experiment avssl/<study.name>)."
    return sub.add_parser(
        name,
        help=summary,
        description=f"{summary}\n\n{body}",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _tool_parser(sub, name: str, summary: str, description: str, output: bool = True) -> argparse.ArgumentParser:
    """A command that is not a stage: help line, description and (``output``) --output instead of stdout."""
    p = sub.add_parser(name, help=summary, description=description,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    if output:
        p.add_argument("--output", type=Path, help="write here instead of stdout")
    return p


def _raven_scratch() -> str:
    """The tasks whose `scratch` encoder is RAVEn's (help text)."""
    return "/".join(t.name for t in task_registry.TASKS.values() if t.scratch_arch == "raven")


def _init_lines(entries) -> str:
    """``name (description)`` per registry entry, for the help texts."""
    return "; ".join(f"{i.name} ({i.description})" for i in entries)


def _add_job(p: argparse.ArgumentParser, source: tuple[str, str], features: str) -> None:
    """The options of one (task, init, mode, fraction, seed) job and its folders; ``source`` = the model folder
    flag it reads and its help, ``features`` = the help of --features."""
    _add_common(p)
    p.add_argument("--task", required=True, choices=task_registry.names())
    p.add_argument("--init", required=True, choices=inits.init_names())
    p.add_argument("--mode", default="finetuned", choices=["frozen", "finetuned"])
    p.add_argument("--fraction", type=float, default=1.0, help="labelled fraction of the training clips (0, 1]")
    p.add_argument("--seed", type=int, default=0, help="seed of the label subset and the run")
    p.add_argument("--input", required=True, type=Path, help="processed shard folder")
    p.add_argument(source[0], required=source[0] == "--finetuned", type=Path, help=source[1])
    p.add_argument("--features", type=Path, help=features)
    p.add_argument("--output", required=True, type=Path, help="output folder")


def _add_synth(sub) -> None:
    p = _stage_parser(
        sub,
        "synth",
        "Synthesise the embedded audio-visual speech corpus (stage `synthesize`).",
        "Speech from eSpeak NG (loaded at run time, GPL-3) with phoneme timings; faces animated from the\n"
        "public-domain astronaut photo by a viseme track; emotion prosody and arousal/valence traces.\n\n"
        "output: DIR/<clip_id>.mp4 (25 fps, 224x224), DIR/<clip_id>.wav (16 kHz), DIR/<clip_id>.npz (per-frame\n"
        "labels and ground truth), DIR/metadata.csv, DIR/speakers.csv, DIR/montage.png, DIR/README.md.\n"
        "Same params + seed => byte-identical files; an interrupted run resumes.",
        "study.seed, synth.*",
    )
    _add_common(p)
    p.add_argument("--output", required=True, type=Path, help="corpus folder to write (e.g. data/synth)")
    p.add_argument("--metrics", type=Path, help="also write the stage metrics to this JSON file")


def _add_preprocess(sub) -> None:
    audio_only = ", ".join(d.name for d in datasets.DATASETS if d.audio_only)
    p = _stage_parser(
        sub,
        "preprocess",
        "Turn a folder of <id>.mp4 + <id>.wav, or a real dataset's clip index, into training shards "
        "(stage `preprocess`).",
        "Face detection (Haar cascade) on key frames + tracking and smoothing, mouth localisation, 96x96\n"
        "grayscale mouth ROIs, aligned face crops, 16 kHz audio cut to frames x 640 samples.\n\n"
        "input: any folder of <id>.mp4 + <id>.wav pairs, optional metadata.csv (clip_id + label columns);\n"
        "or, with --dataset NAME, the clip index CSV written by `avssl index --dataset NAME` (media paths\n"
        "relative to --root, default datasets.<NAME>_root; audio inside .mp4/.flv/.avi is decoded with PyAV).\n"
        + (f"Audio-only corpora ({audio_only}) cannot be preprocessed audio-visually.\n" if audio_only else "")
        + "output: DIR/index.csv (one row per clip), DIR/shards/* (a few large files), DIR/rejects.csv\n"
        "(clip_id, reason, detail), DIR/unused_files.csv (other input files not taken: file, reason, detail).\n"
        "Bad clips are listed, never silently dropped; the stage fails only when\n"
        "the reject rate exceeds preprocess.max_reject_rate. Resumable per shard.",
        "preprocess.*, datasets.* (with --dataset)",
    )
    _add_common(p)
    p.add_argument("--input", type=Path,
                   help="folder of <id>.mp4 + <id>.wav (+ metadata.csv); with --dataset: its clip index CSV")
    p.add_argument("--dataset", choices=datasets.dataset_names(),
                   help="read --input as this dataset's clip index (`avssl index`) instead of a folder")
    p.add_argument("--root", type=Path,
                   help="with --dataset: the dataset root the index paths are relative to (default: "
                   "datasets.<name>_root from params)")
    p.add_argument("--landmarks", type=Path, metavar="DIR",
                   help="with --dataset: folder of <clip_id>.landmarks.npy for preprocess.locator=landmarks "
                   "(default: <video>.landmarks.npy next to each whole-file video)")
    p.add_argument("--output", required=True, type=Path, help="shard folder to write (e.g. data/processed)")
    p.add_argument("--metrics", type=Path, help="also write the stage metrics to this JSON file")
    p.add_argument(
        "--shard-group",
        metavar="I[/N]",
        help="process only shard group I of N (N defaults to preprocess.shard_groups): shards i with i %% N == I. "
        "Each group job writes its own --output folder; merge them with --merge-parts (the workflow does)",
    )
    p.add_argument(
        "--merge-parts",
        type=Path,
        metavar="DIR",
        help="merge the part folders DIR/0 .. DIR/N-1 of the shard-group jobs (N = preprocess.shard_groups) "
        "into --output instead of processing clips (no --input)",
    )
    p.add_argument("--merge-only", action="store_true",
                   help="only merge per-shard index/rejects files (all groups wrote into --output)")


def _pretrain_params_read() -> str:
    """What each method's job reads (avssl.stages.pretrain_params): the loop plus its own sections."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for i in inits.INITS:
        if i.pretrained:
            groups.setdefault(i.pretrain_keys, []).append(i.name)
    own = "; ".join(f"{', '.join(k if '.' in k else k + '.*' for k in keys)} ({', '.join(names)})"
                    for keys, names in groups.items())
    return f"study.seed, train.*, and per method: {own}"


def _add_pretrain(sub) -> None:
    methods = [i for i in inits.INITS if i.pretrained]
    p = _stage_parser(
        sub,
        "pretrain",
        "Self-supervised pre-training of the encoders, one method per job (stage `pretrain`).",
        f"Methods: {_init_lines(methods)}.\n\n"
        "input: processed shards (avssl preprocess)\n"
        "output: DIR/model.safetensors + DIR/config.json (load with avssl.load_encoder), DIR/metrics.json,\n"
        "DIR/training_curves.png; DIR/checkpoints/ holds resumable training state (killed jobs resume).",
        _pretrain_params_read(),
    )
    _add_common(p)
    p.add_argument("--method", required=True, choices=inits.method_names())
    p.add_argument("--input", required=True, type=Path, help="processed shard folder")
    p.add_argument("--output", required=True, type=Path, help="output folder, e.g. results/pretrain/raven")


def _finetune_params_read() -> str:
    """What a fine-tuning job reads (avssl.stages.finetune_params), the encoder keys from the init registry."""
    from avssl.stages import DECODING_KEYS, RAVEN_ENCODER_KEYS

    sequence = "/".join(t.name for t in task_registry.TASKS.values() if t.sequence)

    def keys(dotted: tuple[str, ...]) -> str:
        return dotted[0].split(".")[0] + "." + "/".join(k.split(".", 1)[1] for k in dotted)

    groups: dict[tuple[str, ...], list[str]] = {}
    for i in inits.INITS:
        if i.encoder_keys:
            groups.setdefault(i.encoder_keys, []).append(i.name)
    arch = [i.name for i in inits.INITS if i.task_architecture]
    built = "; ".join([f"{'/'.join(arch)} on {_raven_scratch()}: {keys(RAVEN_ENCODER_KEYS)}"]
                      + [f"{'/'.join(names)}: {keys(k)}" for k, names in groups.items()])
    return ("study.seed, finetune.<task>, finetune.noise_augmentation, the loop's train.* keys (device, num_buckets,\n"
            f"num_workers, ...), the keys of an encoder it builds ({built}),\n"
            f"{keys(DECODING_KEYS)} ({sequence}). Exactly these per job: avssl.stages.finetune_params")




def _add_finetune(sub) -> None:
    ft_help = (
        f"task: {', '.join(task_registry.names())}; init: {_init_lines(i for i in inits.INITS if not i.pretrained)}\n"
        "or a pre-training method (needs --pretrained);\n"
        "mode: frozen (train the head only) or finetuned; fraction: labelled fraction of the training clips\n"
        "(speaker-balanced); seed: the label subset and the run."
    )
    p = _stage_parser(
        sub,
        "finetune",
        "Fine-tune one downstream task (stage `finetune`).",
        ft_help + "\n\ninput: processed shards; --pretrained: a pre-training output folder\n"
        "output: DIR/model.safetensors + DIR/config.json (the task model), DIR/metrics.json,\n"
        "DIR/training_curves.png (+ DIR/tokenizer.model for asr/vsr). Killed jobs resume from DIR/checkpoints/.",
        _finetune_params_read(),
    )
    _add_job(p, ("--pretrained", "pre-training output folder (pre-trained inits)"),
             "the frozen encoder's cached features (`avssl features` output): training (unless its input is "
             "augmented) and validation read them instead of encoding")


def _add_evaluate(sub) -> None:
    p = _stage_parser(
        sub,
        "evaluate",
        "Evaluate a fine-tuned model, clean and in noise (stage `evaluate`).",
        "Test split; conditions: clean + every evaluate.snrs x evaluate.noise_types (babble from other test\n"
        "speakers, white noise), deterministic given evaluate.noise_seed. ASR/VSR: joint CTC/attention beam search\n"
        "(+ greedy CTC for comparison).\n\n"
        "output: DIR/metrics.json (per condition), DIR/predictions.csv (clip_id, condition, decoder, reference,\n"
        "prediction), DIR/snr_curve.png, DIR/confusion_matrix.png (classification).",
        "evaluate.*, finetune.<task> (the task model it rebuilds)",
    )
    _add_job(p, ("--finetuned", "fine-tuning output folder"),
             "the frozen encoder's cached features (`avssl features` output), read instead of encoding every condition")


def _add_features(sub) -> None:
    p = _stage_parser(
        sub,
        "features",
        "Encode every clip once with a frozen pre-trained encoder (stage `features`).",
        "The features of a frozen encoder do not depend on the task, label fraction or seed: they are computed\n"
        "once here and every frozen head (finetune/evaluate --features) reads them. Audio: every clip clean and\n"
        "the test clips under every evaluation noise condition (the same deterministic noise as `avssl evaluate`);\n"
        "video: validation and test clips, clean. Each clip is encoded alone (batch of one, no padding).\n\n"
        "output: DIR/manifest.json, DIR/<modality>/<condition>.safetensors ({clip_id: float32 (T, D)}).",
        "study.seed, evaluate.snrs, evaluate.noise_types, evaluate.noise_seed, evaluate.babble_speakers",
    )
    _add_common(p)
    p.add_argument("--init", required=True, choices=inits.method_names())
    p.add_argument("--input", required=True, type=Path, help="processed shard folder")
    p.add_argument("--pretrained", required=True, type=Path, help="pre-training output folder of --init")
    p.add_argument("--output", required=True, type=Path, help="output folder, e.g. results/features/raven")


def _add_report(sub) -> None:
    p = _stage_parser(
        sub,
        "report",
        "Build the papers' tables and figures from the study's MLflow runs (stage `report`).",
        "Reads every evaluate/pretrain run of the experiment avssl/<study.name> (the MLflow UI shows the same\n"
        "runs), averages seeds (mean +- std) and writes Shukla-style tables (emotion, affect, words, noise,\n"
        "small data), the RAVEn WER table (with the published LRS3 numbers when dataset=lrs3) and the cross-paper\n"
        "grid. Every cell carries its MLflow run ids.\n\n"
        "output: DIR/tables/*.md|.tex|.csv, DIR/figures/*.png|.csv, DIR/summary.json",
        "study.name, report.*",
    )
    _add_common(p)
    p.add_argument("--output", required=True, type=Path, help="results folder (tables/ and figures/ go inside)")


def _add_reproduce(sub) -> None:
    p = sub.add_parser(
        "reproduce",
        help="Re-run the stage of an MLflow run exactly and compare its metrics with the recorded ones.",
        description="Reads the run's recorded command, params, code version (git commit) and input-data hash;\n"
        "refuses with a clear message when the checked-out code or the input data differ; otherwise re-executes\n"
        "the stage into a scratch folder with the recorded params, logs the new run tagged\n"
        "`reproduces=<RUN_ID>`, and prints the recorded and new metrics side by side with the case:\n"
        "  identical   every metric equal (expected on the same hardware and software)\n"
        "  within CI   differing metrics inside the recorded run's 95 % interval over test clips (another machine)\n"
        "  outside CI  exit status 1\n"
        "It also says whether the numerics environment (CPU ISA, torch/MKL/oneDNN, threads) differs.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--exact", action="store_true", help="exit 1 unless every metric is identical (same machine)")
    p.add_argument("run_id", help="MLflow run id (see the MLflow UI or the run ids in results/tables/*.csv)")
    p.add_argument("--tracking-uri", help="default: MLFLOW_TRACKING_URI or sqlite:///mlflow.db")
    p.add_argument("--output", type=Path, help="where the re-run writes (default: results/reproduce/<RUN_ID>)")
    p.add_argument("--allow-dirty", action="store_true", help="run even if the code differs from the recorded commit")


def _add_encode(sub) -> None:
    p = sub.add_parser(
        "encode",
        help="Write encoder features of a processed dataset to disk.",
        description="Run a pre-trained encoder (ours or an official RAVEn .pth) over every clip of a processed\n"
        "dataset and write (T, D) features per clip at 25 Hz into one safetensors file keyed by clip id.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--checkpoint", required=True, type=Path, help="checkpoint folder, model.safetensors or .pth")
    p.add_argument("--modality", choices=["audio", "video"],
                   help="which encoder of a multi-encoder checkpoint (default: the only one it holds)")
    p.add_argument("--input", required=True, type=Path, help="processed shard folder")
    p.add_argument("--output", required=True, type=Path, help="features file to write (.safetensors)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--device", default="cpu")


def _add_index(sub) -> None:
    p = _stage_parser(
        sub,
        "index",
        f"Write the clip index of a real dataset ({', '.join(datasets.dataset_names())}) (stage `index`).",
        "Scan a dataset folder in its official layout and write one CSV row per clip (ids, split, speaker,\n"
        "labels as names, media paths relative to the root). Files that cannot be indexed are listed with\n"
        "reasons in <output stem>.problems.csv next to it. The workflow runs it when study.dataset is a real\n"
        "dataset, and `avssl preprocess --dataset NAME --input INDEX.csv` reads the result.\n"
        "Without --params and with no params.yaml in the current folder, the defaults apply (`avssl params\n"
        "--defaults`), so it also runs outside a project. An MLflow store (mlflow.db*, mlartifacts/, mlruns/) and\n"
        "the index's own files inside the dataset folder are never indexed.",
        "datasets.* (the root, folds, LRS3 setting, segment length)",
    )
    _add_common(p)
    p.add_argument("--dataset", required=True, choices=datasets.dataset_names())
    p.add_argument("--root", type=Path, help="dataset root folder (default: datasets.<name>_root from params)")
    p.add_argument("--output", required=True, type=Path, help="index CSV to write (problems.csv goes next to it)")


def _add_acquire(sub) -> None:
    def names(access: str) -> str:
        return ", ".join(d.name for d in datasets.DATASETS if d.access == access)

    p = _stage_parser(
        sub,
        "acquire",
        "Download a public dataset or verify a licensed one (stage `acquire`).",
        f"Public ({names('public')}): resumable HTTP downloads with a progress bar, checksums\n"
        "recorded and verified, atomic placement, extraction with path-traversal protection.\n"
        f"Licensed ({names('licensed')}): checks the folders and file counts under the root and, if\n"
        "anything is missing, explains how to obtain the data and where to put it.",
        "datasets.*",
    )
    _add_common(p, threads=False)
    p.add_argument("--dataset", required=True, choices=datasets.dataset_names())
    p.add_argument("--root", type=Path, help="dataset root folder (default: datasets.<name>_root from params)")


def _add_params(sub) -> None:
    p = _tool_parser(
        sub,
        "params",
        "Validate params files and print the resolved params (YAML).",
        "Merge params files and --set overrides exactly as a stage would, validate them and print\n"
        "the result as commented YAML. `avssl params --defaults --output params.yaml` regenerates params.yaml\n"
        "(the default preset) from the pydantic model.",
        output=False,
    )
    _add_common(p, threads=False, track=False)
    p.add_argument("--defaults", action="store_true", help="render the default preset, commented (= params.yaml)")
    p.add_argument("--output", type=Path, help="write here instead of stdout")


def _add_generators(sub) -> None:
    """The commands that render a generated file from the code: the params schema and dvc.yaml."""
    for name, summary, description in GENERATORS:
        _tool_parser(sub, name, summary, description)


GENERATORS = (
    ("schema", "Print (or write) the JSON schema of params.yaml used by Snakemake.",
     "Render the JSON schema generated from the pydantic params model. The Snakefile validates\n"
     "params.yaml against the committed copy in workflow/schemas/params.schema.json; a test fails when that\n"
     "copy is stale (regenerate with `make schema`)."),
    ("dvc-yaml", "Print (or write) dvc.yaml rendered from the stage table.",
     "Render dvc.yaml from the stage table in avssl.stages (the same table the Snakemake rules\n"
     "use), so `dvc repro` and `snakemake` run the same commands. Fan-out stages become DVC `foreach:` stages\n"
     "over the jobs of params.yaml. Regenerate with `make dvc-yaml`."),
)  # fmt: skip


def _add_metrics(sub) -> None:
    p = _tool_parser(
        sub,
        "metrics",
        "The DVC metrics files as one table per stage (per task for finetune/evaluate), terminal-wide.",
        "Read the metrics files dvc.yaml declares for the jobs of the params and print one table per\n"
        "stage (finetune/evaluate: per task), wrapped to the terminal width: what `dvc metrics show` prints as\n"
        "one table with a column per key of every file.",
        output=False,
    )
    p.add_argument("--params", action="append", metavar="FILE", help=PARAMS_HELP)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=SET_HELP)
    p.add_argument("--stage", help="only this stage (e.g. evaluate)")
    p.add_argument("--width", type=int, help="line width (default: the terminal's)")


def _add_plots_page(sub) -> None:
    _tool_parser(
        sub,
        "plots-page",
        "Print (or write) the offline HTML page for `dvc plots show` (.dvc/plots/page.html).",
        "The page `dvc plots show` fills (.dvc/config: plots.html_template) with Vega, Vega-Lite and\n"
        "Vega-Embed inlined from the installed snakemake package, so the plots render without network.",
    )


# One function per sub-command, in the order `avssl --help` lists them.
SUBCOMMANDS = (_add_synth, _add_preprocess, _add_pretrain, _add_finetune, _add_evaluate, _add_features, _add_report,
               _add_reproduce, _add_encode, _add_index, _add_acquire, _add_params, _add_generators, _add_metrics,
               _add_plots_page)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="avssl",
        description=(
            "Audio-visual self-supervised speech representation learning: Shukla et al. (TAC 2021) and "
            "RAVEn (ICLR 2023) as a reproducible pipeline.\n\n"
            "Stages (run in this order by `snakemake --cores all` or `dvc repro`):\n"
            "  synth -> preprocess -> pretrain -> finetune -> evaluate -> report\n"
            "Every stage reads params.yaml (see --params/--set) and logs one MLflow run."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="on errors also print the Python traceback (default: one line saying what to do)")
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    for add in SUBCOMMANDS:
        add(sub)
    for command in sub.choices.values():  # `avssl CMD ... --verbose` works too (SUPPRESS keeps the global value)
        command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                             help="on errors also print the Python traceback")
    return parser


# --------------------------------------------------------------------------------------------- helpers


def _load(args) -> "object":
    from avssl.config import ParamsError, load_params

    files = args.params or ["params.yaml"]
    try:
        return load_params(files, args.set)
    except ParamsError as exc:
        raise CliError(str(exc)) from None


def _cpus_given() -> int:
    """The CPUs this process may use: SLURM's allocation, else the affinity mask (cgroups), not the host's count."""
    slurm = os.environ.get("SLURM_CPUS_PER_TASK", "")
    if slurm.isdigit() and int(slurm) > 0:
        return int(slurm)
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _threads(args, torch_threads: int | None = None) -> int:
    """Worker count for the stage. Training/evaluation stages pin torch to ONE intra-op thread on CPU: float
    sums then do not depend on the machine's core count, so the same params + seed give bit-identical results
    under Snakemake, DVC or by hand (parallelism comes from running jobs side by side, or DDP processes)."""
    n = getattr(args, "threads", 0) or _cpus_given()
    if torch_threads is not None:
        import torch

        torch.set_num_threads(torch_threads)
        return torch_threads
    return n


def _write_metrics(path: Path | None, metrics: dict) -> None:
    if path is not None:
        from avssl.tracking.run import write_json

        write_json(path, metrics)


def _params_hash(params, *sections: str) -> str:
    import hashlib
    import json

    dumped = params.model_dump(mode="json")
    data = {"seed": params.study.seed, **{s: dumped[s] for s in sections}}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def _record_run_id(config_json: Path, run_id: str | None) -> None:
    """Write the MLflow run id into a stage's config.json, so later stages can link their runs to it."""
    import json

    from avssl.tracking.run import write_json

    if run_id and config_json.is_file():
        write_json(config_json, {**json.loads(config_json.read_text()), "mlflow_run_id": run_id})


def _job_view(params, stage: str, **job):
    """What the stage code receives: a view of exactly the params this job declares (avssl.stages.job_params);
    reading anything else raises UndeclaredParam. Tracking and hashing keep using the full model."""
    from avssl import stages
    from avssl.config.view import params_view

    return params_view(params, stage, stages.job_params(stages.BY_NAME[stage], job), job)


def _log_reads(run, view) -> None:
    """Record in the MLflow run which params the job declared and which leaves it read (artifact
    params_read.json): tests/test_params_declared.py checks that the two agree for every job."""
    from avssl.config.view import read_record

    run.log_dict(read_record(view), "params_read.json")


def _tracking(args, params, stage: str, **kwargs):
    from avssl.tracking import start_stage

    return start_stage(params, stage, enabled=not args.no_track, **kwargs)


# ---------------------------------------------------------------------------------------------- stages


def cmd_synth(args) -> None:
    params = _load(args)
    threads = _threads(args)
    from avssl.data.synth import run_synth

    # Synthesis reads no data: its "input" is the generator's params and seed.
    with _tracking(args, params, "synthesize", input_hash=_params_hash(params, "synth")) as run:
        view = _job_view(params, "synthesize")
        metrics = run_synth(view, args.output, run=run, threads=threads)
        run.log_metrics(metrics)
        _log_reads(run, view)
    _write_metrics(args.metrics, metrics)


def cmd_preprocess(args) -> None:
    params = _load(args)
    if args.merge_parts is not None:
        return _merge_preprocess_parts(args, params)
    if args.input is None:
        raise CliError("--input is required (or --merge-parts DIR to merge shard-group jobs)")
    source = _preprocess_source(args, params)
    group = None
    if args.shard_group:
        try:
            i, _, n = args.shard_group.partition("/")
            i, n = int(i), int(n) if n else params.preprocess.shard_groups
            assert 0 <= i < n
        except (ValueError, AssertionError):
            raise CliError(
                f"--shard-group {args.shard_group!r}: expected I or I/N with 0 <= I < N "
                f"(N defaults to preprocess.shard_groups = {params.preprocess.shard_groups})"
            ) from None
        group = (i, n)
    threads = _threads(args)
    from avssl import preprocessing
    from avssl.tracking.provenance import fingerprint_dir

    if args.merge_only:
        metrics = preprocessing.merge_shards(args.output)
        _write_metrics(args.metrics, metrics if isinstance(metrics, dict) else {})
        return
    # A shard-group job is the stage `preprocess_part` of the workflow; the full run is `preprocess`.
    stage, tags = ("preprocess_part", {"shard_group": f"{group[0]}/{group[1]}"}) if group else ("preprocess", {})
    if args.dataset:
        tags["dataset"] = args.dataset
    with _tracking(args, params, stage, input_hash=fingerprint_dir(args.input), tags=tags) as run:
        job = {"part": str(group[0])} if group else {}
        view = _job_view(params, ("preprocess_part_dataset" if args.dataset else "preprocess_part") if group
                         else "preprocess", **job)
        metrics = preprocessing.run_preprocess(
            view, args.input, args.output, run=run, threads=threads, shard_group=group, **source
        )
        run.log_metrics({k: v for k, v in metrics.items() if isinstance(v, (int, float))})
        _log_reads(run, view)
    _write_metrics(args.metrics, metrics)


def _preprocess_source(args, params) -> dict:
    """Check --input (+ --dataset/--root/--landmarks) before any work; run_preprocess keyword arguments."""
    if args.dataset is None:
        if args.root is not None or args.landmarks is not None:
            raise CliError("--root and --landmarks only apply with --dataset NAME")
        if args.input.is_file() and args.input.suffix == ".csv":
            raise CliError(
                f"--input {args.input} is a CSV file: for a dataset's clip index (`avssl index`) also pass "
                "--dataset NAME; without it --input must be a folder of <id>.mp4 + <id>.wav"
            )
        if not args.input.is_dir():
            raise CliError(f"--input {args.input}: not a folder")
        return {}
    from avssl.preprocessing.index_input import AUDIO_ONLY

    if args.dataset in AUDIO_ONLY:
        raise CliError(AUDIO_ONLY[args.dataset])
    if not args.input.is_file():
        raise CliError(
            f"--input {args.input}: with --dataset {args.dataset} it must be the clip index CSV; write it with "
            f"`avssl index --dataset {args.dataset} --output {args.input}`"
        )
    root = args.root or Path(params.datasets.root(args.dataset))
    if not root.is_dir():
        raise CliError(f"{args.dataset} root {root}: not a folder (set --root or datasets.{args.dataset}_root)")
    if args.landmarks is not None and not args.landmarks.is_dir():
        raise CliError(f"--landmarks {args.landmarks}: not a folder")
    return {"dataset": args.dataset, "dataset_root": root, "landmarks_dir": args.landmarks}


def _merge_preprocess_parts(args, params) -> None:
    from avssl.preprocessing.stage import run_merge_parts
    from avssl.tracking.provenance import fingerprint_dir

    n = params.preprocess.shard_groups
    parts = [args.merge_parts / str(i) for i in range(n)]
    absent = [str(p) for p in parts if not (p / "plan.json").is_file()]
    if absent:
        raise CliError(
            f"--merge-parts {args.merge_parts}: preprocess.shard_groups = {n} but these parts are missing or "
            f"unfinished: {', '.join(absent)} (run `avssl preprocess --shard-group I` for each)"
        )
    import hashlib

    input_hash = hashlib.sha256(" ".join(fingerprint_dir(p) for p in parts).encode()).hexdigest()[:16]
    with _tracking(args, params, "preprocess", input_hash=input_hash, tags={"shard_group": "merge"}) as run:
        view = _job_view(params, "preprocess")
        metrics = run_merge_parts(view, parts, args.output, run=run)
        _log_reads(run, view)
    _write_metrics(args.metrics, metrics)


def cmd_pretrain(args) -> None:
    params = _load(args)
    if not (args.input / "index.csv").is_file():
        raise CliError(f"--input {args.input}: no index.csv (run `avssl preprocess` first)")
    threads = _threads(args, torch_threads=1)
    from avssl.tracking.provenance import fingerprint_dir
    from avssl.training.loop import Preempted
    from avssl.training.pretrain import run_pretrain

    tags = {"method": args.method, "paper": inits.get(args.method).paper}
    try:
        with _tracking(args, params, "pretrain", input_hash=fingerprint_dir(args.input), tags=tags) as run:
            view = _job_view(params, "pretrain", method=args.method)
            run_pretrain(view, args.method, args.input, args.output, run=run, threads=threads)
            _log_reads(run, view)
            _record_run_id(args.output / "config.json", run.run_id)
    except Preempted as exc:
        # SLURM preemption / SIGTERM: the checkpoint is written; the re-run resumes from it.
        print(f"avssl pretrain: preempted at step {exc.step}; checkpoint saved, re-run to resume", file=sys.stderr)
        raise SystemExit(143) from None


def _job_tags(args) -> dict:
    spec = task_registry.get(args.task)
    return {"task": args.task, "init": args.init, "method": args.init, "mode": args.mode,
            "fraction": f"{args.fraction:g}", "seed": args.seed, "paper": spec.paper, "modality": spec.modality}


def _job(args) -> dict:
    """The fine-tuning/evaluation job as the stage table's grid writes it (avssl.stages.finetune_jobs)."""
    return {"task": args.task, "init": args.init, "mode": args.mode, "fraction": f"{args.fraction:g}",
            "seed": str(args.seed), "field": task_registry.get(args.task).section}


def _check_fraction(args) -> None:
    if not 0 < args.fraction <= 1:
        raise CliError(f"--fraction {args.fraction}: must lie in (0, 1]")


def cmd_finetune(args) -> None:
    params = _load(args)
    _check_fraction(args)
    init = inits.get(args.init)
    if not init.has_weights and args.mode != "frozen":
        raise CliError(f"--init {args.init} has no weights to fine-tune: use --mode frozen")
    if init.pretrained and args.pretrained is None:
        raise CliError(f"--init {args.init} needs --pretrained (e.g. results/pretrain/{args.init})")
    if args.features is not None and (args.mode != "frozen" or not init.pretrained):
        raise CliError(f"--features: cached features stand for a frozen pre-trained encoder, not --init {args.init} "
                       f"--mode {args.mode}")
    if args.features is not None and not (args.features / "manifest.json").is_file():
        raise CliError(f"--features {args.features}: no manifest.json (run `avssl features` first)")
    if not (args.input / "index.csv").is_file():
        raise CliError(f"--input {args.input}: no index.csv (run `avssl preprocess` first)")
    threads = _threads(args, torch_threads=1)
    from avssl.tasks.finetune import run_finetune
    from avssl.tracking.provenance import fingerprint_dir
    from avssl.training.loop import Preempted

    try:
        with _tracking(args, params, "finetune", input_hash=fingerprint_dir(args.input), tags=_job_tags(args)) as run:
            stage = ("finetune_frozen" if args.features else "finetune" if init.pretrained
                     else "finetune_scratch")
            view = _job_view(params, stage, **_job(args))
            metrics = run_finetune(view, args.task, args.init, args.mode, args.fraction, args.seed, args.input,
                                   args.output, pretrained=args.pretrained, run=run, threads=threads,
                                   features=args.features)
            _log_reads(run, view)
            run.log_metrics({k: v for k, v in metrics.items() if isinstance(v, (int, float))})
    except Preempted as exc:
        print(f"avssl finetune: preempted at step {exc.step}; checkpoint saved, re-run to resume", file=sys.stderr)
        raise SystemExit(143) from None


def cmd_evaluate(args) -> None:
    params = _load(args)
    _check_fraction(args)
    if not (args.finetuned / "config.json").is_file():
        raise CliError(f"--finetuned {args.finetuned}: no config.json (run `avssl finetune` first)")
    if args.features is not None and not (args.features / "manifest.json").is_file():
        raise CliError(f"--features {args.features}: no manifest.json (run `avssl features` first)")
    threads = _threads(args, torch_threads=1)
    from avssl.tasks.evaluate import run_evaluate
    from avssl.tracking.provenance import fingerprint_dir

    with _tracking(args, params, "evaluate", input_hash=fingerprint_dir(args.input), tags=_job_tags(args)) as run:
        view = _job_view(params, "evaluate_frozen" if args.features else "evaluate", **_job(args))
        run_evaluate(view, args.finetuned, args.input, args.output, run=run, threads=threads, features=args.features)
        _log_reads(run, view)


def cmd_features(args) -> None:
    params = _load(args)
    if not (args.pretrained / "config.json").is_file():
        raise CliError(f"--pretrained {args.pretrained}: no config.json (run `avssl pretrain --method {args.init}`)")
    if not (args.input / "index.csv").is_file():
        raise CliError(f"--input {args.input}: no index.csv (run `avssl preprocess` first)")
    threads = _threads(args, torch_threads=1)
    from avssl.tasks.features import run_features
    from avssl.tracking.provenance import fingerprint_dir

    tags = {"init": args.init, "method": args.init}
    with _tracking(args, params, "features", input_hash=fingerprint_dir(args.input), tags=tags) as run:
        view = _job_view(params, "features", init=args.init)
        run_features(view, args.init, args.pretrained, args.input, args.output, run=run, threads=threads)
        _log_reads(run, view)


def cmd_report(args) -> None:
    params = _load(args)
    from avssl.report import run_report
    from avssl.tracking.provenance import fingerprint_dir

    evaluated = Path("results/evaluate")
    input_hash = fingerprint_dir(evaluated) if evaluated.is_dir() else _params_hash(params, "report")
    with _tracking(args, params, "report", input_hash=input_hash) as run:
        from avssl.tracking.store import resolve_uri

        view = _job_view(params, "report")  # where the runs are is tracking's business, not a report param
        summary = run_report(view, args.output, run=run, tracking_uri=resolve_uri(params.tracking.uri))
        _log_reads(run, view)
    print(f"avssl report: {summary}", file=sys.stderr)


def cmd_reproduce(args) -> None:
    from avssl.tracking.reproduce import reproduce

    result = reproduce(args.run_id, tracking_uri=args.tracking_uri, output=args.output, allow_dirty=args.allow_dirty)
    if result["case"] == "outside CI" or (args.exact and not result["identical"]):
        raise SystemExit(1)


def cmd_encode(args) -> None:
    if not args.checkpoint.exists():
        raise CliError(f"--checkpoint {args.checkpoint}: not found")
    from avssl.models.encode import checkpoint_modality, encode_dataset

    if args.modality is None:
        try:
            checkpoint_modality(args.checkpoint)
        except ValueError as exc:
            raise CliError(str(exc)) from None
    encode_dataset(args.checkpoint, args.input, args.output, modality=args.modality,
                   batch_size=args.batch_size, device=args.device)


def _dataset_root(args, params) -> Path:
    root = args.root or Path(params.datasets.root(args.dataset))
    if not root.is_dir():
        raise CliError(f"{args.dataset} root {root}: not a folder (set --root or datasets.{args.dataset}_root)")
    return root


def cmd_index(args) -> None:
    from avssl.data.datasets import index_to_files, problems_path

    from avssl.tracking.provenance import fingerprint_dir

    if args.params or Path("params.yaml").is_file():
        params = _load(args)
    else:  # outside a project: the defaults (+ --set) apply
        from avssl.config import ParamsError, load_params

        try:
            params = load_params([], args.set)
        except ParamsError as exc:
            raise CliError(str(exc)) from None
    root = _dataset_root(args, params)
    with _tracking(args, params, "index", input_hash=fingerprint_dir(root),
                   tags={"dataset": args.dataset, "dataset_root": str(root)}) as run:
        view = _job_view(params, "index", dataset=args.dataset)
        summary = index_to_files(args.dataset, root, args.output, view.datasets)
        run.log_metrics(summary)
        _log_reads(run, view)
        run.log_artifact(problems_path(args.output))
    print(f"{args.output}: {summary}; problems listed in {problems_path(args.output)}", file=sys.stderr)


def cmd_acquire(args) -> None:
    from avssl.data.acquire import run_acquire

    params = _load(args)
    root = args.root or Path(params.datasets.root(args.dataset))
    with _tracking(args, params, "acquire", tags={"dataset": args.dataset}) as run:
        metrics = run_acquire(params, args.dataset, root, run=run)
    print(f"avssl acquire {args.dataset}: {metrics}", file=sys.stderr)


def cmd_params(args) -> None:
    from avssl.config.render import render_params_yaml

    if args.defaults:
        from avssl.config import Params

        _emit(render_params_yaml(Params()), args.output)
        return
    _emit(render_params_yaml(_load(args)), args.output)


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        print(text, end="")
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text)


def cmd_schema(args) -> None:
    from avssl.config.schema import render_schema

    _emit(render_schema(), args.output)


def cmd_dvc_yaml(args) -> None:
    from avssl.workflow_files import render_dvc_yaml

    _emit(render_dvc_yaml(), args.output)


def cmd_metrics(args) -> None:
    from avssl.metrics_view import render

    print(render(_load(args).model_dump(mode="json"), stage=args.stage, width=args.width), end="")


def cmd_plots_page(args) -> None:
    from avssl.plots_page import render_page

    _emit(render_page(), args.output)


COMMANDS = {
    "synth": cmd_synth,
    "preprocess": cmd_preprocess,
    "pretrain": cmd_pretrain,
    "finetune": cmd_finetune,
    "evaluate": cmd_evaluate,
    "features": cmd_features,
    "report": cmd_report,
    "reproduce": cmd_reproduce,
    "encode": cmd_encode,
    "index": cmd_index,
    "acquire": cmd_acquire,
    "params": cmd_params,
    "schema": cmd_schema,
    "dvc-yaml": cmd_dvc_yaml,
    "plots-page": cmd_plots_page,
    "metrics": cmd_metrics,
}


def _startup_note() -> str:
    """`` (start-up X s)``, ``(start-up X s, forked)`` for a job forked by avssl.forkserver: process start to stage
    work, read from the job logs by bench/bench_workflow.py."""
    run = sys.modules.get("avssl.tracking.run")
    seconds = run.startup_seconds() if run is not None else None
    if seconds is None:
        return ""
    return f" (start-up {seconds:.2f} s{', forked' if run.forked() else ''})"


def _stage_commands() -> set[str]:
    from avssl.stages import STAGES

    return {stage.command for stage in STAGES}


def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) > 1 and sys.argv[1] in _stage_commands():
        from avssl import forkserver  # the console script: a warm fork server may run this job (AVSSL_FORKSERVER)

        code = forkserver.delegate(sys.argv[1:])
        if code is not None:
            return code
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from avssl import __version__

        print(__version__)
        return 0
    if not args.command:
        parser.print_help()
        return 0
    start = time.perf_counter()
    try:
        COMMANDS[args.command](args)
    except CliError as exc:
        print(f"avssl {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"avssl {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        # Errors about the user's data, config, disk or network get one clear line; bugs keep their traceback.
        from avssl.failures import failure_message

        message = failure_message(exc)
        if message is None:
            raise
        if args.verbose:
            import traceback

            traceback.print_exc()
        print(f"avssl {args.command}: error: {message}", file=sys.stderr)
        return 1
    if args.command in _stage_commands():  # after the work: the stage table's commands are the DAG's jobs
        print(f"avssl {args.command}: done in {time.perf_counter() - start:.1f} s{_startup_note()}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
