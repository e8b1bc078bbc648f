"""Data: the embedded synthetic corpus (synth/), real-corpus adapters (datasets/, acquire/) and the shards.

``avssl.data.ProcessedDataset`` (the shards written by ``avssl preprocess``) is exported here lazily, so
importing a sibling module does not pay for numpy.
"""


def __getattr__(name):
    if name == "ProcessedDataset":
        from avssl.data.processed import ProcessedDataset

        return ProcessedDataset
    raise AttributeError(f"module 'avssl.data' has no attribute {name!r}")


__all__ = ["ProcessedDataset"]
