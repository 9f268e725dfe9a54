"""Optimizers: descent, convergence, halting that saves compute; gd's truncation and gradients."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

from irem_core.errors import IremError
from irem_core.reasoning.energy import BoundEnergy
from irem_plugins.optimizers.gradient_descent import GradientDescent, GradientDescentConfig
from irem_plugins.optimizers.langevin import Langevin, LangevinConfig
from irem_plugins.optimizers.line_search import LineSearch, LineSearchConfig
from irem_plugins.optimizers.momentum import Momentum, MomentumConfig

OPTIMIZERS = {
    "gd": lambda step, **kw: GradientDescent(GradientDescentConfig(step_size=step, **kw)),
    "momentum": lambda step, **kw: Momentum(MomentumConfig(step_size=step, momentum=0.5, **kw)),
    "nesterov": lambda step, **kw: Momentum(
        MomentumConfig(step_size=step, momentum=0.5, nesterov=True, **kw)
    ),
    "linesearch": lambda step, **kw: LineSearch(LineSearchConfig(step_size=step, **kw)),
    "langevin": lambda step, **kw: Langevin(LangevinConfig(step_size=step, noise=0.0, **kw)),
}


class CountingQuadratic(nn.Module):
    """``E_b(y) = ½ c_b ‖y_b − m_b‖²``; counts the problems it evaluates; supports subsets."""

    def __init__(self, curvature: Tensor, minimiser: Tensor) -> None:
        super().__init__()
        self.curvature, self.minimiser = curvature, minimiser
        self.evaluated = torch.zeros(len(curvature), dtype=torch.long)

    def encode(self, inputs: None) -> tuple[Tensor, Tensor, Tensor]:
        return self.curvature, self.minimiser, torch.arange(len(self.curvature))

    def select(
        self, context: tuple[Tensor, Tensor, Tensor], problems: Tensor
    ) -> tuple[Tensor, ...]:
        return tuple(part[problems] for part in context)

    def forward(self, context: tuple[Tensor, Tensor, Tensor], answer: Tensor) -> Tensor:
        curvature, minimiser, ids = context
        self.evaluated[ids] += 1
        return 0.5 * curvature * ((answer - minimiser) ** 2).sum(-1)


class SmoothEnergy(nn.Module):
    def __init__(self, features: int, seed: int) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.first = nn.Parameter(
            torch.randn(features, 8, generator=generator, dtype=torch.float64)
        )
        self.second = nn.Parameter(torch.randn(8, generator=generator, dtype=torch.float64))

    def encode(self, inputs: None) -> None:
        return inputs

    def forward(self, context: None, answer: Tensor) -> Tensor:
        return torch.tanh(answer @ self.first) @ self.second


def bind(model: nn.Module, problems: int) -> BoundEnergy:
    return BoundEnergy(model, model.encode(None), torch.arange(problems), problems, "'test'")


def quadratic(curvatures: list[float], seed: int = 0) -> CountingQuadratic:
    minimiser = torch.randn(len(curvatures), 4, generator=torch.Generator().manual_seed(seed))
    return CountingQuadratic(torch.tensor(curvatures), minimiser)


@pytest.mark.parametrize("name", OPTIMIZERS)
@given(seed=st.integers(0, 10_000), start=st.lists(st.floats(-3, 3), min_size=3, max_size=3))
def test_small_steps_never_raise_a_smooth_energy(name: str, seed: int, start: list[float]) -> None:
    model = SmoothEnergy(3, seed)
    lipschitz = float((model.second.abs().sum() * (model.first**2).sum(0).max()).detach())
    optimizer = OPTIMIZERS[name](0.5 / lipschitz)
    trajectory = optimizer.run(
        bind(model, 1),
        torch.tensor([start], dtype=torch.float64),
        1,
        record=True,
        generator=torch.Generator().manual_seed(0),
    )
    assert trajectory.energies[1, 0] <= trajectory.energies[0, 0] + 1e-12


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_converges_on_a_convex_quadratic(name: str) -> None:
    model = quadratic([0.5, 1.0, 1.5])
    trajectory = OPTIMIZERS[name](0.6).run(
        bind(model, 3), torch.zeros(3, 4), 150, generator=torch.Generator().manual_seed(0)
    )
    torch.testing.assert_close(trajectory.answer.detach(), model.minimiser, atol=1e-4, rtol=0)


@pytest.mark.parametrize("rule, tolerance", [("gradient", 1e-5), ("energy", 1e-9)])
def test_halting_gives_harder_problems_more_steps_and_saves_evaluations(
    rule: str, tolerance: float
) -> None:
    curvatures = [1.0, 0.5, 0.1, 0.03]
    fixed_model, halting_model = quadratic(curvatures), quadratic(curvatures)
    y0 = torch.zeros(4, 4)
    fixed = OPTIMIZERS["gd"](1.0).run(bind(fixed_model, 4), y0, 400, record=True)
    halting = OPTIMIZERS["gd"](1.0, halt=rule, halt_tolerance=tolerance).run(
        bind(halting_model, 4), y0, 400, record=True
    )
    used = halting.steps_used.tolist()
    assert used == sorted(used) and used[0] < used[-1]  # flatter problems need more steps
    assert fixed.steps_used.tolist() == [400] * 4
    # evaluated at steps 0..u (it stops at u), then once more for the recorded final energy
    assert halting_model.evaluated.tolist() == [u + 2 if u < 400 else 401 for u in used]
    assert int(halting.extras["energy_evaluations"]) == int(halting_model.evaluated.sum())
    assert int(halting_model.evaluated.sum()) < int(fixed_model.evaluated.sum())
    torch.testing.assert_close(halting.answer, fixed.answer, atol=2e-3, rtol=0)
    assert halting.answers.shape == fixed.answers.shape
    torch.testing.assert_close(halting.answers[-1], halting.answer)


class ScaledQuadratic(CountingQuadratic):
    """``a E_b(y) + c``: the same problems on another energy scale and offset."""

    def __init__(self, curvature: Tensor, minimiser: Tensor, scale: float, offset: float) -> None:
        super().__init__(curvature, minimiser)
        self.scale, self.offset = scale, offset

    def forward(self, context: tuple[Tensor, Tensor, Tensor], answer: Tensor) -> Tensor:
        return self.scale * super().forward(context, answer) + self.offset


@settings(max_examples=20)
@given(
    curvatures=st.lists(st.floats(0.2, 1.0), min_size=2, max_size=6),
    seed=st.integers(0, 10_000),
    power=st.integers(-10, 10),
    offset=st.floats(-100, 100),
)
def test_the_energy_rule_halts_at_the_same_step_whatever_the_energys_scale_and_offset(
    curvatures: list[float], seed: int, power: int, offset: float
) -> None:
    model = quadratic(curvatures, seed)
    curvature, minimiser = model.curvature.double(), model.minimiser.double()
    y0 = torch.zeros(len(curvatures), 4, dtype=torch.float64)
    used = []
    for scale, shift in ((1.0, 0.0), (2.0**power, offset)):
        energy = ScaledQuadratic(curvature, minimiser, scale, shift)
        options = {"halt": "energy", "halt_tolerance": 1e-2, "halt_window": 3}
        trajectory = OPTIMIZERS["gd"](0.5 / scale, **options).run(
            bind(energy, len(curvatures)), y0, 60
        )
        used.append(trajectory.steps_used.tolist())
    assert used[0] == used[1]
    assert min(used[0]) < 60  # the rule did stop problems


def test_halting_needs_a_model_that_can_select_problems() -> None:
    with pytest.raises(IremError, match="energy model 'test' cannot evaluate a subset"):
        OPTIMIZERS["gd"](0.1, halt="gradient").run(
            bind(SmoothEnergy(3, 0), 2), torch.zeros(2, 3, dtype=torch.float64), 3
        )


def test_line_search_adapts_a_too_large_step_per_problem() -> None:
    model = quadratic([4.0, 0.1])
    plain = OPTIMIZERS["gd"](1.0).run(bind(quadratic([4.0, 0.1]), 2), torch.zeros(2, 4), 30)
    searched = OPTIMIZERS["linesearch"](1.0).run(bind(model, 2), torch.zeros(2, 4), 30)
    assert not torch.allclose(plain.answer[0], model.minimiser[0], atol=1e-2)  # λ·c = 4 diverges
    torch.testing.assert_close(searched.answer[0], model.minimiser[0], atol=1e-4, rtol=0)
    assert int(searched.extras["energy_evaluations"]) > 2 * 30


def test_langevin_noise_comes_from_the_callers_generator_and_anneals() -> None:
    optimizer = Langevin(LangevinConfig(step_size=0.5, noise=0.3))

    def run(generator: torch.Generator) -> Tensor:
        return optimizer.run(
            bind(quadratic([1.0]), 1), torch.zeros(1, 4), 20, generator=generator
        ).answer

    first, same = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    assert torch.equal(run(first), run(same))  # the optimizer keeps no stream of its own
    assert not torch.equal(
        run(first), run(torch.Generator().manual_seed(1))
    )  # next solve: new noise
    assert not torch.equal(
        run(torch.Generator().manual_seed(2)), run(torch.Generator().manual_seed(1))
    )
    with pytest.raises(IremError, match="needs a generator"):
        optimizer.run(bind(quadratic([1.0]), 1), torch.zeros(1, 4), 20)
    model = quadratic([1.0])
    final = optimizer.run(
        bind(model, 1), torch.zeros(1, 4), 60, generator=torch.Generator().manual_seed(0)
    )
    assert float((final.answer - model.minimiser).abs().max()) < 0.03  # noise starts at 0.3


def test_halting_langevin_keeps_one_stream_for_the_solve() -> None:
    options = LangevinConfig(step_size=0.5, noise=0.3, halt="gradient", halt_tolerance=1e-3)
    model = quadratic([1.0, 3.0])

    def run(seed: int) -> Tensor:
        return (
            Langevin(options)
            .run(
                bind(model, 2), torch.zeros(2, 4), 40, generator=torch.Generator().manual_seed(seed)
            )
            .answer
        )

    assert torch.equal(run(5), run(5)) and not torch.equal(run(5), run(6))


def test_record_keeps_every_iterate_and_energy() -> None:
    model = CountingQuadratic(torch.ones(3), torch.zeros(3, 2))
    trajectory = GradientDescent(GradientDescentConfig(step_size=0.5)).run(
        bind(model, 3), torch.ones(3, 2), 4, record=True
    )
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
        optimizer.run(energy, start, 1, differentiable_energy=energy).answer.sum(), model.first
    )[0]
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


DESCENT = ["gd", "momentum", "nesterov", "linesearch"]


def safe_step(name: str, curvatures: list[float]) -> float:
    """A step size under the smoothness bound: ``1 / L`` for descent and line search; for
    momentum ``μ = 0.5`` a step whose iteration matrix has real positive eigenvalues
    (heavy ball ``λL ≤ (1 − √μ)² ≈ 0.086``, Nesterov ``λL ≤ 1 − 4μ/(1 + μ)² ≈ 0.11``)."""
    return (0.08 if name in ("momentum", "nesterov") else 1.0) / max(curvatures)


curvature_lists = st.lists(st.floats(0.01, 4.0), min_size=2, max_size=6)


@pytest.mark.parametrize("halt", ["none", "gradient"])
@pytest.mark.parametrize("name", DESCENT)
@settings(max_examples=10)
@given(curvatures=curvature_lists, seed=st.integers(0, 10_000), steps=st.integers(20, 40))
def test_no_problems_energy_rises_over_many_steps(
    name: str, halt: str, curvatures: list[float], seed: int, steps: int
) -> None:
    model = quadratic(curvatures, seed)
    y0 = torch.randn(len(curvatures), 4, generator=torch.Generator().manual_seed(seed + 1))
    trajectory = OPTIMIZERS[name](safe_step(name, curvatures), halt=halt, halt_tolerance=1e-3).run(
        bind(model, len(curvatures)), y0, steps, record=True
    )
    energies = trajectory.energies
    assert bool((energies[1:] <= energies[:-1] * (1 + 1e-6) + 1e-12).all())


@pytest.mark.parametrize("name", DESCENT)
@settings(max_examples=10)
@given(curvatures=curvature_lists, seed=st.integers(0, 10_000))
def test_a_halted_problem_keeps_its_answer_and_the_others_match_the_fixed_budget(
    name: str, curvatures: list[float], seed: int
) -> None:
    steps, count = 30, len(curvatures)
    y0 = torch.randn(count, 4, generator=torch.Generator().manual_seed(seed + 1))
    step = safe_step(name, curvatures)
    fixed = OPTIMIZERS[name](step).run(
        bind(quadratic(curvatures, seed), count), y0, steps, record=True
    )
    halting = OPTIMIZERS[name](step, halt="gradient", halt_tolerance=1e-2).run(
        bind(quadratic(curvatures, seed), count), y0, steps, record=True
    )
    for problem, used in enumerate(halting.steps_used.tolist()):
        after = halting.answers[used:, problem]
        assert torch.equal(after, after[:1].expand_as(after))  # frozen from its halting step on
        torch.testing.assert_close(
            halting.answers[: used + 1, problem],
            fixed.answers[: used + 1, problem],
            rtol=0,
            atol=1e-6,
        )
