"""Encoder initialisations of a fine-tuning job: the pre-training methods and the baselines without pre-training.

Each :class:`Init` carries what the rest of the code asks about it: its CLI/config name, report label and row,
which encoders (modalities) it provides, whether it is pre-trained (a `pretrain` job; `--method` choice), has
weights and may be fine-tuned, which params configure it, and (methods) where its pre-training objective is
built. Adding a method = its objective module + one line in :data:`INITS`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable, Literal

# The encoder a fine-tuning job builds itself (not loaded from pre-training) is configured by these keys.
RAVEN_ENCODER_KEYS = tuple(f"raven.{k}" for k in (
    "size", "layers", "adim", "heads", "ffn", "drop_path", "frontend_width", "dropout", "attn_dropout"))  # fmt: skip
SHUKLA_ENCODER_KEYS = tuple(f"shukla.{k}" for k in ("window_s", "cnn_channels", "code_dim", "gru_hidden", "gru_layers"))
SHUKLA_PRETRAIN_KEYS = ("shukla", "preprocess.face_size", "preprocess.face_color")  # the face crop they reconstruct


@dataclass(frozen=True)
class Init:
    name: str  # CLI --init/--method choice, config value, results/<stage>/<name> folder
    label: str  # report row label
    report_rank: int  # row position in tables and figures (the papers' order: baselines first)
    modalities: tuple[str, ...]  # encoders it provides ("video" tasks need "video")
    pretrained: bool = False  # produced by a `pretrain` job (a pre-training method): loaded, not built
    has_weights: bool = True  # False: a fixed front end (nothing to train or fine-tune)
    mode: Literal["frozen", "finetuned", ""] = ""  # the only encoder mode it runs in; "" = finetune.encoder_modes
    in_default_grid: bool = True  # part of the default finetune.inits
    sequence_tasks: bool = True  # run on sentence transcription (asr/vsr)
    task_architecture: bool = False  # scratch: the task's paper architecture (RAVEn's for asr/vsr/words_video)
    encoder_keys: tuple[str, ...] = ()  # params of the encoder a fine-tuning job builds for it
    pretrain_keys: tuple[str, ...] = ()  # methods: params sections the pre-training job reads (besides train)
    steps_key: str = ""  # methods: a params key overriding train.steps for this method's own budget
    objective: str = ""  # methods: "module:function(params, method)" returning the PretrainObjective
    pretexts: tuple[str, ...] = ()  # methods: pretext tasks the objective trains (Shukla: visual, audio)
    paper: str = ""  # MLflow tag `paper` of its pre-training runs
    description: str = ""  # one line for help texts and the params description

    def build_objective(self) -> Callable:
        """The objective builder of a pre-training method (imported here: each pulls in its own models)."""
        if not self.objective:
            raise ValueError(f"init {self.name!r} is not a pre-training method")
        module, _, function = self.objective.partition(":")
        return getattr(importlib.import_module(module), function)


INITS: tuple[Init, ...] = (
    Init("scratch", "Supervised (scratch)", 0, ("audio", "video"), mode="finetuned", task_architecture=True,
         encoder_keys=SHUKLA_ENCODER_KEYS, description="the task's paper architecture, random init, fine-tuned"),
    Init("random", "Random encoder", 3, ("audio",), mode="frozen", encoder_keys=SHUKLA_ENCODER_KEYS,
         description="Shukla encoder, random init, frozen"),
    Init("logmel", "Log-mel features (no pre-training)", 2, ("audio",), has_weights=False, mode="frozen",
         in_default_grid=False, encoder_keys=("shukla.n_mels",),
         description="log-mel filterbank features, no weights, frozen: the hand-crafted reference"),
    Init("nuisance", "Timing + loudness cues only (no speech content)", 1, ("audio",), has_weights=False,
         mode="frozen", in_default_grid=False, sequence_tasks=False,
         description="speech onset/offset, clip length and loudness only, no weights, frozen: how far cues that "
         "need no speech content go; not run on asr/vsr"),
    Init("raven", "RAVEn", 7, ("video", "audio"), pretrained=True, pretrain_keys=("raven",), steps_key="raven.steps",
         objective="avssl.training.raven:build_objective", paper="raven",
         description="RAVEn, audio+video students, EMA teachers, masked prediction"),
    Init("shukla_visual", "Visual SSL (Shukla)", 4, ("audio",), pretrained=True, pretrain_keys=SHUKLA_PRETRAIN_KEYS,
         objective="avssl.training.shukla:build_objective", pretexts=("visual",), paper="shukla",
         description="talking-face generation, L1 on the mouth region"),
    Init("shukla_audio", "Audio SSL (Shukla)", 5, ("audio",), pretrained=True, pretrain_keys=SHUKLA_PRETRAIN_KEYS,
         objective="avssl.training.shukla:build_objective", pretexts=("audio",), paper="shukla",
         description="audio-attribute regression"),
    Init("shukla_multitask", "Audio-visual multi-task SSL (Shukla)", 6, ("audio",), pretrained=True,
         pretrain_keys=SHUKLA_PRETRAIN_KEYS, objective="avssl.training.shukla:build_objective",
         pretexts=("visual", "audio"), paper="shukla", description="both Shukla pretexts on one shared encoder"),
)  # fmt: skip


def by_name() -> dict[str, Init]:
    return {i.name: i for i in INITS}


def get(name: str) -> Init:
    try:
        return by_name()[name]
    except KeyError:
        raise KeyError(f"unknown init {name!r}; known: {', '.join(init_names())}") from None


def init_names() -> tuple[str, ...]:
    return tuple(i.name for i in INITS)


def method_names() -> tuple[str, ...]:
    """The pre-training methods (`pretrain.methods`, `avssl pretrain --method`)."""
    return tuple(i.name for i in INITS if i.pretrained)


def weightless_names() -> tuple[str, ...]:
    return tuple(i.name for i in INITS if not i.has_weights)


def frozen_only_names() -> tuple[str, ...]:
    return tuple(i.name for i in INITS if i.mode == "frozen")


def report_order() -> list[str]:
    return [i.name for i in sorted(INITS, key=lambda i: i.report_rank)]


def methods_of(objective: str) -> tuple[str, ...]:
    """The methods whose objective is built by ``objective`` ("module:function")."""
    return tuple(i.name for i in INITS if i.objective == objective)
