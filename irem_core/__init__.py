"""irem: learning iterative reasoning through energy minimization.

The public surface: protocols, plugin loading and registries, configs, training,
evaluation and checkpoints. Everything concrete comes from plugins.
"""

from irem_core.config import RunConfig, build_run_config, structure, unstructure
from irem_core.errors import CheckpointError, ConfigError, IremError, NonFiniteError, PluginError
from irem_core.evaluate import Evaluation, evaluate, select_min_energy
from irem_core.hookspecs import hookimpl, hookspec
from irem_core.plugins import get, load_plugins
from irem_core.protocols import EnergyModel, Optimizer, Problems, Recursion, Solver, Task, Trajectory
from irem_core.runs import TrainedRun, build_solver, build_task, load_run
from irem_core.trainer import TrainSummary, train

__version__ = "0.1.0"

__all__ = [
    "CheckpointError", "ConfigError", "EnergyModel", "Evaluation", "IremError", "NonFiniteError",
    "Optimizer", "PluginError", "Problems", "Recursion", "RunConfig", "Solver", "Task",
    "TrainSummary", "TrainedRun", "Trajectory", "build_run_config", "build_solver", "build_task",
    "evaluate", "get", "hookimpl", "hookspec", "load_plugins", "load_run", "select_min_energy",
    "structure", "train", "unstructure",
]
