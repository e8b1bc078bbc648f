"""Beam-search decoding speed of the RAVEn Base decoder (512/8/2048/6, V=1049) on CPU (``--decoder default``:
the default preset's small head, 64/2/128/2, V=66, where per-call overhead rather than arithmetic dominates).

Encoder outputs are random (~75 frames = 3 s, a typical LRS3 test utterance) and the CTC posteriors are peaky
around a random 15-token transcript. A random (untrained) attention decoder does not agree with that CTC, so
search would otherwise wander up to 75 tokens: the output length is capped at ``--max-tokens`` (20, forced
<eos>) to time a realistic number of decoding steps. Timings therefore measure search cost, not accuracy.
Each beam size is timed twice: one utterance at a time, then all ``--utts`` in one batched search (what
evaluation runs), and the two must give the same hypotheses.
Usage: PYTHONPATH=src python bench/bench_decoding.py [--beams 10 40] [--utts 5] [--threads 1] [--decoder default]
"""

from __future__ import annotations

import argparse
import time

import torch

from avssl.tasks.beam_search import BeamSearchConfig, batch_beam_search, beam_search
from avssl.tasks.ctc import greedy_ctc_decode
from avssl.tasks.transformer_decoder import TransformerDecoder


# vocabulary, width, heads, FFN units, blocks: RAVEn Base's decoder; the default preset's ASR/VSR head (64 pieces)
DECODERS = {"base": (1049, 512, 8, 2048, 6), "default": (66, 64, 2, 128, 2)}


def peaky_ctc(T: int, V: int, n_tokens: int, gen: torch.Generator) -> torch.Tensor:
    tokens = torch.randint(1, V - 1, (n_tokens,), generator=gen)
    logits = torch.randn(T, V, generator=gen)
    logits[:, 0] += 30.0  # mostly blank; a confident (trained-like) CTC keeps hypotheses near 15 tokens
    pos = torch.linspace(2, T - 3, n_tokens).long()
    logits[pos, tokens] += 60.0
    return torch.log_softmax(logits, -1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--beams", type=int, nargs="+", default=[10, 40])
    ap.add_argument("--utts", type=int, default=5)
    ap.add_argument("--frames", type=int, default=75)
    ap.add_argument("--tokens", type=int, default=15)
    ap.add_argument("--max-tokens", type=int, default=20)
    ap.add_argument("--ctc-weight", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--decoder", choices=sorted(DECODERS), default="base")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    V, dim, heads, units, layers = DECODERS[args.decoder]
    dec = TransformerDecoder(V, dim, heads, units, layers).eval()
    gen = torch.Generator().manual_seed(0)
    data = [(torch.randn(args.frames, dim, generator=gen), peaky_ctc(args.frames, V, args.tokens, gen))
            for _ in range(args.utts)]
    print(f"torch {torch.__version__}, threads {args.threads}, {args.utts} utterances x {args.frames} frames, "
          f"decoder {dim}/{heads}/{units}/{layers} V={V}, ctc_weight {args.ctc_weight}")
    t0 = time.perf_counter()
    greedy = greedy_ctc_decode(torch.stack([c for _, c in data]))
    dt = time.perf_counter() - t0
    print(f"greedy CTC: {args.utts / dt:10.1f} utt/s")
    mem, ctc = torch.stack([m for m, _ in data]), torch.stack([c for _, c in data])
    for beam in args.beams:
        cfg = BeamSearchConfig(beam_size=beam, ctc_weight=args.ctc_weight,
                               max_len_ratio=args.max_tokens / args.frames)
        beam_search(dec, data[0][0], data[0][1], sos=V - 1, eos=V - 1, cfg=cfg)  # warm-up
        t0 = time.perf_counter()
        alone = [beam_search(dec, m, c, sos=V - 1, eos=V - 1, cfg=cfg) for m, c in data]
        dt_alone = time.perf_counter() - t0
        t0 = time.perf_counter()
        batched = batch_beam_search(dec, mem, ctc, sos=V - 1, eos=V - 1, cfg=cfg)
        dt_batch = time.perf_counter() - t0
        mean_len = sum(map(len, alone)) / len(alone)
        for mode, dt in (("one at a time", dt_alone), (f"batch of {args.utts}", dt_batch)):
            print(f"beam {beam:3d}, {mode:>13}: {args.utts / dt:8.2f} utt/s ({dt / args.utts * 1000:.1f} ms/utt, "
                  f"mean hyp length {mean_len:.1f})")
        print(f"           same hypotheses: {batched == alone}")


if __name__ == "__main__":
    main()
