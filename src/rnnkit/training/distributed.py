"""Multi-process training on PyTorch's own engine: torchrun, a process group, DDP.

`torchrun --nproc-per-node N -m rnnkit train ...` starts N copies of the training loop;
torchrun's environment (`RANK`, `WORLD_SIZE`, `LOCAL_RANK`, `MASTER_ADDR`, `MASTER_PORT`)
tells each copy who it is. This module turns that into a `DistContext` and wraps the model in
`DistributedDataParallel`; `rnnkit.text.batches.rank_batches` splits the data::

    one process, batch_size B*W:        rows 0 .. B*W-1 (sequential: B*W parallel streams)
    W processes, batch_size B each:     rank 0 takes rows 0 .. B-1, rank 1 rows B .. 2B-1, ...

Every rank draws the same offsets and orders from the same seeded data generator and keeps
its own rows, so in sequential mode a rank owns its streams (and carries their hidden state)
from batch to batch, and in random mode the ranks' windows are disjoint. DDP averages the
gradients, so a step of W processes equals a step of one process on the combined batch of
B*W rows (a test checks it). Validation is shared the same way and summed across ranks.

Without torchrun (`WORLD_SIZE` unset or 1) `init_distributed` gives a single-process
context and every helper here does nothing, so a plain run behaves exactly as before.

Environment: `RNNKIT_DIST_BACKEND` overrides the backend (default gloo on CPU, NCCL on
GPU); `RNNKIT_DIST_TIMEOUT` sets the collective timeout in seconds (default 1800), after
which the surviving ranks stop with a clear error when another one hangs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from rnnkit.errors import DistributedError, RnnkitError

BACKEND_ENV = "RNNKIT_DIST_BACKEND"
TIMEOUT_ENV = "RNNKIT_DIST_TIMEOUT"
DEFAULT_TIMEOUT_S = 1800.0
BACKENDS = ("gloo", "nccl", "mpi", "ucc")

# What a failed collective says (gloo raises plain RuntimeErrors): a peer gone or too slow.
_LOST_PEER = re.compile(r"gloo|nccl|connection|timed out|timeout|socket|broken pipe", re.I)


@dataclass(frozen=True)
class DistContext:
    """Who this process is in a (possibly one-process) training run.

    Attributes:
        rank: this process's index among all processes (0 writes the run folder).
        world_size: the number of processes on all machines.
        local_rank: this process's index on its machine (its GPU).
        backend: `gloo`, `nccl`, ...; empty for a single process.
        timeout_s: how long a collective waits for the other ranks.
        device: where this rank computes.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str = ""
    timeout_s: float = DEFAULT_TIMEOUT_S
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def enabled(self) -> bool:
        """Whether there are other processes to talk to."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0, which alone writes checkpoints, metrics and samples."""
        return self.rank == 0


def _env_int(name: str) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value)
    except ValueError:
        raise DistributedError(
            f"WORLD_SIZE is set but {name}={value!r} is not an integer; start the processes "
            "with torchrun, which sets RANK, LOCAL_RANK, MASTER_ADDR and MASTER_PORT"
        ) from None


def init_distributed(device: torch.device) -> DistContext:
    """Join the process group torchrun describes, or return a single-process context.

    Args:
        device: the device asked for (`cpu` or `cuda`); under torchrun a CUDA run uses
            GPU `LOCAL_RANK`.

    Returns:
        The context; with `WORLD_SIZE` > 1 the default process group is initialised.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world_size <= 1:
        return DistContext(device=device)
    rank, local_rank = _env_int("RANK"), _env_int("LOCAL_RANK")
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise DistributedError(
                f"LOCAL_RANK {local_rank} has no GPU ({torch.cuda.device_count()} visible); "
                "start at most one process per GPU (torchrun's nproc-per-node)"
            )
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    backend = os.environ.get(BACKEND_ENV, "").strip() or (
        "nccl" if device.type == "cuda" else "gloo"
    )
    if backend not in BACKENDS or not dist.is_backend_available(backend):
        raise DistributedError(
            f"{BACKEND_ENV}={backend!r} is not a backend this torch build offers; use gloo "
            "(CPU or GPU) or nccl (GPU)"
        )
    if backend == "nccl" and device.type != "cuda":
        raise DistributedError(
            f"the nccl backend needs GPUs; unset {BACKEND_ENV} or set it to gloo"
        )
    try:
        timeout_s = float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT_S))
    except ValueError:
        timeout_s = -1.0
    if timeout_s <= 0:
        raise DistributedError(f"{TIMEOUT_ENV} must be a positive number of seconds")
    if not dist.is_initialized():
        try:
            dist.init_process_group(
                backend, rank=rank, world_size=world_size, timeout=timedelta(seconds=timeout_s)
            )
        except (RuntimeError, ValueError) as exc:
            raise DistributedError(
                f"rank {rank} of {world_size} could not join the process group "
                f"({_first_line(exc)}); check that every node started and can reach "
                "MASTER_ADDR:MASTER_PORT"
            ) from exc
    return DistContext(rank, world_size, local_rank, backend, timeout_s, device)


def close_distributed(ctx: DistContext) -> None:
    """Leave the process group (a no-op for a single process)."""
    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()


def wrap_model(model: nn.Module, ctx: DistContext, seed: int) -> nn.Module:
    """The module the training loop calls: `model` itself, or `model` inside DDP.

    DDP copies rank 0's weights to every rank; then each rank reseeds torch's global
    generator with `seed + rank`, so that their dropout masks differ. Checkpoints keep
    saving `model` (unwrapped), so they load anywhere.
    """
    if not ctx.enabled:
        return model
    ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    net = nn.parallel.DistributedDataParallel(model, device_ids=ids)
    torch.manual_seed(seed + ctx.rank)
    return net


def shard_rows(rows: int, ctx: DistContext | None) -> slice:
    """This rank's share of `rows` parallel streams (all of them for one process)."""
    if ctx is None or not ctx.enabled:
        return slice(0, rows)
    return slice(ctx.rank * rows // ctx.world_size, (ctx.rank + 1) * rows // ctx.world_size)


def sum_across_ranks(ctx: DistContext | None, *values: float) -> tuple[float, ...]:
    """`values` summed over all ranks (returned unchanged for one process)."""
    if ctx is None or not ctx.enabled:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=ctx.device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return tuple(t.tolist())


def agree(ctx: DistContext, stop: bool, *clocks: float) -> tuple[Any, ...]:
    """Make the ranks agree after a step: stop if any rank must, run by the slowest clock.

    A stop flag (Ctrl-C) or a clock (`elapsed_s` decides the time budget and the schedule)
    that differed between ranks would let them take different steps and deadlock.

    Returns:
        `(stop, *clocks)`: the flag OR-ed and each clock's maximum over the ranks.
    """
    t = torch.tensor([float(stop), *clocks], dtype=torch.float64, device=ctx.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    first, *rest = t.tolist()
    return (bool(first), *rest)


def agree_flag(ctx: DistContext, flag: bool) -> bool:
    """Whether `flag` holds on any rank (a collective under torchrun; `flag` itself for one
    process). Every rank calls it at the same point, so a fault found on one rank stops all
    of them together instead of leaving the others waiting for the collective timeout."""
    if not ctx.enabled:
        return flag
    return bool(agree(ctx, flag)[0])


def rank_states(
    ctx: DistContext, carried: list[torch.Tensor], loss_sum: float, tokens_done: int
) -> dict[str, Any]:
    """Checkpoint entries of a multi-process run: each rank's own part (a collective).

    Every rank must call it; rank 0 writes the result. Each entry holds what differs
    between ranks: the hidden state of its streams, its dropout generator, its loss sum.
    The data position (epoch, batch, data generator) is shared and saved as usual.

    Returns:
        `{}` for one process, else `{"world_size": W, "ranks": [entry of rank 0, ...]}`.
    """
    if not ctx.enabled:
        return {}
    mine = {
        "rank": ctx.rank,
        "torch_rng": torch.get_rng_state(),
        "carried_state": carried,
        "loss_sum": float(loss_sum),
        "tokens_done": int(tokens_done),
    }
    everyone: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(everyone, mine)
    return {"world_size": ctx.world_size, "ranks": everyone}


def my_rank_state(ckpt: dict[str, Any], ctx: DistContext, where: object) -> dict[str, Any] | None:
    """This rank's entry of a checkpoint (None for a one-process run).

    Raises:
        RnnkitError: the checkpoint was written by another number of processes.
    """
    saved = int(ckpt.get("world_size", 1))
    if saved != ctx.world_size:
        how = (
            "without torchrun"
            if saved == 1
            else f"under torchrun with {saved} processes in all (nnodes x nproc-per-node)"
        )
        raise DistributedError(
            f"{where} was trained by {saved} process(es) and this run has {ctx.world_size}; "
            f"each process owns its own data streams, so resume it {how}"
        )
    return ckpt["ranks"][ctx.rank] if "ranks" in ckpt else None


def _first_line(exc: BaseException) -> str:
    text = re.sub(r"^\[[^\]]*\]\s*", "", str(exc).strip())  # gloo's "[file.cc:123] " prefix
    text = text.split(" This is typically", 1)[0]
    return (text.splitlines() or [type(exc).__name__])[0][:300]


@contextmanager
def collective_errors(ctx: DistContext) -> Iterator[None]:
    """Turn a failed collective (another rank died or hung) into a one-line RnnkitError."""
    try:
        yield
    except RnnkitError:
        raise
    except RuntimeError as exc:  # torch's DistError is a RuntimeError too
        if not ctx.enabled or not (isinstance(exc, dist.DistError) or _LOST_PEER.search(str(exc))):
            raise
        raise DistributedError(
            f"rank {ctx.rank} of {ctx.world_size} lost the other processes "
            f"({_first_line(exc)}); one of them died or hung (collective timeout "
            f"{ctx.timeout_s:g}s, {TIMEOUT_ENV}); read its output, then resume the run"
        ) from exc
