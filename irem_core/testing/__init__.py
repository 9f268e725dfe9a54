"""Contract tests for irem plugins, shipped as a pytest plugin (entry point ``pytest11``).

Installing irem makes these fixtures available in every pytest run of that environment:
``irem_device`` (each available device: ``cpu``, and ``cuda`` when present),
``irem_generator`` (a seeded generator on it), ``irem_plugins`` (the installed plugins) and
``irem_use_plugins`` (install plugin modules for one test). A test that needs its own set
of plugins builds it with :func:`plugins_with` and passes it on (``plugins=`` of
:func:`irem_core.train`, :func:`irem_core.cli.main`, ...). A plugin tests itself with::

    import pytest
    from irem_core.testing import check_task, component_cases

    def test_sort_task(irem_device):
        check_task(SortTask(SortConfig()), device=irem_device)

    @pytest.mark.parametrize("case", component_cases(plugin="example"))
    def test_contract(case, irem_device):   # every component the plugin registers
        case.check(irem_device)

Each ``check_*`` raises ``AssertionError`` naming the component and the rule it broke:

- :func:`check_task`: shapes, dtypes and devices of problems and starts; determinism
  under a generator seed (and independence from the global RNG); ``pack``/``unpack`` and
  ``to_tensors``/``from_tensors`` round trips; chunks keep the rows' order; clear errors
  for an unknown split or a malformed file.
- :func:`check_energy_model`: one finite energy per problem with the answers' dtype and
  device; a gradient w.r.t. the answer; problems do not influence each other; a sub-batch
  has the energies it has in the full batch; parameters get gradients through a
  differentiated step; deterministic construction under ``torch.manual_seed``.
- :func:`check_optimizer`: descent on an analytic quadratic energy with a known minimiser,
  trajectory shapes, no in-place change of ``y0``, determinism, dtype preservation, and a
  result differentiable w.r.t. the energy's parameters.
- :func:`check_config`: every option has a default and survives a JSON round trip
  through :func:`irem_core.config.schema.unstructure` / :func:`~irem_core.config.schema.structure`;
  unknown keys are refused."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import ModuleType

import pytest
import torch

from irem_core.plugins.manager import Plugins, load_plugins, set_plugins
from irem_core.testing.cases import ContractCase, check_config, component_cases, plugins_with
from irem_core.testing.energies import check_energy_model
from irem_core.testing.optimizers import QuadraticEnergy, check_optimizer, quadratic_energy
from irem_core.testing.tasks import check_task

__all__ = [
    "ContractCase",
    "QuadraticEnergy",
    "check_config",
    "check_energy_model",
    "check_optimizer",
    "check_task",
    "component_cases",
    "irem_device",
    "irem_generator",
    "irem_plugins",
    "irem_use_plugins",
    "plugins_with",
    "quadratic_energy",
]

_DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=_DEVICES)
def irem_device(request: pytest.FixtureRequest) -> str:
    """Each available device in turn: ``cpu``, and ``cuda`` when a GPU is present."""
    return request.param


@pytest.fixture
def irem_generator(irem_device: str) -> torch.Generator:
    """A generator on ``irem_device`` seeded with 0."""
    return torch.Generator(irem_device).manual_seed(0)


@pytest.fixture
def irem_plugins() -> Plugins:
    """The installed plugins (loaded once per process)."""
    return load_plugins()


@pytest.fixture
def irem_use_plugins() -> Iterator[Callable[..., Plugins]]:
    """Make plugin modules current for one test: ``irem_use_plugins(my_plugin_module)``.

    Returns :func:`plugins_with`'s result and makes it what :func:`irem_core.load_plugins`
    returns until the test ends, so that calls that take the default plugins (configs,
    ``irem.train``) see the modules' components; passing the result as ``plugins=`` to
    those calls needs no fixture.
    """
    replaced: list[Plugins | None] = []

    def use(*modules: ModuleType, installed: bool = True) -> Plugins:
        plugins = plugins_with(*modules, installed=installed)
        previous = set_plugins(plugins)
        if not replaced:
            replaced.append(previous)
        return plugins

    yield use
    if replaced:
        set_plugins(replaced[0])
