"""The paper's gradient descent: recording, truncated vs full backprop, exact gradients."""

from __future__ import annotations

import torch
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
