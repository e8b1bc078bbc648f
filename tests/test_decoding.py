"""Decoding: CTC prefix scores, incremental decoder, joint beam search vs greedy CTC on a trained toy model."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

torch.set_num_threads(1)  # shared 2-core machine: intra-op threads only add contention for tiny models

from avssl.tasks.beam_search import BeamSearchConfig, batch_beam_search, beam_search
from avssl.tasks.ctc import greedy_ctc_decode
from avssl.tasks.ctc_prefix_score import CTCPrefixScorer
from avssl.tasks.metrics import wer
from avssl.tasks.speech_recognition import SpeechHeadConfig, SpeechRecognitionObjective
from avssl.tasks.transformer_decoder import TransformerDecoder, sinusoidal_positions


def full_ctc_logprob(lp, y, blank=0):
    return -F.ctc_loss(lp[:, None], torch.tensor([y]), torch.tensor([lp.shape[0]]), torch.tensor([len(y)]),
                       blank=blank, reduction="sum").item()


@pytest.mark.parametrize("y", [[1, 2, 3], [2, 2, 4], [3], [1, 4, 1, 4]])
@pytest.mark.parametrize("T,scale", [(9, 1.0), (300, 25.0)])
def test_prefix_scores_sum_to_sequence_probability(y, T, scale):
    """Also long and peaky (|cumulative log-probabilities| in the thousands, where the closed-form frame
    recursion's differences of cumulative sums would lose precision outside float64)."""
    torch.manual_seed(len(y))
    V = 6  # eos = 5
    lp = (scale * torch.randn(T, V)).log_softmax(-1).float()
    sc = CTCPrefixScorer(lp[None], blank=0, eos=5)
    r, psi = sc.initial_state()
    total = 0.0
    last = None
    for i, c in enumerate(y + [5]):
        # score the true token among other candidates to exercise the batching
        cand = torch.tensor([[[c, 4 if c != 4 else 3, 0]]])
        delta, r_new, psi_new = sc.score(r, psi, last, i, cand)
        assert delta[0, 0, 2] == float("-inf")  # blank is never a label
        assert delta[0, 0, 0] <= 1e-9  # prefix probability never increases
        total += delta[0, 0, 0].item()
        r, psi, last = r_new[:, :, 0], psi_new[:, :, 0], torch.tensor([[c]])
    assert total == pytest.approx(full_ctc_logprob(lp.double(), y), abs=1e-6)


def test_prefix_score_matches_brute_force_prefix_probability():
    """psi(g) = sum over label sequences starting with g of P_ctc: check by enumerating all alignments."""
    import itertools

    torch.manual_seed(0)
    T, V = 4, 4  # labels 1, 2; eos 3 (never emitted by CTC: give it ~0 mass)
    logits = torch.randn(T, V)
    logits[:, 3] = -1e9
    lp = logits.log_softmax(-1).double()
    probs = lp.exp()

    def collapse(path):
        out, prev = [], None
        for p in path:
            if p != prev and p != 0:
                out.append(p)
            prev = p
        return out

    def brute(prefix):
        tot = 0.0
        for path in itertools.product(range(3), repeat=T):
            if collapse(path)[: len(prefix)] == prefix:
                tot += float(torch.prod(probs[torch.arange(T), torch.tensor(path)]))
        return tot

    sc = CTCPrefixScorer(lp[None], 0, 3)
    r, psi = sc.initial_state()
    _, r1, psi1 = sc.score(r, psi, None, 0, torch.tensor([[[1, 2]]]))
    assert psi1[0, 0, 0].exp().item() == pytest.approx(brute([1]), rel=1e-6)
    assert psi1[0, 0, 1].exp().item() == pytest.approx(brute([2]), rel=1e-6)
    _, r2, psi2 = sc.score(r1[:, :, 0], psi1[:, :, 0], torch.tensor([[1]]), 1, torch.tensor([[[1, 2]]]))
    assert psi2[0, 0, 0].exp().item() == pytest.approx(brute([1, 1]), rel=1e-6)
    assert psi2[0, 0, 1].exp().item() == pytest.approx(brute([1, 2]), rel=1e-6)


def test_incremental_step_equals_full_forward():
    torch.manual_seed(0)
    dec = TransformerDecoder(11, 16, 2, 32, 2).eval()
    mem = torch.randn(1, 7, 16)
    ys = torch.tensor([[10, 3, 4, 5, 1]])
    full = dec(ys, mem).log_softmax(-1)
    state = dec.init_state(mem)
    for i in range(ys.shape[1]):
        lp, state = dec.step(ys[:, i], state)
        assert torch.allclose(lp, full[:, i], atol=1e-5)
    # reordering/duplicating hypotheses keeps them consistent
    st = dec.init_state(mem)
    lp0, st = dec.step(torch.tensor([10]), st)
    st = dec.select_state(st, torch.tensor([0, 0]))
    lp1, _ = dec.step(torch.tensor([3, 4]), st)
    assert torch.allclose(lp1[0], full[0, 1], atol=1e-5)


class FrameEncoder(nn.Module):
    """(B, T*640) -> (B, T, D): a linear map of each 640-sample frame, a tiny temporal conv and absolute
    positions (the attention decoder needs to know where frames are, as a real encoder's context provides)."""

    def __init__(self, dim=48):
        super().__init__()
        self.proj = nn.Linear(640, dim)
        self.conv = nn.Conv1d(dim, dim, 3, padding=1)

    def forward(self, x, padding_mask=None):
        h = torch.relu(self.proj(x.view(x.shape[0], -1, 640)))
        h = h + self.conv(h.transpose(1, 2)).transpose(1, 2)
        return h + sinusoidal_positions(h.shape[1], h.shape[2])


def toy_batch(gen, patterns, n, vocab_labels, noise):
    """Random token sequences; each token is rendered as 2-3 noisy frames of its pattern, blanks between."""
    seqs, frames = [], []
    for _ in range(n):
        L = int(torch.randint(2, 6, (1,), generator=gen))
        s = torch.randint(1, vocab_labels + 1, (L,), generator=gen).tolist()
        fr = [torch.zeros(640)]
        for k in s:
            for _ in range(int(torch.randint(2, 4, (1,), generator=gen))):
                fr.append(patterns[k])
            fr.append(torch.zeros(640))
        seqs.append(s)
        frames.append(torch.stack(fr))
    T = max(f.shape[0] for f in frames)
    x = torch.zeros(n, T, 640)
    for b, f in enumerate(frames):
        x[b, : f.shape[0]] = f
    x = x + noise * torch.randn(x.shape, generator=gen)
    lengths = torch.tensor([f.shape[0] for f in frames])
    tokens = torch.full((n, 5), -1)
    for b, s in enumerate(seqs):
        tokens[b, : len(s)] = torch.tensor(s)
    return {"audio": x.view(n, -1), "lengths": lengths,
            "padding_mask": torch.arange(T)[None] >= lengths[:, None], "tokens": tokens}, seqs


@pytest.fixture(scope="module")
def trained_toy():
    """A tiny joint CTC/attention model trained for 400 steps (~6 s) on noisy toy sequences."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    n_labels = 8
    V = n_labels + 2  # blank 0, labels 1..8, sos/eos 9
    patterns = torch.randn(V, 640, generator=gen)
    obj = SpeechRecognitionObjective(FrameEncoder(), "audio", 48, V, SpeechHeadConfig(
        ddim=48, dheads=4, dunits=96, dlayers=2, dropout=0.1, ctc_weight=0.3, time_masking=False))
    (spec,) = obj.param_groups()
    opt = torch.optim.AdamW(spec["params"], lr=3e-3)
    obj.train()
    losses = []
    for step in range(400):
        batch, _ = toy_batch(gen, patterns, 16, n_labels, noise=4.0)
        out = obj(batch)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        losses.append(out["loss"].item())
    obj.eval()
    test_batch, test_seqs = toy_batch(torch.Generator().manual_seed(123), patterns, 40, n_labels, noise=4.0)
    return obj, test_batch, test_seqs, losses


def _err(hyps, refs):
    to_s = lambda s: " ".join(f"t{t}" for t in s)
    return wer([to_s(h) for h in hyps], [to_s(r) for r in refs])


def joint_score(obj, feats_b, n, hyp, w, bonus=0.0):
    """Teacher-forced joint score of a complete hypothesis: what beam search maximises."""
    mem = obj.memory(feats_b[None, :n])
    ys_in = torch.tensor([[obj.sos] + hyp])
    att = obj.decoder(ys_in, mem).log_softmax(-1)[0]
    att_lp = att[torch.arange(len(hyp) + 1), torch.tensor(hyp + [obj.eos])].sum().item()
    ctc_lp = full_ctc_logprob(obj.ctc.log_probs(feats_b[:n]).double(), hyp) if hyp else \
        obj.ctc.log_probs(feats_b[:n])[:, 0].sum().item()
    return (1 - w) * att_lp + w * ctc_lp + bonus * (len(hyp) + 1)


def test_toy_training_converges(trained_toy):
    _, _, _, losses = trained_toy
    assert all(v == v for v in losses)
    assert sum(losses[-20:]) / 20 < 0.3 * sum(losses[:20]) / 20


def test_beam_search_not_worse_than_greedy(trained_toy):
    obj, batch, refs, _ = trained_toy
    greedy = obj.predict(batch, mode="greedy_ctc")["tokens"]
    e_g = _err(greedy, refs)
    assert e_g < 0.3  # the model learnt something
    # 1) CTC prefix beam search (sums over alignments) vs best-path greedy: word error
    ctc_beam = obj.predict(batch, cfg=BeamSearchConfig(beam_size=5, ctc_weight=1.0))["tokens"]
    assert _err(ctc_beam, refs) <= e_g + 1e-9
    # 2) joint CTC/attention beam beats the attention-only beam (CTC rescoring helps)
    att_only = _err(obj.predict(batch, cfg=BeamSearchConfig(beam_size=5, ctc_weight=0.0))["tokens"], refs)
    joint = _err(obj.predict(batch, cfg=BeamSearchConfig(beam_size=5, ctc_weight=0.5))["tokens"], refs)
    assert joint <= att_only
    # 3) search quality at the paper's CTC weight: the beam's hypotheses score at least as well under the
    #    joint objective as greedy CTC's, and the reported beam score equals the teacher-forced score.
    w = 0.1
    feats, pm = obj.encode(batch)
    lengths = (~pm).sum(1)
    total_beam = total_greedy = 0.0
    for b in range(len(refs)):
        n = int(lengths[b])
        hyp, score = beam_search(obj.decoder, obj.memory(feats[b, :n]), obj.ctc.log_probs(feats[b, :n]),
                                 sos=obj.sos, eos=obj.eos, cfg=BeamSearchConfig(beam_size=5, ctc_weight=w),
                                 return_score=True)
        assert score == pytest.approx(joint_score(obj, feats[b], n, hyp, w), abs=1e-3)
        total_beam += score
        total_greedy += joint_score(obj, feats[b], n, greedy[b], w)
    print(f"toy token error: greedy CTC {e_g:.3f}, CTC beam {_err(ctc_beam, refs):.3f}, attention beam "
          f"{att_only:.3f}, joint beam {joint:.3f}; joint score beam {total_beam:.1f} vs greedy {total_greedy:.1f}")
    assert total_beam >= total_greedy - 1e-6


def test_beam_search_options(trained_toy):
    obj, batch, refs, _ = trained_toy
    one = {k: (v[:4] if k != "tokens" else v[:4]) for k, v in batch.items()}
    base = obj.predict(one, cfg=BeamSearchConfig(beam_size=4, ctc_weight=0.3))["tokens"]
    # pure attention decoding and beam 1 still produce valid label sequences
    for cfg in (BeamSearchConfig(beam_size=4, ctc_weight=0.0), BeamSearchConfig(beam_size=1, ctc_weight=0.3)):
        for h in obj.predict(one, cfg=cfg)["tokens"]:
            assert all(1 <= t <= 8 for t in h)
    # a zero-weight LM changes nothing; a strong LM that only likes token 3 takes over
    calls = []

    def lm(prefixes):
        calls.append(prefixes.clone())
        out = torch.full((prefixes.shape[0], obj.vocab_size), -20.0)
        out[:, 3] = 0.0
        return out

    same = obj.predict(one, cfg=BeamSearchConfig(beam_size=4, ctc_weight=0.3, lm_weight=0.0), lm=lm)["tokens"]
    assert same == base and not calls
    # (attention-only here: the toy CTC is so peaky that it vetoes any label the audio does not support)
    att = obj.predict(one, cfg=BeamSearchConfig(beam_size=4, ctc_weight=0.0))["tokens"]
    strong = obj.predict(one, cfg=BeamSearchConfig(beam_size=4, ctc_weight=0.0, lm_weight=5.0), lm=lm)["tokens"]
    # one call per step for all hypotheses of the 4 utterances (at most beam x utterances), prefixes from <sos>
    assert calls and all(p.shape[0] <= 4 * 4 and (p[:, 0] == obj.sos).all() for p in calls)
    assert [p.shape[1] for p in calls] == list(range(1, len(calls) + 1))
    assert sum(t == 3 for h in strong for t in h) > sum(t == 3 for h in att for t in h)
    # a big negative length bonus shortens outputs
    short = obj.predict(one, cfg=BeamSearchConfig(beam_size=4, ctc_weight=0.3, length_bonus=-50.0))["tokens"]
    assert sum(map(len, short)) <= sum(map(len, base))


def test_ctc_prefix_scores_of_padded_utterances_equal_unpadded():
    """Batched beam search pads utterances to the longest: padding frames (garbage here) must not contribute and
    <eos> must read each utterance's own last frame."""
    torch.manual_seed(3)
    V, lengths = 6, [9, 4, 7]
    lps = [(3.0 * torch.randn(n, V)).log_softmax(-1) for n in lengths]
    padded = torch.randn(3, 9, V)  # garbage in the padding frames
    for b, lp in enumerate(lps):
        padded[b, : lengths[b]] = lp
    batch = CTCPrefixScorer(padded, blank=0, eos=5, lengths=torch.tensor(lengths))
    alone = [CTCPrefixScorer(lp[None], blank=0, eos=5) for lp in lps]
    # two hypotheses per utterance, each extended by its first candidate: 1 1 1 and 1 1 1 (repeats) and 2 4 2
    cands = [torch.tensor([[[1, 2, 5, 0], [2, 4, 5, 3]]] * 3), torch.tensor([[[1, 2, 5, 0], [4, 2, 5, 3]]] * 3)]
    r, psi = (t.expand(3, 2, *t.shape[2:]) for t in batch.initial_state())
    states = [tuple(t.expand(1, 2, *t.shape[2:]) for t in a.initial_state()) for a in alone]
    last = None
    for i in range(3):
        cand = cands[i % 2] if i else cands[0]
        d_b, r_b, psi_b = batch.score(r, psi, last, i, cand)
        for b, a in enumerate(alone):
            d_a, r_a, psi_a = a.score(*states[b], None if last is None else last[b : b + 1], i, cand[b : b + 1])
            assert torch.equal(torch.isinf(d_b[b]), torch.isinf(d_a[0]))  # blank; impossible prefixes
            fin = torch.isfinite(d_a[0])
            assert torch.allclose(d_b[b][fin], d_a[0][fin], atol=1e-9, rtol=0)
            assert torch.allclose(psi_b[b][fin], psi_a[0][fin], atol=1e-9, rtol=0)
            assert torch.allclose(r_b[b, ..., : lengths[b]], r_a[0], atol=1e-9, rtol=0)
            states[b] = (r_a[:, :, 0], psi_a[:, :, 0])
        r, psi, last = r_b[:, :, 0], psi_b[:, :, 0], cand[..., 0]


@pytest.mark.parametrize("cfg", [
    BeamSearchConfig(beam_size=5, ctc_weight=0.3),
    BeamSearchConfig(beam_size=4, ctc_weight=0.0, length_bonus=0.5),
    BeamSearchConfig(beam_size=3, ctc_weight=1.0),
    BeamSearchConfig(beam_size=4, ctc_weight=0.1, max_len_ratio=0.15),  # per-utterance length limits bite
], ids=["joint", "attention-bonus", "ctc-only", "short-limit"])  # fmt: skip
def test_batched_beam_search_equals_decoding_each_utterance_alone(trained_toy, cfg):
    """One search over 40 padded utterances of different lengths gives each the hypothesis (and score) of
    decoding it alone: per-utterance beams, ended lists, length limits and early stops."""
    obj, batch, _, _ = trained_toy
    feats, pm = obj.features(batch)
    lengths = (~pm).sum(1)
    assert len(set(lengths.tolist())) > 5
    mem, lp = obj.memory(feats), obj.ctc.log_probs(feats) if cfg.ctc_weight > 0 else None
    kw = {"sos": obj.sos, "eos": obj.eos, "cfg": cfg, "return_score": True}
    batched = batch_beam_search(obj.decoder, mem, lp, lengths, **kw)
    for b, (hyp, score) in enumerate(batched):
        n = int(lengths[b])
        alone_hyp, alone_score = beam_search(obj.decoder, mem[b, :n], None if lp is None else lp[b, :n], **kw)
        assert hyp == alone_hyp
        assert score == pytest.approx(alone_score, abs=1e-5)
    assert obj.predict(batch, cfg=cfg)["tokens"] == [h for h, _ in batched]


def test_greedy_ctc_collapse():
    V = 5
    path = [0, 1, 1, 0, 1, 2, 2, 2, 0, 0, 3]
    lp = torch.full((1, len(path), V), -10.0)
    lp[0, torch.arange(len(path)), torch.tensor(path)] = 0.0
    assert greedy_ctc_decode(lp) == [[1, 1, 2, 3]]
    assert greedy_ctc_decode(lp, torch.tensor([6])) == [[1, 1, 2]]
