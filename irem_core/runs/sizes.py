"""Evaluating a trained run over problem sizes × step budgets (a size curve).

Each size ``n`` gets its own problems and its own starting answers, from the streams
``problems:size:<n>`` and ``starts:size:<n>`` of the evaluation seed
(:func:`~irem_core.seeding.derive_seed`), so a size's numbers do not depend on which other
sizes are evaluated, nor on their order. Problems are drawn on the CPU and then moved to the
run's device (the same problems on every device); starts are drawn on the run's device. This
is the scheme of ``irem reproduce``'s size curve, whose records it re-evaluates digit for
digit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs
import torch

from irem_core.plugins.manager import Plugins, resolve_plugins
from irem_core.reasoning.protocols import Problems, Task
from irem_core.runs.build import check_problems, sized_task
from irem_core.runs.evaluation import Evaluation, evaluate
from irem_core.runs.load import TrainedRun
from irem_core.seeding import generator as seeded_generator


@attrs.frozen
class SizeRow:
    """A run's errors at one problem size.

    Attributes:
        size: the value of the task's size option (graph nodes, ...).
        budgets: the step budgets evaluated at this size, increasing.
        evaluation: errors at each budget and at the min-energy answer; its ``curve`` has
            ``max(budgets) + 1`` entries.
    """

    size: int
    budgets: list[int]
    evaluation: Evaluation


@attrs.frozen
class SizeCurve:
    """A run's errors over problem sizes.

    Attributes:
        split: the split the problems were drawn from, at each size.
        problems: problems evaluated per size.
        seed: the evaluation seed the problems and starts derive from.
        rows: one row per size, in the order the sizes were given.
    """

    split: str
    problems: int
    seed: int
    rows: list[SizeRow]

    def by_size(self) -> dict[int, Evaluation]:
        """``{size: evaluation}``, in the order of :attr:`rows`."""
        return {row.size: row.evaluation for row in self.rows}


def size_problems(
    run: TrainedRun,
    size: int,
    count: int,
    seed: int,
    split: str = "same",
    *,
    plugins: Plugins | None = None,
) -> tuple[Task, Problems]:
    """The run's task at ``size`` and ``count`` of its problems of ``split``, on the run's
    device: the problems :func:`evaluate_sizes` evaluates at that size.

    Drawn on the CPU from the stream ``problems:size:<size>`` of ``seed`` (for every split:
    the split chooses the distribution), checked against the task contract, then moved to
    ``run.device``. ``problems.target`` is ``(rows, task.answer_features)``, the answer rows
    of all ``count`` problems; ``problems.row_problem`` ``(rows,)`` maps each row to its
    problem.
    """
    plugins = resolve_plugins(plugins)
    task = sized_task(run.config.task, size, plugins=plugins)
    drawn = task.sample(split, count, seeded_generator(seed, f"problems:size:{size}"))
    check_problems(run.config.task.name, task, drawn, count, plugins=plugins)
    tensors = {key: value.to(run.device) for key, value in task.to_tensors(drawn).items()}
    return task, task.from_tensors(tensors)


def size_starts(run: TrainedRun, size: int, seed: int) -> torch.Generator:
    """The generator, on ``run.device``, of the starting answers ``y0`` at ``size``: the
    stream ``starts:size:<size>`` of ``seed``. ``task.init_answer`` draws from it ``y0`` of
    the problems' target shape ``(rows, answer_features)``, one chunk of problems at a time."""
    return seeded_generator(seed, f"starts:size:{size}", run.device)


def evaluate_sizes(
    run: TrainedRun,
    sizes: Sequence[int],
    budgets: Sequence[int] | Mapping[int, Sequence[int]],
    *,
    problems: int,
    seed: int,
    split: str = "same",
    batch_size: int | None = None,
    plugins: Plugins | None = None,
) -> SizeCurve:
    """Evaluate ``run``'s solver at each of ``sizes`` of its task's size option.

    At each size, :func:`size_problems` draws ``problems`` problems (answer rows
    ``(rows, answer_features)``) and :func:`~irem_core.runs.evaluation.evaluate` solves them
    in chunks of ``batch_size`` problems from starts ``y0`` of the same shape drawn from
    :func:`size_starts`, recording the MSE after every budget and of the min-energy answer.

    Args:
        run: the loaded run (its task must declare a size option).
        sizes: the sizes, e.g. graph nodes ``[10, 15, 20]``; evaluated in this order.
        budgets: step budgets, the same at every size, or ``{size: budgets}`` per size.
        problems: problems per size.
        seed: the evaluation seed (``irem reproduce``: its first seed).
        split: the distribution at each size (``same`` or ``harder``; the size option
            overrides the split's own size).
        batch_size: problems solved at once (default: the run's ``eval.batch_size``); it
            changes the digits, as chunks draw their starts one after another.
        plugins: the plugins that build the sized task (default: the installed plugins).

    Returns:
        One :class:`SizeRow` per size, in the order of ``sizes``.
    """
    plugins = resolve_plugins(plugins)
    chunk = run.config.eval.batch_size if batch_size is None else batch_size
    rows = []
    for size in sizes:
        steps = sorted(set(budgets[size] if isinstance(budgets, Mapping) else budgets))
        task, drawn = size_problems(run, size, problems, seed, split, plugins=plugins)
        result = evaluate(run.solver, task, drawn, steps, size_starts(run, size, seed), chunk)
        rows.append(SizeRow(size, steps, result))
    return SizeCurve(split, problems, seed, rows)
