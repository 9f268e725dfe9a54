"""What ``irem reproduce`` trains and evaluates: tasks, solvers, sizes, budgets, the configs
of its runs and the learning-rate sweep that chooses each cell's rate."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from irem_core.config.compose import build_run_config, override_saved, parse_override
from irem_core.config.convert import structure, unstructure
from irem_core.config.schema import RunConfig
from irem_core.errors import ConfigError, IremError
from irem_core.plugins.manager import Plugins

DEFAULT_TASKS: tuple[str, ...] = (
    "addition",
    "completion",
    "inverse",
    "shortest_path",
    "connected_components",
    "edge_copy",
)
"""The paper's six tasks: the matrix tasks of its tables (IREM, ICML 2022; IRED, ICML 2024,
Table 1) and its three graph tasks."""


DEFAULT_SOLVERS: tuple[str, ...] = (
    "irem",
    "feedforward",
    "recurrent",
    "iterative",
    "ponder",
    "programmatic",
)


DEFAULT_SIZES: tuple[int, ...] = (10, 15, 20, 25, 30)
"""Problem sizes of the size curve, for tasks that declare a size option (graph nodes)."""


SIZE_PROBLEMS = 100
"""Problems per size of the size curve (fewer when ``eval.problems`` is smaller)."""


NESTED_DEPTH = 10
"""Composed operations of the nested curve (the paper sums up to 10 matrices: 9 additions)."""


NESTED_PROBLEMS = 500
"""Nested problems per depth (fewer when ``eval.problems`` is smaller)."""


DEFAULT_LR_FACTORS: tuple[float, ...] = (1 / 3, 1.0, 3.0)
"""The learning-rate sweep: every solver of a task tries the preset's rate times each factor."""


DEFAULT_SWEEP_FRACTION = 0.2
"""Length of a sweep run, as a fraction of the preset's iterations."""


EVAL_SPLITS: tuple[str, ...] = ("same", "harder")


VALIDATION = "validation"
"""The case the sweep chooses on: problems of the ``same`` distribution from their own seed."""


def paper(task: str, *, plugins: Plugins) -> dict[str, Any]:
    """The paper's numbers ``task`` declares in its registration (meta ``paper``): ``source``,
    ``results`` (``{solver: {split: MSE}}``), ``size_curves`` (``{solver: {size: MSE}}``)
    and ``nested_curves`` (``{solver: {operations: MSE}}``), each optional."""
    return plugins.get("task", task).meta.paper


@attrs.frozen
class RunKey:
    """One cell of the reproduction: a solver trained on a task."""

    task: str
    solver: str

    def directory(self, out: Path, seed: int) -> Path:
        """``out/runs/<task>/<solver>/seed-<seed>``."""
        return out / "runs" / self.task / self.solver / f"seed-{seed}"

    def sweep_directory(self, out: Path, lr: float) -> Path:
        """``out/sweep/<task>/<solver>/lr-<lr>``."""
        return out / "sweep" / self.task / self.solver / f"lr-{lr:.3g}"


def parse_scoped_override(text: str) -> tuple[str | None, str]:
    """Split ``[NAME:]KEY=VALUE`` into the scope (a task or solver name, or ``None``) and the
    plain ``KEY=VALUE``."""
    key, equals, value = text.partition("=")
    scope, colon, plain_key = key.partition(":")
    if not colon:
        return None, text
    return scope.strip(), f"{plain_key}{equals}{value}"


def applying_overrides(key: RunKey, overrides: Sequence[str]) -> list[str]:
    """The plain ``KEY=VALUE`` of ``overrides`` that apply to the runs of ``key``: unscoped
    ones and those scoped to its task or solver."""
    scoped = [parse_scoped_override(text) for text in overrides]
    return [text for scope, text in scoped if scope in (None, key.task, key.solver)]


def plain_config(config: RunConfig) -> dict[str, Any]:
    return json.loads(json.dumps(unstructure(config)))


def check_eval_overrides(
    key: RunKey, config: RunConfig, eval_overrides: Sequence[str], *, plugins: Plugins
) -> None:
    """Refuse test-time changes (``--eval-set``) that are not ``solver.*`` fields, or that give
    a config that does not load, before any run trains (not hours later)."""
    for text in eval_overrides:
        path, _ = parse_override(text)
        if path[0] != "solver" or len(path) < 2:
            raise IremError(
                f"--eval-set changes how a trained solver reasons, so it takes solver.* "
                f"fields (e.g. solver.optimizer.name=linesearch), got {text!r}; change "
                "the task or the evaluation of every solver with --set"
            )
    data = plain_config(config)
    override_saved(data, eval_overrides)
    try:
        structure(data, RunConfig, plugins=plugins)
    except ConfigError as error:
        raise IremError(
            f"--eval-set {' '.join(eval_overrides)} does not fit the {key.solver} runs of "
            f"{key.task}: {error}"
        ) from None


def run_config(
    key: RunKey,
    preset: str,
    overrides: Sequence[str],
    seed: int,
    device: str | None,
    *,
    plugins: Plugins,
) -> RunConfig:
    """The config of one run: the task's preset for the solver, then the overrides that apply.

    Solvers registered with ``uses_start=False`` ignore the start ``y0``, so the replay buffer
    (which only stores starts) is switched off for them: they train on fresh problems only.
    """
    config = build_run_config(
        task=key.task,
        solver=key.solver,
        preset=preset,
        overrides=applying_overrides(key, overrides),
        seed=seed,
        device=device,
        plugins=plugins,
    )
    if not plugins.get("solver", key.solver).meta.uses_start:
        config = attrs.evolve(config, train=attrs.evolve(config.train, replay_batch_size=0))
    return config


def check_shared_evaluation(configs: dict[RunKey, RunConfig]) -> None:
    """Every solver of a task must be evaluated alike: same task options, same ``[eval]``."""
    shared: dict[str, Any] = {}
    for key, config in configs.items():
        wanted = (unstructure(config.task), unstructure(config.eval))
        if shared.setdefault(key.task, wanted) != wanted:
            raise IremError(
                f"the solvers of task {key.task!r} would be evaluated differently "
                f"({shared[key.task]} and {wanted}); a scoped --set that changes "
                "task or eval options must name the task, not a solver"
            )


def size_curve_sizes(task: str, sizes: Sequence[int], *, plugins: Plugins) -> list[int]:
    """``sizes`` for a task that declares a size option, else none."""
    return list(sizes) if plugins.get("task", task).meta.size_option else []


def nested_strategy(task: str, *, plugins: Plugins) -> str | None:
    """The recursion strategy ``task`` declares for nested problems (meta ``nested``), if any."""
    return plugins.get("task", task).meta.nested


def sweep_config(config: RunConfig, lr: float, fraction: float) -> RunConfig:
    """A sweep run: ``config`` at peak learning rate ``lr`` for ``fraction`` of its iterations
    (at least one), with its schedule (warm-up, decay) over that shorter run."""
    iterations = max(1, round(config.train.iterations * fraction))
    return attrs.evolve(config, train=attrs.evolve(config.train, lr=lr, iterations=iterations))


def sweep_rates(config: RunConfig, factors: Sequence[float]) -> list[float]:
    """The rates a cell tries: the preset's rate times each factor, to three digits."""
    return sorted({float(f"{config.train.lr * factor:.3g}") for factor in factors})


def chosen_rate(records: dict[float, dict[str, Any]]) -> float:
    """The rate whose sweep run has the lowest validation MSE; runs that diverged lose. When
    every run diverged, the smallest rate."""
    scored = {
        lr: record["validation"]
        for lr, record in records.items()
        if record["validation"] is not None
    }
    return min(scored, key=scored.__getitem__) if scored else min(records)


def with_rate(config: RunConfig, lr: float) -> RunConfig:
    """``config`` at peak learning rate ``lr``."""
    return attrs.evolve(config, train=attrs.evolve(config.train, lr=lr))


def check_arguments(
    seeds: Sequence[int], lr_factors: Sequence[float], sweep_fraction: float, jobs: int | None
) -> None:
    if not seeds or len(set(seeds)) != len(seeds):
        raise IremError(f"seeds must be distinct and at least one, got {list(seeds)}")
    if any(not (math.isfinite(factor) and factor > 0) for factor in lr_factors):
        raise IremError(f"learning-rate factors must be positive numbers, got {list(lr_factors)}")
    if not (math.isfinite(sweep_fraction) and 0 < sweep_fraction <= 1):
        raise IremError(f"the sweep fraction must be in (0, 1], got {sweep_fraction}")
    if jobs is not None and jobs <= 0:
        raise IremError(f"jobs must be positive, got {jobs}")


def check_selection(
    tasks: list[str], solvers: list[str], overrides: Sequence[str], *, plugins: Plugins
) -> None:
    """Refuse repeated names and ``NAME:`` scopes that name no installed task or solver (a
    typo would silently apply to nothing)."""
    for kind, names in (("tasks", tasks), ("solvers", solvers)):
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise IremError(f"--{kind} names {', '.join(repeated)} more than once")
    scopes = {scope for scope, _ in map(parse_scoped_override, overrides) if scope is not None}
    registries = plugins.registries
    known = {
        component.name for kind in ("task", "solver") for component in registries[kind].components()
    }
    unknown = sorted(scopes - known)
    if unknown:
        raise IremError(
            f"--set or --eval-set scope(s) {', '.join(unknown)} name no installed task or solver; "
            f"tasks: {', '.join(sorted(c.name for c in registries['task'].components()))}"
            f"; solvers: "
            f"{', '.join(sorted(c.name for c in registries['solver'].components()))}"
        )
