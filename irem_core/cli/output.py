"""Printing evaluations: one block per evaluation, one table row per problem size."""

from __future__ import annotations

from irem_core.runs.evaluation import MIN_ENERGY, Evaluation


def print_evaluation(title: str, result: Evaluation) -> None:
    print(title)
    for key, value in result.mse.items():
        label = "min-energy" if key == MIN_ENERGY else f"{key} steps"
        print(f"  MSE at {label:>11}: {value:.6f}")
    for name, values in result.metrics.items():
        print(f"  {name}: " + ", ".join(f"{key} {value:.4f}" for key, value in values.items()))
    print(
        f"  zero predictor MSE: {result.zero_predictor:.6f}; "
        f"mean predictor (the targets' variance): {result.mean_predictor:.6f}"
    )
    steps = result.steps_used
    print(
        f"  steps used: mean {steps['mean']:.1f}, p50 {steps['p50']:.0f}, p95 {steps['p95']:.0f}"
        + (
            f"; energy evaluations: {result.energy_evaluations}"
            if result.energy_evaluations is not None
            else ""
        )
    )
    if result.nonfinite_problems:
        print(f"  warning: {result.nonfinite_problems} problems gave NaN/Inf and are excluded")


def print_size_table(title: str, by_size: dict[str, Evaluation], budget_labels: list[str]) -> None:
    """One row per problem size: MSE at each budget and min energy, the zero and mean
    predictors, steps.

    The budgets are the columns, named ``budget_labels`` where they differ between sizes
    (``--steps-per-size``: the i-th budget of every size), else by their step counts."""
    first = next(iter(by_size.values()))
    keys = list(first.mse)
    labels = [("min-energy" if key == MIN_ENERGY else f"{key} steps") for key in keys]
    labels[: len(budget_labels)] = budget_labels
    print(title)
    print(
        f"  {'size':>5} "
        + " ".join(f"{label:>10}" for label in labels)
        + f" {'zero':>8} {'mean':>8} {'steps used':>10}"
    )
    for size, result in by_size.items():
        print(
            f"  {size:>5} "
            + " ".join(f"{value:10.6f}" for value in result.mse.values())
            + f" {result.zero_predictor:8.4f} {result.mean_predictor:8.4f}"
            + f" {result.steps_used['mean']:10.1f}"
            + (
                f"  ({result.nonfinite_problems} non-finite excluded)"
                if result.nonfinite_problems
                else ""
            )
        )
