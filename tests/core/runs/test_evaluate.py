"""irem_core.runs.evaluation: the trivial references beside a solver's error."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor

import irem_core as irem
from irem_core.config.schema import TaskSpec
from irem_core.reasoning.protocols import Problems, Solver, Trajectory
from irem_core.runs.evaluation import evaluate


class ConstantSolver(Solver):
    """Answers every entry with one constant at every step."""

    def __init__(self, value: float) -> None:
        self.value = value

    def solve(self, problems: Problems, y0: Tensor, steps: int, **options: object) -> Trajectory:
        answer = torch.full_like(problems.target, self.value)
        steps_used = torch.zeros(problems.num_problems, dtype=torch.long)
        return Trajectory(answer, steps_used, answer.expand(steps + 1, *answer.shape))


@settings(max_examples=20)
@given(
    task=st.sampled_from(["addition", "shortest_path", "connected_components"]),
    count=st.integers(1, 9),
    batch_size=st.integers(1, 4),
    seed=st.integers(0, 1000),
)
def test_the_mean_predictor_is_the_best_constant_answer(
    task: str, count: int, batch_size: int, seed: int
) -> None:
    """Whatever the chunking: answering the targets' mean scores ``mean_predictor``, answering
    zero scores ``zero_predictor``, and no constant does better than the mean."""
    built = irem.build_task(irem.structure({"name": task}, TaskSpec))
    problems = built.sample("same", count, torch.Generator().manual_seed(seed))
    target = problems.target.double()
    mean = float(target.mean())

    def score(value: float) -> irem.Evaluation:
        generator = torch.Generator().manual_seed(0)
        return evaluate(ConstantSolver(value), built, problems, [1], generator, batch_size)

    at_mean, at_zero = score(mean), score(0.0)
    variance = float(((target - mean) ** 2).mean())
    torch.testing.assert_close(at_mean.mean_predictor, variance, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(at_mean.mse["1"], variance, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(at_zero.mse["1"], at_zero.zero_predictor, rtol=1e-5, atol=1e-7)
    assert at_mean.mean_predictor <= at_mean.zero_predictor + 1e-9
    assert score(mean + 0.1).mse["1"] >= at_mean.mean_predictor - 1e-7
