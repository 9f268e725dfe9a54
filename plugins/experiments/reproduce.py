"""``irem reproduce``: train solvers × tasks, evaluate them on fixed problem sets, compare.

Every solver gets one protocol: a learning-rate sweep of short runs into
``DIR/sweep/<task>/<solver>/lr-<rate>``, chosen on validation problems, then for each seed a
run trained with :func:`irem_core.training.loop.train` at the chosen rate into
``DIR/runs/<task>/<solver>/seed-<s>`` (from the task's preset), evaluated with
:func:`irem_core.runs.evaluation.evaluate` on the ``same`` and ``harder`` problem sets of that task,
drawn once from fixed seeds and written to ``DIR/data`` (as ``irem data`` would), so every
solver sees the same problems and the same starts. Tasks that declare a size option are
also evaluated at growing sizes, and tasks that declare a ``nested`` recursion strategy on
nested problems of growing depth (the paper's "error vs composed operations" figure). The
results go to ``DIR/results.json``, ``DIR/results.md`` (the paper's numbers beside ours) and
plots.

A finished run keeps its evaluation in ``evaluation.json`` beside its checkpoint; a rerun
reuses it, resumes a run that was interrupted in training, and trains the rest.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import multiprocessing
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import attrs
import torch
from tqdm.auto import tqdm

from irem_core.training.allocator import keep_freed_memory
from irem_core.runs.checkpoint import CONFIG_FILE, atomic_write, read_record, tensors_to_bytes
from irem_core.config.schema import (
    RunConfig,
    build_run_config,
    override_saved,
    parse_override,
    structure,
    unstructure,
)
from irem_core.errors import ConfigError, IremError, NonFiniteError
from irem_core.runs.evaluation import MIN_ENERGY, evaluate, json_bytes
from irem_core.runs.nested import nested_mse
from irem_core.plugins.manager import Plugins, resolve_plugins
from irem_core.reasoning.protocols import Problems, Task
from irem_core.runs.build import TrainedRun, build_task, load_run, resolve_device, sized_task
from irem_core.seeding import derive_seed
from irem_core.training.loop import train

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

EVALUATION_FILE = "evaluation.json"
SWEEP_FILE = "validation.json"


def paper(task: str, *, plugins: Plugins) -> dict[str, Any]:
    """The paper's numbers ``task`` declares in its registration (meta ``paper``): ``source``,
    ``results`` (``{solver: {split: MSE}}``), ``size_curves`` (``{solver: {size: MSE}}``)
    and ``nested_curves`` (``{solver: {operations: MSE}}``), each optional."""
    return plugins.get("task", task).meta.get("paper", {})


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


@attrs.frozen
class ReproduceSummary:
    """What :func:`reproduce` did.

    Attributes:
        directory: the output directory.
        trained: runs (cell and seed) trained or resumed, and evaluated, by this call.
        reused: finished runs found in the directory and reused.
        learning_rates: the rate the sweep chose for each cell.
        wall_seconds: time this call took.
    """

    directory: Path
    trained: list[tuple[RunKey, int]]
    reused: list[tuple[RunKey, int]]
    learning_rates: dict[RunKey, float]
    wall_seconds: float


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
    data = _plain(config)
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
    if not plugins.get("solver", key.solver).meta.get("uses_start", True):
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


def _plain(config: RunConfig) -> dict[str, Any]:
    return json.loads(json.dumps(unstructure(config)))


def _differences(saved: Any, wanted: Any, prefix: str = "") -> list[str]:
    if isinstance(saved, dict) and isinstance(wanted, dict):
        return [
            difference
            for name in sorted(set(saved) | set(wanted))
            for difference in _differences(saved.get(name), wanted.get(name), f"{prefix}{name}.")
        ]
    return [] if saved == wanted else [f"{prefix.rstrip('.')} ({saved!r} there, {wanted!r} now)"]


def _check_same_config(
    directory: Path, saved: dict[str, Any], wanted: dict[str, Any], *, plugins: Plugins
) -> bool:
    """Refuse to reuse a run trained with another config (options added since it ran take
    defaults). The evaluation settings (``eval``) do not change training: a run that
    differs only there is reused, and the result says whether they match (``False``: its
    saved evaluation is stale and is made again)."""
    try:
        saved = _plain(structure(saved, RunConfig, plugins=plugins))
    except ConfigError as error:
        raise IremError(
            f"{directory} holds a run whose config no longer loads ({error}). Delete "
            "that directory to redo it, or choose another --out"
        ) from None
    differences = _differences(
        {key: value for key, value in saved.items() if key != "eval"},
        {key: value for key, value in wanted.items() if key != "eval"},
    )
    if differences:
        raise IremError(
            f"{directory} holds a run with another config: {'; '.join(differences)}. "
            "Delete that directory to redo it, or choose another --out"
        )
    return saved.get("eval") == wanted.get("eval")


def read_record_file(path: Path) -> dict[str, Any] | None:
    """The JSON record a finished run left in ``path``; ``None`` when there is none, or when it
    is cut off or damaged (then the run is evaluated again, with a note on stderr)."""
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        record = None
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
        print(f"irem reproduce: {path} is damaged; evaluating that run again", file=sys.stderr)
        return None
    return record


def finished_evaluation(
    directory: Path,
    config: RunConfig,
    sizes: Sequence[int],
    eval_overrides: Sequence[str],
    *,
    plugins: Plugins,
) -> dict[str, Any] | None:
    """The saved record of a finished run of ``config`` in ``directory``, else ``None``.

    A record evaluated at other sizes than ``sizes``, with other ``eval`` settings or other
    test-time changes (``eval_overrides``) is not finished (its run is evaluated again,
    without training).
    """
    record = read_record_file(directory / EVALUATION_FILE)
    if record is None:
        return None
    if not _check_same_config(directory, record["config"], _plain(config), plugins=plugins):
        return None
    wanted = [str(size) for size in size_curve_sizes(config.task.name, sizes, plugins=plugins)]
    has_nested = nested_strategy(config.task.name, plugins=plugins) is not None
    if "error" not in record and (
        list(record["sizes"]) != wanted
        or ("nested" in record) != has_nested
        or record.get("eval_overrides", []) != list(eval_overrides)
    ):
        return None
    return record


def ensure_trained(
    config: RunConfig, directory: Path, progress: bool, *, plugins: Plugins
) -> dict[str, Any]:
    """Train the run in ``directory`` to ``config.train.iterations``, resuming a checkpoint."""
    resume = (directory / CONFIG_FILE).is_file()
    if resume:
        record = read_record(directory)
        _check_same_config(directory, record["config"], _plain(config), plugins=plugins)
        if record["iteration"] >= config.train.iterations:
            return {
                "iterations": record["iteration"],
                "wall_seconds": None,
                "final_loss": None,
                "resumed": True,
            }
    summary = train(
        config, directory, resume=resume, force=not resume, progress=progress, plugins=plugins
    )
    return {
        "iterations": summary.iterations,
        "wall_seconds": summary.wall_seconds,
        "final_loss": summary.final_loss,
        "resumed": resume,
    }


class ProblemSets:
    """The fixed evaluation problems of each task, drawn once and shared by every solver.

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
        """Seed of the problems of ``case`` (a split, or ``size:<n>`` for the size curve):
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
        if split.startswith("size:"):
            task = sized_task(config.task, int(split.removeprefix("size:")), plugins=plugins)
            problems = task.sample("same", min(SIZE_PROBLEMS, config.eval.problems), generator)
            return task, task.from_tensors(
                {key: value.to(device) for key, value in task.to_tensors(problems).items()}
            )
        task = build_task(config.task, plugins=plugins)
        distribution = "same" if split == VALIDATION else split
        tensors = task.to_tensors(task.sample(distribution, config.eval.problems, generator))
        path = self.out / "data" / f"{config.task.name}-{split}.safetensors"
        atomic_write(path, tensors_to_bytes(tensors))
        return task, task.from_tensors({key: value.to(device) for key, value in tensors.items()})


def size_curve_sizes(task: str, sizes: Sequence[int], *, plugins: Plugins) -> list[int]:
    """``sizes`` for a task that declares a size option, else none."""
    return list(sizes) if plugins.get("task", task).meta.get("size_option") else []


def nested_strategy(task: str, *, plugins: Plugins) -> str | None:
    """The recursion strategy ``task`` declares for nested problems (meta ``nested``), if any."""
    return plugins.get("task", task).meta.get("nested")


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
    sized = [f"size:{size}" for size in size_curve_sizes(config.task.name, sizes, plugins=plugins)]
    cases = list(EVAL_SPLITS) + sized
    results: dict[str, Any] = {}
    for case in cases:
        task, problems = problem_sets.get(config, case, run.device, plugins=plugins)
        generator = torch.Generator(run.device).manual_seed(problem_sets.start_seed(case))
        results[case] = evaluate(
            run.solver, task, problems, config.eval.steps, generator, config.eval.batch_size
        ).to_dict()
    record = {
        "eval_overrides": list(eval_overrides),
        "splits": {split: results[split] for split in EVAL_SPLITS},
        "sizes": {case.removeprefix("size:"): results[case] for case in sized},
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
        record: dict[str, Any] = {"config": _plain(config), "error": str(error)}
    else:
        evaluation_started = time.perf_counter()
        record = {
            "config": _plain(config),
            "train": training,
            **evaluate_run(config, directory, problem_sets, sizes, eval_overrides, plugins=plugins),
            "eval_seconds": time.perf_counter() - evaluation_started,
        }
    atomic_write(directory / EVALUATION_FILE, json_bytes(record))
    return record


def sweep_config(config: RunConfig, lr: float, fraction: float) -> RunConfig:
    """A sweep run: ``config`` at peak learning rate ``lr`` for ``fraction`` of its iterations
    (at least one), with its schedule (warm-up, decay) over that shorter run."""
    iterations = max(1, round(config.train.iterations * fraction))
    return attrs.evolve(config, train=attrs.evolve(config.train, lr=lr, iterations=iterations))


def sweep_rates(config: RunConfig, factors: Sequence[float]) -> list[float]:
    """The rates a cell tries: the preset's rate times each factor, to three digits."""
    return sorted({float(f"{config.train.lr * factor:.3g}") for factor in factors})


def finished_validation(
    directory: Path, config: RunConfig, *, plugins: Plugins
) -> dict[str, Any] | None:
    """The saved record of a finished sweep run of ``config`` in ``directory``, else ``None``."""
    record = read_record_file(directory / SWEEP_FILE)
    if record is None:
        return None
    if not _check_same_config(directory, record["config"], _plain(config), plugins=plugins):
        return None
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
    record: dict[str, Any] = {"config": _plain(config), "lr": config.train.lr}
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


def default_jobs(configs: Iterable[RunConfig]) -> int:
    """Runs trained at once by default: one per CPU core, at most four, for CPU runs (the
    quick presets' small networks use cores better as separate runs than as threads of one
    run); one when any run uses an accelerator."""
    if any(resolve_device(config.device).type != "cpu" for config in configs):
        return 1
    return max(1, min(4, os.cpu_count() or 1))


@functools.cache
def _problem_sets(out: Path, seed: int) -> ProblemSets:
    """One :class:`ProblemSets` per reproduction and process, so problems are drawn once."""
    return ProblemSets(out, seed)


def _sweep_job(
    config: dict[str, Any],
    directory: Path,
    out: Path,
    seed: int,
    progress: bool,
    plugins: Plugins | None,
) -> dict[str, Any]:
    """:func:`train_and_validate` with picklable arguments (for worker processes, which
    pass ``plugins=None``: the installed plugins)."""
    plugins = resolve_plugins(plugins)
    return train_and_validate(
        structure(config, RunConfig, plugins=plugins),
        directory,
        _problem_sets(out, seed),
        progress,
        plugins=plugins,
    )


def _evaluation_job(
    config: dict[str, Any],
    directory: Path,
    out: Path,
    seed: int,
    sizes: list[int],
    eval_overrides: list[str],
    progress: bool,
    plugins: Plugins | None,
) -> dict[str, Any]:
    """:func:`train_and_evaluate` with picklable arguments (for worker processes, which
    pass ``plugins=None``: the installed plugins)."""
    plugins = resolve_plugins(plugins)
    return train_and_evaluate(
        structure(config, RunConfig, plugins=plugins),
        directory,
        _problem_sets(out, seed),
        sizes,
        eval_overrides,
        progress,
        plugins=plugins,
    )


def _execute(
    calls: dict[Any, tuple[Callable[..., dict[str, Any]], tuple[Any, ...]]],
    jobs: int,
    bar: tqdm,
    progress: bool,
    plugins: Plugins,
) -> dict[Any, dict[str, Any]]:
    """Run ``function(*arguments, progress, plugins)`` for every entry of ``calls``: in this
    process when ``jobs`` is 1, else in ``jobs`` worker processes with ``cpus // jobs`` torch
    threads each, which load the installed plugins (a :class:`Plugins` does not pickle).
    Returns the records by the same keys."""
    records: dict[Any, dict[str, Any]] = {}
    if jobs == 1 or len(calls) <= 1:
        for name, (function, arguments) in calls.items():
            bar.set_postfix_str(str(name))
            records[name] = function(*arguments, progress, plugins)
            bar.update(1)
        return records
    threads = max(1, (os.cpu_count() or 1) // jobs)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        min(jobs, len(calls)),
        mp_context=context,
        initializer=_start_worker,
        initargs=(threads,),
    ) as pool:
        futures = {
            pool.submit(function, *arguments, False, None): name
            for name, (function, arguments) in calls.items()
        }
        for future in as_completed(futures):
            records[futures[future]] = future.result()
            bar.set_postfix_str(f"finished {futures[future]}")
            bar.update(1)
    return records


def _start_worker(threads: int) -> None:
    """A worker process's set-up: ``threads`` torch threads, freed memory kept (as the CLI)."""
    torch.set_num_threads(threads)
    keep_freed_memory()


def _check_arguments(
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


def _check_selection(
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


def reproduce(
    out: str | Path,
    *,
    preset: str = "quick",
    tasks: Iterable[str] = DEFAULT_TASKS,
    solvers: Iterable[str] = DEFAULT_SOLVERS,
    overrides: Sequence[str] = (),
    eval_overrides: Sequence[str] = (),
    seeds: Sequence[int] = (0,),
    device: str | None = None,
    sizes: Sequence[int] = DEFAULT_SIZES,
    lr_factors: Sequence[float] = DEFAULT_LR_FACTORS,
    sweep_fraction: float = DEFAULT_SWEEP_FRACTION,
    jobs: int | None = None,
    progress: bool = True,
    plugins: Plugins | None = None,
) -> ReproduceSummary:
    """Sweep each solver's learning rate, train it with the best one for every seed, evaluate
    it on every task; write results into ``out``.

    The protocol is the same for every solver (IREM included): short runs at the preset's
    learning rate times each of ``lr_factors``, the rate with the lowest validation MSE
    (problems of the ``same`` distribution from their own seed, never the test sets), then
    full runs at that rate. Nothing else is tuned per solver or task.

    Args:
        out: output directory (sweep and full runs, problem sets, results, plots).
        preset: the tasks' preset: ``quick``, ``fast`` or ``paper``.
        tasks: task names.
        solvers: solver names.
        overrides: ``--set`` overrides, ``KEY=VALUE`` for every run or ``NAME:KEY=VALUE`` for
            the runs of one task or solver.
        eval_overrides: ``--eval-set`` test-time changes, ``[NAME:]solver.KEY=VALUE``: how the
            trained full runs reason when evaluated (e.g. ``irem:solver.optimizer.name=
            linesearch``), as ``irem eval --set``. Training and the sweep's validation do not
            see them.
        seeds: training seeds of the full runs; the sweep trains with the first, and every
            evaluation seed derives from the first.
        device: torch device (default: the config's).
        sizes: sizes of the size curve, for tasks with a size option.
        lr_factors: the sweep's factors of the preset's learning rate; empty: no sweep, every
            solver trains at the preset's rate.
        sweep_fraction: length of a sweep run as a fraction of the full run's iterations.
        jobs: runs trained at once, each in its own process with ``cpus // jobs`` torch
            threads (default: :func:`default_jobs`). Results do not depend on it.
        progress: show progress bars (per-run training bars only when ``jobs`` is 1).
        plugins: the tasks' and solvers' plugins (default: the installed plugins; worker
            processes always load the installed plugins).
    """
    plugins = resolve_plugins(plugins)
    started = time.perf_counter()
    out, seeds, tasks, solvers = Path(out), list(seeds), list(tasks), list(solvers)
    _check_arguments(seeds, lr_factors, sweep_fraction, jobs)
    _check_selection(tasks, solvers, [*overrides, *eval_overrides], plugins=plugins)
    keys = [RunKey(task, solver) for task in tasks for solver in solvers]
    base = {
        key: run_config(key, preset, overrides, seeds[0], device, plugins=plugins) for key in keys
    }
    check_shared_evaluation(base)
    test_changes = {key: applying_overrides(key, eval_overrides) for key in keys}
    for key in keys:
        check_eval_overrides(key, base[key], test_changes[key], plugins=plugins)
    jobs = default_jobs(base.values()) if jobs is None else jobs
    rates = {key: sweep_rates(base[key], lr_factors) for key in keys} if lr_factors else {}
    sweeps = {
        (key, lr): sweep_config(base[key], lr, sweep_fraction)
        for key, key_rates in rates.items()
        for lr in key_rates
    }
    bar = tqdm(
        total=len(sweeps) + len(keys) * len(seeds),
        desc=f"reproduce {preset}",
        unit="run",
        disable=not progress,
        dynamic_ncols=True,
    )
    found_sweeps = {
        cell: finished_validation(cell[0].sweep_directory(out, cell[1]), config, plugins=plugins)
        for cell, config in sweeps.items()
    }
    validations = {cell: record for cell, record in found_sweeps.items() if record is not None}
    bar.update(len(validations))
    validations.update(
        _execute(
            {
                cell: (
                    _sweep_job,
                    (_plain(config), cell[0].sweep_directory(out, cell[1]), out, seeds[0]),
                )
                for cell, config in sweeps.items()
                if cell not in validations
            },
            jobs,
            bar,
            progress,
            plugins,
        )
    )
    chosen = {
        key: chosen_rate({lr: validations[key, lr] for lr in rates[key]})
        if rates
        else base[key].train.lr
        for key in keys
    }
    configs = {
        (key, seed): with_rate(
            run_config(key, preset, overrides, seed, device, plugins=plugins), chosen[key]
        )
        for key in keys
        for seed in seeds
    }
    found_runs = {
        run: finished_evaluation(
            run[0].directory(out, run[1]), config, sizes, test_changes[run[0]], plugins=plugins
        )
        for run, config in configs.items()
    }
    records = {run: record for run, record in found_runs.items() if record is not None}
    bar.update(len(records))
    pending = [run for run in configs if run not in records]
    records.update(
        _execute(
            {
                run: (
                    _evaluation_job,
                    (
                        _plain(configs[run]),
                        run[0].directory(out, run[1]),
                        out,
                        seeds[0],
                        list(sizes),
                        test_changes[run[0]],
                    ),
                )
                for run in pending
            },
            jobs,
            bar,
            progress,
            plugins,
        )
    )
    bar.close()
    summary = ReproduceSummary(
        out,
        pending,
        [run for run in configs if run not in pending],
        chosen,
        time.perf_counter() - started,
    )
    results = results_document(
        preset,
        seeds,
        sizes,
        overrides,
        eval_overrides,
        lr_factors,
        sweep_fraction,
        keys,
        records,
        validations,
        summary,
        plugins=plugins,
    )
    atomic_write(out / "results.json", json_bytes(results))
    atomic_write(out / "results.md", results_markdown(results, plugins=plugins).encode())
    write_plots(out, results, plugins=plugins)
    return summary


def _environment() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "processor": platform.processor(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }


def _joined(values: Iterable[Any]) -> str:
    return ",".join(f"{value:g}" if isinstance(value, float) else str(value) for value in values)


def command_line(
    preset: str,
    tasks: list[str],
    solvers: list[str],
    seeds: Sequence[int],
    sizes: Sequence[int],
    overrides: Sequence[str],
    eval_overrides: Sequence[str],
    lr_factors: Sequence[float],
    sweep_fraction: float,
    out: Path,
) -> str:
    """The ``irem reproduce`` command that gives these results."""
    words = [
        "irem",
        "reproduce",
        "--preset",
        preset,
        "--tasks",
        ",".join(tasks),
        "--solvers",
        ",".join(solvers),
        "--seeds",
        _joined(seeds),
        "--sizes",
        _joined(sizes) or "''",
        "--lr-sweep",
        _joined(lr_factors) or "''",
        "--sweep-fraction",
        f"{sweep_fraction:g}",
    ]
    words += [word for override in overrides for word in ("--set", shlex.quote(override))]
    words += [word for change in eval_overrides for word in ("--eval-set", shlex.quote(change))]
    return " ".join(words + ["--out", shlex.quote(str(out))])


def _seed_errors(records: dict[int, dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """``{split: {seed: final-answer MSE}}``; ``None`` for a diverged run or NaN/Inf answers."""
    return {
        split: {
            str(seed): None
            if "error" in record or record["splits"][split]["nonfinite_problems"]
            else record["splits"][split]["mse"][MIN_ENERGY]
            for seed, record in records.items()
        }
        for split in EVAL_SPLITS
    }


def results_document(
    preset: str,
    seeds: list[int],
    sizes: Sequence[int],
    overrides: Sequence[str],
    eval_overrides: Sequence[str],
    lr_factors: Sequence[float],
    sweep_fraction: float,
    keys: list[RunKey],
    records: dict[tuple[RunKey, int], dict[str, Any]],
    validations: dict[tuple[RunKey, float], dict[str, Any]],
    summary: ReproduceSummary,
    *,
    plugins: Plugins,
) -> dict[str, Any]:
    """The content of ``results.json``: per task and solver, the record of the first seed's
    run, the MSE of every seed (``seeds``), the chosen rate (``lr``) and the sweep's
    validation MSE per rate (``lr_sweep``)."""
    tasks = list(dict.fromkeys(key.task for key in keys))
    solvers = list(dict.fromkeys(key.solver for key in keys))
    papers = {task: paper(task, plugins=plugins) for task in tasks}

    def cell(key: RunKey) -> dict[str, Any]:
        return {
            **records[key, seeds[0]],
            "lr": summary.learning_rates[key],
            "lr_sweep": {
                f"{lr:g}": record["validation"]
                for (swept, lr), record in validations.items()
                if swept == key
            },
            "seeds": _seed_errors({seed: records[key, seed] for seed in seeds}),
        }

    return {
        "command": command_line(
            preset,
            tasks,
            solvers,
            seeds,
            sizes,
            overrides,
            eval_overrides,
            lr_factors,
            sweep_fraction,
            summary.directory,
        ),
        "preset": preset,
        "seed": seeds[0],
        "seeds": seeds,
        "tasks": tasks,
        "solvers": solvers,
        "metric": MIN_ENERGY,
        "splits": list(EVAL_SPLITS),
        "eval_overrides": list(eval_overrides),
        "lr_factors": list(lr_factors),
        "sweep_fraction": sweep_fraction,
        "sizes": {task: size_curve_sizes(task, sizes, plugins=plugins) for task in tasks},
        "wall_seconds": summary.wall_seconds,
        "reused_runs": len(summary.reused),
        "environment": _environment(),
        "runs": {
            task: {key.solver: cell(key) for key in keys if key.task == task} for task in tasks
        },
        "paper": {
            "source": {task: papers[task]["source"] for task in tasks if "source" in papers[task]},
            "results": {
                solver: {
                    task: papers[task]["results"][solver]
                    for task in tasks
                    if solver in papers[task].get("results", {})
                }
                for solver in solvers
            },
            "size_curves": {
                task: papers[task]["size_curves"] for task in tasks if "size_curves" in papers[task]
            },
            "nested_curves": {
                task: papers[task]["nested_curves"]
                for task in tasks
                if "nested_curves" in papers[task]
            },
        },
    }


def _number(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.4f}" if abs(value) >= 1e-3 else f"{value:.2e}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def _evaluation(run: dict[str, Any], group: str, case: str) -> dict[str, Any] | None:
    """``run[group][case]`` (group ``splits`` or ``sizes``), ``None`` for a failed run."""
    return None if "error" in run else run[group][case]


def _final(evaluation: dict[str, Any] | None, budget: str = MIN_ENERGY) -> float | None:
    return None if evaluation is None else evaluation["mse"][budget]


def _mean_std(values: list[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    return mean, math.sqrt(sum((value - mean) ** 2 for value in values) / max(len(values) - 1, 1))


def _score(run: dict[str, Any], split: str) -> float | None:
    """The cell's number: the final-answer MSE, averaged over seeds; ``None`` when a seed
    diverged or gave NaN/Inf answers."""
    errors = list(run["seeds"][split].values())
    return None if None in errors else _mean_std(errors)[0]


def _cell(run: dict[str, Any], split: str, paper: float | None, best: bool) -> str:
    errors = list(run["seeds"][split].values())
    if "error" in run:
        cell = "diverged"
    elif None in errors:
        cell = "†"
    elif len(errors) == 1:
        cell = _number(errors[0])
    else:
        mean, std = _mean_std(errors)
        cell = f"{_number(mean)} ± {_number(std)}"
    cell = f"**{cell}**" if best else cell
    return cell + (f" ({_number(paper)})" if paper is not None else "")


def _size_cell(evaluation: dict[str, Any] | None, paper: float | None) -> str:
    cell = "diverged" if evaluation is None else _number(_final(evaluation))
    cell += " †" if evaluation is not None and evaluation["nonfinite_problems"] else ""
    return cell + (f" ({_number(paper)})" if paper is not None else "")


def _any_evaluation(
    results: dict[str, Any], task: str, group: str, case: str
) -> dict[str, Any] | None:
    runs = results["runs"][task].values()
    return next((run[group][case] for run in runs if "error" not in run), None)


def _main_table(results: dict[str, Any], plugins: Plugins) -> list[str]:
    columns = [(task, split) for task in results["tasks"] for split in results["splits"]]
    header = ["solver"] + [f"{task} {split}" for task, split in columns]
    scores = {
        (solver, task, split): _score(results["runs"][task][solver], split)
        for solver in results["solvers"]
        for task, split in columns
    }
    best = {
        (task, split): min(
            (
                score
                for (_, t, s), score in scores.items()
                if (t, s) == (task, split) and score is not None
            ),
            default=None,
        )
        for task, split in columns
    }
    rows = [
        [solver]
        + [
            _cell(
                results["runs"][task][solver],
                split,
                paper(task, plugins=plugins).get("results", {}).get(solver, {}).get(split),
                scores[solver, task, split] is not None
                and scores[solver, task, split] == best[task, split],
            )
            for task, split in columns
        ]
        for solver in results["solvers"]
    ]
    rows += _reference_rows(
        [_any_evaluation(results, task, "splits", split) for task, split in columns]
    )
    return _table(header, rows)


def _reference_rows(evaluations: list[dict[str, Any] | None]) -> list[list[str]]:
    """Rows of the trivial references, one cell per evaluation (one column each): the zero
    predictor and the mean predictor (a record from before it was measured shows "—")."""
    return [
        [label] + [_number(None if record is None else record.get(key)) for record in evaluations]
        for label, key in (
            ("zero predictor", "zero_predictor"),
            ("mean predictor", "mean_predictor"),
        )
    ]


def _rate_table(results: dict[str, Any]) -> list[str]:
    """Each cell's sweep: validation MSE per learning rate, the chosen rate in bold."""
    if not results["lr_factors"]:
        return ["No sweep (`--lr-sweep ''`): every solver trained at the preset's rate."]
    rows = []
    for solver in results["solvers"]:
        row = [solver]
        for task in results["tasks"]:
            run = results["runs"][task][solver]
            tried = [
                f"{rate}: {_number(error) if error is not None else 'diverged'}"
                for rate, error in run["lr_sweep"].items()
            ]
            row.append(
                ", ".join(
                    f"**{text}**" if float(text.partition(":")[0]) == run["lr"] else text
                    for text in tried
                )
            )
        rows.append(row)
    return _table(["solver", *results["tasks"]], rows)


def _steps_used(evaluation: dict[str, Any] | None) -> str:
    if evaluation is None:
        return "—"
    steps = evaluation["steps_used"]
    return f"{steps['mean']:.1f} (p95 {steps['p95']:.0f})"


def _budget_table(results: dict[str, Any], task: str) -> list[str]:
    reference = _any_evaluation(results, task, "splits", "same")
    if reference is None:
        return ["Every solver diverged."]
    budgets = [key for key in reference["mse"] if key != MIN_ENERGY]
    splits, runs = results["splits"], results["runs"][task]
    rows = [
        [solver]
        + [
            _number(_final(_evaluation(runs[solver], "splits", split), budget))
            for split in splits
            for budget in budgets
        ]
        + [_steps_used(_evaluation(runs[solver], "splits", split)) for split in splits]
        for solver in results["solvers"]
    ]
    lines = _table(
        ["solver"]
        + [f"{split} @{budget}" for split in splits for budget in budgets]
        + [f"{split} steps used" for split in splits],
        rows,
    )
    for name in sorted(reference["metrics"]):
        rows = [
            [solver]
            + [
                _number(None if evaluation is None else evaluation["metrics"][name][MIN_ENERGY])
                for evaluation in (_evaluation(runs[solver], "splits", split) for split in splits)
            ]
            for solver in results["solvers"]
        ]
        lines += [
            "",
            f"Task metric `{name}` of the final answer:",
            "",
            *_table(["solver"] + splits, rows),
        ]
    return lines


def _size_table(results: dict[str, Any], task: str, plugins: Plugins) -> list[str]:
    sizes = results["sizes"].get(task, [])
    if not sizes:
        return []
    reference = paper(task, plugins=plugins).get("size_curves", {})
    runs = results["runs"][task]
    rows = [
        [solver]
        + [
            _size_cell(
                _evaluation(runs[solver], "sizes", str(size)), reference.get(solver, {}).get(size)
            )
            for size in sizes
        ]
        for solver in results["solvers"]
    ] + _reference_rows([_any_evaluation(results, task, "sizes", str(size)) for size in sizes])
    reference_run = _any_evaluation(results, task, "sizes", str(sizes[0]))
    count = "?" if reference_run is None else reference_run["num_problems"]
    budgets = [key for key in reference_run["mse"] if key != MIN_ENERGY] if reference_run else []
    by_budget = [
        [solver]
        + [
            " / ".join(
                _number(_final(_evaluation(runs[solver], "sizes", str(size)), budget))
                for budget in budgets
            )
            for size in sizes
        ]
        for solver in results["solvers"]
    ]
    header = ["solver"] + [f"n={size}" for size in sizes]
    lines = [
        "",
        f"Final-answer MSE by problem size ({count} problems each; paper in brackets):",
        "",
        *_table(header, rows),
    ]
    if budgets:  # none when every run diverged
        lines += [
            "",
            f"The same after {' / '.join(budgets)} steps (IREM: its iterate, not the min-energy one):",
            "",
            *_table(header, by_budget),
        ]
    return lines


def _nested_table(results: dict[str, Any], task: str, plugins: Plugins) -> list[str]:
    runs = results["runs"][task]
    nested = next((run["nested"] for run in runs.values() if "nested" in run), None)
    if nested is None:
        return []
    depths = range(1, len(nested["mse"]) + 1)
    reference = paper(task, plugins=plugins).get("nested_curves", {})
    rows = [
        [solver]
        + [
            "diverged"
            if "nested" not in runs[solver]
            else _number(runs[solver]["nested"]["mse"][depth - 1])
            + (
                f" ({_number(reference[solver][depth])})"
                if depth in reference.get(solver, {})
                else ""
            )
            for depth in depths
        ]
        for solver in results["solvers"]
    ]
    return (
        [
            "",
            f"Nested problems (`{nested['strategy']}`, {nested['problems']} problems, "
            f"{nested['steps']} steps per operation, predicted results fed back): MSE after "
            "each composed operation; paper in brackets:",
            "",
        ]
        + _table(["solver"] + [str(depth) for depth in depths], rows)
        + ["", f"![error vs composed operations](nested_{task}.png)"]
    )


def _timing_table(results: dict[str, Any]) -> list[str]:
    rows = []
    for task in results["tasks"]:
        for solver in results["solvers"]:
            run = results["runs"][task][solver]
            if "error" in run:
                rows.append([task, solver, "—", "—", "—", run["error"]])
                continue
            training = run["train"]
            rows.append(
                [
                    task,
                    solver,
                    str(training["iterations"]),
                    _number(training["wall_seconds"]),
                    _number(run["eval_seconds"]),
                    _number(training["final_loss"]),
                ]
            )
    return _table(["task", "solver", "iterations", "train s", "eval s", "final loss"], rows)


def _test_time_note(eval_overrides: list[str]) -> list[str]:
    """A paragraph naming the test-time changes (``--eval-set``), when there are any."""
    if not eval_overrides:
        return []
    changes = ", ".join(f"`{change}`" for change in eval_overrides)
    return [
        f"Evaluated with the test-time changes {changes} (`--eval-set`): the runs trained "
        "and were validated without them.",
        "",
    ]


def results_markdown(results: dict[str, Any], *, plugins: Plugins) -> str:
    """The content of ``results.md``, with the paper's numbers the tasks of ``plugins``
    declare."""
    environment = results["environment"]
    sources = "; ".join(f"{task}: {source}" for task, source in results["paper"]["source"].items())
    lines = [
        f"# irem reproduce --preset {results['preset']}",
        "",
        f"`{results['command']}`",
        "",
        f"Seeds {_joined(results['seeds'])}; {environment['platform']}, {environment['cpus']} CPUs, "
        f"torch {environment['torch']}; wall time of the last call "
        f"{results['wall_seconds']:.0f} s ({results['reused_runs']} finished runs reused).",
        "",
        "Element-wise MSE of each solver's final answer (the `min_energy` column of `irem "
        "eval`: each problem's lowest-energy iterate for IREM, the last iterate for solvers "
        "without an energy, which for a halting solver such as PonderNet is its halting "
        "answer) on the fixed problem sets in `data/`; the paper's number in "
        f"brackets ({sources}). With several seeds: mean ± standard deviation over them. "
        "Bold: our best in the column; †: some problems gave NaN/Inf answers (no number, "
        "never bold); diverged: the training loss became NaN/Inf. The paper used 20×20 "
        "matrices; presets other than `paper` may not.",
        "",
        *_test_time_note(results.get("eval_overrides", [])),
        *_main_table(results, plugins),
        "",
        "## Learning rates",
        "",
        "The same protocol for every solver, IREM included: short runs "
        f"({results['sweep_fraction']:g} of the iterations, same schedule) at the preset's "
        "learning rate times "
        + (", ".join(f"{factor:.3g}" for factor in results["lr_factors"]) or "nothing")
        + ", then the full runs at the rate with the "
        "lowest validation MSE (final answers on problems of the `same` distribution drawn "
        "from their own seed, never the test sets). Validation MSE per rate; the chosen rate "
        "in bold:",
        "",
        *_rate_table(results),
        "",
        f"## Error at each step budget (seed {results['seed']})",
        "",
        "MSE after `@b` steps (IREM: its iterate `b`; a halting solver: its answer with "
        "budget `b`); steps used: mean (95th percentile) over problems at the largest budget.",
        "",
    ]
    for task in results["tasks"]:
        lines += [
            f"### {task}",
            "",
            *_budget_table(results, task),
            *_size_table(results, task, plugins),
            *_nested_table(results, task, plugins),
            "",
            f"![error vs steps](error_vs_steps_{task}.png)",
            "",
        ]
        if results["sizes"].get(task):
            lines += [f"![error vs size](size_curve_{task}.png)", ""]
    lines += [f"## Runs (seed {results['seed']})", "", *_timing_table(results), ""]
    return "\n".join(lines)


def write_plots(out: Path, results: dict[str, Any], *, plugins: Plugins) -> None:
    """``error_vs_steps_<task>.png`` for every task, ``size_curve_<task>.png`` where sized and
    ``nested_<task>.png`` where nested.

    Needs matplotlib (``pip install irem[plot]``); without it the plots are skipped with a
    note on stderr. Diverged runs are left out.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(
            "irem reproduce: matplotlib is not installed, so no plots were written "
            "(pip install 'irem[plot]')",
            file=sys.stderr,
        )
        return
    for task in results["tasks"]:
        runs = {solver: run for solver, run in results["runs"][task].items() if "error" not in run}
        if not runs:
            continue
        figure, axes = plt.subplots(1, len(results["splits"]), figsize=(11, 4), squeeze=False)
        for axis, split in zip(axes[0], results["splits"]):
            for solver, run in runs.items():
                axis.plot(run["splits"][split]["curve"], label=solver)
            zero = next(iter(runs.values()))["splits"][split]["zero_predictor"]
            axis.axhline(zero, color="grey", linestyle=":", label="zero predictor")
            axis.set(title=f"{task} ({split})", xlabel="step", ylabel="MSE", yscale="log")
        axes[0][0].legend(fontsize="small")
        figure.tight_layout()
        figure.savefig(out / f"error_vs_steps_{task}.png", dpi=120)
        plt.close(figure)
        sizes = results["sizes"].get(task, [])
        if sizes:
            _plot_size_curve(plt, out, task, sizes, runs, plugins)
        if any("nested" in run for run in runs.values()):
            _plot_nested_curve(plt, out, task, runs, plugins)


def _plot_size_curve(
    plt: Any,
    out: Path,
    task: str,
    sizes: list[int],
    runs: dict[str, dict[str, Any]],
    plugins: Plugins,
) -> None:
    figure, axis = plt.subplots(figsize=(8, 4))
    for solver, run in runs.items():
        (line,) = axis.plot(
            sizes,
            [run["sizes"][str(size)]["mse"][MIN_ENERGY] for size in sizes],
            marker="o",
            label=solver,
        )
        reference = paper(task, plugins=plugins).get("size_curves", {}).get(solver)
        if reference:
            axis.plot(
                list(reference),
                list(reference.values()),
                linestyle="--",
                marker="x",
                color=line.get_color(),
                label=f"{solver} (paper)",
            )
    axis.set(title=f"{task}: error vs problem size", xlabel="size", ylabel="MSE", yscale="log")
    axis.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1))
    figure.tight_layout()
    figure.savefig(out / f"size_curve_{task}.png", dpi=120)
    plt.close(figure)


def _plot_nested_curve(
    plt: Any, out: Path, task: str, runs: dict[str, dict[str, Any]], plugins: Plugins
) -> None:
    figure, axis = plt.subplots(figsize=(8, 4))
    for solver, run in runs.items():
        errors = run["nested"]["mse"]
        (line,) = axis.plot(range(1, len(errors) + 1), errors, marker="o", label=solver)
        reference = paper(task, plugins=plugins).get("nested_curves", {}).get(solver)
        if reference:
            axis.plot(
                list(reference),
                list(reference.values()),
                linestyle="none",
                marker="x",
                markersize=9,
                color=line.get_color(),
                label=f"{solver} (paper)",
            )
    axis.set(
        title=f"{task}: error vs composed operations",
        xlabel="composed operations",
        ylabel="MSE",
        yscale="log",
    )
    axis.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1))
    figure.tight_layout()
    figure.savefig(out / f"nested_{task}.png", dpi=120)
    plt.close(figure)


def _names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated names, got {text!r}")
    return names


def _number_list(
    kind: Callable[[str], Any], valid: Callable[[Any], bool], description: str
) -> Callable[[str], list[Any]]:
    """An argparse type for comma-separated numbers that each pass ``valid`` ('' is none)."""

    def parse(text: str) -> list[Any]:
        try:
            values = [kind(part) for part in text.split(",") if part.strip()]
        except ValueError:
            values = None
        if values is None or not all(valid(value) for value in values):
            raise argparse.ArgumentTypeError(
                f"expected comma-separated {description}, got {text!r}"
            )
        return values

    return parse


positive_sizes = _number_list(int, lambda size: size > 0, "positive integers")
"""Parse comma-separated positive sizes (argparse type of ``--sizes``)."""
_seeds = _number_list(int, lambda seed: 0 <= seed < 2**63, "non-negative integers")
_factors = _number_list(
    float, lambda factor: math.isfinite(factor) and factor > 0, "positive numbers"
)


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1], got {text!r}")
    return value


def add_reproduce_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``irem reproduce``."""
    parser.add_argument(
        "--preset", default="quick", help="the tasks' preset: quick, fast or paper (default: quick)"
    )
    parser.add_argument(
        "--tasks",
        type=_names,
        default=list(DEFAULT_TASKS),
        help=f"comma-separated tasks (default: {','.join(DEFAULT_TASKS)})",
    )
    parser.add_argument(
        "--solvers",
        type=_names,
        default=list(DEFAULT_SOLVERS),
        help=f"comma-separated solvers (default: {','.join(DEFAULT_SOLVERS)})",
    )
    parser.add_argument(
        "--out", required=True, type=Path, help="output directory; finished runs in it are reused"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="[NAME:]KEY=VALUE",
        help="override a config field of every run, or with NAME: only of the "
        "runs of that task or solver (repeatable)",
    )
    parser.add_argument(
        "--eval-set",
        dest="eval_overrides",
        action="append",
        default=[],
        metavar="[NAME:]solver.KEY=VALUE",
        help="change how the trained runs (of task or solver NAME) reason when evaluated, "
        "not how they train, e.g. irem:solver.optimizer.name=linesearch (repeatable)",
    )
    parser.add_argument(
        "--sizes",
        type=positive_sizes,
        default=list(DEFAULT_SIZES),
        help="sizes of the size curve for sized tasks, e.g. 10,15,20 ('' for none; "
        f"default: {','.join(map(str, DEFAULT_SIZES))})",
    )
    parser.add_argument(
        "--seeds",
        "--seed",
        dest="seeds",
        type=_seeds,
        default=[0],
        help="comma-separated training seeds of the full runs; the sweep and "
        "the evaluation problems use the first (default: 0)",
    )
    parser.add_argument(
        "--lr-sweep",
        dest="lr_factors",
        type=_factors,
        default=list(DEFAULT_LR_FACTORS),
        metavar="FACTORS",
        help="factors of the preset's learning rate that every solver tries in "
        "short runs before its full runs ('' for none; default: "
        f"{_joined(f'{factor:.3g}' for factor in DEFAULT_LR_FACTORS)})",
    )
    parser.add_argument(
        "--sweep-fraction",
        type=_fraction,
        default=DEFAULT_SWEEP_FRACTION,
        help="length of a sweep run as a fraction of the full run's iterations "
        f"(default: {DEFAULT_SWEEP_FRACTION:g})",
    )
    parser.add_argument("--device", help="cpu, cuda, ... (default: cpu)")
    parser.add_argument(
        "--jobs",
        type=int,
        help="runs trained at once, each in its own process "
        "(default: one per CPU core up to 4 on CPU, 1 on an accelerator)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def cmd_reproduce(args: argparse.Namespace) -> int:
    """``irem reproduce``."""
    summary = reproduce(
        args.out,
        preset=args.preset,
        tasks=args.tasks,
        solvers=args.solvers,
        overrides=args.overrides,
        eval_overrides=args.eval_overrides,
        seeds=args.seeds,
        device=args.device,
        sizes=args.sizes,
        lr_factors=args.lr_factors,
        sweep_fraction=args.sweep_fraction,
        jobs=args.jobs,
        progress=not args.no_progress,
        plugins=args.plugins,
    )
    print(
        f"{len(summary.trained)} runs trained and evaluated, {len(summary.reused)} reused "
        f"(besides the learning-rate sweep), in "
        f"{summary.wall_seconds:.0f} s; results in {summary.directory / 'results.md'}"
    )
    return 0
