"""Adam/AdamW on CPU without torch.optim's per-process ~1 s import of ``torch._dynamo``.

``torch.optim.Optimizer.step`` (and ``zero_grad``, ``state_dict``, ``load_state_dict``, ``add_param_group``)
import ``torch._dynamo`` on their first call, about a second of every training job's start-up on the 2-core
machine. This is the same algorithm as torch's single-tensor path (the one torch takes on CPU), the same
operations in the same order, so results are bit-identical to ``torch.optim.AdamW``/``Adam``
(tests/test_training_adamw.py). Each operation is applied to all of a group's parameters at once through
``torch._foreach_*`` (on CPU: the same per-tensor kernel, called from C++): the per-parameter Python loop was
12 % of a frozen ASR head job's time (61 tensors, ~2,000 steps). It subclasses ``torch.optim.Optimizer``
(schedulers accept it) with the same param-group keys and state layout (``step``, ``exp_avg``, ``exp_avg_sq``),
so checkpoints load either way. The base methods are called through their undecorated ``__wrapped__``
functions. CUDA training keeps torch's fused AdamW (see :func:`make_adam`), where the dynamo import is small
beside CUDA's own start-up.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import torch

_Base = torch.optim.Optimizer


def _plain(name: str) -> Callable:
    """The base method without its lazy ``torch._dynamo`` wrapper (``functools.wraps`` keeps it there)."""
    method = getattr(_Base, name)
    return getattr(method, "__wrapped__", method)


class AdamW(_Base):
    """Adam with decoupled weight decay (``decoupled_weight_decay=False``: L2 on the gradient, = torch Adam)."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, *, decoupled_weight_decay: bool = True) -> None:
        if not 0.0 <= lr or not 0.0 <= eps or not 0.0 <= weight_decay:
            raise ValueError(f"lr, eps and weight_decay must be >= 0 (got {lr}, {eps}, {weight_decay})")
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"betas must lie in [0, 1) (got {betas})")
        # The keys torch.optim.AdamW stores in every param group: a checkpoint's groups read the same.
        defaults = {"lr": lr, "betas": tuple(float(b) for b in betas), "eps": eps, "weight_decay": weight_decay,
                    "amsgrad": False, "maximize": False, "foreach": None, "capturable": False,
                    "differentiable": False, "fused": None, "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        _plain("add_param_group")(self, param_group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        _plain("zero_grad")(self, set_to_none)

    def state_dict(self) -> dict[str, Any]:
        return _plain("state_dict")(self)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        _plain("load_state_dict")(self, state_dict)
        for group in self.param_groups:  # a torch AdamW checkpoint stores this too; older ones may not
            group.setdefault("decoupled_weight_decay", self.defaults["decoupled_weight_decay"])

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            for param in params:
                if param.grad.is_sparse or torch.is_complex(param):
                    raise RuntimeError("avssl AdamW supports dense real parameters only")
                state = self.state[param]
                if not state:
                    # as torch: a CPU scalar step counter, float64 only under a float64 default dtype
                    double = torch.get_default_dtype() == torch.float64
                    state["step"] = torch.tensor(0.0, dtype=torch.float64 if double else torch.float32)
                    state["exp_avg"] = torch.zeros_like(param, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(param, memory_format=torch.preserve_format)
            if params:
                _update(params, [self.state[p] for p in params], group)
        return loss


def _update(params: list[torch.Tensor], states: list[dict], group: dict[str, Any]) -> None:
    """One group's step, operation for operation as torch.optim.adam._single_tensor_adam on each parameter."""
    beta1, beta2 = group["betas"]
    lr, eps, wd, decoupled = group["lr"], group["eps"], group["weight_decay"], group["decoupled_weight_decay"]
    grads = [p.grad for p in params]
    exp_avgs = [s["exp_avg"] for s in states]
    exp_avg_sqs = [s["exp_avg_sq"] for s in states]
    steps = [s["step"] for s in states]
    _add_(steps, 1.0)
    if wd != 0:
        if decoupled:
            torch._foreach_mul_(params, _scalar(1 - lr * wd, params))
        else:
            grads = torch._foreach_add(grads, params, alpha=wd)
    torch._foreach_lerp_(exp_avgs, grads, 1 - beta1)
    torch._foreach_mul_(exp_avg_sqs, _scalar(beta2, exp_avg_sqs))
    torch._foreach_addcmul_(exp_avg_sqs, grads, grads, value=1 - beta2)
    counts = torch.stack(steps).tolist()  # equal unless a parameter missed steps without a gradient
    bias_correction2_sqrt = [(1 - beta2**n) ** 0.5 for n in counts]
    step_sizes = [-lr / (1 - beta1**n) for n in counts]
    denom = torch._foreach_sqrt(exp_avg_sqs)
    if all(n == counts[0] for n in counts):
        torch._foreach_div_(denom, _scalar(bias_correction2_sqrt[0], denom))
    else:
        torch._foreach_div_(denom, bias_correction2_sqrt)
    _add_(denom, eps)
    torch._foreach_addcdiv_(params, exp_avgs, denom, step_sizes)


def _add_(tensors: list[torch.Tensor], value: float) -> None:
    """``torch._foreach_add_(tensors, value)``. On CPU the scalar (and the 0-dim tensor) overloads cast the value
    once per tensor; the list overload with one shared 0-dim tensor adds it as is (see :func:`_scalar`)."""
    s = _scalar(value, tensors)
    torch._foreach_add_(tensors, [s] * len(tensors) if torch.is_tensor(s) else s)


def _scalar(value: float, like: list[torch.Tensor]) -> float | torch.Tensor:
    """``value`` as a 0-dim tensor of the tensors' dtype (float32/float64), else the Python float.

    Why: a Python scalar is wrapped into a double tensor and cast to the tensors' dtype once PER TENSOR of a
    ``torch._foreach_*`` call on CPU (an allocation, a fill and a copy each: ~300 small ops per step of a
    61-tensor head). The cast rounds exactly as ``torch.tensor(value, dtype=...)`` does, and the kernels read a
    0-dim operand the same way, so the results are bit-identical (tests/test_training_adamw.py compares with
    torch.optim.AdamW). Reduced-precision dtypes (bf16/fp16) keep the Python scalar: their kernels compute with
    the unrounded double value."""
    dtype = like[0].dtype
    if dtype not in (torch.float32, torch.float64) or any(t.dtype != dtype for t in like):
        return value
    return torch.tensor(value, dtype=dtype, device=like[0].device)


def make_adam(groups: list[dict[str, Any]], *, kind: str, lr: float, weight_decay: float,
              betas: tuple[float, float], eps: float, fused: bool) -> torch.optim.Optimizer:
    """``kind`` "adamw" or "adam": ours, or torch's fused kernel when ``fused`` (CUDA)."""
    decoupled = kind == "adamw"
    if fused:
        cls = torch.optim.AdamW if decoupled else torch.optim.Adam
        return cls(groups, lr=lr, weight_decay=weight_decay, betas=betas, eps=eps, fused=True)
    return AdamW(groups, lr=lr, weight_decay=weight_decay, betas=betas, eps=eps, decoupled_weight_decay=decoupled)
