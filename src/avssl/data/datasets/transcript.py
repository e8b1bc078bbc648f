"""Parser of the LRS-family ``.txt`` files (LRS3 and LRW share the ``Key:  value`` header format).

LRS3::

    Text:  SO I THINK
    Conf:  4
    Ref:   https://www.youtube.com/watch?v=...

    WORD START END ASDSCORE
    SO 0.27 0.42 2.3

LRW::

    Text:  ABOUT
    Conf:  6
    Duration: 0.330000 seconds
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


class TranscriptError(ValueError):
    """A transcript file that cannot be parsed (the reason ends up in problems.csv)."""


@dataclass
class Word:
    word: str
    start: float
    end: float


@dataclass
class Transcript:
    text: str
    header: dict[str, str] = field(default_factory=dict)
    words: list[Word] = field(default_factory=list)


def parse_transcript(path: Path) -> Transcript:
    """Header fields (``Text`` required) and the optional word-timing table."""
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise TranscriptError(f"unreadable transcript: {exc}") from exc
    header: dict[str, str] = {}
    words: list[Word] = []
    in_table = False
    for n, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped:
            continue
        if in_table:
            parts = stripped.split()
            if len(parts) < 3:
                raise TranscriptError(f"line {n}: word timing needs WORD START END, got {stripped!r}")
            try:
                start, end = float(parts[1]), float(parts[2])
            except ValueError as exc:
                raise TranscriptError(f"line {n}: non-numeric timing in {stripped!r}") from exc
            if end < start:
                raise TranscriptError(f"line {n}: word ends before it starts: {stripped!r}")
            words.append(Word(parts[0], start, end))
        elif stripped.split()[:2] == ["WORD", "START"]:
            in_table = True
        elif ":" in stripped:
            key, value = stripped.split(":", 1)
            header[key.strip()] = value.strip()
    if "Text" not in header:
        raise TranscriptError("no 'Text:' line")
    return Transcript(text=" ".join(header["Text"].split()), header=header, words=words)
