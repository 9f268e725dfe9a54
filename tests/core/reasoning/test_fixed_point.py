"""The fixed-point term of the IREM loss (``solver.fixed_point_weight``): one optimizer step
taken from the true answer, whose MSE to the answer is added to the paper's loss."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from irem_core import EnergySolver, build_run_config
from irem_core.errors import IremError
from irem_core.reasoning.energy import BoundEnergy, autograd_energy_and_gradient
from irem_core.reasoning.energy_solver import FIXED_POINT
from irem_plugins.matrix.energy import VectorEnergy, VectorEnergyConfig
from irem_plugins.matrix.tasks import AdditionTask, MatrixConfig
from irem_plugins.optimizers.gradient_descent import GradientDescent, GradientDescentConfig

STEP_SIZE = 3.0


def solver_and_problems(weight: float) -> tuple[EnergySolver, object, torch.Tensor]:
    torch.manual_seed(0)
    task = AdditionTask(MatrixConfig(size=3))
    model = VectorEnergy(VectorEnergyConfig(hidden=8), task).double()
    optimizer = GradientDescent(GradientDescentConfig(step_size=STEP_SIZE))
    solver = EnergySolver(model, optimizer, "test", fixed_point_weight=weight)
    generator = torch.Generator().manual_seed(1)
    problems = task.sample("train", 5, generator)
    problems = type(problems)(
        problems.inputs.double(),
        problems.target.double(),
        problems.row_problem,
        problems.num_problems,
    )
    return solver, problems, task.init_answer(problems, generator).double()


def test_without_the_weight_the_loss_is_the_papers() -> None:
    solver, problems, y0 = solver_and_problems(0.0)
    trajectory = solver.solve(problems, y0, 3, differentiable=True)
    assert FIXED_POINT not in trajectory.extras
    expected = nn.functional.mse_loss(trajectory.answer, problems.target)
    torch.testing.assert_close(solver.training_loss(problems, trajectory), expected)


def test_the_fixed_point_term_is_one_step_from_the_true_answer() -> None:
    weight = 0.5
    solver, problems, y0 = solver_and_problems(weight)
    trajectory = solver.solve(problems, y0, 3, differentiable=True)
    model = solver.energy_model
    energy = BoundEnergy(
        model, model.encode(problems.inputs), problems.row_problem, problems.num_problems, "t"
    )
    target = problems.target.clone().requires_grad_(True)
    _, gradient = autograd_energy_and_gradient(energy, target, create_graph=True)
    step = problems.target - STEP_SIZE * gradient
    torch.testing.assert_close(trajectory.extras[FIXED_POINT], step, rtol=1e-10, atol=1e-12)
    expected = nn.functional.mse_loss(
        trajectory.answer, problems.target
    ) + weight * nn.functional.mse_loss(step, problems.target)
    loss = solver.training_loss(problems, trajectory)
    torch.testing.assert_close(loss, expected, rtol=1e-10, atol=0.0)
    # the term trains the energy: it changes the parameters' gradient
    with_term = torch.autograd.grad(
        loss, list(model.parameters()), allow_unused=True, retain_graph=True
    )
    paper = nn.functional.mse_loss(trajectory.answer, problems.target)
    without = torch.autograd.grad(paper, list(model.parameters()), allow_unused=True)
    assert any(
        a is not None and b is not None and not torch.allclose(a, b)
        for a, b in zip(with_term, without)
    )


def test_evaluation_solves_take_no_fixed_point_step() -> None:
    solver, problems, y0 = solver_and_problems(1.0)
    assert FIXED_POINT not in solver.solve(problems, y0, 3).extras


def test_the_weight_is_a_solver_option_and_must_not_be_negative() -> None:
    config = build_run_config(
        task="addition", preset="quick", overrides=["solver.fixed_point_weight=0.25"]
    )
    assert config.solver.options.fixed_point_weight == 0.25
    with pytest.raises(IremError, match="fixed_point_weight"):
        build_run_config(
            task="addition", preset="quick", overrides=["solver.fixed_point_weight=-1"]
        )
