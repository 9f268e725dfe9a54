"""Running a reproduction's runs: in this process, or in a pool of worker processes."""

from __future__ import annotations

import functools
import multiprocessing
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from irem_core.config.convert import structure
from irem_core.config.schema import RunConfig
from irem_core.plugins.manager import Plugins, resolve_plugins
from irem_core.runs.build import resolve_device
from irem_core.training.allocator import keep_freed_memory
from irem_plugins.experiments.runs import ProblemSets, train_and_evaluate, train_and_validate


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


def sweep_job(
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


def evaluation_job(
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


def execute(
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
