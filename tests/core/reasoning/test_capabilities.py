"""Optional capabilities are runtime-checkable protocols: the core finds them with isinstance."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

import irem_core as irem
from irem_core import (
    EnergySolver,
    GradientEnergy,
    IremError,
    MemoryEnergy,
    NestableTask,
    ScoringTask,
    SelectableEnergy,
    VectorInputTask,
)
from irem_core.plugins.manager import load_plugins
from irem_core.reasoning.energy import BoundEnergy
from irem_core.runs.nested import OracleSolver, nested_mse
from irem_plugins.graph.energy import GineEnergyConfig, build_gine_energy
from irem_plugins.graph.tasks import ConnectedComponentsTask, GraphConfig, ShortestPathTask
from irem_plugins.matrix.energy import VectorEnergy, VectorEnergyConfig
from irem_plugins.matrix.tasks import AdditionTask, InverseTask, MatrixConfig
from irem_plugins.optimizers.gradient_descent import GradientDescent, GradientDescentConfig

CAPABILITIES = (
    ScoringTask,
    NestableTask,
    VectorInputTask,
    SelectableEnergy,
    MemoryEnergy,
    GradientEnergy,
)


def test_built_in_components_have_the_capabilities_they_implement() -> None:
    graph = GraphConfig(nodes=4)
    owned = {
        "addition": (AdditionTask(MatrixConfig(size=2)), {NestableTask, VectorInputTask}),
        "inverse": (InverseTask(MatrixConfig(size=2)), {NestableTask, VectorInputTask}),
        "connected_components": (ConnectedComponentsTask(graph), {ScoringTask}),
        "shortest_path": (ShortestPathTask(graph), set()),
        "mlp": (
            VectorEnergy(
                VectorEnergyConfig(hidden=4, layers=1), AdditionTask(MatrixConfig(size=2))
            ),
            {SelectableEnergy, MemoryEnergy, GradientEnergy},
        ),
        "gine": (
            build_gine_energy(GineEnergyConfig(hidden=4, layers=1), ShortestPathTask(graph)),
            {SelectableEnergy, GradientEnergy},
        ),
    }
    for name, (component, expected) in owned.items():
        found = {protocol for protocol in CAPABILITIES if isinstance(component, protocol)}
        assert found == expected, name


def test_a_task_without_operations_is_refused_by_nested_evaluation_as_before() -> None:
    task = ShortestPathTask(GraphConfig(nodes=3))
    with pytest.raises(
        IremError,
        match="task ShortestPathTask has no operation to compose \\(no sample_operands\\)",
    ):
        nested_mse(
            OracleSolver(),
            task,
            "fold",
            2,
            "same",
            2,
            1,
            0,
            torch.device("cpu"),
            plugins=load_plugins(),
        )


def test_the_mlp_energy_refuses_a_task_without_vector_inputs() -> None:
    with pytest.raises(
        IremError, match="'mlp' needs a vector task with input_features; ShortestPathTask has none"
    ):
        VectorEnergy(VectorEnergyConfig(), ShortestPathTask(GraphConfig(nodes=3)))


class ShiftEnergy(nn.Module):
    """``E_b(y) = ½‖y_b − x_b‖²`` over the answer and ``memory_features`` scratch columns.

    Shapes:
        - encode: ``x (B, F + M) -> x``
        - forward: ``x (B, F + M), y (B, F + M) -> energies (B,)``
    """

    def __init__(self, memory_features: int) -> None:
        super().__init__()
        self.memory_features = memory_features
        self.scale = nn.Parameter(torch.ones(()))

    def encode(self, inputs: Tensor) -> Tensor:
        """The inputs themselves."""
        return inputs

    def forward(self, context: Tensor, answer: Tensor) -> Tensor:
        """Energies ``(B,)``."""
        return 0.5 * self.scale * ((answer - context) ** 2).sum(-1)


def test_an_energy_with_memory_descends_scratch_columns_and_returns_only_the_answer() -> None:
    model = ShiftEnergy(memory_features=2)
    assert isinstance(model, MemoryEnergy) and not isinstance(model, SelectableEnergy)
    inputs = torch.ones(3, 5)
    problems = irem.Problems(
        inputs=inputs, target=torch.ones(3, 3), row_problem=torch.arange(3), num_problems=3
    )
    solver = EnergySolver(model, GradientDescent(GradientDescentConfig(step_size=1.0)), "'shift'")
    trajectory = solver.solve(problems, torch.zeros(3, 3), 1, record=True)
    assert trajectory.answer.shape == (3, 3) and trajectory.answers is not None
    assert trajectory.answers.shape == (2, 3, 3)
    torch.testing.assert_close(trajectory.answer, torch.ones(3, 3))  # one full step reaches x


def test_only_a_selectable_energy_can_be_restricted() -> None:
    mlp = VectorEnergy(VectorEnergyConfig(hidden=4, layers=1), AdditionTask(MatrixConfig(size=2)))
    for model, selectable in ((mlp, True), (ShiftEnergy(0), False)):
        energy = BoundEnergy(model, torch.zeros(2, 4), torch.arange(2), 2, "'test'")
        assert energy.can_restrict is selectable
