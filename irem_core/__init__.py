"""irem: learning iterative reasoning through energy minimization.

The public surface (everything else is internal and may change):

- **Protocols** — :class:`Task`, :class:`EnergyModel`, :class:`Optimizer`, :class:`Solver`,
  :class:`Recursion`, :class:`Logger` (opened with a :class:`LogRun`), and the data they
  exchange: :class:`Problems` (a batch, answers ``(rows, F)``) and :class:`Trajectory`.
  Optional capabilities are small runtime-checkable protocols, checked with ``isinstance``:
  :class:`ScoringTask`, :class:`NestableTask`, :class:`VectorInputTask` (tasks),
  :class:`SelectableEnergy`, :class:`MemoryEnergy`, :class:`GradientEnergy`,
  :class:`LandscapeEnergy` (energy models).
  :class:`VectorTask` is a base for tasks of one input vector and one answer row per problem.
  Optimizers receive a :class:`BoundEnergy` (answers ``(rows, F)`` → energies ``(B,)``)
  and may call :func:`energy_and_gradient` (the model's own gradient when it is a
  :class:`GradientEnergy`, else :func:`autograd_energy_and_gradient`);
  :class:`DescentLoop` (with :class:`DescentOptions`, its :class:`State` and the
  :class:`DescentStep` its ``update`` is given) is the shared
  descent loop (truncated or full backprop, recording, per-problem halting) an optimizer
  subclasses to write only its ``update``; :class:`EnergySolver` pairs an energy model with
  an optimizer.
- **Plugins** — :data:`hookimpl` / :data:`hookspec` and the :class:`Register` callable the
  ``irem_register_*`` hooks receive; :func:`load_plugins` (lazy, once) returns the
  installed :class:`Plugins` and their registries; :func:`get` ``(kind, name)`` returns one
  of their :class:`Component` s (``factory``, ``config`` class, ``plugin``, ``meta``). The
  functions below that need registries take ``plugins=`` (default: the installed plugins),
  so a program or test can pass its own set.
- **Config** — :class:`RunConfig` (configs are frozen attrs classes), :func:`build_run_config`
  (preset + file + overrides), :func:`structure` / :func:`unstructure` (strict converters).
- **Training and evaluation** — :func:`train` (writes the checkpoint: ``config.json`` +
  safetensors), :func:`evaluate`, :func:`select_min_energy`.
- **Checkpoints and inference** — :func:`save_checkpoint` / :func:`load_checkpoint` write
  and read a checkpoint (safetensors + JSON, atomic, never unpickled); :func:`load_run`
  reads a run directory into a :class:`TrainedRun` (config, task, trained solver);
  :func:`solve` answers new problems; :func:`build_task` / :func:`build_solver` build
  untrained components from config specs.
- **Seeding** — :func:`seeded_generator` ``(seed, purpose)``: every random stream of irem
  is derived from a seed and a purpose (``problems:same``, ``train-shard:0``, ...), so
  streams of different purposes never coincide (see :mod:`irem_core.seeding`).
- **Errors** — :class:`IremError` and its subclasses.

A pretrained run answers new problems in three lines::

    run = irem.load_run("runs/add")
    problems = run.task.from_tensors({"x": x, "y": torch.zeros(len(x), run.task.answer_features)})
    answers = irem.solve(run, problems, 80)

Contract tests for plugin authors live in :mod:`irem_core.testing` (a pytest plugin).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from irem_core import deprecation

__version__ = "0.2.0"

if TYPE_CHECKING:
    from irem_core.config.compose import build_run_config
    from irem_core.config.convert import structure, unstructure
    from irem_core.config.schema import EnergySpec, OptimizerSpec, RunConfig, plugins_default
    from irem_core.errors import (
        CheckpointError,
        ConfigError,
        IremError,
        NonFiniteError,
        PluginError,
    )
    from irem_core.plugins.hookspecs import Register, hookimpl, hookspec
    from irem_core.plugins.manager import Plugins, get, load_plugins
    from irem_core.plugins.registry import Component, NoOptions
    from irem_core.reasoning.descent import (
        DescentLoop,
        DescentOptions,
        DescentStep,
        State,
        normal_noise,
    )
    from irem_core.reasoning.energy import (
        BoundEnergy,
        autograd_energy_and_gradient,
        energy_and_gradient,
    )
    from irem_core.reasoning.energy_solver import EnergySolver
    from irem_core.reasoning.graphs import (
        CompleteGraphs,
        GraphBatch,
        complete_graphs,
        edge_inputs,
        edge_slots,
        select_graphs,
        to_padded,
    )
    from irem_core.reasoning.layers import init_as_concatenation
    from irem_core.reasoning.protocols import (
        SPLITS,
        EnergyModel,
        GradientEnergy,
        LandscapeEnergy,
        Logger,
        LogRun,
        LogValue,
        MemoryEnergy,
        NestableTask,
        Optimizer,
        Problems,
        Recursion,
        ScoringTask,
        SelectableEnergy,
        Solver,
        Task,
        Trajectory,
        VectorInputTask,
    )
    from irem_core.reasoning.vector_task import VectorTask
    from irem_core.runs.build import build_solver, build_task, sized_task
    from irem_core.runs.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
    from irem_core.runs.evaluation import MIN_ENERGY, Evaluation, evaluate, select_min_energy
    from irem_core.runs.load import TrainedRun, load_run
    from irem_core.runs.solve import solve
    from irem_core.seeding import derive_seed
    from irem_core.seeding import generator as seeded_generator
    from irem_core.training.loop import train
    from irem_core.training.outcome import TrainSummary

PUBLIC: dict[str, str] = {
    "IremError": "irem_core.errors",
    "ConfigError": "irem_core.errors",
    "PluginError": "irem_core.errors",
    "CheckpointError": "irem_core.errors",
    "NonFiniteError": "irem_core.errors",
    "Register": "irem_core.plugins.hookspecs",
    "hookimpl": "irem_core.plugins.hookspecs",
    "hookspec": "irem_core.plugins.hookspecs",
    "Component": "irem_core.plugins.registry",
    "NoOptions": "irem_core.plugins.registry",
    "Plugins": "irem_core.plugins.manager",
    "get": "irem_core.plugins.manager",
    "load_plugins": "irem_core.plugins.manager",
    "EnergyModel": "irem_core.reasoning.protocols",
    "GradientEnergy": "irem_core.reasoning.protocols",
    "LandscapeEnergy": "irem_core.reasoning.protocols",
    "Logger": "irem_core.reasoning.protocols",
    "LogRun": "irem_core.reasoning.protocols",
    "LogValue": "irem_core.reasoning.protocols",
    "MemoryEnergy": "irem_core.reasoning.protocols",
    "NestableTask": "irem_core.reasoning.protocols",
    "Optimizer": "irem_core.reasoning.protocols",
    "Problems": "irem_core.reasoning.protocols",
    "Recursion": "irem_core.reasoning.protocols",
    "SPLITS": "irem_core.reasoning.protocols",
    "ScoringTask": "irem_core.reasoning.protocols",
    "SelectableEnergy": "irem_core.reasoning.protocols",
    "Solver": "irem_core.reasoning.protocols",
    "Task": "irem_core.reasoning.protocols",
    "Trajectory": "irem_core.reasoning.protocols",
    "VectorInputTask": "irem_core.reasoning.protocols",
    "BoundEnergy": "irem_core.reasoning.energy",
    "autograd_energy_and_gradient": "irem_core.reasoning.energy",
    "energy_and_gradient": "irem_core.reasoning.energy",
    "DescentLoop": "irem_core.reasoning.descent",
    "DescentStep": "irem_core.reasoning.descent",
    "DescentOptions": "irem_core.reasoning.descent",
    "State": "irem_core.reasoning.descent",
    "normal_noise": "irem_core.reasoning.descent",
    "EnergySolver": "irem_core.reasoning.energy_solver",
    "VectorTask": "irem_core.reasoning.vector_task",
    "init_as_concatenation": "irem_core.reasoning.layers",
    "GraphBatch": "irem_core.reasoning.graphs",
    "CompleteGraphs": "irem_core.reasoning.graphs",
    "complete_graphs": "irem_core.reasoning.graphs",
    "edge_inputs": "irem_core.reasoning.graphs",
    "edge_slots": "irem_core.reasoning.graphs",
    "select_graphs": "irem_core.reasoning.graphs",
    "to_padded": "irem_core.reasoning.graphs",
    "RunConfig": "irem_core.config.schema",
    "EnergySpec": "irem_core.config.schema",
    "OptimizerSpec": "irem_core.config.schema",
    "build_run_config": "irem_core.config.compose",
    "plugins_default": "irem_core.config.schema",
    "structure": "irem_core.config.convert",
    "unstructure": "irem_core.config.convert",
    "Checkpoint": "irem_core.runs.checkpoint",
    "load_checkpoint": "irem_core.runs.checkpoint",
    "save_checkpoint": "irem_core.runs.checkpoint",
    "MIN_ENERGY": "irem_core.runs.evaluation",
    "Evaluation": "irem_core.runs.evaluation",
    "evaluate": "irem_core.runs.evaluation",
    "select_min_energy": "irem_core.runs.evaluation",
    "TrainedRun": "irem_core.runs.load",
    "build_solver": "irem_core.runs.build",
    "build_task": "irem_core.runs.build",
    "load_run": "irem_core.runs.load",
    "sized_task": "irem_core.runs.build",
    "solve": "irem_core.runs.solve",
    "derive_seed": "irem_core.seeding",
    "TrainSummary": "irem_core.training.outcome",
    "train": "irem_core.training.loop",
    "seeded_generator": "irem_core.seeding:generator",
}
"""Every public name → ``module`` (or ``module:attribute``) that defines it. Names load on first
use (PEP 562), so ``from irem_core import hookimpl`` imports pluggy, not torch's training
stack."""

__all__ = [
    "MIN_ENERGY",
    "SPLITS",
    "BoundEnergy",
    "Checkpoint",
    "CheckpointError",
    "CompleteGraphs",
    "Component",
    "ConfigError",
    "DescentLoop",
    "DescentOptions",
    "DescentStep",
    "EnergyModel",
    "EnergySolver",
    "EnergySpec",
    "Evaluation",
    "GradientEnergy",
    "GraphBatch",
    "IremError",
    "LandscapeEnergy",
    "LogRun",
    "LogValue",
    "Logger",
    "MemoryEnergy",
    "NestableTask",
    "NoOptions",
    "NonFiniteError",
    "Optimizer",
    "OptimizerSpec",
    "PluginError",
    "Plugins",
    "Problems",
    "Recursion",
    "Register",
    "RunConfig",
    "ScoringTask",
    "SelectableEnergy",
    "Solver",
    "State",
    "Task",
    "TrainSummary",
    "TrainedRun",
    "Trajectory",
    "VectorInputTask",
    "VectorTask",
    "autograd_energy_and_gradient",
    "build_run_config",
    "build_solver",
    "build_task",
    "complete_graphs",
    "derive_seed",
    "edge_inputs",
    "edge_slots",
    "energy_and_gradient",
    "evaluate",
    "get",
    "hookimpl",
    "hookspec",
    "init_as_concatenation",
    "load_checkpoint",
    "load_plugins",
    "load_run",
    "normal_noise",
    "plugins_default",
    "save_checkpoint",
    "seeded_generator",
    "select_graphs",
    "select_min_energy",
    "sized_task",
    "solve",
    "structure",
    "to_padded",
    "train",
    "unstructure",
]


def __getattr__(name: str) -> Any:
    target = PUBLIC.get(name)
    if target is None:
        raise AttributeError(f"module 'irem_core' has no attribute {name!r}")
    module, _, attribute = target.partition(":")
    value = getattr(importlib.import_module(module), attribute or name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


deprecation.install()
