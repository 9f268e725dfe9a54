"""Data-parallel training over several processes (torchrun + DistributedDataParallel).

A run's global batch is split into ``S`` *shards* (``train.shards``; 0 means "one per
process"). Shard ``s`` owns a problem generator seeded by
:func:`irem_core.seeding.derive_seed` of ``(seed, "train-shard:<s>")`` and a replay
ring; a process of a world of ``W`` processes (``S`` a multiple of ``W``) owns the
contiguous shards ``rank · S/W .. (rank + 1) · S/W − 1`` and concatenates their batches.
Because the problems a shard sees depend only on ``(seed, s)`` and on the parameters,
``W`` processes and one process holding all ``S`` shards train the same model (up to
floating-point summation order), and a checkpoint, which stores every shard, resumes
exactly under any ``W`` that divides ``S``.

This module holds the plumbing: reading torchrun's environment, opening and closing the
process group (gloo on CPU, NCCL on CUDA), the shard layout checks, the collectives the
trainer needs, and the ``irem train --nproc N`` re-launch through torchrun.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence

import attrs
import torch
import torch.distributed as dist
from torch import Tensor

from irem_core.config.schema import TrainConfig
from irem_core.errors import ConfigError, IremError
from irem_core.runs.build import resolve_device

TORCHRUN_VARIABLES = ("RANK", "LOCAL_RANK", "WORLD_SIZE")
"""Environment variables torchrun sets in every worker; all three mark a worker."""


@attrs.frozen
class World:
    """Where this process stands among the processes of one training run.

    Attributes:
        rank: global index of this process, ``0 .. size − 1``.
        local_rank: index of this process on its machine (chooses its GPU).
        size: number of processes, ``W``.
    """

    rank: int = 0
    local_rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0, the only process that writes files and prints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """Whether there is more than one process (and so a process group)."""
        return self.size > 1


SINGLE = World()
"""The world of a plain, single-process run."""


def world_from_env(environ: Mapping[str, str] | None = None) -> World:
    """The :class:`World` described by torchrun's variables, or :data:`SINGLE` outside torchrun."""
    environ = os.environ if environ is None else environ
    if not all(name in environ for name in TORCHRUN_VARIABLES):
        return SINGLE
    try:
        rank, local_rank, size = (int(environ[name]) for name in TORCHRUN_VARIABLES)
    except ValueError:
        raise IremError(
            "RANK, LOCAL_RANK and WORLD_SIZE must be integers; launch with "
            "torchrun or 'irem train --nproc N'"
        ) from None
    if size < 1 or not 0 <= rank < size or local_rank < 0:
        raise IremError(
            f"inconsistent torchrun environment RANK={rank} LOCAL_RANK={local_rank} "
            f"WORLD_SIZE={size}"
        )
    return World(rank, local_rank, size)


def under_torchrun(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this process was started by torchrun (even a world of one)."""
    environ = os.environ if environ is None else environ
    return all(name in environ for name in TORCHRUN_VARIABLES)


def resolve_shards(settings: TrainConfig, world_size: int, saved: int | None = None) -> int:
    """The shard count ``S`` of a run of ``world_size`` processes; checks the batch split.

    ``train.shards`` wins when set; else a resumed run keeps its ``saved`` count when
    ``world_size`` divides it, and otherwise (or for a new run) ``S = world_size``.

    Raises:
        ConfigError: ``S`` is not a multiple of ``world_size``, a global batch size is not
            divisible by ``S``, or the replay ring cannot give every shard one slot.
    """
    if settings.shards:
        count = settings.shards
    elif saved and saved % world_size == 0:
        count = saved
    else:
        count = world_size
    if count % world_size:
        raise ConfigError(
            f"train.shards={count} cannot be split over {world_size} processes: it "
            f"must be a multiple of the process count; set train.shards to "
            f"{world_size * max(1, count // world_size)} or to 0 (one shard per "
            "process), or change --nproc"
        )
    for name in ("batch_size", "replay_batch_size"):
        value = getattr(settings, name)
        if value % count:
            below, above = value - value % count, value - value % count + count
            raise ConfigError(
                f"train.{name}={value} is the global batch and must be divisible "
                f"by the {count} shards ({world_size} processes); use "
                f"{below or above} or {above}, or change the process count"
            )
    if settings.replay_batch_size and settings.replay_capacity < count:
        raise ConfigError(
            f"train.replay_capacity={settings.replay_capacity} is shared by the "
            f"{count} shards' replay rings and must be at least {count}"
        )
    return count


def training_device(name: str, world: World) -> torch.device:
    """The device of this process: ``cuda:LOCAL_RANK`` when a multi-process run asks for
    CUDA (an index in ``name`` is then ignored), else ``name`` itself."""
    device = resolve_device(name)
    if not world.distributed or device.type != "cuda":
        return device
    available = torch.cuda.device_count()
    if world.local_rank >= available:
        raise IremError(
            f"process {world.rank} needs GPU cuda:{world.local_rank} but this machine "
            f"has {available} GPU(s); start at most {available} processes per "
            "machine (--nproc / --nproc_per_node) or use --device cpu"
        )
    return torch.device("cuda", world.local_rank)


@contextlib.contextmanager
def process_group(world: World, device: torch.device) -> Iterator[None]:
    """Open the default process group for ``world`` (NCCL for CUDA, else gloo) from
    torchrun's ``MASTER_ADDR``/``MASTER_PORT``, and destroy it on exit; a no-op for one process."""
    if not world.distributed:
        yield
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(
        "nccl" if device.type == "cuda" else "gloo", rank=world.rank, world_size=world.size
    )
    try:
        yield
        dist.barrier()  # no rank closes its connections while another still uses them
    finally:
        dist.destroy_process_group()


def _comm_device() -> torch.device:
    """Where tensors must live for the current backend's collectives."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def mean_over_processes(value: Tensor) -> Tensor:
    """The mean of ``value`` (any shape, on the training device) over all processes.

    One all-reduce (sum, then divide: gloo has no average); returns a new tensor.
    """
    total = value.detach().clone()
    dist.all_reduce(total)
    return total / dist.get_world_size()


def gather_to_main(value: Tensor, world: World) -> Tensor | None:
    """Every process's ``value`` of shape ``(k, ...)`` (the same shape everywhere),
    concatenated in rank order into ``(W · k, ...)`` on the CPU of rank 0; ``None`` on the
    other ranks. Outside a process group, ``value`` itself on the CPU. A collective:
    every process must call it, in the same order."""
    if not world.distributed:
        return value.detach().cpu()
    dtype = value.dtype
    local = value.detach().to(_comm_device())
    if dtype == torch.bool:  # not every backend reduces or gathers bool
        local = local.to(torch.uint8)
    local = local.contiguous()
    parts = [torch.empty_like(local) for _ in range(world.size)] if world.is_main else None
    dist.gather(local, parts, dst=0)
    if parts is None:
        return None
    return torch.cat(parts).cpu().to(dtype)


def without_option(argv: Sequence[str], option: str) -> list[str]:
    """``argv`` without ``option`` and its value (``--opt V``, ``--opt=V`` or an unambiguous
    abbreviation such as ``--npr V``, as argparse accepts them)."""
    kept: list[str] = []
    tokens = iter(argv)
    for token in tokens:
        name, equals, _ = token.partition("=")
        if name.startswith("--") and len(name) > 3 and option.startswith(name):
            if not equals:
                next(tokens, None)
            continue
        kept.append(token)
    return kept


def relaunch(nproc: int, argv: Sequence[str]) -> int:
    """Run ``irem <argv>`` as ``nproc`` processes under torchrun on this machine; the exit code.

    Uses ``python -m irem_core.training.torchrun --standalone`` (torchrun, quiet when a
    signal stops it; a free local port is picked) and
    drops ``--nproc`` from ``argv`` (torchrun's own parser would take it for its
    ``--nproc-per-node``); the workers see torchrun's ``WORLD_SIZE`` instead. torchrun runs
    in a process group of its own: SIGINT or SIGTERM to this process is forwarded to the
    whole group and this process waits for it, returning 130 or 143.
    """
    command = [
        sys.executable,
        "-m",
        "irem_core.training.torchrun",
        "--standalone",
        "--nproc_per_node",
        str(nproc),
        "-m",
        "irem_core",
        *without_option(argv, "--nproc"),
    ]
    launcher = subprocess.Popen(command, start_new_session=True)
    received: list[int] = []

    def forward(signum: int, frame: object) -> None:
        """Pass SIGINT/SIGTERM to torchrun and its workers alike (their own process group),
        so every worker stops as a single-process run does and none is left behind."""
        received.append(signum)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(launcher.pid, signum)

    previous = {
        number: signal.signal(number, forward) for number in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        code = launcher.wait()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    return 128 + received[0] if received else code
