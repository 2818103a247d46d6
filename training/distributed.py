"""One process per GPU (or CPU process) under `torchrun`; a plain single process otherwise.

torchrun --nproc_per_node=4 -m training all --config ...   -> NCCL on GPUs (Linux), gloo on CPUs and Windows
python -m training all --config ...                        -> world size 1, no process group
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from recordings.stop_signals import STOP_SIGNALS
from training.config import ConfigError


@dataclass(frozen=True)
class Process:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def is_main_process() -> bool:
    """Whether this is rank 0 (or no torchrun at all), before or without a process group: what every rank
    meets alike (a config error, an interrupt) is said by this one."""
    return int(os.environ.get("RANK", "0")) == 0


RANK_0_SAYS_IT_WITHIN_S = 10.0  # rank 0 meets the same error within moments; torchrun notices in 0.1 s


def leave_it_to_rank_0(timeout_s: float = RANK_0_SAYS_IT_WITHIN_S) -> None:
    """On a rank other than 0 that met what every rank meets (a config error, missing data): wait for
    torchrun to stop this rank, which it does once rank 0 has said the error and left. A rank that left
    first had torchrun stop rank 0 before it said it, and the user read 'interrupted' instead. Stopped, it
    exits 2 without a word; returns after `timeout_s` if not (rank 0 did not meet it, or this rank is on
    another node, whose torchrun is not told at once), and this rank says it."""
    def stopped(signum: int, frame: object) -> None:
        # Once: torchrun follows Ctrl-C with SIGTERM, and a second SystemExit raised while the first
        # unwinds printed "Exception ignored" tracebacks.
        for stop_signal in STOP_SIGNALS:
            signal.signal(stop_signal, signal.SIG_IGN)
        raise SystemExit(2)

    for signum in STOP_SIGNALS:
        signal.signal(signum, stopped)
    time.sleep(timeout_s)


def rank_prefix() -> str:
    """'[rank N] ' under torchrun, '' otherwise: what one rank says alone is named by its rank."""
    return f"[rank {os.environ.get('RANK')}] " if int(os.environ.get("WORLD_SIZE", "1")) > 1 else ""


def pick_device(preference: str, local_rank: int = 0) -> torch.device:
    """'auto' -> this process's GPU when there is one, else the CPU; 'cuda' -> cuda:local_rank.
    A device this machine does not have is a ConfigError (the `device` setting), not a crash later."""
    if preference == "auto":
        preference = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(preference)
    except RuntimeError:
        raise ConfigError(f"device {preference!r}: expected auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {preference!r} requested but torch sees no CUDA GPU")
        device = torch.device("cuda", local_rank if device.index is None else device.index)
        if device.index >= torch.cuda.device_count():
            count = torch.cuda.device_count()
            raise ConfigError(f"device {preference!r}: this machine has {count} CUDA GPU(s)")
    elif device.type != "cpu":
        raise ConfigError(f"device {preference!r}: expected auto, cpu, cuda or cuda:N")
    return device


def start(preference: str = "auto") -> Process:
    """Join the process group torchrun describes in the environment (RANK, WORLD_SIZE, LOCAL_RANK)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(preference, local_rank)
    if world_size > 1 and not dist.is_initialized():
        # Gloo reduces CUDA tensors too: the CUDA builds for Windows have no NCCL.
        backend = "nccl" if device.type == "cuda" and dist.is_nccl_available() else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend)
    return Process(rank, world_size, local_rank, device)


def stop() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def barrier(process: Process) -> None:
    if process.distributed:
        dist.barrier()


@contextlib.contextmanager
def main_first(process: Process, folder: Path | str) -> Iterator[bool]:
    """Work the main process does alone while the others wait, e.g. preparing a cache they all read next:
    `with main_first(process, cache) as mine: if mine: prepare(...)`. The others wait for a file the
    main process leaves in `folder` once done, not at a barrier: a barrier gives up after the process
    group's timeout (10 min with NCCL), and preparing a site's clips can take longer. When the main
    process fails, torchrun ends the waiting ones."""
    if not process.distributed:
        yield True
        return
    run = f"{os.environ.get('TORCHELASTIC_RUN_ID', 'run')}-{os.environ.get('MASTER_PORT', '')}"
    done = Path(folder) / f".main-done-{run}"  # the same name run after run with torchrun's defaults
    if process.is_main:
        done.unlink(missing_ok=True)  # left by a run killed at the barrier below: not this run's signal
    dist.barrier()  # before anyone looks for it (a moment: before the work, not after)
    yield process.is_main
    if process.is_main:
        done.parent.mkdir(parents=True, exist_ok=True)
        done.touch()
    else:
        while not done.exists():
            time.sleep(0.5)
    dist.barrier()  # every rank past the wait before the file goes
    if process.is_main:
        done.unlink(missing_ok=True)


def sum_over_ranks(process: Process, *values: float) -> tuple[float, ...]:
    """Each value summed over every rank (as given on one process)."""
    if not process.distributed:
        return values
    total = torch.tensor(values, dtype=torch.float64, device=process.device)
    dist.all_reduce(total)
    return tuple(total.tolist())


def unwrapped_with_rank_0_buffers(module: nn.Module) -> nn.Module:
    """The module inside DistributedDataParallel, its buffers (batch-norm statistics) rank 0's on every
    rank, for forwards that not every rank makes (evaluation: a rank may have no validation clips). DDP's
    own forward broadcasts them at its first forward after a training step, a collective the rank with
    nothing to evaluate never joined: the next collective (the gather of the results) then hung."""
    if not isinstance(module, DistributedDataParallel):
        return module
    for buffer in module.module.buffers():
        dist.broadcast(buffer, src=0)
    return module.module


def gather_objects(process: Process, value: object) -> list[object]:
    """Every rank's `value`, in rank order (on every rank)."""
    if not process.distributed:
        return [value]
    values: list[object] = [None] * process.world_size
    dist.all_gather_object(values, value)
    return values

