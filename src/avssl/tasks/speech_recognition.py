"""Sentence ASR / VSR objective: encoder + CTC head + Transformer attention decoder (RAVEn fine-tuning).

Module names match the official fine-tuned checkpoints (``encoder.*``, ``decoder.*``, ``ctc.ctc_lo.*``,
``proj_decoder`` only when the decoder width differs from the encoder's), so ``objective.state_dict()`` has the
released layout. The CTC head reads the encoder output (adim); ``proj_decoder`` maps it to the decoder width for
the source attention only. With a FROZEN encoder (a probing protocol RAVEn does not have) an ``adapter``
(:class:`TemporalAdapter`) sits between the encoder and both heads; fine-tuned models keep the official layout.

Loss = ctc_weight * CTC + (1 - ctc_weight) * label-smoothed attention CE (paper 0.1 / 0.9, smoothing 0.1), both
summed per utterance and averaged over the batch (ESPnet convention). Targets: ``batch["tokens"]`` (B, L) padded
with -1, or ``batch["text"]`` (list of str) encoded with the objective's tokenizer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import nn

from avssl.media import SAMPLES_PER_FRAME
from avssl.tasks import time_mask as tm
from avssl.tasks.base import FinetuneObjective
from avssl.tasks.beam_search import BeamSearchConfig, LMFn, batch_beam_search
from avssl.tasks.ctc import CTCHead, greedy_ctc_decode
from avssl.tasks.lr_decay import layerwise_groups
from avssl.tasks.transformer_decoder import TransformerDecoder

IGNORE = -1


def label_smoothing_loss(logits: torch.Tensor, target: torch.Tensor, smoothing: float) -> torch.Tensor:
    """KL(smoothed one-hot || softmax) summed over valid tokens / batch size. Target -1 = padding."""
    V = logits.shape[-1]
    valid = target != IGNORE
    logp = torch.log_softmax(logits.float(), dim=-1)[valid]
    tgt = target[valid]
    true = torch.full_like(logp, smoothing / (V - 1))
    true.scatter_(1, tgt[:, None], 1.0 - smoothing)
    kl = (true * (torch.log(true.clamp_min(1e-12)) - logp)).sum()
    return kl / logits.shape[0]


def pad_tokens(seqs: list[list[int]], value: int, device=None) -> torch.Tensor:
    L = max((len(s) for s in seqs), default=0)
    out = torch.full((len(seqs), max(L, 1)), value, dtype=torch.long, device=device)
    for i, s in enumerate(seqs):
        if s:
            out[i, : len(s)] = torch.as_tensor(s, dtype=torch.long, device=device)
    return out


@dataclass(frozen=True)
class DecoderTargets:
    """A batch's targets in the shapes the two losses read, built with tensor operations (no per-token Python
    loop, no host round trip per token). ``flat`` / ``lengths``: the concatenated targets and their lengths
    (CTC); ``ys_in`` = <sos> + y padded with <eos>, ``ys_out`` = y + <eos> padded with -1 (teacher forcing),
    both (B, max len + 1); ``in_pad`` (B, max len + 1) True where ``ys_in`` is padding."""

    flat: torch.Tensor
    lengths: torch.Tensor
    ys_in: torch.Tensor
    ys_out: torch.Tensor
    in_pad: torch.Tensor

    @classmethod
    def from_padded(cls, tokens: torch.Tensor, sos: int, eos: int) -> "DecoderTargets":
        """``tokens`` (B, L) with -1 entries dropped (padding), the rest kept in order: the same tensors
        :func:`pad_tokens` builds from the per-row lists."""
        tokens = tokens.long()
        valid = tokens != IGNORE
        flat = tokens[valid]  # row-major: each row's kept tokens in order, rows one after the other
        lengths = valid.sum(1)
        B, dev = tokens.shape[0], tokens.device
        width = int(lengths.max()) + 1 if B else 1  # the only host sync
        pos = torch.arange(width, device=dev)
        body = pos[None, : width - 1] < lengths[:, None]  # where the kept tokens go, compacted to the left
        ys_in = torch.full((B, width), eos, dtype=torch.long, device=dev)
        ys_in[:, 0] = sos
        ys_in[:, 1:][body] = flat
        ys_out = torch.full((B, width), IGNORE, dtype=torch.long, device=dev)
        ys_out[:, :-1][body] = flat
        ys_out.scatter_(1, lengths[:, None], eos)
        return cls(flat, lengths, ys_in, ys_out, pos[None, :] > lengths[:, None])


class TemporalAdapter(nn.Module):
    """``x + ReLU(Conv1d_k(x))`` over time: a trainable layer between a FROZEN encoder and the CTC/attention heads.

    Why: RAVEn's CTC head is one linear layer because the encoder under it is fine-tuned. On frozen features a
    per-frame linear map cannot tell the words apart, so the CTC branch stays in the all-blank solution (greedy
    CTC outputs nothing) and the attention decoder, left to itself, behaves like a language model of the few
    training sentences: on noisy input it rarely proposes <eos> and beam hypotheses run to the length limit
    (synthetic default corpus, frozen shukla_audio: WER 4-10 under noise, 4x slower evaluation). One temporal
    convolution (``kernel`` frames; 9 = 0.36 s at 25 fps, about a short word) gives both heads local context: the
    CTC head leaves the blank solution (greedy CTC WER 1.00 -> 0.94) and noisy WER stays near 1. The residual
    keeps the frozen features themselves available. Padded frames are zeroed first.
    """

    def __init__(self, dim: int, kernel: int):
        super().__init__()
        if kernel % 2 != 1:
            raise ValueError(f"adapter kernel must be odd (centred), got {kernel}")
        self.conv = nn.Conv1d(dim, dim, kernel, padding=kernel // 2)

    def forward(self, x: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        if padding_mask is not None:
            x = x.masked_fill(padding_mask[..., None], 0.0)
        return x + torch.relu(self.conv(x.transpose(1, 2)).transpose(1, 2))


@dataclass(frozen=True)
class SpeechHeadConfig:
    """The CTC/attention head and its optimisation, as a `finetune.asr` / `finetune.vsr` section sets them."""

    ddim: int = 512
    dheads: int = 8
    dunits: int = 2048
    dlayers: int = 6
    dropout: float = 0.1
    ctc_weight: float = 0.1
    label_smoothing: float = 0.1
    lr_encoder: float = 1e-3
    lr_head: float = 5e-3
    layer_decay: float = 0.5
    weight_decay: float = 0.1
    betas: tuple = (0.9, 0.98)
    time_masking: bool = True
    frozen_adapter_kernel: int = 0
    feature_norm: bool = False

    @classmethod
    def from_params(cls, p: Any) -> "SpeechHeadConfig":
        """From a SpeechRecognitionParams section."""
        return cls(ddim=p.decoder_dim, dheads=p.decoder_heads, dunits=p.decoder_units, dlayers=p.decoder_layers,
                   dropout=p.dropout, ctc_weight=p.ctc_weight, label_smoothing=p.label_smoothing,
                   lr_encoder=p.lr_encoder, lr_head=p.lr_head, layer_decay=p.layer_decay,
                   weight_decay=p.weight_decay, betas=tuple(p.betas), time_masking=p.time_masking,
                   frozen_adapter_kernel=p.frozen_adapter_kernel, feature_norm=p.frozen_feature_norm)  # fmt: skip


class SpeechRecognitionObjective(FinetuneObjective):
    @classmethod
    def from_config(cls, encoder: nn.Module, modality: str, adim: int, tokenizer, config: SpeechHeadConfig, *,
                    freeze_encoder: bool = False, decoding: BeamSearchConfig | None = None, noise_augment=None):
        """The objective for ``tokenizer``'s vocabulary with the head ``config`` describes."""
        return cls(encoder, modality, adim, tokenizer.vocab_size, config, tokenizer=tokenizer,
                   freeze_encoder=freeze_encoder, decoding=decoding, noise_augment=noise_augment)

    def __init__(self, encoder: nn.Module, modality: str, adim: int, vocab_size: int,
                 config: SpeechHeadConfig = SpeechHeadConfig(), *, tokenizer=None, freeze_encoder: bool = False,
                 decoding: BeamSearchConfig | None = None, noise_augment=None):
        c = config
        super().__init__(encoder, modality, freeze_encoder, noise_augment, adim if c.feature_norm else None)
        # Frozen encoders only: a fine-tuned model keeps the official module tree (released checkpoints load).
        use_adapter = freeze_encoder and c.frozen_adapter_kernel > 0
        self.adapter = TemporalAdapter(adim, c.frozen_adapter_kernel) if use_adapter else None
        self.vocab_size = vocab_size
        self.blank, self.sos, self.eos = 0, vocab_size - 1, vocab_size - 1
        self.tokenizer = tokenizer
        self.ctc = CTCHead(adim, vocab_size, c.dropout)
        self.proj_decoder = nn.Linear(adim, c.ddim) if adim != c.ddim else None
        self.decoder = TransformerDecoder(vocab_size, c.ddim, c.dheads, c.dunits, c.dlayers, c.dropout)
        self.ctc_weight, self.label_smoothing = c.ctc_weight, c.label_smoothing
        self.lr_encoder, self.lr_head, self.layer_decay = c.lr_encoder, c.lr_head, c.layer_decay
        self.weight_decay, self.betas, self.time_masking = c.weight_decay, c.betas, c.time_masking
        self.decoding = decoding or BeamSearchConfig()

    # ---- helpers ------------------------------------------------------------------------------------------
    def target_tensors(self, batch: dict, device: torch.device) -> DecoderTargets:
        """The batch's targets for both losses: from ``batch["tokens"]`` directly, or from the encoded texts."""
        if torch.is_tensor(batch.get("tokens")):
            tokens = batch["tokens"].to(device)
        else:  # texts, or per-row token lists
            tokens = pad_tokens(self.targets(batch), IGNORE, device)
        return DecoderTargets.from_padded(tokens, self.sos, self.eos)

    def targets(self, batch: dict) -> list[list[int]]:
        if "tokens" in batch:
            return [[int(t) for t in row if int(t) != IGNORE] for row in batch["tokens"]]
        if self.tokenizer is None:
            raise KeyError("batch has no 'tokens' and the objective has no tokenizer for batch['text']")
        return [self.tokenizer.encode(t) for t in batch["text"]]

    def _masks_time(self) -> bool:
        """Time masking regularises the encoder being fine-tuned (RAVEn). A frozen encoder is probed as is, like
        the Shukla-protocol heads that see unaugmented frozen features: masking its input would only corrupt the
        head's input, and would force recomputing the frozen features at every step instead of once per clip."""
        return self.time_masking and not self.freeze_encoder

    def augments_input(self) -> bool:
        return super().augments_input() or self._masks_time()

    def augment_input(self, x: torch.Tensor, batch: dict) -> torch.Tensor:
        """Noise (if configured) then time masking (fine-tuned encoders only)."""
        x = super().augment_input(x, batch)
        if not self._masks_time():
            return x
        lengths = batch.get("lengths")
        if self.modality == "video":
            return tm.time_mask(x, lengths, **tm.VIDEO)
        valid = None if lengths is None else lengths * SAMPLES_PER_FRAME
        return tm.time_mask(x, valid, **tm.AUDIO)

    def features(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Encoder output (through the temporal adapter when the encoder is frozen) and its padding mask: what
        both the CTC head and the decoder read."""
        feats, pm = self.encode(batch)
        if self.adapter is not None:
            feats = self.adapter(feats, pm)
        return feats, pm

    def memory(self, feats: torch.Tensor) -> torch.Tensor:
        return self.proj_decoder(feats) if self.proj_decoder is not None else feats

    # ---- contract ------------------------------------------------------------------------------------------
    def forward(self, batch: dict) -> dict[str, torch.Tensor]:
        feats, pm = self.features(batch)
        B, T = feats.shape[:2]
        dev = feats.device
        y = self.target_tensors(batch, dev)
        enc_len = (~pm).sum(1) if pm is not None else torch.full((B,), T, dtype=torch.long, device=dev)
        loss_ctc = self.ctc.loss(feats, enc_len, y.flat, y.lengths)

        logits = self.decoder(y.ys_in, self.memory(feats), pm, y.in_pad)
        loss_att = label_smoothing_loss(logits, y.ys_out, self.label_smoothing)

        valid = y.ys_out != IGNORE
        acc = ((logits.argmax(-1) == y.ys_out) & valid).sum() / valid.sum().clamp(min=1)
        loss = self.ctc_weight * loss_ctc + (1 - self.ctc_weight) * loss_att
        return {"loss": loss, "loss_ctc": loss_ctc.detach(), "loss_att": loss_att.detach(), "acc": acc.detach()}

    @torch.no_grad()
    def predict(self, batch: dict, mode: str = "beam", cfg: BeamSearchConfig | None = None,
                lm: Optional[LMFn] = None, features: tuple | None = None) -> dict:
        """Decode a batch. ``mode`` 'beam' (joint CTC/attention, all utterances in one batched search) or
        'greedy_ctc'. Returns token lists and, with a tokenizer, texts. ``features``: this batch's
        :meth:`features`, when several decoders read them."""
        cfg = cfg or self.decoding
        feats, pm = features if features is not None else self.features(batch)
        B, T = feats.shape[:2]
        lengths = (~pm).sum(1) if pm is not None else torch.full((B,), T, dtype=torch.long, device=feats.device)
        ctc_lp = self.ctc.log_probs(feats)
        if mode == "greedy_ctc":
            hyps = greedy_ctc_decode(ctc_lp, lengths, self.blank)
        elif mode == "beam":
            hyps = batch_beam_search(self.decoder, self.memory(feats), ctc_lp if cfg.ctc_weight > 0 else None,
                                     lengths, sos=self.sos, eos=self.eos, blank=self.blank, cfg=cfg, lm=lm)
        else:
            raise ValueError(f"unknown decoding mode {mode!r}")
        out = {"tokens": hyps}
        if self.tokenizer is not None:
            out["text"] = [self.tokenizer.decode(h) for h in hyps]
        return out

    def param_groups(self) -> list[dict]:
        groups = []
        if not self.freeze_encoder:
            groups += layerwise_groups(self.encoder, self.lr_encoder, self.layer_decay, self.weight_decay)
        head = list(self.decoder.parameters()) + list(self.ctc.parameters())
        if self.adapter is not None:
            head += list(self.adapter.parameters())
        if self.proj_decoder is not None:
            head += list(self.proj_decoder.parameters())
        groups.append({"name": "head", "params": head, "lr": self.lr_head, "weight_decay": self.weight_decay})
        return [{"name": "finetune", "params": groups, "lr": self.lr_head, "weight_decay": self.weight_decay,
                 "betas": self.betas}]
