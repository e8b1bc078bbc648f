"""Adam/AdamW on CPU without torch.optim's per-process ~1 s import of ``torch._dynamo``.

``torch.optim.Optimizer.step`` (and ``zero_grad``, ``state_dict``, ``load_state_dict``, ``add_param_group``)
import ``torch._dynamo`` on their first call, about a second of every training job's start-up on the 2-core
machine. This is the same algorithm as torch's single-tensor path (the one torch takes on CPU), the same
operations in the same order, so results are bit-identical to ``torch.optim.AdamW``/``Adam``
(tests/test_training_adamw.py). It subclasses ``torch.optim.Optimizer`` (schedulers accept it) with the same
param-group keys and state layout (``step``, ``exp_avg``, ``exp_avg_sq``), so checkpoints load either way.
The base methods are called through their undecorated ``__wrapped__`` functions. CUDA training keeps
torch's fused AdamW (see :func:`make_adam`), where the dynamo import is small beside CUDA's own start-up.
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
            for param in group["params"]:
                if param.grad is None:
                    continue
                if param.grad.is_sparse or torch.is_complex(param):
                    raise RuntimeError("avssl AdamW supports dense real parameters only")
                state = self.state[param]
                if not state:
                    # as torch: a CPU scalar step counter, float64 only under a float64 default dtype
                    double = torch.get_default_dtype() == torch.float64
                    state["step"] = torch.tensor(0.0, dtype=torch.float64 if double else torch.float32)
                    state["exp_avg"] = torch.zeros_like(param, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(param, memory_format=torch.preserve_format)
                _update(param, param.grad, state, group)
        return loss


def _update(param: torch.Tensor, grad: torch.Tensor, state: dict, group: dict[str, Any]) -> None:
    """One parameter's step, operation for operation as torch.optim.adam._single_tensor_adam."""
    beta1, beta2 = group["betas"]
    lr, eps, wd, decoupled = group["lr"], group["eps"], group["weight_decay"], group["decoupled_weight_decay"]
    exp_avg, exp_avg_sq, step_t = state["exp_avg"], state["exp_avg_sq"], state["step"]
    step_t += 1
    if wd != 0:
        if decoupled:
            param.mul_(1 - lr * wd)
        else:
            grad = grad.add(param, alpha=wd)
    exp_avg.lerp_(grad, 1 - beta1)
    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    step = step_t.item()
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    step_size = lr / bias_correction1
    denom = (exp_avg_sq.sqrt() / bias_correction2**0.5).add_(eps)
    param.addcdiv_(exp_avg, denom, value=-step_size)


def make_adam(groups: list[dict[str, Any]], *, kind: str, lr: float, weight_decay: float,
              betas: tuple[float, float], eps: float, fused: bool) -> torch.optim.Optimizer:
    """``kind`` "adamw" or "adam": ours, or torch's fused kernel when ``fused`` (CUDA)."""
    decoupled = kind == "adamw"
    if fused:
        cls = torch.optim.AdamW if decoupled else torch.optim.Adam
        return cls(groups, lr=lr, weight_decay=weight_decay, betas=betas, eps=eps, fused=True)
    return AdamW(groups, lr=lr, weight_decay=weight_decay, betas=betas, eps=eps, decoupled_weight_decay=decoupled)
