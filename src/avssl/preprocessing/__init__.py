"""Stage `preprocess`: folders of <id>.mp4 + <id>.wav -> mouth ROIs, face crops, audio in a few shards.

Importing this package is cheap: cv2/numpy are only loaded by the submodules the stage uses.
"""

from avssl.preprocessing.errors import ClipRejected, PreprocessError

__all__ = ["ClipRejected", "PreprocessError", "merge_shards", "run_preprocess"]


def __getattr__(name: str):
    if name == "run_preprocess":
        from avssl.preprocessing.stage import run_preprocess

        return run_preprocess
    if name == "merge_shards":
        from avssl.preprocessing.merge import merge_shards

        return merge_shards
    raise AttributeError(name)
