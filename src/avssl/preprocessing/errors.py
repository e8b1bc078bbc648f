"""Errors of the preprocess stage: a clip-level reject (recorded, never fatal) and a stage failure."""


class PreprocessError(RuntimeError):
    """The stage cannot finish correctly (e.g. reject rate above the threshold, inconsistent output dir)."""


class ClipRejected(Exception):
    """One clip cannot be used. `reason` is a short stable key (counted in metrics), `detail` is for people."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
