"""Probe heads of RAVEn pre-training: a CTC head and an attention decoder on a student's DETACHED output.

Why: the official pre-training model trains these next to each student (its backbone is an ESPnet E2E model,
called with ``detach=True``), adds their losses (CTC + attention, unweighted) to the student's loss and steps
them with the student's AdamW, so their gradients share the student's 3.0 clip norm; they never change the
encoders (detached input), only the optimiser's clipping and the logged progress signal. Targets are characters
(the official probes use a 41-symbol character set, odim 41; ours: blank, 38 characters, sos/eos = 40).
Clips without a transcript (e.g. VoxCeleb2) do not count in the probe losses or WER.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from avssl.tasks.ctc import CTCHead, greedy_ctc_decode
from avssl.tasks.speech_recognition import IGNORE, label_smoothing_loss, pad_tokens
from avssl.tasks.transformer_decoder import TransformerDecoder

CHARS = " '" + "abcdefghijklmnopqrstuvwxyz" + "0123456789"
VOCAB_SIZE = len(CHARS) + 2  # blank 0, characters 1..len(CHARS), sos = eos = V - 1
SOS = EOS = VOCAB_SIZE - 1
_INDEX = {c: i + 1 for i, c in enumerate(CHARS)}
LABEL_SMOOTHING = 0.1  # official lsm_weight


def encode_chars(text: str) -> list[int]:
    """Lower-cased, single-spaced text -> character ids (characters outside CHARS are dropped)."""
    return [_INDEX[c] for c in " ".join(str(text).lower().split()) if c in _INDEX]


def decode_chars(ids: list[int]) -> str:
    return "".join(CHARS[i - 1] for i in ids if 1 <= i <= len(CHARS))


def char_labels(meta: dict[str, Any]) -> dict[str, Any]:
    """ClipDataset ``labels`` hook: the clip's transcript (meta ``text``, empty when absent) as character ids."""
    text = meta.get("text")
    text = "" if text is None or (isinstance(text, float) and text != text) else str(text)  # NaN from CSVs
    return {"probe_tokens": torch.tensor(encode_chars(text), dtype=torch.long)}


def batch_targets(batch: dict, B: int) -> list[list[int]]:
    """Per-row character ids from the collated ``probe_tokens`` (padded with -1), or from ``text``."""
    if "probe_tokens" in batch:
        return [[int(t) for t in row if int(t) != IGNORE] for row in batch["probe_tokens"]]
    if "text" in batch:
        return [encode_chars(t) for t in batch["text"]]
    raise KeyError("raven.probe_heads needs transcripts: the batch has neither 'probe_tokens' nor 'text'")


class ProbeHeads(nn.Module):
    """CTC head (``ctc.ctc_lo``) + Transformer attention decoder (``decoder.*``; ``proj_decoder`` when the widths
    differ)."""

    def __init__(self, adim: int, ddim: int = 256, dheads: int = 4, dunits: int = 2048, dlayers: int = 6,
                 dropout: float = 0.1):
        super().__init__()
        self.ctc = CTCHead(adim, VOCAB_SIZE, dropout)
        self.proj_decoder = nn.Linear(adim, ddim) if adim != ddim else None
        self.decoder = TransformerDecoder(VOCAB_SIZE, ddim, dheads, dunits, dlayers, dropout)

    def losses(self, feats: torch.Tensor, padding_mask: torch.Tensor, batch: dict) -> dict[str, torch.Tensor]:
        """loss = CTC + attention (label smoothing 0.1) over the rows with a transcript; decoder token accuracy
        and greedy-CTC WER of those rows (what the official code logs: the accuracy and the CTC loss)."""
        B = feats.shape[0]
        ys = batch_targets(batch, B)
        rows = [i for i, y in enumerate(ys) if y]
        if not rows:  # keep the heads in the graph (DDP) with a zero loss
            zero = sum(p.sum() for p in self.parameters()) * 0.0
            return {"loss": zero, "loss_ctc": zero.detach(), "loss_att": zero.detach()}
        idx = torch.tensor(rows, device=feats.device)
        x, pm = feats.index_select(0, idx), padding_mask.index_select(0, idx)
        ys = [ys[i] for i in rows]
        dev = x.device
        enc_len = (~pm).sum(1)
        flat = torch.as_tensor([t for y in ys for t in y], dtype=torch.long, device=dev)
        y_len = torch.as_tensor([len(y) for y in ys], dtype=torch.long, device=dev)
        loss_ctc = self.ctc.loss(x, enc_len, flat, y_len)
        ys_in = pad_tokens([[SOS] + y for y in ys], EOS, dev)
        ys_out = pad_tokens([y + [EOS] for y in ys], IGNORE, dev)
        in_pad = pad_tokens([[0] * (len(y) + 1) for y in ys], 1, dev).bool()
        memory = self.proj_decoder(x) if self.proj_decoder is not None else x
        logits = self.decoder(ys_in, memory, pm, in_pad)
        loss_att = label_smoothing_loss(logits, ys_out, LABEL_SMOOTHING)
        valid = ys_out != IGNORE
        acc = ((logits.argmax(-1) == ys_out) & valid).sum() / valid.sum().clamp(min=1)
        with torch.no_grad():
            hyps = greedy_ctc_decode(self.ctc.log_probs(x), enc_len)
        return {"loss": loss_ctc + loss_att, "loss_ctc": loss_ctc.detach(), "loss_att": loss_att.detach(),
                "acc": acc.detach().float(), "wer": torch.tensor(word_error_rate(hyps, ys), device=dev)}


def word_error_rate(hyps: list[list[int]], refs: list[list[int]]) -> float:
    """Corpus WER of character-id sequences (words split at spaces)."""
    from avssl.tasks.metrics import wer

    return wer([decode_chars(h) for h in hyps], [decode_chars(r) for r in refs])
