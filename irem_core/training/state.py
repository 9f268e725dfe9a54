"""The training state of a checkpoint: what :class:`~irem_core.training.loop.Trainer` saves
beside the model weights, and how it is restored.

The state is the training optimiser's moments and parameter groups, every shard's problem
generator and replay ring (with its cursor), and, with ``train.ema_decay``, the raw
(non-averaged) weights. In ``state.safetensors`` it is stored as

- ``optimizer.{i}.{key}``: the state of the ``i``-th trained parameter (Adam's moments and
  step count);
- ``shard.{s}.generator`` and ``shard.{s}.replay.{key}``: shard ``s``'s generator state and
  the filled part of its replay ring;
- ``raw.{name}``: the raw weights (only with a moving average; the model file holds the
  average);

and in ``config.json``'s ``training`` record as ``optimizer_param_groups``, ``shards`` (the
shard count ``S``) and ``replay_cursors`` (one per shard). Checkpoints written before
sharding hold one ``generator``, ``replay.{key}`` tensors and a ``replay_cursor``; they
read as one shard.

The interface the trainer uses:

- :func:`make_shards`: fresh shards (this process's share);
- :func:`state_tensors`: gather the state into tensors and JSON data (a collective);
- :func:`restore_weights`, :func:`restore_optimizer`, :func:`restore_shards`: check a
  loaded checkpoint's state against the run and load it, redistributing the shards when
  their count changed (see :func:`reshard`).

Every check raises :class:`~irem_core.errors.CheckpointError` naming what is damaged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import attrs
import torch
from torch import Tensor, nn

from irem_core.config.schema import RunConfig
from irem_core.errors import CheckpointError
from irem_core.reasoning.protocols import Task
from irem_core.runs.checkpoint import Checkpoint, same_layout, tensor_mismatches
from irem_core.seeding import generator as seeded_generator
from irem_core.training.averaging import WeightAverage
from irem_core.training.distributed import World, gather_to_main, resolve_shards
from irem_core.training.replay import ReplayBuffer


@attrs.define
class Shard:
    """One slice of the global batch: its own problem generator and replay ring.

    Attributes:
        index: the shard's number ``s``, ``0 .. S − 1``.
        generator: draws the shard's problems, starts and replay picks (seeded by
            :func:`~irem_core.seeding.derive_seed` of ``train-shard:<s>``).
        buffer: the shard's replay ring (``replay_capacity // S`` states).
    """

    index: int
    generator: torch.Generator
    buffer: ReplayBuffer


def make_shards(config: RunConfig, count: int, world: World, device: torch.device) -> list[Shard]:
    """Fresh shards of a run with ``count`` shards in all: this process's share (``count //
    world.size`` consecutive shards), each with its seeded generator and an empty ring."""
    per_process = count // world.size
    capacity = max(1, config.train.replay_capacity // count)
    return [
        Shard(
            index,
            seeded_generator(config.seed, f"train-shard:{index}", device),
            ReplayBuffer(capacity),
        )
        for index in range(world.rank * per_process, (world.rank + 1) * per_process)
    ]


def state_tensors(
    optimizer: torch.optim.Optimizer,
    shards: list[Shard],
    count: int,
    world: World,
    raw: dict[str, Tensor] | None = None,
) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Named tensors and JSON data holding the optimizer, replay and generator state.

    Every shard's generator and ring are gathered to rank 0 (a collective: all ranks call
    it; the others get empty results). Shard ``s`` is stored as ``shard.{s}.generator`` and
    ``shard.{s}.replay.{key}``, its cursor in ``replay_cursors[s]``, and the count as
    ``shards``.

    Args:
        optimizer: the training optimiser.
        shards: this process's shards.
        count: the shard count ``S`` of the run (over all processes).
        world: this process's place among the run's processes.
        raw: the raw weights, saved as ``raw.{name}`` (with a moving average, whose weights
            the model file holds); ``None``: none saved.
    """
    generators = gather_to_main(
        torch.stack([shard.generator.get_state() for shard in shards]), world
    )
    cursors = gather_to_main(torch.tensor([shard.buffer.cursor for shard in shards]), world)
    # the rings fill in lockstep, so every shard's tensors have the same shape
    rings = {
        key: gather_to_main(
            torch.stack([shard.buffer.state_tensors()[key] for shard in shards]), world
        )
        for key in sorted(shards[0].buffer.storage)
    }
    if not world.is_main:
        return {}, {}
    # gather_to_main gives rank 0 every gathered tensor (None only to the other ranks)
    assert generators is not None and cursors is not None
    gathered_rings = cast("dict[str, Tensor]", rings)
    optimizer_state = optimizer.state_dict()
    tensors = {
        f"optimizer.{index}.{key}": value
        for index, state in optimizer_state["state"].items()
        for key, value in state.items()
    }
    for index in range(count):
        tensors[f"shard.{index}.generator"] = generators[index]
        tensors.update(
            {f"shard.{index}.replay.{key}": ring[index] for key, ring in gathered_rings.items()}
        )
    if raw is not None:  # the model file holds the average; training resumes from these
        tensors.update({f"raw.{name}": value for name, value in raw.items()})
    extra = {
        "optimizer_param_groups": optimizer_state["param_groups"],
        "shards": count,
        "replay_cursors": cursors.tolist(),
    }
    return tensors, extra


def restore_weights(
    checkpoint: Checkpoint,
    solver: nn.Module,
    average: WeightAverage | None,
    directory: Path,
    device: torch.device,
) -> None:
    """Load the checkpoint's trained weights into ``solver`` (the raw ones when it holds
    them) and its averaged weights into ``average``; refused when their names or shapes
    do not fit ``solver``'s."""
    raw = {
        name.removeprefix("raw."): tensor
        for name, tensor in checkpoint.state.items()
        if name.startswith("raw.")
    }
    weights = solver.state_dict()
    mismatches = tensor_mismatches(weights, raw or checkpoint.model)
    if average is not None:
        mismatches += tensor_mismatches(weights, checkpoint.model)
    if mismatches:
        raise CheckpointError(
            f"the checkpoint in {directory} does not fit the resumed "
            f"config ({'; '.join(mismatches[:3])}); a resumed run keeps "
            "its task and model shapes: drop the --set that changes them, "
            "or start a new run (or restore files modified by hand)"
        )
    solver.load_state_dict(raw or checkpoint.model)
    if average is not None:
        average.average = {name: tensor.to(device) for name, tensor in checkpoint.model.items()}


def restore_optimizer(
    checkpoint: Checkpoint,
    optimizer: torch.optim.Optimizer,
    parameters: list[nn.Parameter],
    directory: Path,
) -> None:
    """Load the checkpoint's optimizer state into ``optimizer`` (which trains
    ``parameters``), refused unless its tensors fit the parameters (moments of their shape
    and dtype, scalar steps counting the checkpoint's iterations) and its parameter groups
    have the layout of ``optimizer``'s."""
    problems, steps = [], []
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, tensor in checkpoint.state.items():
        section, _, rest = name.partition(".")
        if section != "optimizer":
            continue
        index, _, key = rest.partition(".")
        if not index.isdigit() or int(index) >= len(parameters):
            problems.append(f"{name} names no parameter")
            continue
        parameter = parameters[int(index)]
        if key == "step":
            if tensor.dim() != 0 or not tensor.is_floating_point():
                problems.append(f"{name} is not a scalar floating-point count")
            else:
                steps.append(tensor.item())
        elif (tensor.shape, tensor.dtype) != (parameter.shape, parameter.dtype):
            problems.append(
                f"{name} is {tuple(tensor.shape)} {tensor.dtype}, expected "
                f"{tuple(parameter.shape)} {parameter.dtype}"
            )
        state.setdefault(int(index), {})[key] = tensor
    if steps and max(steps) != checkpoint.iteration:  # parameters without a gradient skip
        problems.append(
            f"the optimizer counts {max(steps):g} updates but iteration in config.json is "
            f"{checkpoint.iteration}"
        )
    groups = checkpoint.extra.get("optimizer_param_groups")
    fresh = json.loads(json.dumps(optimizer.state_dict()["param_groups"]))
    if not (
        isinstance(groups, list)
        and len(groups) == len(fresh)
        and all(
            isinstance(group, dict)
            and group.get("params") == model["params"]
            and all(key in group and same_layout(group[key], value) for key, value in model.items())
            for group, model in zip(groups, fresh)
        )
    ):
        problems.append(
            "training.optimizer_param_groups in config.json lacks fields of "
            "this optimizer's parameter groups or has values of other types"
        )
    if problems:
        raise CheckpointError(
            f"the optimizer state in {directory} is damaged "
            f"({'; '.join(problems[:3])}); restore the run's files or "
            "start a new run"
        )
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def restore_shards(
    checkpoint: Checkpoint,
    config: RunConfig,
    task: Task,
    world: World,
    device: torch.device,
    directory: Path,
) -> tuple[int, list[Shard]]:
    """The shard count and this process's shards, continued from the checkpoint.

    Exactly where they stopped when the shard count is unchanged (whatever the number of
    processes); otherwise the saved shards are redistributed (see :func:`reshard`). The
    saved states are refused unless they have the layout this run produces (see
    :func:`check_saved_shards`).
    """
    generators, rings, cursors = saved_shards(checkpoint.state, checkpoint.extra)
    check_saved_shards(generators, rings, task, device, directory)
    count = resolve_shards(config.train, world.size, saved=len(generators))
    shards = make_shards(config, count, world, device)
    if count == len(generators):
        check_cursors(rings, cursors, shards[0].buffer.capacity, directory)
        for shard in shards:
            shard.generator.set_state(generators[shard.index])
            shard.buffer.load(
                {key: value.to(device) for key, value in rings[shard.index].items()},
                cursors[shard.index],
            )
    else:
        reshard(shards, count, generators, rings, device)
    return count, shards


def saved_shards(
    state: dict[str, Tensor], extra: dict[str, Any]
) -> tuple[list[Tensor], list[dict[str, Tensor]], list[int]]:
    """Per shard, in order: generator state, replay tensors ``{key: (n, ...)}`` and cursor.

    Reads the sharded layout of :func:`state_tensors` and the single-generator layout of
    checkpoints written before sharding (``generator``, ``replay.{key}``,
    ``replay_cursor``), which is one shard.
    """
    if "generator" in state:
        ring = {
            name.removeprefix("replay."): value
            for name, value in state.items()
            if name.startswith("replay.")
        }
        return [state["generator"]], [ring], [extra.get("replay_cursor", 0)]
    count = extra.get("shards")
    if not isinstance(count, int) or count < 1 or f"shard.{count - 1}.generator" not in state:
        raise CheckpointError(
            "the checkpoint's training state lacks its shard layout "
            "(training.shards in config.json, shard.N.* tensors); it is "
            "damaged or from another program: retrain"
        )
    generators, rings = [], []
    for index in range(count):
        prefix = f"shard.{index}.replay."
        generators.append(state[f"shard.{index}.generator"])
        rings.append(
            {
                name.removeprefix(prefix): value
                for name, value in state.items()
                if name.startswith(prefix)
            }
        )
    cursors = extra.get("replay_cursors")
    if not (
        isinstance(cursors, list)
        and len(cursors) == count
        and all(
            isinstance(cursor, int) and not isinstance(cursor, bool) and cursor >= 0
            for cursor in cursors
        )
    ):
        raise CheckpointError(
            f"training.replay_cursors in config.json is {cursors!r}, not a "
            f"list of {count} non-negative integers (one per shard); the "
            "checkpoint was modified: restore it or start a new run"
        )
    return generators, rings, cursors


def check_saved_shards(
    generators: list[Tensor],
    rings: list[dict[str, Tensor]],
    task: Task,
    device: torch.device,
    directory: Path,
) -> None:
    """Refuse saved generator states and replay rings that do not have the layout this
    run produces: a generator state of another size or dtype, or ring tensors whose
    names, per-state shapes or dtypes differ from ``task``'s ``pack`` of one problem."""
    problems = []
    fresh = torch.Generator(device).get_state()
    for index, state in enumerate(generators):
        if (state.shape, state.dtype) != (fresh.shape, fresh.dtype):
            problems.append(
                f"shard.{index}.generator is {tuple(state.shape)} {state.dtype}, "
                f"expected {tuple(fresh.shape)} {fresh.dtype}"
            )
    layout_generator = torch.Generator(device).manual_seed(0)
    one = task.sample("train", 1, layout_generator)
    layout = task.pack(one, task.init_answer(one, layout_generator))
    for index, ring in enumerate(rings):
        if not ring:
            continue
        lengths = {tensor.shape[0] if tensor.dim() else -1 for tensor in ring.values()}
        found = {key: (tuple(value.shape[1:]), value.dtype) for key, value in ring.items()}
        expected = {key: (tuple(value.shape[1:]), value.dtype) for key, value in layout.items()}
        if len(lengths) != 1 or found != expected:
            problems.append(
                f"the replay ring of shard {index} does not hold states of "
                f"the task's layout {expected}"
            )
    if problems:
        raise CheckpointError(
            f"the training state in {directory} is damaged "
            f"({'; '.join(problems[:3])}); restore the run's files or "
            "start a new run"
        )


def check_cursors(
    rings: list[dict[str, Tensor]], cursors: list[int], capacity: int, directory: Path
) -> None:
    """Refuse saved replay positions no run produces: a ring holding more than ``capacity``
    states, or a cursor that is not where the next state goes (the ring's length while it
    fills, a slot below ``capacity`` once it is full)."""
    for index, (ring, cursor) in enumerate(zip(rings, cursors)):
        size = next(iter(ring.values())).shape[0] if ring else 0
        expected = f"{size}" if size < capacity else f"below {capacity}"
        if size > capacity or (cursor != size if size < capacity else cursor >= capacity):
            raise CheckpointError(
                f"training.replay_cursors[{index}] in config.json is {cursor} for a replay "
                f"ring of {size} states (capacity {capacity}); it should be {expected}: the "
                "checkpoint was modified: restore it or start a new run"
            )


def reshard(
    shards: list[Shard],
    count: int,
    generators: list[Tensor],
    rings: list[dict[str, Tensor]],
    device: torch.device,
) -> None:
    """Fill this process's ``shards`` (of ``count`` in all) from a checkpoint with another
    shard count ``S_old`` (``generators`` and ``rings`` as :func:`saved_shards` reads them).

    Shard ``s < S_old`` continues old shard ``s``'s generator; newer shards start from
    their seed. The saved states of all old rings, in shard order, are dealt round robin
    to the ``S`` new rings, ``n // S`` each (``n`` states saved; at most ``S − 1`` are
    dropped so that the rings stay in lockstep), each keeping at most the last
    ``replay_capacity // S`` of its share.
    """
    pool = {key: torch.cat([ring[key] for ring in rings]) for key in (rings[0] if rings else {})}
    total = next(iter(pool.values())).shape[0] if pool else 0
    each = total // count
    for shard in shards:
        if shard.index < len(generators):
            shard.generator.set_state(generators[shard.index])
        if each:
            dealt = {
                key: value[shard.index :: count][:each].to(device) for key, value in pool.items()
            }
            capacity = shard.buffer.capacity
            shard.buffer.load(dealt, min(each, capacity) % capacity)
