"""Synthesise one clip: speech with per-word affect prosody, synchronised talking face, labels.

Runs inside a worker process; everything random comes from the clip's own seed, and eSpeak NG starts
from a fresh state for every clip, so each clip's files depend only on (params, seed, clip id).
"""

from __future__ import annotations

import html
import math
from functools import lru_cache
from pathlib import Path

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
        _ssml(tokens, mods), spec.speaker.voice, int(round(pros.rate * rate_scale)), pros.volume, pros.pitch,
        pros.pitch_range, ssml=True, seed=spec.seed,
    )  # fmt: skip
    return audio.resample_22k_to_16k(raw), events, a_w, v_w


def make_clip(spec: ClipSpec, sp, out_dir: Path, config_hash: str = "") -> dict:
    """Write ``<clip_id>.mp4/.wav/.npz`` into ``out_dir`` and return the metadata row."""
    rng = np.random.default_rng(spec.seed)
    spk = spec.speaker
    strength = sp.emotion_strength * (rng.uniform(0.6, 1.2) if spec.emotion != "neutral" else 0.0)
    pros = emotion.clip_prosody(
        spec.emotion, strength, spk.pitch_offset, spk.rate_factor, spk.range_offset, sp.prosody_jitter, rng
    )
    am, vm = emotion.AFFECT_MEANS[spec.emotion]
    mean = (float(np.clip(am * min(1.0, max(strength, 0.3)) + rng.normal(0, 0.08), -1, 1)),
            float(np.clip(vm * min(1.0, max(strength, 0.3)) + rng.normal(0, 0.08), -1, 1)))  # fmt: skip
    words = vocab.vocabulary(sp.vocabulary_size)

    # --- speech, fitted to the clip length
    if spec.kind == "word":
        tokens = [spec.word]
        n_frames = WORD_FRAMES
        speech_rng_state = rng.bit_generator.state
        for attempt in range(4):
            rng.bit_generator.state = speech_rng_state
            speech, events, a_w, v_w = _speak(tokens, mean, spec, sp, pros, rng, 1.2**attempt)
            s0, s1 = audio.speech_bounds(speech)
            if s1 - s0 <= n_frames * audio.SAMPLES_PER_FRAME - 3200:
                break
    else:
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
    n_samples = n_frames * audio.SAMPLES_PER_FRAME
    seg = speech[s0:s1]
    slack = n_samples - len(seg)
    if spec.kind == "word":
        start = max(0, slack // 2 + int(rng.uniform(-0.3, 0.3) * max(slack, 0) / 2))
    else:
        start = max(0, min(lead, slack // 2))
    wav = audio.place(seg, n_samples, start, sp.noise_floor_db, rng)
    shift = (start - s0) / audio.SR  # seconds: eSpeak time (16 kHz) -> clip time
    to_s = 1.0 / 22050

    phonemes = [(e.name, e.sample * to_s + shift) for e in events if e.kind == "phoneme"]
    word_starts = [e.sample * to_s + shift for e in events if e.kind == "word"]
    speech_end = s1 / audio.SR + shift - 0.01
    visemes_, classes = visemes.viseme_track(phonemes, speech_end, n_frames, FPS, sp.av_offset_ms / 1000)

    # --- affect traces at the words' actual positions
    if len(word_starts) != len(tokens):
        word_starts = list(np.linspace(start / audio.SR, speech_end, len(tokens), endpoint=False))
    word_ends = word_starts[1:] + [speech_end]
    centres = np.array([0.5 * (a + b) for a, b in zip(word_starts, word_ends)])
    if spec.kind == "word":  # a slight drift across the clip
        drift = rng.normal(0, 0.3 * sp.affect_variability, 2)
        dur = n_frames / FPS
        centres = np.array([0.0, centres[0], dur])
        a_w = np.clip([a_w[0] + drift[0], a_w[0], a_w[0] - drift[0]], -1, 1)
        v_w = np.clip([v_w[0] + drift[1], v_w[0], v_w[0] - drift[1]], -1, 1)
    arousal = affect.frame_trace(np.asarray(a_w), centres, n_frames, FPS)
    valence = affect.frame_trace(np.asarray(v_w), centres, n_frames, FPS)

    # --- video
    pose = motion.head_motion(n_frames, sp.head_motion, rng)
    face_box, mouth_centre = _render_video(spec, sp, strength, visemes_, pose, out_dir / f"{spec.clip_id}.mp4")

    import soundfile as sf

    from avssl.data.synth.fileio import atomic_path, save_npz

    with atomic_path(out_dir / f"{spec.clip_id}.wav") as tmp:
        sf.write(tmp, audio.to_pcm16(wav), audio.SR, subtype="PCM_16", format="WAV")

    text = " ".join(tokens)
    row = {
        "clip_id": spec.clip_id,
        "speaker": spk.speaker,
        "split": spk.split,
        "kind": spec.kind,
        "text": text,
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
        "speech_end_s": round(min(n_samples, start + len(seg)) / audio.SR, 4),
        "n_words": len(tokens),
        "viseme_group": vocab.viseme_group(spec.word) if spec.word else -1,
        "clip_seed": str(spec.seed),
    }
    assert tuple(row) == COLUMNS
    meta = {
        "config_hash": config_hash,
        "row": row,
        "words": [[t, round(a, 4), round(b, 4)] for t, a, b in zip(tokens, word_starts, word_ends)],
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
