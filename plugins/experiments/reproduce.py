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

import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs
from tqdm.auto import tqdm

from irem_core.plugins.manager import Plugins, resolve_plugins
from irem_core.runs.checkpoint import atomic_write
from irem_core.runs.evaluation import json_bytes
from irem_plugins.experiments.jobs import default_jobs, evaluation_job, execute, sweep_job
from irem_plugins.experiments.plot import write_plots
from irem_plugins.experiments.protocol import (
    DEFAULT_LR_FACTORS,
    DEFAULT_SIZES,
    DEFAULT_SOLVERS,
    DEFAULT_SWEEP_FRACTION,
    DEFAULT_TASKS,
    RunKey,
    applying_overrides,
    check_arguments,
    check_eval_overrides,
    check_selection,
    check_shared_evaluation,
    chosen_rate,
    plain_config,
    run_config,
    sweep_config,
    sweep_rates,
    with_rate,
)
from irem_plugins.experiments.records import finished_evaluation, finished_validation
from irem_plugins.experiments.report import results_markdown
from irem_plugins.experiments.results import results_document


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
    check_arguments(seeds, lr_factors, sweep_fraction, jobs)
    check_selection(tasks, solvers, [*overrides, *eval_overrides], plugins=plugins)
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
        execute(
            {
                cell: (
                    sweep_job,
                    (plain_config(config), cell[0].sweep_directory(out, cell[1]), out, seeds[0]),
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
        execute(
            {
                run: (
                    evaluation_job,
                    (
                        plain_config(configs[run]),
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
