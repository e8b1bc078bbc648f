"""Vocabulary of the synthetic corpus and sentence construction.

Words come in viseme-ambiguous groups first (pat/bat/mat look identical on the lips and differ only in
voicing or nasality), so that lip reading is genuinely harder than listening for some pairs, as in LRW.
The remaining words are visually distinct fillers (rounded, spread, open vowels).
"""

from __future__ import annotations

import numpy as np

# Groups of words that share (nearly) the same viseme sequence.
VISEME_GROUPS: tuple[tuple[str, ...], ...] = (
    ("pat", "bat", "mat"),
    ("pie", "buy", "my"),
    ("fan", "van"),
    ("fine", "vine"),
    ("tip", "dip", "nip"),
    ("ten", "den"),
    ("sue", "zoo"),
    ("cap", "gap"),
    ("coat", "goat"),
    ("choke", "joke"),
    ("sip", "zip"),
    ("pear", "bear"),
)
DISTINCT_WORDS: tuple[str, ...] = (
    "water", "yellow", "window", "three", "thumb", "orange", "house", "ring", "apple", "shoe",
    "moon", "cheese", "happy", "river", "music", "garden", "seven", "wheel", "light", "open",
)  # fmt: skip
VOCABULARY: tuple[str, ...] = tuple(w for g in VISEME_GROUPS for w in g) + DISTINCT_WORDS
FUNCTION_WORDS: tuple[str, ...] = ("the", "a", "and", "my", "is", "on", "with", "to")


def vocabulary(size: int) -> list[str]:
    """The first ``size`` words (all viseme groups come first)."""
    if not 1 <= size <= len(VOCABULARY):
        raise ValueError(f"vocabulary size must be in 1..{len(VOCABULARY)}")
    return list(VOCABULARY[:size])


def viseme_group(word: str) -> int:
    """Index of the word's viseme-ambiguous group, or -1 for a visually distinct word."""
    for i, group in enumerate(VISEME_GROUPS):
        if word in group:
            return i
    return -1


def make_sentence(words: list[str], n_words: int, rng: np.random.Generator) -> list[str]:
    """``n_words`` content words with occasional function words in between (reads like a phrase)."""
    content = [words[i] for i in rng.integers(0, len(words), n_words)]
    out: list[str] = []
    for i, w in enumerate(content):
        if i > 0 and rng.random() < 0.35:
            out.append(FUNCTION_WORDS[int(rng.integers(0, len(FUNCTION_WORDS)))])
        out.append(w)
    return out
