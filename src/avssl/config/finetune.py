"""The `finetune` and `evaluate` sections: downstream tasks (owned by avssl.tasks).

Defaults are the papers' values where known (RAVEn fine-tuning for ASR/VSR, raven.md; the Shukla et al.
protocol and the project's documented choices for emotion / affect / words, shukla.md). The tiny preset's
smaller values live in .test/params.yaml.
"""

from __future__ import annotations

from typing import Any, Literal, Optional, Union

from pydantic import ConfigDict, Field, GetCoreSchemaHandler, GetJsonSchemaHandler, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError, core_schema

from avssl.registry import tasks as task_registry
from avssl.config.base import Section
from avssl.registry import inits


class _TaskName(str):
    """A task name of the registry (avssl.registry.tasks), checked when params are validated, so a task registered
    after import is accepted too; the JSON schema lists the names registered when it is generated."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(cls._check, core_schema.str_schema())

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler) -> dict:
        return {"enum": list(task_registry.names()), "type": "string"}

    @staticmethod
    def _check(value: str) -> str:
        if value not in task_registry.TASKS:
            raise PydanticCustomError("unknown_task", "unknown task '{task}'; registered tasks: {known}",
                                      {"task": value, "known": ", ".join(task_registry.names())})
        return value


TaskName = _TaskName


class FrozenProbeParams(Section):
    """How a frozen encoder's features reach the head (every task)."""

    frozen_feature_norm: bool = Field(
        True, description="Standardise a frozen encoder's features per dimension (BatchNorm without affine over "
        "valid frames, MAE's linear-probe protocol) before the head, so frozen rows compare representations, "
        "not their scales. Fine-tuned encoders are not affected.")


class OptimParams(FrozenProbeParams):
    """Optimisation shared by every downstream task."""

    optimizer: Literal["adam", "adamw"] = Field("adam", description="Optimiser (Shukla protocol: Adam).")
    lr_head: float = Field(1e-4, gt=0, description="Learning rate of the task head (BiGRU + linear).")
    lr_encoder: float = Field(1e-4, gt=0, description="Learning rate of the encoder when fine-tuned.")
    weight_decay: float = Field(0.0, ge=0, description="Weight decay (decoupled for AdamW).")
    betas: tuple[float, float] = Field((0.9, 0.999), description="Adam betas.")
    batch_size: int = Field(32, ge=1, description="Clips per batch (Shukla protocol: 32).")
    epochs: int = Field(50, ge=1, description="Training epochs (project choice; the paper does not state it).")
    max_steps: Optional[int] = Field(None, ge=1, description="If set, stop after this many steps (smoke runs).")
    warmup_epochs: float = Field(0.0, ge=0, description="Linear warm-up length in epochs (0 = constant lr).")
    min_lr: float = Field(0.0, ge=0, description="Final lr of the cosine schedule (0 with no warm-up = constant).")
    grad_clip: Optional[float] = Field(None, gt=0, description="Global gradient-norm clip (None = off).")


class ClassifierTaskParams(OptimParams):
    """Emotion / affect / word heads: encoder -> 2-layer BiGRU -> (mean pool ->) linear."""

    hidden: int = Field(256, ge=1, description="BiGRU units per direction (Shukla protocol: 256).")
    layers: int = Field(2, ge=1, description="BiGRU layers (Shukla protocol: 2).")
    dropout: float = Field(0.0, ge=0, lt=1, description="Dropout between GRU layers.")
    label_smoothing: float = Field(0.0, ge=0, lt=1, description="Cross-entropy label smoothing (classification).")


class SpeechRecognitionParams(FrozenProbeParams):
    """Sentence ASR/VSR (RAVEn fine-tuning, 30 h Base setting)."""

    frozen_feature_norm: bool = Field(
        False, description="Standardise a frozen encoder's features per dimension before the CTC/attention head. "
        "Off by default: measured on the default data (RAVEn video, frozen VSR, seed 1) it made the head "
        "over-generate (clean WER 4.20 with, 0.97 without); the BiGRU heads of the other tasks have it on.")

    lr_encoder: float = Field(1e-3, gt=0, description="Encoder peak lr (before layer-wise decay).")
    lr_head: float = Field(5e-3, gt=0, description="Decoder + CTC head peak lr.")
    layer_decay: float = Field(0.5, gt=0, le=1, description="Layer-wise lr decay: block i of N gets lr*decay^(N-1-i).")
    weight_decay: float = Field(0.1, ge=0, description="AdamW weight decay.")
    betas: tuple[float, float] = Field((0.9, 0.98), description="AdamW betas.")
    drop_path: float = Field(0.2, ge=0, lt=1, description="Encoder stochastic depth during fine-tuning.")
    epochs: int = Field(50, ge=1, description="Epochs (VSR 30 h: 50; ASR 30 h: 200; VSR 433 h: 75).")
    frozen_epochs: Optional[int] = Field(
        None, ge=1, description="Epochs when the encoder is frozen (null = epochs). Without input augmentation a "
        "frozen audio encoder's features are computed once per clip, so such an epoch trains only the heads and "
        "costs a small fraction of a fine-tuning epoch.")
    max_steps: Optional[int] = Field(None, ge=1, description="If set, stop after this many steps.")
    warmup_epochs: float = Field(20.0, ge=0, description="Linear warm-up epochs, then cosine.")
    min_lr: float = Field(1e-5, ge=0, description="Final lr of the cosine schedule.")
    grad_clip: float = Field(5.0, gt=0, description="Global gradient-norm clip.")
    max_frames: int = Field(2400, ge=1, description="Batch size in video frames per device.")
    average_last: int = Field(10, ge=1, description="Average the last K epoch checkpoints.")
    ctc_weight: float = Field(0.1, ge=0, le=1, description="Loss = w*CTC + (1-w)*attention.")
    label_smoothing: float = Field(0.1, ge=0, lt=1, description="Attention-loss label smoothing.")
    vocab_size: int = Field(1000, ge=8, description="SentencePiece unigram pieces (V = pieces + 2: blank, sos/eos).")
    decoder_dim: int = Field(512, ge=8, description="Decoder width (high-resource Base 512; low-resource 256).")
    decoder_heads: int = Field(8, ge=1, description="Decoder attention heads.")
    decoder_units: int = Field(2048, ge=8, description="Decoder FFN units.")
    decoder_layers: int = Field(6, ge=1, description="Decoder blocks (Large: 9).")
    dropout: float = Field(0.1, ge=0, lt=1, description="Decoder/CTC dropout.")
    frozen_adapter_kernel: int = Field(
        0, ge=0, description="Frozen encoders only: kernel (frames, odd) of a trainable residual temporal convolution "
        "between the encoder and the CTC/attention heads, without which a linear CTC head on frozen features stays "
        "all-blank; 0 = none (RAVEn's head, which always fine-tunes the encoder).")
    time_masking: bool = Field(True, description="Time masking of a fine-tuned encoder's input (video < 0.4 s per s; "
                                 "audio < 0.6 s per 2 s); frozen encoders see unmasked input.")

    @model_validator(mode="after")
    def _odd_adapter_kernel(self):
        if self.frozen_adapter_kernel and self.frozen_adapter_kernel % 2 == 0:
            raise ValueError("frozen_adapter_kernel must be 0 (none) or odd (a centred window)")
        return self


def _asr_defaults() -> SpeechRecognitionParams:
    return SpeechRecognitionParams(epochs=200)


class NoiseAugmentParams(Section):
    enabled: bool = Field(False, description="Add babble/white noise to training audio.")
    probability: float = Field(0.5, ge=0, le=1, description="Per-clip probability of adding noise.")
    snrs: list[float] = Field([20.0, 10.0, 5.0, 0.0, -5.0], description="SNRs (dB) drawn uniformly.")
    noise_types: list[Literal["babble", "white"]] = Field(["babble", "white"],
                                                          description="Noise kinds drawn uniformly.")
    babble_speakers: int = Field(6, ge=1, description="Utterances summed into one babble signal.")


Init = Literal[inits.init_names()]


class FinetuneJob(Section):
    """One explicit fine-tuning job (used instead of the full grid when `finetune.jobs` is non-empty)."""

    task: TaskName
    init: Init
    mode: Literal["frozen", "finetuned"] = "finetuned"
    fraction: float = Field(1.0, gt=0, le=1)
    seed: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _weightless_is_frozen(self):
        if not inits.get(self.init).has_weights and self.mode != "frozen":
            raise ValueError(f"job {self.task}/{self.init}: this front end has no weights to fine-tune; "
                             "set mode: frozen")
        return self


def _relocated(exc: ValidationError, prefix: tuple) -> list[InitErrorDetails]:
    """``exc``'s problems as line errors under ``prefix`` (their type and message kept)."""
    return [InitErrorDetails(type=PydanticCustomError(e["type"], e["msg"]), loc=(*prefix, *e["loc"]),
                             input=e["input"]) for e in exc.errors()]  # fmt: skip


def _task_section_schema(schema: dict) -> None:
    """The JSON schema (what Snakemake validates) knows the registered tasks' undeclared sections, and no other key."""
    for section, name in task_registry.sections().items():
        if section not in schema["properties"]:
            schema["properties"][section] = globals()[name].model_json_schema()
    schema["additionalProperties"] = False


class FinetuneParams(Section):
    # Which fine-tuning jobs run, and each task's section. A registered task whose section is not declared below is
    # validated with its registry entry's `section_model` (avssl.registry.tasks) and kept as an extra; any other
    # unknown key is refused.
    model_config = ConfigDict(extra="allow", json_schema_extra=lambda schema, cls: _task_section_schema(schema))

    inits: list[Init] = Field(
        [i.name for i in inits.INITS if i.in_default_grid],
        description="Encoder initialisations: " + "; ".join(
            f"{i.name} ({i.description})" for i in inits.INITS if not i.pretrained) + "; or a pre-training "
        "method (must be in pretrain.methods). Video tasks use inits with a video encoder only ("
        + ", ".join(i.name for i in inits.INITS if "video" in i.modalities) + ").",
    )
    jobs: list[FinetuneJob] = Field(
        [], description="Explicit job list; when non-empty it replaces the grid tasks x inits x modes x fractions x seeds "
        "(the tiny preset covers every method and task with a few jobs this way).",
    )
    extra_jobs: list[FinetuneJob] = Field(
        [], description="Jobs run in addition to the grid (e.g. a few small-label-fraction runs for the small-data "
        "table without multiplying the whole grid).",
    )
    tasks: list[TaskName] = Field(list(task_registry.names()),
                                  description="Downstream tasks to run (keys of avssl.tasks.TASKS).")
    encoder_modes: list[Literal["frozen", "finetuned"]] = Field(
        ["frozen", "finetuned"], description="Train the head on a frozen encoder and/or fine-tune it too.")
    label_fractions: list[float] = Field([1.0], description="Fractions of labelled training clips (small-data study).")
    seeds: list[int] = Field([0], description="Seeds per configuration (the label subset is drawn per seed).")
    emotion: ClassifierTaskParams = Field(default_factory=ClassifierTaskParams,
                                          description="Discrete emotion recognition (Adam 1e-4, batch 32).")
    affect: ClassifierTaskParams = Field(default_factory=ClassifierTaskParams,
                                         description="Continuous arousal/valence (CCC loss).")
    words: ClassifierTaskParams = Field(default_factory=ClassifierTaskParams,
                                        description="Isolated word recognition (audio and video).")
    vsr: SpeechRecognitionParams = Field(default_factory=SpeechRecognitionParams, description="Sentence VSR.")
    asr: SpeechRecognitionParams = Field(default_factory=_asr_defaults, description="Sentence ASR.")
    noise_augmentation: NoiseAugmentParams = Field(default_factory=NoiseAugmentParams,
                                                   description="Optional noise augmentation of training audio.")

    @model_validator(mode="wrap")
    @classmethod
    def _task_sections(cls, data: Any, handler):
        """Validate the sections of registered tasks that are not declared fields; refuse any other key."""
        if not isinstance(data, dict):
            return handler(data)
        data, extra, errors = dict(data), {}, []
        models = task_registry.sections()
        for key in [k for k in data if k not in cls.model_fields]:
            value = data.pop(key)
            if key not in models:
                errors.append(InitErrorDetails(type="extra_forbidden", loc=(key,), input=value))
                continue
            try:
                extra[key] = globals()[models[key]].model_validate(value)
            except ValidationError as exc:
                errors += _relocated(exc, (key,))
        try:
            model = handler(data)
        except ValidationError as exc:  # reported together with the task sections' problems
            errors += _relocated(exc, ())
        if errors:
            raise ValidationError.from_exception_data(cls.__name__, errors)
        for key, name in models.items():  # registered sections not given: their defaults
            if key not in cls.model_fields:
                model.__pydantic_extra__[key] = extra[key] if key in extra else globals()[name]()
        return model

    @model_validator(mode="after")
    def _fractions(self):
        if any(not (0 < f <= 1) for f in self.label_fractions):
            raise ValueError("label_fractions must lie in (0, 1]")
        return self


class EvaluateParams(Section):
    snrs: list[Union[Literal["clean"], float]] = Field(["clean", 20.0, 10.0, 5.0, 0.0, -5.0],
                                                      description="Test conditions: 'clean' or SNR in dB.")
    noise_types: list[Literal["babble", "white"]] = Field(["babble", "white"], description="Noise kinds.")
    babble_speakers: int = Field(6, ge=1, description="Utterances summed into one babble signal.")
    noise_seed: int = Field(1234, ge=0, description="Seed of the deterministic per-clip noise.")
    beam_size: int = Field(40, ge=1, description="Joint CTC/attention beam size (paper 40).")
    ctc_weight: float = Field(0.1, ge=0, le=1, description="CTC weight in beam search (paper 0.1).")
    length_bonus: float = Field(0.0, description="Score added per emitted token.")
    lm_weight: float = Field(0.0, ge=0, description="External LM weight (paper 0.2-0.3 with its 16-layer LM; 0 = off).")
    greedy_ctc: bool = Field(True, description="Also report greedy CTC decoding for comparison.")
