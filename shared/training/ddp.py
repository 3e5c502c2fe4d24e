"""``torchrun`` support: one process per device; DistributedDataParallel when WORLD_SIZE > 1."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistContext:
    """Where this process sits: rank 0 of 1 when not launched by torchrun."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: str = "cpu"

    @property
    def distributed(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        """Rank 0 writes logs, samples and checkpoints."""
        return self.rank == 0


def init_distributed(device: str) -> DistContext:
    """Read torchrun's env; start the process group (nccl on CUDA, gloo on CPU) when WORLD_SIZE > 1."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext(device=device)
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.startswith("cuda"):
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
    log.info("distributed: rank %d of %d on %s", rank, world, device)
    return DistContext(rank=rank, world=world, local_rank=local, device=device)


def wrap(module: nn.Module, ctx: DistContext) -> nn.Module:
    """DDP-wrap a loss module when distributed (gradients averaged across ranks), else return it."""
    if not ctx.distributed:
        return module
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [ctx.local_rank] if ctx.device.startswith("cuda") else None
    return DDP(module, device_ids=ids)


def mean_across(value: float, ctx: DistContext) -> float:
    """Average a float over ranks (for logging)."""
    if not ctx.distributed:
        return value
    t = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(t)
    return float(t.item()) / ctx.world


def barrier(ctx: DistContext) -> None:
    """Wait for every rank (no-op when single-process)."""
    if ctx.distributed:
        dist.barrier()


def shutdown(ctx: DistContext) -> None:
    """Tear down the process group if this process started one."""
    if ctx.distributed and dist.is_initialized():
        dist.destroy_process_group()
