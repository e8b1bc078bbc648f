"""Synthesise one clip: speech with per-word affect prosody, synchronised talking face, labels.

Runs inside a worker process; everything random comes from the clip's own seed, and eSpeak NG starts
from a fresh state for every clip, so each clip's files depend only on (params, seed, clip id).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from avssl.data.synth import affect, audio, emotion, motion, visemes, vocab
from avssl.data.synth.plan import ClipSpec
from avssl.media import FPS

WORD_FRAMES = 29  # 1.16 s, as in LRW
FOURCC = "mp4v"  # deterministic here and read back by OpenCV; H.264 is not available
COLUMNS = (
    "clip_id", "speaker", "split", "kind", "text", "word", "emotion", "n_frames", "n_samples", "duration_s",
    "voice", "gender", "pitch", "pitch_range", "rate", "volume", "emotion_strength", "arousal_mean",
    "valence_mean", "speech_start_s", "speech_end_s", "n_words", "viseme_group", "clip_seed",
)  # metadata.csv columns, in order


@lru_cache(maxsize=64)
def _identity(speaker):
    from avssl.data.synth.face import build_identity

    return build_identity(speaker)


def _ssml(tokens: list[str], mods: list[dict[str, int]]) -> str:
    parts = []
    for tok, m in zip(tokens, mods):
        parts.append(
            f'<prosody rate="{m["rate"]}%" volume="{m["volume"]}%" pitch="{m["pitch"]:+d}%" '
            f'range="{m["range"]}%">{html.escape(tok)}</prosody>'
        )
    return "<speak>" + " ".join(parts) + "</speak>"


def _speak(tokens, mean, spec: ClipSpec, sp, pros, rng, rate_scale=1.0):
    """Synthesise ``tokens`` with per-word affect; returns 16 kHz speech, events, per-word a/v."""
    from avssl.data.synth.espeak import ESpeak

    a_w, v_w = affect.word_affect(len(tokens), mean, sp.affect_variability, rng)
    mods = [emotion.affect_modulation(a - mean[0], v - mean[1]) for a, v in zip(a_w, v_w)]
    raw, events = ESpeak.get().synth(
        _ssml(tokens, mods), spec.speaker.voice, rate=int(round(pros.rate * rate_scale)), volume=pros.volume,
        pitch=pros.pitch, pitch_range=pros.pitch_range, ssml=True, seed=spec.seed,
    )  # fmt: skip
    return audio.resample_22k_to_16k(raw), events, a_w, v_w


@dataclass
class _Speech:
    """A clip's speech as synthesised (16 kHz), with the clip length it was fitted to."""

    tokens: list[str]
    wave: np.ndarray
    events: list
    a_w: Any  # per-word arousal / valence the prosody was drawn from
    v_w: Any
    s0: int  # speech bounds in `wave` (samples)
    s1: int
    n_frames: int
    lead: int = 0  # sentences: samples of silence wanted before the speech

    @property
    def seg(self) -> np.ndarray:
        return self.wave[self.s0 : self.s1]

    @property
    def n_samples(self) -> int:
        return self.n_frames * audio.SAMPLES_PER_FRAME


def make_clip(spec: ClipSpec, sp, out_dir: Path, config_hash: str = "") -> dict:
    """Write ``<clip_id>.mp4/.wav/.npz`` into ``out_dir`` and return the metadata row.

    The steps draw from one generator in this order; changing it changes every clip.
    """
    rng = np.random.default_rng(spec.seed)
    strength, pros, mean = _clip_affect(spec, sp, rng)
    fit = _fit_word if spec.kind == "word" else _fit_sentence
    speech = fit(spec, sp, pros, mean, rng)
    start = _speech_start(spec, speech, rng)
    wav = audio.place(speech.seg, speech.n_samples, start, sp.noise_floor_db, rng)
    phonemes, word_starts, word_ends, speech_end = _timing(speech, start)
    visemes_, classes = visemes.viseme_track(phonemes, speech_end, speech.n_frames, FPS, sp.av_offset_ms / 1000)
    arousal, valence = _affect_traces(spec, sp, speech, word_starts, word_ends, rng)
    pose = motion.head_motion(speech.n_frames, sp.head_motion, rng)
    face_box, mouth_centre = _render_video(spec, sp, strength, visemes_, pose, out_dir / f"{spec.clip_id}.mp4")
    _write_wav(out_dir / f"{spec.clip_id}.wav", wav)

    from avssl.data.synth.fileio import save_npz

    row = _metadata_row(spec, pros, strength, speech, start, arousal, valence)
    meta = {
        "config_hash": config_hash,
        "row": row,
        "words": [[t, round(a, 4), round(b, 4)] for t, a, b in zip(speech.tokens, word_starts, word_ends)],
        "phonemes": [[n, round(s, 4)] for n, s in phonemes],
        "viseme_classes": list(visemes.VISEME_CLASSES),
    }
    arrays = {
        "arousal": arousal,
        "valence": valence,
        "face_box": face_box.astype(np.float32),
        "mouth_center": mouth_centre.astype(np.float32),
        "viseme": visemes_,
        "viseme_class": classes,
        "head_pose": pose,
    }
    save_npz(out_dir / f"{spec.clip_id}.npz", arrays, meta)  # last: marks the clip finished
    return row


def _clip_affect(spec: ClipSpec, sp, rng: np.random.Generator):
    """The clip's emotion strength, prosody and mean (arousal, valence)."""
    spk = spec.speaker
    strength = sp.emotion_strength * (rng.uniform(0.6, 1.2) if spec.emotion != "neutral" else 0.0)
    pros = emotion.clip_prosody(
        spec.emotion, strength, spk.pitch_offset, spk.rate_factor, spk.range_offset, sp.prosody_jitter, rng
    )
    am, vm = emotion.AFFECT_MEANS[spec.emotion]
    mean = (float(np.clip(am * min(1.0, max(strength, 0.3)) + rng.normal(0, 0.08), -1, 1)),
            float(np.clip(vm * min(1.0, max(strength, 0.3)) + rng.normal(0, 0.08), -1, 1)))  # fmt: skip
    return strength, pros, mean


def _fit_word(spec: ClipSpec, sp, pros, mean, rng: np.random.Generator) -> _Speech:
    """One word in WORD_FRAMES frames: speak faster (same draws) until it fits with 0.2 s to spare."""
    tokens = [spec.word]
    speech_rng_state = rng.bit_generator.state
    for attempt in range(4):
        rng.bit_generator.state = speech_rng_state
        speech, events, a_w, v_w = _speak(tokens, mean, spec, sp, pros, rng, 1.2**attempt)
        s0, s1 = audio.speech_bounds(speech)
        if s1 - s0 <= WORD_FRAMES * audio.SAMPLES_PER_FRAME - 3200:
            break
    return _Speech(tokens, speech, events, a_w, v_w, s0, s1, WORD_FRAMES)


def _fit_sentence(spec: ClipSpec, sp, pros, mean, rng: np.random.Generator) -> _Speech:
    """A random sentence, shortened or lengthened by a word until its duration is in range; clip length follows."""
    words = vocab.vocabulary(sp.vocabulary_size)
    n_words = int(rng.integers(sp.sentence_min_words, sp.sentence_max_words + 1))
    tokens = vocab.make_sentence(words, n_words, rng)
    max_len = (sp.sentence_max_seconds - 0.4) * audio.SR
    for attempt in range(12):
        speech, events, a_w, v_w = _speak(tokens, mean, spec, sp, pros, rng)
        s0, s1 = audio.speech_bounds(speech)
        if s1 - s0 > max_len and len(tokens) > 2:
            tokens = tokens[:-1]
        elif s1 - s0 < (sp.sentence_min_seconds - 0.5) * audio.SR:
            tokens = tokens + [words[int(rng.integers(0, len(words)))]]
        else:
            break
    lead = int(rng.uniform(0.15, 0.3) * audio.SR)
    tail = int(rng.uniform(0.15, 0.3) * audio.SR)
    n_frames = math.ceil((s1 - s0 + lead + tail) / audio.SAMPLES_PER_FRAME)
    n_frames = int(np.clip(n_frames, round(sp.sentence_min_seconds * FPS), round(sp.sentence_max_seconds * FPS)))
    return _Speech(tokens, speech, events, a_w, v_w, s0, s1, n_frames, lead)


def _speech_start(spec: ClipSpec, speech: _Speech, rng: np.random.Generator) -> int:
    """First sample of the speech in the clip: a word jittered around the centre, a sentence after its lead."""
    slack = speech.n_samples - len(speech.seg)
    if spec.kind == "word":
        return max(0, slack // 2 + int(rng.uniform(-0.3, 0.3) * max(slack, 0) / 2))
    return max(0, min(speech.lead, slack // 2))


def _timing(speech: _Speech, start: int):
    """Phoneme onsets, word starts/ends and speech end in clip seconds (from eSpeak's 22.05 kHz events)."""
    shift = (start - speech.s0) / audio.SR  # seconds: eSpeak time (16 kHz) -> clip time
    to_s = 1.0 / 22050
    phonemes = [(e.name, e.sample * to_s + shift) for e in speech.events if e.kind == "phoneme"]
    word_starts = [e.sample * to_s + shift for e in speech.events if e.kind == "word"]
    speech_end = speech.s1 / audio.SR + shift - 0.01
    if len(word_starts) != len(speech.tokens):
        word_starts = list(np.linspace(start / audio.SR, speech_end, len(speech.tokens), endpoint=False))
    word_ends = word_starts[1:] + [speech_end]
    return phonemes, word_starts, word_ends, speech_end


def _affect_traces(spec: ClipSpec, sp, speech: _Speech, word_starts, word_ends, rng: np.random.Generator):
    """Per-frame arousal and valence: the words' affect at their actual positions (a word: a slight drift)."""
    n_frames, a_w, v_w = speech.n_frames, speech.a_w, speech.v_w
    centres = np.array([0.5 * (a + b) for a, b in zip(word_starts, word_ends)])
    if spec.kind == "word":  # a slight drift across the clip
        drift = rng.normal(0, 0.3 * sp.affect_variability, 2)
        dur = n_frames / FPS
        centres = np.array([0.0, centres[0], dur])
        a_w = np.clip([a_w[0] + drift[0], a_w[0], a_w[0] - drift[0]], -1, 1)
        v_w = np.clip([v_w[0] + drift[1], v_w[0], v_w[0] - drift[1]], -1, 1)
    arousal = affect.frame_trace(np.asarray(a_w), centres, n_frames, FPS)
    valence = affect.frame_trace(np.asarray(v_w), centres, n_frames, FPS)
    return arousal, valence


def _write_wav(path: Path, wav: np.ndarray) -> None:
    import soundfile as sf

    from avssl.data.synth.fileio import atomic_path

    with atomic_path(path) as tmp:
        sf.write(tmp, audio.to_pcm16(wav), audio.SR, subtype="PCM_16", format="WAV")


def _metadata_row(spec: ClipSpec, pros, strength: float, speech: _Speech, start: int, arousal, valence) -> dict:
    """The clip's metadata.csv row (COLUMNS, in order)."""
    spk = spec.speaker
    n_frames, n_samples = speech.n_frames, speech.n_samples
    row = {
        "clip_id": spec.clip_id,
        "speaker": spk.speaker,
        "split": spk.split,
        "kind": spec.kind,
        "text": " ".join(speech.tokens),
        "word": spec.word,
        "emotion": spec.emotion,
        "n_frames": n_frames,
        "n_samples": n_samples,
        "duration_s": round(n_frames / FPS, 3),
        "voice": spk.voice,
        "gender": spk.gender,
        "pitch": pros.pitch,
        "pitch_range": pros.pitch_range,
        "rate": pros.rate,
        "volume": pros.volume,
        "emotion_strength": round(float(strength), 4),
        "arousal_mean": round(float(arousal.mean()), 4),
        "valence_mean": round(float(valence.mean()), 4),
        "speech_start_s": round(start / audio.SR, 4),
        "speech_end_s": round(min(n_samples, start + len(speech.seg)) / audio.SR, 4),
        "n_words": len(speech.tokens),
        "viseme_group": vocab.viseme_group(spec.word) if spec.word else -1,
        "clip_seed": str(spec.seed),
    }
    assert tuple(row) == COLUMNS
    return row


def _render_video(spec: ClipSpec, sp, strength: float, vis: np.ndarray, pose: np.ndarray, path: Path):
    """Render and write the frames; returns per-frame face boxes and mouth centres (frame pixels)."""
    import cv2

    from avssl.data.synth.face import Identity
    from avssl.data.synth.fileio import atomic_path
    from avssl.data.synth.mouth import MouthWarper

    spk = spec.speaker
    ident: Identity = _identity(spk)
    expr = tuple(strength * v for v in emotion.EXPRESSIONS[spec.emotion])
    warper = MouthWarper(ident, expr)  # type: ignore[arg-type]
    canvas = ident.image.copy()
    base_scale = sp.face_size * motion.FRAME / ident.face_box[2] * spk.face_scale
    fx, fy, fw, fh = ident.face_box
    corners = np.array([[fx, fy], [fx + fw, fy], [fx, fy + fh], [fx + fw, fy + fh]])
    centre = (fx + fw / 2, fy + fh / 2)
    n = len(vis)
    boxes, mouths = np.zeros((n, 4)), np.zeros((n, 2))
    with atomic_path(path) as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*FOURCC), FPS, (motion.FRAME, motion.FRAME))
        if not writer.isOpened():
            raise RuntimeError(f"OpenCV cannot write {FOURCC} video to {tmp}")
        for t in range(n):
            o, r, s = (float(v) for v in vis[t])
            warper.apply(canvas, o, r, s)
            A = motion.frame_affine(centre, base_scale, bool(spk.mirror), spk.face_rotation, pose[t])
            frame = cv2.warpAffine(
                canvas, A, (motion.FRAME, motion.FRAME), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
            )
            writer.write(frame)
            boxes[t] = motion.box_of(motion.transform(corners, A))
            mouths[t] = motion.transform(np.array([warper.mouth_centre(o)]), A)[0]
        writer.release()
    return boxes, mouths
