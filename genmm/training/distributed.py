"""Data parallelism under ``torchrun`` (docs/architecture.md#scale): rank 0 alone writes."""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.distributed as dist
from torch import nn


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def initialise() -> bool:
    """Join the process group torchrun describes (``WORLD_SIZE`` > 1); True when joined."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or not dist.is_available():
        return False
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
    return True


def local_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cpu")


@torch.no_grad()
def broadcast_module(module: nn.Module) -> None:
    """Make every process start from rank 0's parameters and buffers."""
    for tensor in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(tensor.data, src=0)


@torch.no_grad()
def average_gradients(optimizer: torch.optim.Optimizer, *args: Any, **kwargs: Any) -> None:
    """An optimiser step pre-hook: all-reduce (mean) the gradients, flattened per dtype."""
    params = [p for group in optimizer.param_groups for p in group["params"]]
    grads = [p.grad for p in params if p.grad is not None]
    for dtype in dict.fromkeys(grad.dtype for grad in grads):  # in order: alike on every rank
        group = [grad for grad in grads if grad.dtype == dtype]
        flat = torch.cat([grad.reshape(-1) for grad in group])
        dist.all_reduce(flat)
        flat /= float(world_size())
        for grad, part in zip(group, flat.split([grad.numel() for grad in group])):
            grad.copy_(part.view_as(grad))


def any_flag(flag: bool) -> bool:
    """True on every process when any process raised ``flag`` (e.g. a signal)."""
    if world_size() == 1:
        return flag
    device = local_device() if dist.get_backend() == "nccl" else torch.device("cpu")
    value = torch.tensor([1 if flag else 0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def gather(obj: Any) -> list[Any]:
    """Every process's ``obj``, in rank order (rank 0's only when not distributed)."""
    if world_size() == 1:
        return [obj]
    gathered: list[Any] = [None] * world_size()
    dist.all_gather_object(gathered, obj)
    return gathered


def barrier() -> None:
    if world_size() > 1:
        dist.barrier()
