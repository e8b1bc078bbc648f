"""Sentence ASR/VSR building blocks: checkpoint layout, tokenizer, lr decay, averaging, masking, loss."""

from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)  # shared 2-core machine: intra-op threads only add contention for tiny models
from torch import nn

from avssl.tasks.checkpoint_average import average_state_dicts, last_k
from avssl.tasks.ctc import CTCHead
from avssl.tasks.lr_decay import layerwise_groups
from avssl.tasks.speech_recognition import (IGNORE, DecoderTargets, SpeechHeadConfig, SpeechRecognitionObjective,
                                            label_smoothing_loss, pad_tokens)
from avssl.tasks.time_mask import time_mask
from avssl.tasks.tokenizer import Tokenizer
from avssl.tasks.transformer_decoder import TransformerDecoder

TSV = Path("/work/shared/reference/raven_state_dicts/video_base.tsv")


class DummyBlockEncoder(nn.Module):
    """RAVEn-like layout: frontend, embed, encoders (ModuleList), after_norm. (B, T, 88, 88) or (B, N) -> (B, T, D)."""

    def __init__(self, dim=16, blocks=3, video=True):
        super().__init__()
        self.video = video
        self.frontend = nn.Linear(88 * 88 if video else 640, 32)
        self.embed = nn.Sequential(nn.Linear(32, dim))
        self.encoders = nn.ModuleList(nn.Linear(dim, dim) for _ in range(blocks))
        self.after_norm = nn.LayerNorm(dim)

    def forward(self, x, padding_mask=None):
        x = x.flatten(2) if self.video else x.view(x.shape[0], -1, 640)
        x = self.embed(self.frontend(x))
        for blk in self.encoders:
            x = x + torch.tanh(blk(x))
        return self.after_norm(x)


def official_keys():
    rows = [line.split("\t") for line in TSV.read_text().splitlines() if line.strip()]
    return {k: eval(shape) for k, shape in rows if k.startswith(("decoder.", "ctc."))}


@pytest.mark.skipif(not TSV.exists(), reason="reference state-dict listing not available")
def test_decoder_and_ctc_load_official_layout_strictly():
    keys = official_keys()
    assert len(keys) > 100
    g = torch.Generator().manual_seed(0)
    sd = {k: torch.randn(shape, generator=g) for k, shape in keys.items()}

    class Heads(nn.Module):
        def __init__(self):
            super().__init__()
            self.decoder = TransformerDecoder(1049, 512, 8, 2048, 6)
            self.ctc = CTCHead(512, 1049)

    m = Heads()
    m.load_state_dict(sd, strict=True)
    assert torch.equal(m.decoder.output_layer.weight, sd["decoder.output_layer.weight"])
    # the full objective exposes the same names (plus encoder.*), and no proj_decoder at equal widths
    obj = SpeechRecognitionObjective(DummyBlockEncoder(512, 1), "video", 512, 1049)
    head_keys = {k for k in obj.state_dict() if not k.startswith("encoder.")}
    assert head_keys == set(keys)
    obj2 = SpeechRecognitionObjective(DummyBlockEncoder(512, 1), "video", 512, 1049,
                                      SpeechHeadConfig(ddim=256, dunits=2048))
    assert "proj_decoder.weight" in obj2.state_dict()


def test_tokenizer_round_trip_and_layout():
    texts = ["the quick brown fox jumps over the lazy dog", "hello world", "speech recognition from lips",
             "a small synthetic corpus", "the dog sleeps"] * 4
    tok = Tokenizer.train(texts, vocab_size=40)
    assert tok.blank == 0 and tok.sos == tok.eos == tok.vocab_size - 1 == tok.n_pieces + 1
    for t in texts[:5]:
        ids = tok.encode(t)
        assert ids and min(ids) >= 1 and max(ids) <= tok.vocab_size - 2
        assert tok.decode(ids) == t
        assert tok.decode([0] + ids + [tok.eos]) == t  # blank/eos ignored
    assert tok.decode(tok.encode("  The   DOG  ")) == "the dog"
    tok2 = Tokenizer(tok.model_proto)
    assert tok2.encode("hello world") == tok.encode("hello world")


def test_layerwise_decay_groups():
    enc = DummyBlockEncoder(16, blocks=4)
    groups = layerwise_groups(enc, lr=1e-3, decay=0.5, weight_decay=0.1)
    lr = {g["name"]: g["lr"] for g in groups}
    for i in range(4):
        assert lr[f"encoder.block{i:02d}"] == pytest.approx(1e-3 * 0.5 ** (3 - i))
    assert lr["encoder.stem"] == pytest.approx(1e-3 * 0.5**3)
    assert lr["encoder.top"] == pytest.approx(1e-3)
    n_params = sum(len(g["params"]) for g in groups)
    assert n_params == len(list(enc.parameters()))
    ids = {id(p) for g in groups for p in g["params"]}
    assert id(enc.frontend.weight) in {id(p) for p in next(g for g in groups if g["name"] == "encoder.stem")["params"]}
    assert len(ids) == n_params
    # an encoder without blocks (Shukla CNN+GRU) gets the base lr for everything
    flat = layerwise_groups(nn.GRU(4, 4), lr=1e-3, decay=0.5, weight_decay=0.0)
    assert [g["lr"] for g in flat] == [1e-3]
    # objective: one optimiser dict; head group at its own lr; torch accepts it
    obj = SpeechRecognitionObjective(enc, "video", 16, 20, SpeechHeadConfig(ddim=16, dheads=2, dunits=32, dlayers=1))
    (opt,) = obj.param_groups()
    assert {g["name"]: g["lr"] for g in opt["params"]}["head"] == 5e-3
    assert sum(len(g["params"]) for g in opt["params"]) == len(list(obj.parameters()))
    torch.optim.AdamW(opt["params"], lr=opt["lr"], betas=opt["betas"], weight_decay=opt["weight_decay"])


def test_checkpoint_averaging():
    sds = [{"w": torch.full((2, 2), float(i)), "n": torch.tensor(i), "h": torch.tensor([i], dtype=torch.float16)}
           for i in range(1, 5)]
    avg = average_state_dicts(sds[-3:])
    assert torch.allclose(avg["w"], torch.full((2, 2), 3.0))
    assert avg["n"].item() == 4 and avg["h"].dtype == torch.float16 and avg["h"].item() == 3.0
    m1, m2 = nn.Linear(3, 2), nn.Linear(3, 2)
    avg = average_state_dicts([m1.state_dict(), m2.state_dict()])
    assert torch.allclose(avg["weight"], (m1.weight + m2.weight) / 2)
    assert last_k([f"epoch{i:03d}.pt" for i in range(12)], 10)[0] == "epoch002.pt"
    with pytest.raises(ValueError):
        average_state_dicts([{"a": torch.zeros(1)}, {"b": torch.zeros(1)}])


def test_time_mask_bounds():
    g = torch.Generator().manual_seed(0)
    x = torch.ones(3, 100, 4, 4)
    valid = torch.tensor([100, 50, 10])
    for _ in range(20):
        y = time_mask(x, valid, max_len=10, stride=25, generator=g)
        masked = (y[:, :, 0, 0] == 0)
        assert masked[0].sum() <= 4 * 9 and masked[1].sum() <= 2 * 9 and masked[2].sum() <= 9
        assert not masked[1, 50:].any() and not masked[2, 10:].any()
    assert torch.equal(x, torch.ones(3, 100, 4, 4))  # input untouched


def test_label_smoothing_loss_matches_manual():
    logits = torch.randn(2, 3, 5)
    target = torch.tensor([[1, 2, -1], [0, 4, 3]])
    eps = 0.1
    lp = logits.log_softmax(-1)
    manual = 0.0
    for b in range(2):
        for t in range(3):
            if target[b, t] < 0:
                continue
            q = torch.full((5,), eps / 4)
            q[target[b, t]] = 1 - eps
            manual += (q * (q.log() - lp[b, t])).sum()
    assert label_smoothing_loss(logits, target, eps).item() == pytest.approx(manual.item() / 2, rel=1e-5)


def test_decoder_targets_equal_the_per_row_lists():
    """The tensor-built targets are exactly what the per-row lists give (-1 anywhere dropped, empty rows kept)."""
    sos = eos = 11
    tokens = torch.tensor([[3, 4, -1, -1], [-1, -1, -1, -1], [5, -1, 6, 7], [1, 2, 3, 4]])
    ys = [[int(t) for t in row if int(t) != IGNORE] for row in tokens]
    got = DecoderTargets.from_padded(tokens, sos, eos)
    want = {"flat": torch.tensor([t for y in ys for t in y]), "lengths": torch.tensor([len(y) for y in ys]),
            "ys_in": pad_tokens([[sos] + y for y in ys], eos), "ys_out": pad_tokens([y + [eos] for y in ys], IGNORE),
            "in_pad": pad_tokens([[0] * (len(y) + 1) for y in ys], 1).bool()}  # fmt: skip
    for name, ref in want.items():
        t = getattr(got, name)
        assert t.dtype == ref.dtype and torch.equal(t, ref), name
    assert got.ys_in.shape == (4, 5) and DecoderTargets.from_padded(tokens[:0], sos, eos).ys_in.shape == (0, 1)


def test_decoder_constants_built_while_decoding_serve_training():
    """The cached positions table and masks are ordinary tensors even when first built under inference mode."""
    torch.manual_seed(0)
    dec = TransformerDecoder(9, 16, 2, 32, 1, dropout=0.0)
    tokens, memory = torch.tensor([[8, 1, 2, 3, 4, 5, 6]]), torch.randn(1, 5, 16)
    with torch.inference_mode():
        first = dec(tokens, memory)
    out = dec(tokens, memory, token_padding_mask=torch.zeros(1, 7, dtype=torch.bool))
    out.sum().backward()  # would raise if a cached constant were an inference tensor saved for backward
    assert torch.equal(out.detach(), first) and dec.output_layer.weight.grad is not None


def test_joint_loss_finite_and_decreasing():
    torch.manual_seed(0)
    enc = DummyBlockEncoder(32, blocks=2, video=False)
    obj = SpeechRecognitionObjective(enc, "audio", 32, 12,
                                     SpeechHeadConfig(ddim=32, dheads=2, dunits=64, dlayers=1, dropout=0.0))
    # toy task: each "word" k is a fixed random waveform pattern; labels = the word sequence
    pats = torch.randn(10, 640 * 3)
    seqs = [[1, 2, 3], [4, 5], [6, 7, 8, 9], [2, 2, 5]]
    T = 12
    audio = torch.zeros(len(seqs), T * 640)
    for b, s in enumerate(seqs):
        for j, k in enumerate(s):
            audio[b, j * 1920 : (j + 1) * 1920] = pats[k]
    lengths = torch.tensor([len(s) * 3 + 1 for s in seqs])
    pm = torch.arange(T)[None] >= lengths[:, None]
    tokens = torch.full((4, 4), -1)
    for b, s in enumerate(seqs):
        tokens[b, : len(s)] = torch.tensor(s)
    batch = {"audio": audio, "lengths": lengths, "padding_mask": pm, "tokens": tokens}
    (opt_spec,) = obj.param_groups()
    opt = torch.optim.AdamW(opt_spec["params"], lr=1e-3)
    obj.train()
    losses = []
    for _ in range(60):
        out = obj(batch)
        assert torch.isfinite(out["loss"]) and set(out) >= {"loss", "loss_ctc", "loss_att", "acc"}
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        losses.append(out["loss"].item())
    assert losses[-1] < 0.5 * losses[0]
    assert obj.encoders() == {"audio": enc} and obj.on_step_end(1, 10) == {}


def test_vsr_objective_end_to_end_with_tokenizer():
    torch.manual_seed(0)
    tok = Tokenizer.train(["lips move", "read my lips", "move on"] * 3, vocab_size=16)
    obj = SpeechRecognitionObjective(DummyBlockEncoder(16, 2, video=True), "video", 16, tok.vocab_size,
                                     SpeechHeadConfig(ddim=24, dheads=2, dunits=32, dlayers=1), tokenizer=tok)
    assert "proj_decoder.weight" in obj.state_dict()  # widths differ -> projection, as in the official code
    T = 30
    lengths = torch.tensor([30, 20])
    batch = {"video": torch.randn(2, T, 88, 88), "lengths": lengths,
             "padding_mask": torch.arange(T)[None] >= lengths[:, None], "text": ["read my lips", "move on"]}
    obj.train()
    out = obj(batch)
    assert torch.isfinite(out["loss"])
    out["loss"].backward()
    obj.eval()
    g = obj.predict(batch, mode="greedy_ctc")
    b = obj.predict(batch, mode="beam")
    assert len(g["text"]) == len(b["text"]) == 2
    assert all(0 < t < tok.vocab_size - 1 for h in b["tokens"] for t in h)
    assert _schemas_ok()


def _schemas_ok():
    from avssl.config.finetune import EvaluateParams, FinetuneParams

    return bool(EvaluateParams.model_json_schema()) and bool(FinetuneParams.model_json_schema())
