"""The contract kit (irem_core.testing) over every built-in component and the example plugin's.

Also checks that the kit catches what it promises to catch, and that pytest loads it as a
plugin through the ``pytest11`` entry point.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import attrs
import pytest
import torch
from torch import Tensor, nn

import irem_core as irem
from irem_core.reasoning.protocols import Problems
from irem_core.testing import (
    ContractCase,
    check_config,
    check_energy_model,
    check_optimizer,
    check_task,
    component_cases,
    plugins_with,
)
from irem_plugins.matrix.energy import VectorEnergy, VectorEnergyConfig
from irem_plugins.matrix.tasks import AdditionTask, MatrixConfig
from irem_plugins.optimizers.gradient_descent import GradientDescent, GradientDescentConfig

pytest_plugins = ["pytester"]

EXAMPLES = Path(__file__).parents[3] / "examples"
EXAMPLE_PLUGIN = EXAMPLES / "irem-plugin-example" / "irem_plugin_example"


def load_example_plugin() -> ModuleType:
    """The example plugin package, imported from examples/ without installing it."""
    if "irem_plugin_example" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "irem_plugin_example",
            EXAMPLE_PLUGIN / "__init__.py",
            submodule_search_locations=[str(EXAMPLE_PLUGIN)],
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules["irem_plugin_example"] = module
        spec.loader.exec_module(module)
    return sys.modules["irem_plugin_example"]


PLUGINS = plugins_with(load_example_plugin())
"""The installed plugins plus the example plugin (registered as ``irem_plugin_example``)."""


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny tensors: a second thread only adds waiting on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("case", component_cases(plugins=PLUGINS))
def test_component_meets_its_contract(case: ContractCase, irem_device: str) -> None:
    case.check(irem_device)


def test_cases_cover_every_kind_and_the_example_plugin() -> None:
    ids = {param.id for param in component_cases(plugins=PLUGINS)}
    assert {
        "task:addition",
        "optimizer:gd",
        "energy_model:mlp@addition",
        "task:sort",
        "optimizer:adam",
        "energy_model:mlp@sort",
    } <= ids
    graph = PLUGINS.registries["energy_model"].find("gine")
    if graph is not None and PLUGINS.infos[graph.plugin.name].error is None:
        assert "energy_model:gine@shortest_path" in ids
    example_only = {
        param.id for param in component_cases(plugin="irem_plugin_example", plugins=PLUGINS)
    }
    assert example_only == {"task:sort", "optimizer:adam", "energy_model:mlp@sort"}


def test_pairs_both_checks_a_plugin_energy_on_its_own_tasks_only() -> None:
    either, both = (
        {param.id for param in component_cases(plugin="matrix", plugins=PLUGINS, pairs=pairs)}
        for pairs in ("either", "both")
    )
    assert "energy_model:mlp@sort" in either - both  # sort is the example plugin's task
    assert {"energy_model:mlp@addition", "task:addition"} <= both
    with pytest.raises(ValueError, match="pairs must be one of"):
        component_cases(plugins=PLUGINS, pairs="all")


class GlobalRandomTask(AdditionTask):
    """Breaks the task contract: draws starts from the global RNG."""

    def init_answer(self, problems: Problems, generator: torch.Generator) -> Tensor:
        return torch.rand(problems.target.shape) * 2 - 1


class BatchMeanEnergy(VectorEnergy):
    """Breaks the energy contract: each energy depends on the whole batch."""

    def forward(self, context: Tensor, answer: Tensor) -> Tensor:
        return super().forward(context, answer) + answer.mean()


class Ascent(GradientDescent):
    """Breaks the optimizer contract: climbs the energy."""

    def update(self, at, state):
        return at.answer + self.options.step_size * at.gradient, state


@attrs.define
class NoDefault:
    width: int


def test_the_kit_catches_broken_components() -> None:
    task = AdditionTask(MatrixConfig(size=3))
    with pytest.raises(AssertionError, match=r"task GlobalRandomTask.*global RNG"):
        check_task(GlobalRandomTask(MatrixConfig(size=3)))
    with pytest.raises(AssertionError, match=r"energy model BatchMeanEnergy: .*other problems"):
        check_energy_model(lambda: BatchMeanEnergy(VectorEnergyConfig(hidden=8), task), task)
    with pytest.raises(AssertionError, match="optimizer Ascent: must lower every problem's energy"):
        check_optimizer(lambda: Ascent(GradientDescentConfig()))
    with pytest.raises(AssertionError, match="config NoDefault: every option needs a default"):
        check_config(NoDefault)


def test_an_energy_that_ignores_the_answer_is_caught() -> None:
    class Constant(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bias = nn.Parameter(torch.zeros(()))

        def encode(self, inputs: Tensor) -> Tensor:
            return inputs

        def forward(self, context: Tensor, answer: Tensor) -> Tensor:
            return self.bias + context.sum(-1) + 0 * answer.detach().sum(-1)

    with pytest.raises(Exception, match="do not depend on the answer"):
        check_energy_model(Constant, AdditionTask(MatrixConfig(size=3)))


def test_an_energy_whose_own_gradient_is_wrong_is_caught() -> None:
    class WrongGradient(VectorEnergy):
        """Supplies twice the true gradient (a hand-written backward with a slip)."""

        def energy_and_gradient(self, context: Tensor, answer: Tensor) -> tuple[Tensor, Tensor]:
            with torch.enable_grad():
                energies = self(context, answer)
                (gradient,) = torch.autograd.grad(energies.sum(), answer, create_graph=True)
            return energies, 2 * gradient

    task = AdditionTask(MatrixConfig(size=3))
    with pytest.raises(AssertionError, match="must equal autograd's energies and gradient"):
        check_energy_model(lambda: WrongGradient(VectorEnergyConfig(hidden=8), task), task)


def test_pytest_loads_the_kit_from_its_entry_point(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        def test_fixtures(irem_device, irem_generator, irem_plugins):
            assert irem_generator.device.type == irem_device
            assert "addition" in irem_plugins.registries["task"].names()
    """)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1 + torch.cuda.is_available())


def test_irem_use_plugins_makes_a_plugin_module_current(irem_use_plugins) -> None:
    irem_use_plugins(load_example_plugin())
    config = irem.build_run_config(task="sort", preset="quick")
    assert (config.task.name, config.task.options.length) == ("sort", 8)
    assert irem.get("optimizer", "adam").plugin.name == "irem_plugin_example"
