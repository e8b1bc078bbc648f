"""Cutting long utterances into segments of bounded duration at word boundaries.

RAVEn (after auto-AVSR) splits LRS3 ``pretrain`` utterances longer than 16 s so that every training sample
fits the frame-count batches; cutting between words keeps each segment's transcript exact.
"""

from __future__ import annotations

from dataclasses import dataclass

from avssl.data.datasets.transcript import Word


@dataclass
class Segment:
    start: float
    end: float
    words: list[Word]

    @property
    def text(self) -> str:
        return " ".join(w.word for w in self.words)


def split_words(words: list[Word], max_seconds: float) -> list[Segment]:
    """Greedy: extend the current segment while (last word end - first word start) <= max_seconds.

    A single word longer than ``max_seconds`` (an alignment error) raises ``ValueError``: it cannot be
    placed in any segment and must be reported, not silently kept over-long.
    """
    segments: list[Segment] = []
    current: list[Word] = []
    for w in words:
        if w.end - w.start > max_seconds:
            raise ValueError(f"word {w.word!r} lasts {w.end - w.start:.2f} s > {max_seconds} s")
        if current and w.end - current[0].start > max_seconds:
            segments.append(Segment(current[0].start, current[-1].end, current))
            current = []
        current.append(w)
    if current:
        segments.append(Segment(current[0].start, current[-1].end, current))
    return segments
