"""One run of a reproduction: train (or resume) it, then evaluate it on the fixed problem
sets, the size curve and nested problems, or validate a sweep run; save its record."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from irem_core.config.schema import RunConfig
from irem_core.errors import NonFiniteError
from irem_core.plugins.manager import Plugins
from irem_core.reasoning.protocols import Problems, Task
from irem_core.runs.build import build_task
from irem_core.runs.checkpoint import CONFIG_FILE, atomic_write, read_record, tensors_to_bytes
from irem_core.runs.evaluation import MIN_ENERGY, evaluate, json_bytes
from irem_core.runs.load import TrainedRun, load_run
from irem_core.runs.nested import nested_mse
from irem_core.runs.sizes import evaluate_sizes
from irem_core.seeding import derive_seed
from irem_core.training.loop import train
from irem_plugins.experiments.protocol import (
    EVAL_SPLITS,
    NESTED_DEPTH,
    NESTED_PROBLEMS,
    SIZE_PROBLEMS,
    VALIDATION,
    nested_strategy,
    plain_config,
    size_curve_sizes,
)
from irem_plugins.experiments.records import EVALUATION_FILE, SWEEP_FILE, check_same_config


class ProblemSets:
    """The fixed evaluation problems of each task's splits, drawn once and shared by every
    solver (the size curve's problems are :func:`~irem_core.runs.sizes.evaluate_sizes`').

    Split ``s`` of a task is drawn as ``irem data TASK --split s -n N --seed SEED`` would,
    written to ``out/data/<task>-<split>.safetensors`` and read back from that file.

    Args:
        out: the reproduction directory.
        seed: the reproduction seed; problem seeds derive from it.
    """

    def __init__(self, out: Path, seed: int) -> None:
        self.out = out
        self.seed = seed
        self._cache: dict[tuple[str, str], tuple[Task, Problems]] = {}

    def problem_seed(self, case: str) -> int:
        """Seed of the problems of ``case`` (a split, or :data:`VALIDATION`):
        :func:`~irem_core.seeding.derive_seed` of ``problems:<case>``, as ``irem data`` and
        ``irem eval`` derive it."""
        return derive_seed(self.seed, f"problems:{case}")

    def start_seed(self, case: str) -> int:
        """Seed of the starts ``y0`` used on ``case`` (``starts:<case>``, as ``irem eval``)."""
        return derive_seed(self.seed, f"starts:{case}")

    def get(
        self, config: RunConfig, split: str, device: torch.device, *, plugins: Plugins
    ) -> tuple[Task, Problems]:
        """The task (built by ``plugins``) and problems of ``split`` for ``config``'s task."""
        if (config.task.name, split) not in self._cache:
            self._cache[config.task.name, split] = self._draw(config, split, device, plugins)
        return self._cache[config.task.name, split]

    def _draw(
        self, config: RunConfig, split: str, device: torch.device, plugins: Plugins
    ) -> tuple[Task, Problems]:
        generator = torch.Generator().manual_seed(self.problem_seed(split))
        task = build_task(config.task, plugins=plugins)
        distribution = "same" if split == VALIDATION else split
        tensors = task.to_tensors(task.sample(distribution, config.eval.problems, generator))
        path = self.out / "data" / f"{config.task.name}-{split}.safetensors"
        atomic_write(path, tensors_to_bytes(tensors))
        return task, task.from_tensors({key: value.to(device) for key, value in tensors.items()})


def ensure_trained(
    config: RunConfig, directory: Path, progress: bool, *, plugins: Plugins
) -> dict[str, Any]:
    """Train the run in ``directory`` to ``config.train.iterations``, resuming a checkpoint."""
    resume = (directory / CONFIG_FILE).is_file()
    if resume:
        record = read_record(directory)
        check_same_config(directory, record["config"], plain_config(config), plugins=plugins)
        if record["iteration"] >= config.train.iterations:
            return {
                "iterations": record["iteration"],
                "wall_seconds": None,
                "final_loss": None,
                "resumed": True,
            }
    summary = train(
        config,
        directory,
        resume=resume,
        force=not resume,
        progress=progress,
        plugins=plugins,
        threads=torch.get_num_threads(),  # the job pool gave each worker its share of cores
    )
    return {
        "iterations": summary.iterations,
        "wall_seconds": summary.wall_seconds,
        "final_loss": summary.final_loss,
        "resumed": resume,
    }


def evaluate_nested(
    run: TrainedRun,
    config: RunConfig,
    problem_sets: ProblemSets,
    strategy: str,
    *,
    plugins: Plugins,
) -> dict[str, Any]:
    """MSE after each of :data:`NESTED_DEPTH` composed operations on the ``same`` split.

    Every solver of a task gets the same operands and starts (seeded from the reproduction
    seed), and as many steps per operation as its largest evaluation budget.
    """
    problems = min(NESTED_PROBLEMS, config.eval.problems)
    steps = max(config.eval.steps)
    errors = nested_mse(
        run.solver,
        run.task,
        strategy,
        NESTED_DEPTH,
        "same",
        problems,
        steps,
        problem_sets.seed,
        run.device,
        plugins=plugins,
    )
    return {"strategy": strategy, "problems": problems, "steps": steps, "mse": errors}


def evaluate_run(
    config: RunConfig,
    directory: Path,
    problem_sets: ProblemSets,
    sizes: Sequence[int],
    eval_overrides: Sequence[str],
    *,
    plugins: Plugins,
) -> dict[str, Any]:
    """Evaluate the trained run in ``directory`` on every split and size, and on nested
    problems where the task declares a strategy; ``eval_overrides`` (``solver.*=VALUE``)
    change how the trained solver reasons (e.g. its optimizer), as ``irem eval --set``."""
    run = load_run(directory, config.device, eval_overrides, plugins=plugins)
    splits: dict[str, Any] = {}
    for split in EVAL_SPLITS:
        task, problems = problem_sets.get(config, split, run.device, plugins=plugins)
        generator = torch.Generator(run.device).manual_seed(problem_sets.start_seed(split))
        splits[split] = evaluate(
            run.solver, task, problems, config.eval.steps, generator, config.eval.batch_size
        ).to_dict()
    curve = evaluate_sizes(
        run,
        size_curve_sizes(config.task.name, sizes, plugins=plugins),
        config.eval.steps,
        problems=min(SIZE_PROBLEMS, config.eval.problems),
        seed=problem_sets.seed,
        batch_size=config.eval.batch_size,
        plugins=plugins,
    )
    record = {
        "eval_overrides": list(eval_overrides),
        "splits": splits,
        "sizes": {str(row.size): row.evaluation.to_dict() for row in curve.rows},
    }
    strategy = nested_strategy(config.task.name, plugins=plugins)
    if strategy is not None:
        record["nested"] = evaluate_nested(run, config, problem_sets, strategy, plugins=plugins)
    return record


def train_and_evaluate(
    config: RunConfig,
    directory: Path,
    problem_sets: ProblemSets,
    sizes: Sequence[int],
    eval_overrides: Sequence[str],
    progress: bool,
    *,
    plugins: Plugins,
) -> dict[str, Any]:
    """Train (or resume) one run, evaluate it (with the test-time changes
    ``eval_overrides``), and save the record as ``evaluation.json``.

    A run whose training loss becomes NaN/Inf is recorded with its ``error`` instead of
    evaluations, so one diverging solver does not stop the reproduction.
    """
    try:
        training = ensure_trained(config, directory, progress, plugins=plugins)
    except NonFiniteError as error:
        record: dict[str, Any] = {"config": plain_config(config), "error": str(error)}
    else:
        evaluation_started = time.perf_counter()
        record = {
            "config": plain_config(config),
            "train": training,
            **evaluate_run(config, directory, problem_sets, sizes, eval_overrides, plugins=plugins),
            "eval_seconds": time.perf_counter() - evaluation_started,
        }
    atomic_write(directory / EVALUATION_FILE, json_bytes(record))
    return record


def train_and_validate(
    config: RunConfig,
    directory: Path,
    problem_sets: ProblemSets,
    progress: bool,
    *,
    plugins: Plugins,
) -> dict[str, Any]:
    """Train (or resume) one sweep run and save its validation MSE as ``validation.json``.

    ``validation`` is the final-answer MSE on the validation problems at the largest test
    budget, or ``None`` when training diverged or some validation answers were NaN/Inf.
    """
    record: dict[str, Any] = {"config": plain_config(config), "lr": config.train.lr}
    try:
        record["train"] = ensure_trained(config, directory, progress, plugins=plugins)
    except NonFiniteError as error:
        record.update(error=str(error), validation=None)
    else:
        run = load_run(directory, config.device, plugins=plugins)
        task, problems = problem_sets.get(config, VALIDATION, run.device, plugins=plugins)
        generator = torch.Generator(run.device).manual_seed(problem_sets.start_seed(VALIDATION))
        evaluation = evaluate(
            run.solver, task, problems, config.eval.steps, generator, config.eval.batch_size
        ).to_dict()
        mse = evaluation["mse"][MIN_ENERGY]
        clean = not evaluation["nonfinite_problems"] and mse is not None and math.isfinite(mse)
        record["validation"] = mse if clean else None
    atomic_write(directory / SWEEP_FILE, json_bytes(record))
    return record
