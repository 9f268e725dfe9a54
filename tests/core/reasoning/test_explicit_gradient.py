"""Energies that supply their own gradient (GradientEnergy) agree with autograd.

Every check is in float64: energies and answer gradients to 1e-10 for every option of
``mlp`` and ``gine`` (both activations), parameter gradients of a training loss through the
public descent loop (truncated and full backprop) to 1e-8 against the same model
differentiated by autograd.
"""

from __future__ import annotations

from typing import Any, cast

import attrs
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

from irem_core import (
    BoundEnergy,
    EnergySolver,
    GradientEnergy,
    IremError,
    PluginError,
    Problems,
    autograd_energy_and_gradient,
    energy_and_gradient,
)
from irem_core.reasoning.descent import DescentLoop
from irem_core.reasoning.graphs import complete_graphs
from irem_plugins.graph.energy import GineEnergyConfig
from irem_plugins.graph.gine import GineEnergy
from irem_plugins.graph.tasks import ConnectedComponentsTask, GraphConfig, ShortestPathTask
from irem_plugins.matrix.energy import VectorEnergy, VectorEnergyConfig
from irem_plugins.matrix.tasks import AdditionTask, MatrixConfig
from irem_plugins.optimizers.gradient_descent import GradientDescent, GradientDescentConfig
from irem_plugins.optimizers.momentum import Momentum, MomentumConfig

EXACT = {"rtol": 0.0, "atol": 1e-10}
ACTIVATIONS = ["relu", "silu"]
GRAPH_TASKS = {
    "shortest_path": ShortestPathTask(GraphConfig(min_train_nodes=1)),
    "connected_components": ConnectedComponentsTask(GraphConfig(min_train_nodes=1)),
}


class AutogradOnly(nn.Module):
    """``model`` without the capability, so the core differentiates it by autograd."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.memory_features = getattr(model, "memory_features", 0)

    def encode(self, inputs: Any) -> Any:
        return cast(Any, self.model).encode(inputs)

    def select(self, context: Any, problems: Tensor) -> Any:
        return cast(Any, self.model).select(context, problems)

    def forward(self, context: Any, answer: Tensor) -> Tensor:
        return cast(Tensor, self.model(context, answer))


def mlp(
    seed: int, hidden: int = 8, layers: int = 3, memory: int = 0, size: int = 2, **options: Any
) -> tuple[VectorEnergy, AdditionTask]:
    task = AdditionTask(MatrixConfig(size=size))
    torch.manual_seed(seed)
    return VectorEnergy(
        VectorEnergyConfig(hidden=hidden, layers=layers, memory=memory, **options), task
    ).double(), task


def gine(seed: int, task: str = "shortest_path", **options: Any) -> tuple[GineEnergy, Any]:
    torch.manual_seed(seed)
    return GineEnergy(GineEnergyConfig(**options), GRAPH_TASKS[task]).double(), GRAPH_TASKS[task]


def problems_of(task: Any, count: int, seed: int) -> tuple[Problems, Tensor]:
    """``count`` float64 training problems of ``task`` and their starts ``y0``."""
    generator = torch.Generator().manual_seed(seed)
    problems = task.sample("train", count, generator)
    inputs = problems.inputs
    inputs = (
        inputs.double()
        if isinstance(inputs, Tensor)
        else attrs.evolve(inputs, edge_attr=inputs.edge_attr.double())
    )
    y0 = task.init_answer(problems, generator).double()
    return attrs.evolve(problems, inputs=inputs, target=problems.target.double()), y0


def bind(model: nn.Module, problems: Problems) -> BoundEnergy:
    context = cast(Any, model).encode(problems.inputs)
    return BoundEnergy(model, context, problems.row_problem, problems.num_problems, "test")


def bind_on_random_landscapes(
    model: nn.Module, problems: Problems, generator: torch.Generator
) -> BoundEnergy:
    """``model`` (3 landscapes) bound to ``problems``, each on a random landscape, after
    its zero-initialised landscape tables are drawn at random so the conditioning matters."""
    with torch.no_grad():
        for table in (model.landscape_table, getattr(model, "film_table", None)):
            if table is not None:
                table.copy_(torch.randn(table.shape, dtype=torch.float64, generator=generator))
    landscape = torch.randint(0, 3, (problems.num_problems,), generator=generator)
    context = cast(Any, model).condition(cast(Any, model).encode(problems.inputs), landscape)
    return BoundEnergy(model, context, problems.row_problem, problems.num_problems, "test")


def assert_agrees_with_autograd(energy: BoundEnergy, answer: Tensor) -> None:
    """The supplied energies and gradient equal autograd's, with and without a graph."""
    answer = answer.detach().requires_grad_(True)
    supplied = cast(GradientEnergy, energy.model).energy_and_gradient(energy.context, answer)
    assert supplied is not None
    reference = autograd_energy_and_gradient(energy, answer, create_graph=True)
    for value, expected in zip(supplied, reference):
        torch.testing.assert_close(value, expected, **EXACT)
    values, gradient = energy_and_gradient(energy, answer, create_graph=False)
    assert not values.requires_grad and not gradient.requires_grad
    torch.testing.assert_close(values, reference[0].detach(), **EXACT)
    torch.testing.assert_close(gradient, reference[1].detach(), **EXACT)


def test_the_built_in_energies_supply_their_gradient() -> None:
    assert isinstance(mlp(0)[0], GradientEnergy)
    assert isinstance(gine(0, hidden=4)[0], GradientEnergy)
    assert not isinstance(AutogradOnly(mlp(0)[0]), GradientEnergy)


@given(
    seed=st.integers(0, 10_000),
    hidden=st.integers(1, 12),
    layers=st.integers(1, 4),
    memory=st.integers(0, 3),
    count=st.integers(1, 5),
    film=st.booleans(),
)
def test_mlp_energies_and_gradients_equal_autograd(
    seed: int, hidden: int, layers: int, memory: int, count: int, film: bool
) -> None:
    model, task = mlp(seed, hidden, layers, memory, film=film, landscapes=3)
    problems, y0 = problems_of(task, count, seed)
    generator = torch.Generator().manual_seed(seed)
    energy = bind_on_random_landscapes(model, problems, generator)
    scratch = torch.randn(y0.shape[0], memory, dtype=torch.float64, generator=generator)
    assert_agrees_with_autograd(energy, torch.cat([y0, scratch], dim=1) * 3)


def test_mlp_film_needs_landscapes() -> None:
    with pytest.raises(IremError, match="film = true conditions its layers on landscapes"):
        mlp(0, film=True)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@settings(max_examples=15)
@given(
    seed=st.integers(0, 10_000),
    task=st.sampled_from(sorted(GRAPH_TASKS)),
    aggregation=st.sampled_from(["sum", "mean", "max"]),
    self_pair_input=st.booleans(),
    readout=st.sampled_from(["max", "edges"]),
    half=st.integers(1, 8),
    layers=st.integers(1, 3),
    count=st.integers(1, 4),
)
def test_gine_energies_and_gradients_equal_autograd(
    activation: str,
    seed: int,
    task: str,
    aggregation: str,
    self_pair_input: bool,
    readout: str,
    half: int,
    layers: int,
    count: int,
) -> None:
    model, graph_task = gine(
        seed,
        task,
        hidden=2 * half,
        layers=layers,
        aggregation=aggregation,
        self_pair_input=self_pair_input,
        activation=activation,
        readout=readout,
    )
    problems, y0 = problems_of(graph_task, count, seed)
    energy = bind(model, problems)
    assert_agrees_with_autograd(energy, y0)
    picked = torch.arange(0, count, 2)
    restricted, rows = energy.restrict(picked)
    assert_agrees_with_autograd(restricted, y0[rows])


@settings(max_examples=15)
@given(
    seed=st.integers(0, 10_000),
    activation=st.sampled_from(ACTIVATIONS),
    aggregation=st.sampled_from(["sum", "mean", "max"]),
    readout=st.sampled_from(["max", "edges"]),
    count=st.integers(1, 4),
)
def test_gine_landscape_energies_and_gradients_equal_autograd(
    seed: int, activation: str, aggregation: str, readout: str, count: int
) -> None:
    model, graph_task = gine(
        seed,
        hidden=6,
        layers=2,
        aggregation=aggregation,
        activation=activation,
        readout=readout,
        landscapes=3,
    )
    problems, y0 = problems_of(graph_task, count, seed)
    energy = bind_on_random_landscapes(model, problems, torch.Generator().manual_seed(seed))
    assert_agrees_with_autograd(energy, y0)
    picked = torch.arange(0, count, 2)
    restricted, rows = energy.restrict(picked)
    assert_agrees_with_autograd(restricted, y0[rows])


@pytest.mark.parametrize("readout", ["max", "edges"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("aggregation", ["sum", "mean", "max"])
def test_gine_ties_split_the_gradient_like_autograd(
    aggregation: str, activation: str, readout: str
) -> None:
    """Equal inputs and answers make every node of a graph alike: the max aggregation and
    the max pooling tie everywhere, and the gradient is split among the tied like torch's."""
    model, _ = gine(0, hidden=8, aggregation=aggregation, activation=activation, readout=readout)
    layout = complete_graphs(torch.tensor([3, 1, 4]), 4)
    graphs = layout.graph_batch(torch.ones(26, 1, dtype=torch.float64))
    energy = BoundEnergy(model, model.encode(graphs), layout.edge_graph, 3, "test")
    assert_agrees_with_autograd(energy, torch.full((26, 1), 0.5, dtype=torch.float64))


ENERGIES = {
    "mlp": lambda: mlp(1, hidden=16),
    "mlp-memory": lambda: mlp(2, hidden=16, layers=2, memory=3),
    **{
        f"gine-{activation}-{aggregation}": (
            lambda aggregation=aggregation, activation=activation: gine(
                3,
                hidden=8,
                aggregation=aggregation,
                self_pair_input=aggregation == "max",
                activation=activation,
            )
        )
        for aggregation in ("sum", "mean", "max")
        for activation in ACTIVATIONS
    },
    "gine-silu-mean-edges": lambda: gine(
        3, hidden=8, aggregation="mean", activation="silu", readout="edges"
    ),
}


def optimizer(name: str, full_backprop: bool) -> DescentLoop:
    if name == "gd":
        return GradientDescent(GradientDescentConfig(step_size=5.0, full_backprop=full_backprop))
    return Momentum(MomentumConfig(step_size=5.0, full_backprop=full_backprop))


@pytest.mark.parametrize("full_backprop", [False, True], ids=["truncated", "full"])
@pytest.mark.parametrize("optimizer_name", ["gd", "momentum"])
@pytest.mark.parametrize("energy_name", sorted(ENERGIES))
def test_training_gradients_equal_the_autograd_path(
    energy_name: str, optimizer_name: str, full_backprop: bool
) -> None:
    """The loss of a 4-step differentiable solve and its parameter gradients, explicit
    against autograd, through EnergySolver and the descent loop the trainer uses."""
    model, task = ENERGIES[energy_name]()
    problems, y0 = problems_of(task, 4, 7)
    parameters = list(model.parameters())
    results = []
    for energy_model in (model, AutogradOnly(model)):
        solver = EnergySolver(energy_model, optimizer(optimizer_name, full_backprop), "test")
        trajectory = solver.solve(problems, y0, 4, differentiable=True)
        loss = solver.training_loss(problems, trajectory)
        gradients = torch.autograd.grad(loss, parameters, allow_unused=True)
        results.append((loss, trajectory.answer, gradients))
    (loss, answer, gradients), (expected_loss, expected_answer, expected_gradients) = results
    torch.testing.assert_close(loss, expected_loss, rtol=1e-10, atol=0.0)
    torch.testing.assert_close(answer, expected_answer, **EXACT)
    assert any(g is not None and bool(g.abs().sum() > 0) for g in gradients)
    if "silu" in energy_name:  # smooth: the same parameters reach the answer gradient
        assert [g is None for g in gradients] == [g is None for g in expected_gradients]
    for gradient, expected in zip(gradients, expected_gradients):
        if gradient is None:  # reaches the answer gradient only through ReLU masks: zero
            assert expected is None or not bool(expected.any())
        else:
            assert expected is not None
            torch.testing.assert_close(gradient, expected, rtol=1e-8, atol=1e-12)


class Shifted(VectorEnergy):
    """A subclass that changes ``forward``: the inherited explicit gradient no longer applies."""

    def forward(self, context: Tensor, answer: Tensor) -> Tensor:
        return super().forward(context, answer) + (answer**2).sum(-1)


def test_a_subclass_overriding_forward_falls_back_to_autograd() -> None:
    task = AdditionTask(MatrixConfig(size=2))
    model = Shifted(VectorEnergyConfig(hidden=4), task).double()
    problems, y0 = problems_of(task, 3, 0)
    energy = bind(model, problems)
    assert model.energy_and_gradient(energy.context, y0) is None
    answer = y0.requires_grad_(True)
    values, gradient = energy_and_gradient(energy, answer, create_graph=True)
    expected = autograd_energy_and_gradient(energy, answer, create_graph=True)
    torch.testing.assert_close(values, expected[0], **EXACT)
    torch.testing.assert_close(gradient, expected[1], **EXACT)


class Misshapen(nn.Module):
    def encode(self, inputs: Tensor) -> Tensor:
        return inputs

    def forward(self, context: Tensor, answer: Tensor) -> Tensor:
        return (answer**2).sum(-1)

    def energy_and_gradient(self, context: Tensor, answer: Tensor) -> tuple[Tensor, Tensor]:
        return (answer**2).sum(-1), 2 * answer[:, :1]


def test_a_misshapen_supplied_gradient_is_a_plugin_error() -> None:
    energy = BoundEnergy(Misshapen(), None, torch.arange(3), 3, "'bad' (plugin test)")
    with pytest.raises(
        PluginError,
        match=r"energy model 'bad' \(plugin test\)'s "
        r"energy_and_gradient returned gradient of shape "
        r"\(3, 1\); expected \(3, 2\)",
    ):
        energy_and_gradient(energy, torch.ones(3, 2), create_graph=False)
