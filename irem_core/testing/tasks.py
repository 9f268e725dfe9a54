"""The task contract: :func:`check_task`."""

from __future__ import annotations

import torch
from torch import Tensor

from irem_core.reasoning.protocols import (
    SPLITS,
    Problems,
    ScoringTask,
    Task,
)
from irem_core.testing.support import Device, as_device, equal, require, require_error, seeded


def _check_problems(
    problems: Problems, task: Task, count: int, device: torch.device, label: str
) -> None:
    """Shapes, dtypes and devices of one sampled batch."""
    target, rows = problems.target, problems.row_problem
    require(
        problems.num_problems == count,
        label,
        f"num_problems is {problems.num_problems}, expected {count}",
    )
    require(
        isinstance(target, Tensor)
        and target.is_floating_point()
        and target.dim() == 2
        and target.shape[1] == task.answer_features,
        label,
        f"target must be a floating (rows, {task.answer_features}) tensor",
    )
    require(
        target.device == device,
        label,
        f"target is on {target.device}, expected the generator's device {device}",
    )
    require(bool(target.isfinite().all()), label, "target holds NaN/Inf")
    require(
        rows.dtype == torch.int64 and rows.shape == (target.shape[0],) and rows.device == device,
        label,
        "row_problem must be int64 of shape (rows,) on the target's device",
    )
    require(
        rows.numel() > 0
        and int(rows.min()) >= 0
        and int(rows.max()) < count
        and bool((torch.bincount(rows, minlength=count) > 0).all()),
        label,
        "row_problem must map rows onto 0..num_problems−1, every problem owning a row",
    )


def check_task(
    task: Task,
    *,
    device: Device = "cpu",
    seed: int = 0,
    num_problems: int = 4,
    name: str | None = None,
) -> None:
    """Check ``task`` against the :class:`~irem_core.reasoning.protocols.Task` contract.

    Args:
        task: the task instance.
        device: where problems are drawn (the generator's device).
        seed: generator seed.
        num_problems: ``B`` per sampled batch (at least 2).
        name: the name used in messages (default: the class name).
    """
    label, device = f"task {name or type(task).__name__}", as_device(device)
    require(isinstance(task.domain, str) and bool(task.domain), label, "needs a string `domain`")
    require(
        isinstance(task.answer_features, int) and task.answer_features > 0,
        label,
        "needs a positive int `answer_features`",
    )
    for split in SPLITS:
        where = f"{label} ({split})"
        draws = []
        for global_seed in (1, 2):  # the task must use only the generator it is given
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(global_seed)
                generator = seeded(device, seed)
                problems = task.sample(split, num_problems, generator)
                draws.append((problems, task.init_answer(problems, generator)))
        (problems, start), (again, start_again) = draws
        _check_problems(problems, task, num_problems, device, where)
        require(
            equal(task.to_tensors(problems), task.to_tensors(again))
            and torch.equal(start, start_again),
            where,
            "the same generator seed must give the same problems and starts, whatever the "
            "global RNG state (draw only from the generator argument)",
        )
        require(
            start.shape == problems.target.shape
            and start.dtype == problems.target.dtype
            and start.device == device
            and bool(start.isfinite().all()),
            where,
            "init_answer must return finite answers shaped, typed and placed like the target",
        )
        _check_storage(task, problems, start, where)
        if isinstance(task, ScoringTask):
            for metric, values in task.score(start, problems).items():
                require(
                    values.shape == (problems.target.shape[0],),
                    where,
                    f"score {metric!r} must give one value per answer row",
                )
    packs = []
    for offset in (1, 2):
        generator = seeded(device, seed + offset)
        problems = task.sample("train", num_problems, generator)
        packs.append(task.pack(problems, task.init_answer(problems, generator)))
    require(
        all(packs[0][key].shape[1:] == packs[1][key].shape[1:] for key in packs[0]),
        label,
        "pack of two train batches must give equal shapes beyond dim 0 (replay storage is fixed)",
    )
    require_error(
        lambda: task.sample("no-such-split", num_problems, seeded(device, seed)),
        label,
        "an unknown split must raise IremError naming the valid splits",
    )
    require_error(
        lambda: task.from_tensors({}),
        label,
        "from_tensors of a malformed file must raise IremError saying what is missing",
    )


def _check_storage(task: Task, problems: Problems, answer: Tensor, label: str) -> None:
    """``pack``/``unpack``, chunking and ``to_tensors``/``from_tensors``."""
    packed = task.pack(problems, answer)
    require(
        all(value.shape[0] == problems.num_problems for value in packed.values()),
        label,
        "every packed tensor must have leading dimension num_problems",
    )
    unpacked, unpacked_answer = task.unpack(packed)
    require(
        torch.equal(unpacked.target, problems.target)
        and torch.equal(unpacked.row_problem, problems.row_problem)
        and torch.equal(unpacked_answer, answer)
        and equal(task.to_tensors(unpacked), task.to_tensors(problems)),
        label,
        "unpack(pack(problems, answer)) must give back the same problems and answer",
    )
    head = problems.num_problems // 2
    chunk, _ = task.unpack({key: value[:head] for key, value in packed.items()})
    require(
        chunk.num_problems == head
        and torch.equal(chunk.target, problems.target[problems.row_problem < head]),
        label,
        "the first k packed problems must unpack to the first k problems' rows, in order",
    )
    tensors = task.to_tensors(problems)
    restored = task.from_tensors(tensors)
    require(
        torch.equal(restored.target, problems.target)
        and torch.equal(restored.row_problem, problems.row_problem)
        and equal(task.to_tensors(restored), tensors),
        label,
        "from_tensors(to_tensors(problems)) must give back the same problems",
    )
