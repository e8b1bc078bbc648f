"""A params view that lets a job read exactly the params it declares, and records what it read.

Snakemake's params trigger and DVC's `params:` re-run a job when a value it *declares* changes
(avssl.stages.job_params). That is only true if the job cannot read anything else: every stage function
therefore receives a :class:`ParamsView` of the validated :class:`~avssl.config.Params` instead of the model.
Reading a leaf under a declared dotted key (a section such as ``raven`` or a leaf such as ``train.device``)
returns the value and records the leaf; reading any other leaf raises :class:`UndeclaredParam`, naming the
stage and the key (reaching a section is not a read: ``s = params.shukla`` is fine until a leaf of it is
used). Sub-sections come back as views, so the check follows the value wherever it is passed. Serialising
the whole params for tracking (MLflow params, params.resolved.json) uses the model itself and is not a read.
"""

from __future__ import annotations

from typing import Any, Iterable

from pydantic import BaseModel


class UndeclaredParam(Exception):
    """A job read a param its stage does not declare (a bug in the stage table or the stage code).

    Not an AttributeError on purpose: ``getattr(view, key, default)`` must not turn it into a silent default.
    """

    def __init__(self, stage: str, key: str, declared: Iterable[str]):
        self.stage, self.key = stage, key
        super().__init__(
            f"stage {stage!r} read params key {key!r}, which it does not declare (declared: "
            f"{', '.join(sorted(declared)) or 'nothing'}). Declare it in avssl/stages.py so that changing it "
            "re-runs the job in Snakemake and DVC"
        )


def _keys(model: BaseModel) -> list[str]:
    """The model's keys: its fields, then its validated extras (sections of registered tasks, avssl.registry.tasks)."""
    return [*type(model).model_fields, *(model.__pydantic_extra__ or {})]


def _leaves(model: BaseModel, prefix: str) -> list[str]:
    out = []
    for name in _keys(model):
        value = getattr(model, name)
        path = f"{prefix}.{name}" if prefix else name
        out += _leaves(value, path) if isinstance(value, BaseModel) else [path]
    return out


class _Recorder:
    """What one job declares and what it has read so far (shared by every view of the job)."""

    def __init__(self, stage: str, declared: Iterable[str], job: dict | None = None):
        self.stage, self.job = stage, dict(job or {})
        self.declared = tuple(dict.fromkeys(declared))
        self.read: set[str] = set()

    def covers(self, path: str) -> bool:
        return any(path == d or path.startswith(d + ".") for d in self.declared)

    def check(self, path: str) -> None:
        if not self.covers(path):
            raise UndeclaredParam(self.stage, path, self.declared)


class ParamsView:
    """Read-only, recording, restricting view of a params model (or one of its sections).

    ``isinstance(view, RavenParams)`` holds for a view of a RavenParams section, so code that accepts either the
    section or the root keeps working; methods and properties of the section run against the view, so what they
    read is checked and recorded too.
    """

    __slots__ = ("_model", "_path", "_rec")

    def __init__(self, model: BaseModel, path: str, recorder: _Recorder):
        object.__setattr__(self, "_model", model)
        object.__setattr__(self, "_path", path)
        object.__setattr__(self, "_rec", recorder)

    @property  # isinstance() consults __class__: a view passes for the section it shows
    def __class__(self):
        return type(object.__getattribute__(self, "_model"))

    def _key(self, name: str) -> str:
        return f"{self._path}.{name}" if self._path else name

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        model, rec = self._model, self._rec
        cls = type(model)
        if name in _keys(model):
            path = self._key(name)
            value = getattr(model, name)
            if isinstance(value, BaseModel):  # reaching a section reads nothing: its leaves are checked
                return ParamsView(value, path, rec)
            rec.check(path)
            rec.read.add(path)
            return value
        attr = getattr(cls, name, None)
        if isinstance(attr, property):
            return attr.fget(self)
        if callable(attr) and not name.startswith("model_"):
            return attr.__get__(self)  # a section's own method, reading through the view
        raise AttributeError(f"params {self._path or 'root'} has no key {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise TypeError(f"params are read-only in stage code ({self._key(name)})")

    def model_dump(self, *, exclude: set[str] | None = None, **kwargs) -> dict:
        """The section's values as a dict: a read of every leaf it contains (except `exclude`, top level)."""
        for name in _keys(self._model):
            if exclude and name in exclude:
                continue
            value = getattr(self, name)
            if isinstance(value, ParamsView):
                value.model_dump()
        return self._model.model_dump(exclude=exclude, **kwargs)

    def model_copy(self, *, update: dict | None = None, **kwargs) -> "ParamsView":
        """A view of a copy; values set by `update` are the caller's, not params, and are not recorded."""
        copy = self._model.model_copy(update=update, **kwargs)
        if not update:
            return ParamsView(copy, self._path, self._rec)
        return _Overridden(copy, self._path, self._rec, set(update))

    def __repr__(self) -> str:
        return f"ParamsView({self._rec.stage}: {self._path or 'params'})"

    def __reduce__(self):  # worker processes get the plain values (reads there are made by the parent's code)
        return (_unwrap, (self._model,))


class _Overridden(ParamsView):
    __slots__ = ("_free",)

    def __init__(self, model, path, recorder, free: set[str]):
        super().__init__(model, path, recorder)
        object.__setattr__(self, "_free", free)

    def __getattr__(self, name: str) -> Any:
        if name in self._free:
            return getattr(self._model, name)
        return super().__getattr__(name)


def _unwrap(model: BaseModel) -> BaseModel:
    return model


def params_view(params: BaseModel, stage: str, declared: Iterable[str], job: dict | None = None) -> ParamsView:
    """The view a job of `stage` works with: only the dotted keys in `declared` (sections or leaves) are readable."""
    return ParamsView(params, "", _Recorder(stage, declared, job))


def read_record(view: ParamsView) -> dict:
    """{stage, job, declared, read}: what a run stores (MLflow artifact params_read.json)."""
    rec = object.__getattribute__(view, "_rec")
    return {"stage": rec.stage, "job": rec.job, "declared": list(rec.declared), "read": sorted(rec.read)}


def read_keys(view: ParamsView) -> list[str]:
    """Every leaf the job has read so far (dotted keys, sorted)."""
    return sorted(object.__getattribute__(view, "_rec").read)


def declared_keys(view: ParamsView) -> list[str]:
    return list(object.__getattribute__(view, "_rec").declared)


def declared_leaves(params: BaseModel, declared: Iterable[str]) -> list[str]:
    """The leaves under the declared entries (a declared leaf is its own leaf)."""
    rec = _Recorder("", declared)
    return sorted(p for p in _leaves(params, "") if rec.covers(p))


def unread_declarations(view: ParamsView) -> list[str]:
    """Declared entries under which the job read nothing (the declaration is wider than the code)."""
    rec = object.__getattribute__(view, "_rec")
    return [d for d in rec.declared if not any(r == d or r.startswith(d + ".") for r in rec.read)]
