"""``results.md``: a reproduction's results as markdown tables, the paper's numbers beside
ours."""

from __future__ import annotations

import math
from typing import Any

from irem_core.plugins.manager import Plugins
from irem_core.runs.evaluation import MIN_ENERGY
from irem_plugins.experiments.protocol import paper
from irem_plugins.experiments.results import joined


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
        f"Seeds {joined(results['seeds'])}; {environment['platform']}, {environment['cpus']} CPUs, "
        f"torch {environment['torch']}; wall time of the last call "
        f"{results['wall_seconds']:.0f} s ({results['reused_runs']} finished runs reused).",
        "",
        "Element-wise MSE of each solver's final answer (the `min_energy` column of `irem "
        "eval`: each problem's lowest-energy iterate for IREM, the last iterate for solvers "
        "without an energy, which for a halting solver such as PonderNet is its halting "
        "answer) on the fixed problem sets in `data/`"
        + (f"; the paper's number in brackets ({sources})" if sources else "")
        + ". With several seeds: mean ± standard deviation over them. "
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
