"""ProcessedDataset on hand-written shards + the crop/flip helpers (fast: no video decoding)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from avssl.data.processed import ProcessedDataset  # noqa: E402
from tests.conftest import modules_imported_by  # noqa: E402


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    from bench_loader import fake_processed

    root = tmp_path_factory.mktemp("proc")
    fake_processed(root, n_clips=5, frames=7, per_shard=2)
    return root


def test_dataset_shapes_and_index(processed):
    ds = ProcessedDataset(processed)
    assert len(ds) == 5 and ds.ids() == [f"c{i:04d}" for i in range(5)] and ds.ids("val") == []
    item = ds["c0003"]
    assert item["video"].shape == (7, 96, 96) and item["video"].dtype == np.uint8
    assert item["face"].shape == (7, 64, 64) and item["audio"].shape == (7 * 640,)
    assert item["audio"].dtype == np.float32 and item["meta"]["shard"] == "shard-00001"
    assert item["meta"]["frame_offset"] == 7 and ds.index[3]["clip_id"] == "c0003"
    # clips do not overlap inside a shard
    assert not np.array_equal(ds["c0002"]["video"], ds["c0003"]["video"])
    assert ds.annotations("c0003") == {}
    assert [x["meta"]["clip_id"] for x in ds] == ds.ids()
    with pytest.raises(KeyError):
        ds["nope"]


def test_missing_dir_is_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="avssl preprocess"):
        ProcessedDataset(tmp_path)


def test_public_short_path_is_the_same_class():
    """The package docstring advertises ``avssl.data.ProcessedDataset``: users import it from there."""
    import avssl.data
    from avssl.data import ProcessedDataset as short

    assert avssl.data.ProcessedDataset is ProcessedDataset and short is ProcessedDataset
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        avssl.data.Nope  # noqa: B018


def test_the_short_path_is_lazy():
    """Importing avssl.data (every data module does) must not load numpy or torch until the class is asked for."""
    assert modules_imported_by("import avssl.data", ("numpy", "torch")) == []
    assert modules_imported_by("from avssl.data import ProcessedDataset", ("numpy",)) == ["numpy"]
