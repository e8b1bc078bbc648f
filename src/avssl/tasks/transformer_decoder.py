"""Transformer attention decoder of the RAVEn fine-tuning model (ESPnet-style, official parameter names).

Why this exact layout: the released fine-tuned RAVEn checkpoints are plain state dicts loaded strictly, so the
module tree must reproduce their names (``embed.0``, ``decoders.N.{self_attn,src_attn}.linear_{q,k,v,out}``,
``feed_forward.w_1/w_2``, ``norm1/2/3``, ``after_norm``, ``output_layer``) to reuse them.

Architecture: token embedding scaled by sqrt(d) + absolute sinusoidal positions, ``N`` pre-norm blocks
(self-attention, source attention, ReLU FFN; LayerNorm eps 1e-12 as in ESPnet), final LayerNorm, vocabulary
projection. :meth:`TransformerDecoder.step` decodes one token for many hypotheses of many utterances at once with
cached keys and values, which is what makes batched beam search cheap.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import nn

LN_EPS = 1e-12


def sinusoidal_positions(length: int, dim: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """(length, dim) table: sin on even channels, cos on odd, wavelengths 2*pi ... 10000*2*pi."""
    pos = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    div = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    pe = torch.zeros(length, dim, device=device)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)
    return pe.to(dtype)


@functools.lru_cache(maxsize=64)
def _constant(kind: str, length: int, dim: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """The positions table, causal mask or identity of one length, built once instead of at every training step (they
    are the same numbers each time; callers never write into them). Made outside inference mode so that training
    may read a table first built while decoding."""
    with torch.inference_mode(False):
        if kind == "positions":
            return sinusoidal_positions(length, dim, device, dtype)
        if kind == "eye":
            return torch.eye(length, dtype=torch.bool, device=device)
        return torch.ones(length, length, dtype=torch.bool, device=device).tril()


class PositionalEncoding(nn.Module):
    """x * sqrt(d) + PE, then dropout. No parameters (so ``embed.1`` has no keys, as in the checkpoint)."""

    def __init__(self, dim: int, dropout: float = 0.1):
        super().__init__()
        self.dim, self.scale = dim, math.sqrt(dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        pe = _constant("positions", offset + x.shape[1], self.dim, x.device, x.dtype)[offset:]
        return self.dropout(x * self.scale + pe)


class MultiHeadAttention(nn.Module):
    """Standard scaled dot-product attention with q/k/v/out projections (all with bias)."""

    def __init__(self, dim: int, heads: int, dropout: float = 0.1):
        super().__init__()
        assert dim % heads == 0, "dim must be divisible by heads"
        self.h, self.dk = heads, dim // heads
        self.linear_q = nn.Linear(dim, dim)
        self.linear_k = nn.Linear(dim, dim)
        self.linear_v = nn.Linear(dim, dim)
        self.linear_out = nn.Linear(dim, dim)
        self.dropout = dropout

    def split(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        return x.view(b, t, self.h, self.dk).transpose(1, 2)  # (B, H, T, dk)

    def project_kv(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.split(self.linear_k(x)), self.split(self.linear_v(x))

    def attend(self, q_in: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """``mask``: bool, True = may attend, broadcastable to (B, H, Tq, Tk)."""
        q = self.split(self.linear_q(q_in))
        p = self.dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        b, _, t, _ = out.shape
        return self.linear_out(out.transpose(1, 2).reshape(b, t, self.h * self.dk))

    def forward(self, query, key_value, mask=None):
        k, v = self.project_kv(key_value)
        return self.attend(query, k, v, mask)


class FeedForward(nn.Module):
    def __init__(self, dim: int, units: int, dropout: float = 0.1):
        super().__init__()
        self.w_1 = nn.Linear(dim, units)
        self.w_2 = nn.Linear(units, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.w_2(self.dropout(torch.relu(self.w_1(x))))


class DecoderLayer(nn.Module):
    """Pre-norm block: x += SelfAttn(LN1 x); x += SrcAttn(LN2 x, memory); x += FFN(LN3 x)."""

    def __init__(self, dim: int, heads: int, units: int, dropout: float = 0.1):
        super().__init__()
        self.self_attn = MultiHeadAttention(dim, heads, dropout)
        self.src_attn = MultiHeadAttention(dim, heads, dropout)
        self.feed_forward = FeedForward(dim, units, dropout)
        self.norm1 = nn.LayerNorm(dim, eps=LN_EPS)
        self.norm2 = nn.LayerNorm(dim, eps=LN_EPS)
        self.norm3 = nn.LayerNorm(dim, eps=LN_EPS)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, tgt_mask, memory, memory_mask):
        h = self.norm1(x)
        x = x + self.dropout(self.self_attn(h, h, tgt_mask))
        x = x + self.dropout(self.src_attn(self.norm2(x), memory, memory_mask))
        return x + self.dropout(self.feed_forward(self.norm3(x)))

    def step(self, x_new, self_kv, src_kv, memory_mask):
        """One new position. ``self_kv`` = cached (k, v) of previous positions or None; returns (out, new kv)."""
        h = self.norm1(x_new)
        k, v = self.self_attn.project_kv(h)
        if self_kv is not None:
            k, v = torch.cat([self_kv[0], k], dim=2), torch.cat([self_kv[1], v], dim=2)
        x = x_new + self.self_attn.attend(h, k, v, None)  # causal by construction: only the past is cached
        # N = B * W hypotheses, W per utterance (grouped): the W hypotheses of an utterance are W queries of its
        # source attention, so the memory keys/values are read once per utterance, never copied per hypothesis
        sk, sv = src_kv
        n, _, d = x.shape
        src = self.src_attn.attend(self.norm2(x).reshape(sk.shape[0], -1, d), sk, sv, memory_mask)
        x = x + src.reshape(n, 1, d)
        return x + self.feed_forward(self.norm3(x)), (k, v)


class TransformerDecoder(nn.Module):
    """Attention decoder: (tokens (B, L), memory (B, T, dim), memory padding mask) -> logits (B, L, V)."""

    def __init__(self, vocab_size: int, dim: int = 512, heads: int = 8, units: int = 2048, layers: int = 6,
                 dropout: float = 0.1):
        super().__init__()
        self.vocab_size, self.dim = vocab_size, dim
        self.embed = nn.Sequential(nn.Embedding(vocab_size, dim), PositionalEncoding(dim, dropout))
        self.decoders = nn.ModuleList(DecoderLayer(dim, heads, units, dropout) for _ in range(layers))
        self.after_norm = nn.LayerNorm(dim, eps=LN_EPS)
        self.output_layer = nn.Linear(dim, vocab_size)

    @staticmethod
    def _memory_mask(memory_padding_mask):
        # True = may attend; shape (B, 1, 1, T) broadcasts over heads and queries.
        return None if memory_padding_mask is None else (~memory_padding_mask)[:, None, None, :]

    def forward(self, tokens, memory, memory_padding_mask=None, token_padding_mask=None):
        L = tokens.shape[1]
        causal = _constant("causal", L, 0, tokens.device, torch.bool)
        tgt_mask = causal[None, None]
        if token_padding_mask is not None:  # keys that are padding are never attended
            tgt_mask = tgt_mask & (~token_padding_mask)[:, None, None, :]
            tgt_mask = tgt_mask | _constant("eye", L, 0, tokens.device, torch.bool)  # avoid all-masked rows
        mem_mask = self._memory_mask(memory_padding_mask)
        x = self.embed(tokens)
        for layer in self.decoders:
            x = layer(x, tgt_mask, memory, mem_mask)
        return self.output_layer(self.after_norm(x))

    # ---- incremental decoding --------------------------------------------------------------------------
    def init_state(self, memory, memory_padding_mask=None) -> dict:
        """Pre-compute source-attention keys/values once per utterance batch."""
        return {
            "src_kv": [layer.src_attn.project_kv(memory) for layer in self.decoders],
            "self_kv": [None] * len(self.decoders),
            "mem_mask": self._memory_mask(memory_padding_mask),
            "pos": 0,
        }

    def step(self, last_tokens: torch.Tensor, state: dict) -> tuple[torch.Tensor, dict]:
        """Log-probabilities (N, V) of the next token given the last token of each of N hypotheses: W per
        utterance of the state's memory (N = B * W), the hypotheses of utterance b at rows b*W .. b*W + W - 1."""
        x = self.embed[0](last_tokens[:, None])
        x = self.embed[1](x, offset=state["pos"])
        new_kv = []
        for layer, kv, skv in zip(self.decoders, state["self_kv"], state["src_kv"]):
            x, kv = layer.step(x, kv, skv, state["mem_mask"])
            new_kv.append(kv)
        logp = torch.log_softmax(self.output_layer(self.after_norm(x[:, 0])), dim=-1)
        return logp, {**state, "self_kv": new_kv, "pos": state["pos"] + 1}

    @staticmethod
    def select_state(state: dict, index: torch.Tensor, rows: torch.Tensor | None = None) -> dict:
        """Reorder/duplicate the cached hypotheses (beam search parent pointers: ``index`` into the N rows);
        ``rows``: the utterances that stay in the batch (their memory), None = all."""
        sel = lambda kv, i: None if kv is None else (kv[0].index_select(0, i), kv[1].index_select(0, i))
        src, mask = state["src_kv"], state["mem_mask"]
        if rows is not None:
            src = [sel(kv, rows) for kv in src]
            mask = None if mask is None else mask.index_select(0, rows)
        return {**state, "self_kv": [sel(kv, index) for kv in state["self_kv"]], "src_kv": src, "mem_mask": mask}
