"""The paper's gradient-descent optimizer: descent, convergence, truncation, gradients."""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import Tensor, nn

from irem_core.energy import BoundEnergy
from irem_plugins.optimizers.gradient_descent import GradientDescent, GradientDescentConfig


class QuadraticEnergy(nn.Module):
    """``E(y) = ½ Σ c_b (y − m_b)²`` per problem: minimiser ``m``, curvature ``c``."""

    def __init__(self, curvature: Tensor, minimiser: Tensor) -> None:
        super().__init__()
        self.curvature = nn.Parameter(curvature)
        self.minimiser = nn.Parameter(minimiser)

    def encode(self, inputs: None) -> None:
        return inputs

    def forward(self, context: None, answer: Tensor) -> Tensor:
        return 0.5 * (self.curvature[:, None] * (answer - self.minimiser) ** 2).sum(-1)


class SmoothEnergy(nn.Module):
    """A small random tanh network: smooth, bounded curvature."""

    def __init__(self, features: int, seed: int) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.first = nn.Parameter(torch.randn(features, 8, generator=generator, dtype=torch.float64))
        self.second = nn.Parameter(torch.randn(8, generator=generator, dtype=torch.float64))

    def encode(self, inputs: None) -> None:
        return inputs

    def forward(self, context: None, answer: Tensor) -> Tensor:
        return torch.tanh(answer @ self.first) @ self.second


def bind(model: nn.Module, problems: int) -> BoundEnergy:
    return BoundEnergy(model, None, torch.arange(problems), problems, "test")


@given(seed=st.integers(0, 10_000), features=st.integers(1, 6),
       start=st.lists(st.floats(-3, 3), min_size=6, max_size=6))
def test_one_small_step_never_raises_the_energy(seed: int, features: int, start: list[float]) -> None:
    model = SmoothEnergy(features, seed)
    y0 = torch.tensor(start[:features], dtype=torch.float64)[None]
    energy = bind(model, 1)
    # |∇²E| <= Σ|second|·|first|² bounds the curvature, so λ = 1/L is a descent step.
    lipschitz = float((model.second.abs().sum() * (model.first ** 2).sum(0).max()).detach()) + 1e-9
    optimizer = GradientDescent(GradientDescentConfig(step_size=1.0 / lipschitz))
    trajectory = optimizer.run(energy, y0, 1, record=True)
    assert trajectory.energies[1, 0] <= trajectory.energies[0, 0] + 1e-12


def test_converges_to_the_minimiser_of_a_convex_quadratic() -> None:
    generator = torch.Generator().manual_seed(0)
    minimiser = torch.randn(4, 5, generator=generator)
    model = QuadraticEnergy(torch.tensor([0.5, 1.0, 1.5, 1.9]), minimiser)
    optimizer = GradientDescent(GradientDescentConfig(step_size=1.0))
    trajectory = optimizer.run(bind(model, 4), torch.zeros(4, 5), 200)
    torch.testing.assert_close(trajectory.answer.detach(), minimiser.detach(), atol=1e-5, rtol=0)
    assert trajectory.steps_used.tolist() == [200] * 4


def test_record_keeps_every_iterate_and_energy() -> None:
    model = QuadraticEnergy(torch.ones(3), torch.zeros(3, 2))
    trajectory = GradientDescent(GradientDescentConfig(step_size=0.5)).run(
        bind(model, 3), torch.ones(3, 2), 4, record=True)
    assert trajectory.answers.shape == (5, 3, 2)
    assert trajectory.energies.shape == (5, 3)
    torch.testing.assert_close(trajectory.answers[-1], trajectory.answer)
    assert torch.all(trajectory.energies[1:] < trajectory.energies[:-1])


def test_truncated_and_full_backprop_give_the_same_answers() -> None:
    model = SmoothEnergy(3, seed=1)
    y0 = torch.randn(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    answers = []
    for full in (False, True):
        optimizer = GradientDescent(GradientDescentConfig(step_size=0.1, full_backprop=full))
        energy = bind(model, 5)
        answers.append(optimizer.run(energy, y0, 6, differentiable_energy=energy).answer)
    torch.testing.assert_close(answers[0], answers[1])


def test_truncated_backprop_only_differentiates_the_last_step() -> None:
    model = SmoothEnergy(2, seed=3)
    y0 = torch.randn(4, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    energy = bind(model, 4)
    optimizer = GradientDescent(GradientDescentConfig(step_size=0.1))
    gradients = []
    for steps in (1, 5):
        answer = optimizer.run(energy, y0, steps, differentiable_energy=energy).answer
        gradients.append(torch.autograd.grad(answer.sum(), model.first)[0])
    with torch.no_grad():
        start = optimizer.run(energy, y0, 4).answer
    expected = torch.autograd.grad(
        optimizer.run(energy, start, 1, differentiable_energy=energy).answer.sum(), model.first)[0]
    torch.testing.assert_close(gradients[1], expected)


def test_full_backprop_parameter_gradient_matches_finite_differences() -> None:
    model = SmoothEnergy(2, seed=5)
    y0 = torch.randn(3, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    target = torch.randn(3, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(7))
    optimizer = GradientDescent(GradientDescentConfig(step_size=0.2, full_backprop=True))

    def loss() -> Tensor:
        energy = bind(model, 3)
        answer = optimizer.run(energy, y0, 4, differentiable_energy=energy).answer
        return ((answer - target) ** 2).mean()

    analytic = torch.autograd.grad(loss(), model.second)[0]
    numeric = torch.zeros_like(analytic)
    epsilon = 1e-6
    for index in range(analytic.numel()):
        with torch.no_grad():
            model.second[index] += epsilon
        upper = loss().item()
        with torch.no_grad():
            model.second[index] -= 2 * epsilon
        lower = loss().item()
        with torch.no_grad():
            model.second[index] += epsilon
        numeric[index] = (upper - lower) / (2 * epsilon)
    torch.testing.assert_close(analytic, numeric, atol=1e-6, rtol=1e-4)
