"""``results.json``: a reproduction's records, the command that made them, and the paper's
numbers its tasks declare."""

from __future__ import annotations

import os
import platform
import shlex
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from irem_core.plugins.manager import Plugins
from irem_core.runs.evaluation import MIN_ENERGY
from irem_plugins.experiments.protocol import EVAL_SPLITS, RunKey, paper, size_curve_sizes

if TYPE_CHECKING:
    from irem_plugins.experiments.reproduce import ReproduceSummary


def _environment() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "processor": platform.processor(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }


def joined(values: Iterable[Any]) -> str:
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
        joined(seeds),
        "--sizes",
        joined(sizes) or "''",
        "--lr-sweep",
        joined(lr_factors) or "''",
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
