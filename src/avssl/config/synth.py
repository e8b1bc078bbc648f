"""The `synth` section: the embedded eSpeak NG audio-visual corpus (owned by avssl.data.synth).

The defaults are the `default` preset (`make run`): 10 pseudo-speakers x (64 word + 12 sentence clips)
= 760 clips, about 21 minutes of audio-visual speech. The `tiny` preset used by the test suite overrides
n_speakers=5, n_val_speakers=1, n_test_speakers=1, words_per_speaker=20, sentences_per_speaker=4
(120 clips).
"""

from pydantic import Field, model_validator

from avssl.config.base import Section


class SynthParams(Section):
    n_speakers: int = Field(10, ge=3, le=64, description="Pseudo-speakers (voice x accent x pitch x face).")
    n_val_speakers: int = Field(2, ge=1, le=16, description="Speakers held out for validation (speaker-disjoint).")
    n_test_speakers: int = Field(2, ge=1, le=16, description="Speakers held out for testing (speaker-disjoint).")
    words_per_speaker: int = Field(
        64, ge=0, le=2000, description="Isolated-word clips per speaker (1.16 s = 29 frames each, LRW-like)."
    )
    sentences_per_speaker: int = Field(
        12, ge=0, le=500, description="Sentence clips per speaker (2-5 s each, with transcripts, LRS3-like)."
    )
    vocabulary_size: int = Field(
        40, ge=30, le=47, description="How many words of the built-in vocabulary (viseme-ambiguous groups first) to use."
    )
    sentence_min_words: int = Field(4, ge=2, le=12, description="Fewest vocabulary words in a sentence clip.")
    sentence_max_words: int = Field(8, ge=2, le=16, description="Most vocabulary words in a sentence clip.")
    sentence_min_seconds: float = Field(2.0, ge=1.0, le=10.0, description="Shortest sentence clip in seconds.")
    sentence_max_seconds: float = Field(5.0, ge=1.5, le=12.0, description="Longest sentence clip in seconds.")
    emotion_strength: float = Field(
        1.0, ge=0.0, le=2.0, description="Scale of the emotion prosody/expression offsets relative to neutral."
    )
    prosody_jitter: float = Field(
        1.0, ge=0.0, le=3.0, description="Scale of the random per-clip prosody jitter (class overlap)."
    )
    affect_variability: float = Field(
        0.25, ge=0.0, le=1.0, description="Std of the smooth arousal/valence deviations within a clip."
    )
    head_motion: float = Field(
        1.0, ge=0.0, le=3.0, description="Scale of the slow head motion (translation, scale, rotation)."
    )
    face_size: float = Field(
        0.5, ge=0.25, le=0.8, description="Mean face-box width as a fraction of the 224-pixel frame."
    )
    noise_floor_db: float = Field(
        -60.0, ge=-120.0, le=-20.0, description="Background noise level in dBFS (avoids digital silence)."
    )
    av_offset_ms: float = Field(
        0.0, ge=-200.0, le=200.0, description="Shift of the mouth track relative to the audio (positive = video late)."
    )
    montage_clips: int = Field(16, ge=1, le=64, description="Clips shown in montage.png.")

    @model_validator(mode="after")
    def _check(self) -> "SynthParams":
        if self.n_val_speakers + self.n_test_speakers > self.n_speakers - 1:
            raise ValueError(
                f"n_val_speakers + n_test_speakers = {self.n_val_speakers + self.n_test_speakers} leaves no "
                f"training speaker out of n_speakers = {self.n_speakers}"
            )
        if self.sentence_min_words > self.sentence_max_words:
            raise ValueError("sentence_min_words must be <= sentence_max_words")
        if self.sentence_min_seconds + 0.5 > self.sentence_max_seconds:
            raise ValueError("sentence_max_seconds must exceed sentence_min_seconds by at least 0.5 s")
        if self.words_per_speaker + self.sentences_per_speaker == 0:
            raise ValueError("words_per_speaker + sentences_per_speaker must be > 0")
        return self
