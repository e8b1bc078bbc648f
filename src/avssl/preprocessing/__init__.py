"""Stage `preprocess`: folders of <id>.mp4 + <id>.wav, or a real dataset's clip index (index_input.py) -> mouth
ROIs, face crops, audio in a few shards.

Importing this package is cheap: cv2/numpy are only loaded by the submodules the stage uses.
"""

from avssl.preprocessing.errors import ClipRejected, PreprocessError

__all__ = ["ClipRejected", "PreprocessError", "merge_parts", "merge_shards", "run_preprocess"]


def __getattr__(name: str):
    if name == "run_preprocess":
        from avssl.preprocessing.stage import run_preprocess

        return run_preprocess
    if name in ("merge_shards", "merge_parts"):
        from avssl.preprocessing import merge

        return getattr(merge, name)
    raise AttributeError(name)
