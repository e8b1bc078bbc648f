"""SentencePiece unigram tokenizer with the RAVEn/ESPnet vocabulary layout.

Layout: id 0 = CTC blank, ids 1..P = the P SentencePiece pieces (SentencePiece's own id + 1, piece 0 being
``<unk>``), id V-1 = P+1 = <sos> = <eos>. So V = P + 2 (LRS3's unigram1000 model has 1047 pieces -> V = 1049).
Why trained on the training transcripts only: the vocabulary is part of the model, and must not leak test text.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Iterable, Sequence


def normalise_text(text: str) -> str:
    """Lower-case, single spaces: transcripts from different corpora differ only in casing/spacing."""
    return " ".join(str(text).lower().split())


class Tokenizer:
    blank = 0

    def __init__(self, model: bytes | str | Path):
        import sentencepiece as spm

        proto = Path(model).read_bytes() if isinstance(model, (str, Path)) else bytes(model)
        self.model_proto = proto
        self.sp = spm.SentencePieceProcessor(model_proto=proto)
        self.n_pieces = self.sp.get_piece_size()
        self.vocab_size = self.n_pieces + 2
        self.sos = self.eos = self.vocab_size - 1

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int, model_type: str = "unigram") -> "Tokenizer":
        """Train on ``texts``; ``vocab_size`` = number of SentencePiece pieces (soft limit, so tiny corpora
        work: the model may end up with fewer pieces). Single-threaded, so the result is deterministic."""
        import sentencepiece as spm

        sentences = [normalise_text(t) for t in texts if str(t).strip()]
        if not sentences:
            raise ValueError("no training transcripts")
        buf = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences), model_writer=buf, vocab_size=vocab_size, model_type=model_type,
            character_coverage=1.0, unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1, hard_vocab_limit=False,
            num_threads=1, minloglevel=2,
        )
        return cls(buf.getvalue())

    def save(self, path: str | Path) -> None:
        Path(path).write_bytes(self.model_proto)

    def encode(self, text: str) -> list[int]:
        return [i + 1 for i in self.sp.encode(normalise_text(text))]

    def decode(self, ids: Sequence[int]) -> str:
        """Drops blank / sos / eos and anything out of range."""
        pieces = [int(i) - 1 for i in ids if 0 < int(i) < self.vocab_size - 1]
        return self.sp.decode(pieces)
