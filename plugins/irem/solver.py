"""IREM = energy model + optimizer: reasoning is minimising a learned energy."""

from __future__ import annotations

import attrs
import torch
from torch import Tensor, nn

from irem_core.config import EnergySpec, OptimizerSpec, structure
from irem_core.energy import BoundEnergy
from irem_core.errors import PluginError
from irem_core.plugins import load_plugins
from irem_core.protocols import Optimizer, Problems, Solver, Task, Trajectory


def _default_optimizer() -> OptimizerSpec:
    return structure({"name": "gd"}, OptimizerSpec)


@attrs.define
class IremConfig:
    """Options of the ``irem`` solver.

    Attributes:
        energy: the energy model and its options (each task's presets name its domain's
            model, e.g. ``mlp`` for matrices).
        optimizer: the optimizer and its options; default ``gd`` (step size 100).
    """

    energy: EnergySpec
    optimizer: OptimizerSpec = attrs.field(factory=_default_optimizer)


class EnergySolver(Solver):
    """Solves problems by descending ``energy_model`` with ``optimizer``.

    Args:
        energy_model: gives one energy per problem (``encode`` + ``forward``).
        optimizer: descends the energy.
        energy_name: how error messages name the energy model, e.g. ``'mlp' (plugin matrix)``.
    """

    def __init__(self, energy_model: nn.Module, optimizer: Optimizer, energy_name: str) -> None:
        super().__init__()
        self.energy_model = energy_model
        self.optimizer = optimizer
        self.energy_name = energy_name

    def solve(self, problems: Problems, y0: Tensor, steps: int, *,
              differentiable: bool = False, record: bool = False) -> Trajectory:
        """Descend the energy from ``y0 (rows, F)``; see :class:`irem_core.protocols.Solver`.

        An energy model with ``memory_features = M > 0`` gets ``M`` scratchpad columns
        appended to the answer (zeros at the start), descended jointly and dropped from the
        returned answers.
        """
        context = self.energy_model.encode(problems.inputs)
        energy = BoundEnergy(self.energy_model, context, problems.row_problem,
                             problems.num_problems, self.energy_name)
        memory = getattr(self.energy_model, "memory_features", 0)
        if memory:
            y0 = torch.cat([y0, y0.new_zeros(y0.shape[0], memory)], dim=1)
        trajectory = self.optimizer.run(energy, y0, steps,
                                        differentiable_energy=energy if differentiable else None,
                                        record=record)
        if not memory:
            return trajectory
        features = y0.shape[1] - memory
        answers = trajectory.answers[..., :features] if trajectory.answers is not None else None
        return attrs.evolve(trajectory, answer=trajectory.answer[:, :features], answers=answers)


def build_irem_solver(options: IremConfig, task: Task) -> EnergySolver:
    """Build the energy model for ``task`` and the optimizer named in ``options``."""
    plugins = load_plugins()
    energy_component = plugins.get("energy_model", options.energy.name)
    domain = energy_component.meta.get("domain")
    if domain is not None and domain != task.domain:
        valid = [c.name for c in plugins.registries["energy_model"].components()
                 if c.meta.get("domain") == task.domain]
        raise PluginError(f"energy model {options.energy.name!r} is for {domain!r} tasks but the "
                          f"task is a {task.domain!r} task; choose one of: {', '.join(valid) or '(none installed)'}")
    energy_model = energy_component.factory(options.energy.options, task)
    optimizer = plugins.get("optimizer", options.optimizer.name).factory(options.optimizer.options)
    return EnergySolver(energy_model, optimizer,
                        f"{options.energy.name!r} (plugin {energy_component.plugin.name})")
