"""The corpus plan: which clips exist, for which speaker, word/sentence and emotion, with what seed.

The plan is computed from (params, seed) alone, before any synthesis; each clip's random stream is
derived from (seed, clip_id), so the output never depends on thread count, order or resumption.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from avssl.data.synth.emotion import EMOTIONS
from avssl.data.synth.speakers import Speaker, make_speakers
from avssl.data.synth.vocab import vocabulary


@dataclass(frozen=True)
class ClipSpec:
    clip_id: str
    speaker: Speaker
    kind: str  # "word" | "sentence"
    word: str  # the word for word clips, "" for sentences
    emotion: str
    seed: int


def clip_seed(seed: int, clip_id: str) -> int:
    """A 63-bit seed from (study seed, clip id) that is stable across Python versions and platforms."""
    digest = hashlib.sha256(f"avssl-synth:{seed}:{clip_id}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def balanced(items, n: int, rng: np.random.Generator) -> list:
    """``n`` items cycling through ``items`` (as balanced as possible), in seeded random order."""
    reps = [items[i % len(items)] for i in range(n)]
    return [reps[i] for i in rng.permutation(n)]


def make_plan(sp, seed: int) -> tuple[list[Speaker], list[ClipSpec]]:
    """Speakers and clip specs for the `synth` params section ``sp`` and the study seed."""
    speakers = make_speakers(sp.n_speakers, sp.n_val_speakers, sp.n_test_speakers, seed)
    words = vocabulary(sp.vocabulary_size)
    clips: list[ClipSpec] = []
    for spk in speakers:
        rng = np.random.default_rng([seed, 0xC11B, spk.index])
        word_list = balanced(words, sp.words_per_speaker, rng)
        emo_words = balanced(EMOTIONS, sp.words_per_speaker, rng)
        emo_sent = balanced(EMOTIONS, sp.sentences_per_speaker, rng)
        for k, (w, e) in enumerate(zip(word_list, emo_words)):
            cid = f"{spk.speaker}_w{k:04d}"
            clips.append(ClipSpec(cid, spk, "word", w, e, clip_seed(seed, cid)))
        for k, e in enumerate(emo_sent):
            cid = f"{spk.speaker}_s{k:04d}"
            clips.append(ClipSpec(cid, spk, "sentence", "", e, clip_seed(seed, cid)))
    return speakers, clips
