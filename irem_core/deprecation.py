"""Names that moved keep working for one minor version, with a :class:`DeprecationWarning`.

irem's stability policy (docs/plugins.md, "Stability") promises that a public name which
moves keeps an alias that warns, naming its new place, for at least one minor version. This
module is the one table of those aliases:

- :data:`MOVED_MODULES`: an old module path → its new module. ``import irem_core.descent``
  (irem 0.1.0) imports :mod:`irem_core.reasoning.descent` and warns once per import.
- :data:`MOVED_NAMES`: names of an old module whose path is now a package → the module that
  holds them now. ``from irem_core.config import RunConfig`` still works and warns; the
  package's ``__getattr__`` calls :func:`moved_attribute`.

Plugins keep aliases of their own moved names the same way, with :func:`warn_moved`.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from types import ModuleType
from typing import Any

REMOVED_IN = "0.3.0"
"""The release that drops the aliases below."""

MOVED_MODULES: dict[str, str] = {
    "irem_core.allocator": "irem_core.training.allocator",
    "irem_core.averaging": "irem_core.training.averaging",
    "irem_core.checkpoint": "irem_core.runs.checkpoint",
    "irem_core.descent": "irem_core.reasoning.descent",
    "irem_core.distributed": "irem_core.training.distributed",
    "irem_core.energy": "irem_core.reasoning.energy",
    "irem_core.energy_solver": "irem_core.reasoning.energy_solver",
    "irem_core.evaluate": "irem_core.runs.evaluation",
    "irem_core.hookspecs": "irem_core.plugins.hookspecs",
    "irem_core.layers": "irem_core.reasoning.layers",
    "irem_core.loggers": "irem_core.training.loggers",
    "irem_core.memory": "irem_core.runs.memory",
    "irem_core.nested": "irem_core.runs.nested",
    "irem_core.precision": "irem_core.training.precision",
    "irem_core.protocols": "irem_core.reasoning.protocols",
    "irem_core.registry": "irem_core.plugins.registry",
    "irem_core.replay": "irem_core.training.replay",
    "irem_core.schedule": "irem_core.training.schedule",
    "irem_core.solve": "irem_core.runs.solve",
    "irem_core.trainer": "irem_core.training.loop",
    "irem_core.training_state": "irem_core.training.state",
    "irem_core.vector_task": "irem_core.reasoning.vector_task",
}

MOVED_NAMES: dict[str, dict[str, str]] = {
    "irem_core.config": {
        "ComponentSpec": "irem_core.config.schema",
        "TaskSpec": "irem_core.config.schema",
        "SolverSpec": "irem_core.config.schema",
        "EnergySpec": "irem_core.config.schema",
        "OptimizerSpec": "irem_core.config.schema",
        "LR_DECAYS": "irem_core.config.schema",
        "PLUGINS_DEFAULT": "irem_core.config.schema",
        "plugins_default": "irem_core.config.schema",
        "TrainConfig": "irem_core.config.schema",
        "EvalConfig": "irem_core.config.schema",
        "RunConfig": "irem_core.config.schema",
        "component_specs": "irem_core.config.schema",
        "converter_for": "irem_core.config.convert",
        "ConfigClassBug": "irem_core.config.convert",
        "structure": "irem_core.config.convert",
        "unstructure": "irem_core.config.convert",
        "read_config_file": "irem_core.config.compose",
        "parse_override": "irem_core.config.compose",
        "set_path": "irem_core.config.compose",
        "override_saved": "irem_core.config.compose",
        "merge": "irem_core.config.compose",
        "preset_overrides": "irem_core.config.compose",
        "default_solver": "irem_core.config.compose",
        "build_run_config": "irem_core.config.compose",
    },
    "irem_core.runs": {
        "build_task": "irem_core.runs.build",
        "check_problems": "irem_core.runs.build",
        "build_solver": "irem_core.runs.build",
        "resolve_device": "irem_core.runs.build",
        "sized_task": "irem_core.runs.build",
        "check_run_plugins": "irem_core.runs.load",
        "TrainedRun": "irem_core.runs.load",
        "CHECKPOINTS": "irem_core.runs.load",
        "load_run": "irem_core.runs.load",
    },
    "irem_core.plugins": {
        "ENTRY_POINT_GROUP": "irem_core.plugins.manager",
        "STRICT_ENV": "irem_core.plugins.manager",
        "ONLY_ENV": "irem_core.plugins.manager",
        "BLOCK_ENV": "irem_core.plugins.manager",
        "HOOK_KINDS": "irem_core.plugins.manager",
        "Plugins": "irem_core.plugins.manager",
        "new_manager": "irem_core.plugins.manager",
        "build_plugins": "irem_core.plugins.manager",
        "entry_point_sources": "irem_core.plugins.manager",
        "load_plugins": "irem_core.plugins.manager",
        "resolve_plugins": "irem_core.plugins.manager",
        "set_plugins": "irem_core.plugins.manager",
        "get": "irem_core.plugins.manager",
        "module_plugin": "irem_core.plugins.manager",
        "python_environment": "irem_core.plugins.manager",
    },
    "irem_core.cli": {
        "build_parser": "irem_core.cli.app",
    },
}
"""``{old module (now a package): {name: module holding it now}}``: each package's
``__getattr__`` reads its entry through :func:`moved_attribute`."""


def warn_moved(old: str, new: str, *, stacklevel: int = 3) -> None:
    """Warn that ``old`` (a module or ``module.name``) is now ``new``."""
    warnings.warn(
        f"{old} moved to {new} in irem 0.2.0; import it from there (or its public name from "
        f"irem_core). The old name is removed in irem {REMOVED_IN}.",
        DeprecationWarning,
        stacklevel=stacklevel,
    )


def moved_attribute(package: str, name: str) -> Any:
    """``getattr`` of a package that replaced a module of the same path: a name the old
    module had comes from its new module, with a warning; anything else is an
    :class:`AttributeError`, as for a missing attribute."""
    new_module = MOVED_NAMES.get(package, {}).get(name)
    if new_module is None:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    warn_moved(f"{package}.{name}", f"{new_module}.{name}")
    return getattr(importlib.import_module(new_module), name)


class _AliasLoader(importlib.abc.Loader):
    """Loads an old module path as the module that replaced it."""

    def __init__(self, new: str) -> None:
        self.new = new
        self.new_spec: importlib.machinery.ModuleSpec | None = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        warn_moved(spec.name, self.new, stacklevel=2)
        module = importlib.import_module(self.new)
        self.new_spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run (the new module is imported); undo the import system's renaming of
        its ``__spec__`` to the old path."""
        module.__spec__ = self.new_spec


class _MovedModuleFinder(importlib.abc.MetaPathFinder):
    """Finds the old module paths of :data:`MOVED_MODULES`."""

    def find_spec(
        self, fullname: str, path: Any = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        new = MOVED_MODULES.get(fullname)
        if new is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(new))


def install() -> None:
    """Make the old module paths importable (once per process; :mod:`irem_core` calls it)."""
    if not any(isinstance(finder, _MovedModuleFinder) for finder in sys.meta_path):
        sys.meta_path.append(_MovedModuleFinder())


def forward_to(old_module: str, new_module: ModuleType, *, via_irem_core: bool = False) -> Any:
    """A module ``__getattr__`` for a module whose names moved to ``new_module``.

    ``via_irem_core``: the names are public, so the warning says to import them from
    :mod:`irem_core`. A plugin that moves a module of its own keeps the old path as a module
    of two lines::

        from irem_core.deprecation import forward_to
        __getattr__ = forward_to(__name__, new_home)
    """

    def __getattr__(name: str) -> Any:
        value = getattr(new_module, name)
        new = "irem_core" if via_irem_core else new_module.__name__
        warn_moved(f"{old_module}.{name}", f"{new}.{name}")
        return value

    return __getattr__
