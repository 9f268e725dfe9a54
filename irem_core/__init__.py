"""irem: learning iterative reasoning through energy minimization.

The public surface (everything else is internal and may change):

- **Protocols** — :class:`Task`, :class:`EnergyModel`, :class:`Optimizer`, :class:`Solver`,
  :class:`Recursion`, :class:`Logger` (opened with a :class:`LogRun`), and the data they
  exchange: :class:`Problems` (a batch, answers ``(rows, F)``) and :class:`Trajectory`.
  Optional capabilities are small runtime-checkable protocols, checked with ``isinstance``:
  :class:`ScoringTask`, :class:`NestableTask`, :class:`VectorInputTask` (tasks),
  :class:`SelectableEnergy`, :class:`MemoryEnergy`, :class:`GradientEnergy` (energy models).
  :class:`VectorTask` is a base for tasks of one input vector and one answer row per problem.
  Optimizers receive a :class:`BoundEnergy` (answers ``(rows, F)`` → energies ``(B,)``)
  and may call :func:`energy_and_gradient` (the model's own gradient when it is a
  :class:`GradientEnergy`, else :func:`autograd_energy_and_gradient`);
  :class:`DescentLoop` (with :class:`DescentOptions` and its :class:`State`) is the shared
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

from irem_core.runs.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from irem_core.config.schema import RunConfig, build_run_config, structure, unstructure
from irem_core.reasoning.descent import DescentLoop, DescentOptions, State, normal_noise
from irem_core.reasoning.energy import BoundEnergy, autograd_energy_and_gradient, energy_and_gradient
from irem_core.reasoning.energy_solver import EnergySolver
from irem_core.errors import CheckpointError, ConfigError, IremError, NonFiniteError, PluginError
from irem_core.runs.evaluation import Evaluation, evaluate, select_min_energy
from irem_core.plugins.hookspecs import Register, hookimpl, hookspec
from irem_core.plugins.manager import Plugins, get, load_plugins
from irem_core.reasoning.protocols import (
    EnergyModel,
    GradientEnergy,
    Logger,
    LogRun,
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
from irem_core.plugins.registry import Component
from irem_core.runs.build import TrainedRun, build_solver, build_task, load_run
from irem_core.seeding import derive_seed
from irem_core.seeding import generator as seeded_generator
from irem_core.runs.solve import solve
from irem_core.training.loop import TrainSummary, train
from irem_core.reasoning.vector_task import VectorTask

__version__ = "0.1.0"

__all__ = [
    "BoundEnergy",
    "Checkpoint",
    "CheckpointError",
    "Component",
    "ConfigError",
    "DescentLoop",
    "DescentOptions",
    "EnergyModel",
    "EnergySolver",
    "Evaluation",
    "GradientEnergy",
    "IremError",
    "LogRun",
    "Logger",
    "MemoryEnergy",
    "NestableTask",
    "NonFiniteError",
    "Optimizer",
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
    "derive_seed",
    "energy_and_gradient",
    "evaluate",
    "get",
    "hookimpl",
    "hookspec",
    "load_checkpoint",
    "load_plugins",
    "load_run",
    "normal_noise",
    "save_checkpoint",
    "seeded_generator",
    "select_min_energy",
    "solve",
    "structure",
    "train",
    "unstructure",
]
