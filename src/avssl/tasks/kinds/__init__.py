"""Task kinds: what a task DOES (head, loss, targets, decoding, scoring), one class per kind.

A :class:`~avssl.registry.tasks.Task` names its kind; :func:`kind_of` is the one place that name is looked up.
A new kind: one module here implementing :class:`~avssl.tasks.kinds.base.TaskKind`, plus one line in ``KINDS``.
"""

from __future__ import annotations

from avssl.registry.tasks import get
from avssl.tasks.kinds.base import TaskKind
from avssl.tasks.kinds.classification import Classification
from avssl.tasks.kinds.recognition import Recognition
from avssl.tasks.kinds.regression import Regression

KINDS: dict[str, TaskKind] = {"classification": Classification(), "regression": Regression(),
                              "recognition": Recognition()}  # fmt: skip


def kind_of(task: str) -> TaskKind:
    """The behaviour of registered task ``task``."""
    spec = get(task)
    try:
        return KINDS[spec.kind]
    except KeyError:
        raise ValueError(f"task {task!r}: unknown kind {spec.kind!r}; known: {', '.join(KINDS)}") from None
