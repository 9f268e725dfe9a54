"""The hooks a plugin implements to contribute components to irem.

Every hook receives a ``register`` callable and the :class:`~irem_core.plugins.manager.Plugins`
being loaded, ``plugins``, and returns nothing; as with any pluggy hook, an implementation
names only the arguments it uses. A factory that builds other components (a solver built
of an energy model and an optimizer) keeps ``plugins`` to look them up when it is called;
the registries are still being filled while the hooks run. A plugin is any module or
object registered under the entry-point group ``irem`` whose functions are marked with
:data:`hookimpl`. A minimal plugin module::

    from irem_core import hookimpl

    @hookimpl
    def irem_register_tasks(register):
        register("sorting", SortingTask, config=SortingConfig, domain="vector")

``register(name, factory, *, config=NoOptions, aliases=(), **meta)`` takes:

- ``name``: the unique name users type (``--task sorting``);
- ``factory``: a callable building the component, signature per kind (below);
- ``config``: an attrs class holding the component's options; every field needs a default;
- ``aliases``: other names resolving to the same component;
- ``**meta``: kind-specific metadata (below).

Hookimpl arguments must not have defaults: pluggy ignores them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import pluggy

if TYPE_CHECKING:
    from irem_core.plugins.manager import Plugins

PROJECT_NAME = "irem"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


class Register(Protocol):
    """The callable every ``irem_register_*`` hook receives."""

    def __call__(
        self,
        name: str,
        factory: object,
        *,
        config: type | None = None,
        aliases: tuple[str, ...] = (),
        **meta: object,
    ) -> None: ...


@hookspec
def irem_register_tasks(register: Register, plugins: Plugins) -> None:
    """Register task families (problem generators with splits and metrics).

    Args:
        register: ``register(name, factory, config=Cls, domain=str, presets=dict)``.
            ``factory(options) -> Task``; ``domain`` is the answer domain (``"vector"``,
            ``"graph"``, ...); ``presets`` maps a preset name (``"quick"``, ``"paper"``)
            to config overrides, a nested dict with optional sections ``task``, ``train``,
            ``eval`` and ``solvers`` (a dict keyed by solver name).
        plugins: the plugins being loaded (see the module docstring); name it only if a
            factory needs it.

    Example::

        @hookimpl
        def irem_register_tasks(register):
            register("addition", AdditionTask, config=MatrixConfig, domain="vector",
                     presets={"paper": {}, "quick": {"task": {"size": 8}}})
    """


@hookspec
def irem_register_energy_models(register: Register, plugins: Plugins) -> None:
    """Register energy models, ``nn.Module`` s giving one scalar energy per problem.

    Args:
        register: ``register(name, factory, config=Cls, domain=str)``;
            ``factory(options, task) -> EnergyModel``.
        plugins: the plugins being loaded (see the module docstring); name it only if a
            factory needs it.

    Example::

        @hookimpl
        def irem_register_energy_models(register):
            register("mlp", VectorEnergy, config=VectorEnergyConfig, domain="vector")
    """


@hookspec
def irem_register_optimizers(register: Register, plugins: Plugins) -> None:
    """Register reasoning procedures that descend an energy.

    Args:
        register: ``register(name, factory, config=Cls)``; ``factory(options) -> Optimizer``.
        plugins: the plugins being loaded (see the module docstring); name it only if a
            factory needs it.

    Example::

        @hookimpl
        def irem_register_optimizers(register):
            register("gd", GradientDescent, config=GradientDescentConfig)
    """


@hookspec
def irem_register_solvers(register: Register, plugins: Plugins) -> None:
    """Register solvers: anything mapping (problems, start, step budget) to a trajectory.

    Args:
        register: ``register(name, factory, config=Cls, uses_start=bool, default=bool,
            halting=str)``; ``factory(options, task) -> Solver``. ``uses_start`` (default
            true) says the solver continues from ``y0``, so replaying answers helps it;
            ``irem reproduce`` trains solvers with ``uses_start=False`` without replay.
            ``default=True`` makes it the solver of configs that name none (one solver
            may say so). ``halting`` names the section of its options that holds
            ``halt``, ``halt_tolerance`` and ``halt_window`` (``irem eval --halt``).
        plugins: the plugins being loaded (see the module docstring); name it only if a
            factory needs it.

    Example::

        @hookimpl
        def irem_register_solvers(register, plugins):  # its energy model and optimizer
            register("irem", functools.partial(build_irem_solver, plugins=plugins),
                     config=IremConfig)
    """


@hookspec
def irem_register_recursions(register: Register, plugins: Plugins) -> None:
    """Register recursion strategies that solve nested problems with a trained solver.

    Args:
        register: ``register(name, factory, config=Cls)``;
            ``factory(options) -> Recursion``.
        plugins: the plugins being loaded (see the module docstring); name it only if a
            factory needs it.

    Example::

        @hookimpl
        def irem_register_recursions(register):
            register("fold", FoldRecursion, config=FoldConfig)
    """


@hookspec
def irem_register_commands(register: Register, plugins: Plugins) -> None:
    """Register sub-commands of the ``irem`` command line.

    Args:
        register: ``register(name, factory, help=str)``; ``factory(parser) -> run`` adds the
            command's arguments to its ``argparse.ArgumentParser`` and returns
            ``run(args: argparse.Namespace) -> int``, the exit status; ``args.plugins`` holds
            the plugins the command line loaded. ``run`` raises
            :class:`~irem_core.errors.IremError` for bad input (exit 2 with its message).
        plugins: the plugins being loaded (see the module docstring); name it only if a
            factory needs it.

    Example::

        @hookimpl
        def irem_register_commands(register):
            register("reproduce", add_reproduce_command, help="train and tabulate solvers")
    """


@hookspec
def irem_register_loggers(register: Register, plugins: Plugins) -> None:
    """Register training loggers, chosen by name in ``train.loggers``.

    Args:
        register: ``register(name, factory, files=tuple[str, ...], default=bool)``;
            ``factory(run: LogRun) -> Logger``, called on rank 0 when training starts or
            resumes. ``files`` names what the logger writes inside the run directory
            (files or folders): a new run refuses a directory holding them without
            ``--force``, which sets them aside with the rest of the run. ``default=True``
            puts the logger in the default ``train.loggers``.
        plugins: the plugins being loaded (see the module docstring); name it only if a
            factory needs it.

    Example::

        @hookimpl
        def irem_register_loggers(register):
            register("jsonl", JsonlLogger, files=("metrics.jsonl",), default=True)
    """
