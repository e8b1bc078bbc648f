"""Dataset name -> adapter module, from the one registry in :mod:`avssl.registry.datasets`.

Adding a corpus = one adapter module here (``index(root, params)``) + one line in that registry; adapters are
imported on first use.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import ModuleType

from avssl.registry import datasets


class _Adapters(Mapping):
    """{name: adapter module} of every registered dataset, imported when looked up."""

    def __getitem__(self, name: str) -> ModuleType:
        if name not in datasets.dataset_names():
            raise KeyError(name)
        return datasets.get(name).load()

    def __iter__(self) -> Iterator[str]:
        return iter(datasets.dataset_names())

    def __len__(self) -> int:
        return len(datasets.DATASETS)


ADAPTERS: Mapping[str, ModuleType] = _Adapters()


def get_adapter(name: str) -> ModuleType:
    try:
        return ADAPTERS[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(sorted(ADAPTERS))}") from None
