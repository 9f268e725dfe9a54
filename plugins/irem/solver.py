"""The ``irem`` solver: a registered energy model + a registered optimizer, built into the
core's :class:`~irem_core.reasoning.energy_solver.EnergySolver`."""

from __future__ import annotations

import attrs

from irem_core.config.schema import EnergySpec, OptimizerSpec, plugins_default
from irem_core.errors import PluginError
from irem_core.plugins.manager import Plugins
from irem_core.reasoning.energy_solver import EnergySolver
from irem_core.reasoning.protocols import Task


@attrs.define
class IremConfig:
    """Options of the ``irem`` solver.

    Attributes:
        energy: the energy model and its options (each task's presets name its domain's
            model, e.g. ``mlp`` for matrices).
        optimizer: the optimizer and its options; default ``gd`` (step size 100).
        fixed_point_weight: weight of a second loss term, the MSE between the true answer
            and one optimizer step taken from it, which makes the answer a fixed point of
            the descent (0: the paper's loss alone; see
            :class:`~irem_core.reasoning.energy_solver.EnergySolver`).
    """

    energy: EnergySpec
    optimizer: OptimizerSpec = plugins_default({"name": "gd"}, OptimizerSpec)
    fixed_point_weight: float = attrs.field(default=0.0, validator=attrs.validators.ge(0))


def build_irem_solver(options: IremConfig, task: Task, *, plugins: Plugins) -> EnergySolver:
    """Build the energy model for ``task`` and the optimizer named in ``options``, as
    ``plugins`` register them."""
    energy_component = plugins.get("energy_model", options.energy.name)
    domain = energy_component.meta.domain
    if domain is not None and domain != task.domain:
        valid = [
            c.name
            for c in plugins.registries["energy_model"].components()
            if c.meta.domain == task.domain
        ]
        raise PluginError(
            f"energy model {options.energy.name!r} is for {domain!r} tasks but the "
            f"task is a {task.domain!r} task; choose one of: "
            f"{', '.join(valid) or '(none installed)'}"
        )
    energy_model = energy_component.factory(options.energy.options, task)
    optimizer = plugins.get("optimizer", options.optimizer.name).factory(options.optimizer.options)
    return EnergySolver(
        energy_model,
        optimizer,
        f"{options.energy.name!r} (plugin {energy_component.plugin.name})",
        options.fixed_point_weight,
    )
