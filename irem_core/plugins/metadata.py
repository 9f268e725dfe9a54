"""What a registration may say besides its name, factory and options: one class per kind.

``register(name, factory, config=..., **meta)`` structures ``meta`` into the kind's class
below, so a misspelt or mistyped key is a :class:`~irem_core.errors.PluginError` naming the
plugin when it registers, not a setting silently ignored. :data:`COMPONENT_KINDS` is the
one declaration of a component kind: its hook and its metadata class.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import attrs
from attrs import validators as v

_optional_str = v.optional(v.instance_of(str))
_mapping: Any = v.instance_of(cast(type, Mapping))
_str_tuple = v.deep_iterable(v.instance_of(str), v.instance_of(tuple))


def _tuple(value: Any) -> Any:
    """Lists and tuples of names become tuples (anything else is left for the validator)."""
    return tuple(value) if isinstance(value, list | tuple) else value


@attrs.frozen(kw_only=True)
class TaskMeta:
    """Registration metadata of a task.

    Attributes:
        domain: the answer domain, e.g. ``"vector"`` or ``"graph"`` (``None``: undeclared;
            the task object's own ``domain`` is what solvers are matched against).
        presets: preset name (``"quick"``, ``"fast"``, ``"paper"``) → config overrides, a
            nested dict with optional sections ``task``, ``train``, ``eval`` and ``solvers``
            (keyed by solver name).
        size_option: the task option that sets the problem size (``irem eval --sizes``),
            e.g. ``"nodes"``; ``None``: the task has no size axis.
        nested: the recursion strategy nested problems of this task use (``irem nested``).
        paper: the paper's numbers for this task, for ``irem reproduce``'s tables.
    """

    domain: str | None = attrs.field(default=None, validator=_optional_str)
    presets: Mapping[str, Mapping[str, Any]] = attrs.field(
        factory=dict, validator=v.deep_mapping(v.instance_of(str), _mapping, _mapping)
    )
    size_option: str | None = attrs.field(default=None, validator=_optional_str)
    nested: str | None = attrs.field(default=None, validator=_optional_str)
    paper: Mapping[str, Any] = attrs.field(factory=dict, validator=_mapping)


@attrs.frozen(kw_only=True)
class EnergyModelMeta:
    """Registration metadata of an energy model.

    Attributes:
        domain: the task domain it reads (``None``: any).
        tasks: the tasks it is built for, by registered name (``None``: every task of its
            domain); the contract kit pairs it with these only. Its factory refuses others.
    """

    domain: str | None = attrs.field(default=None, validator=_optional_str)
    tasks: tuple[str, ...] | None = attrs.field(
        default=None, converter=_tuple, validator=v.optional(_str_tuple)
    )


@attrs.frozen(kw_only=True)
class SolverMeta:
    """Registration metadata of a solver.

    Attributes:
        default: the solver ``irem train`` uses when none is named (one plugin declares it).
        halting: the section of its options holding the per-problem halting options
            (``irem eval --halt``), e.g. ``"optimizer"``; ``None``: it does not halt.
        uses_start: whether its answers depend on the start answers (``False`` for
            feed-forward solvers: the protocol gives them no random starts).
        domains: the task domains it serves (``None``: every domain); a task of another
            domain is refused when the solver is built, naming these.
    """

    default: bool = attrs.field(default=False, validator=v.instance_of(bool))
    halting: str | None = attrs.field(default=None, validator=_optional_str)
    uses_start: bool = attrs.field(default=True, validator=v.instance_of(bool))
    domains: tuple[str, ...] | None = attrs.field(
        default=None, converter=_tuple, validator=v.optional(_str_tuple)
    )


@attrs.frozen(kw_only=True)
class CommandMeta:
    """Registration metadata of a command.

    Attributes:
        help: the one-line help ``irem --help`` shows.
    """

    help: str | None = attrs.field(default=None, validator=_optional_str)


@attrs.frozen(kw_only=True)
class LoggerMeta:
    """Registration metadata of a logger.

    Attributes:
        default: whether a config that names no loggers uses it.
        files: what it writes in a run directory (files or folders), so ``--force`` and
            the run-directory checks know them.
    """

    default: bool = attrs.field(default=False, validator=v.instance_of(bool))
    files: tuple[str, ...] = attrs.field(default=(), converter=_tuple, validator=_str_tuple)


@attrs.frozen(kw_only=True)
class NoMeta:
    """The metadata of a kind that takes none (optimizers, recursion strategies)."""


@attrs.frozen
class ComponentKind:
    """One kind of component: the hook that registers it and its metadata class."""

    hook: str
    meta: type


COMPONENT_KINDS: dict[str, ComponentKind] = {
    "task": ComponentKind("irem_register_tasks", TaskMeta),
    "energy_model": ComponentKind("irem_register_energy_models", EnergyModelMeta),
    "optimizer": ComponentKind("irem_register_optimizers", NoMeta),
    "solver": ComponentKind("irem_register_solvers", SolverMeta),
    "recursion": ComponentKind("irem_register_recursions", NoMeta),
    "command": ComponentKind("irem_register_commands", CommandMeta),
    "logger": ComponentKind("irem_register_loggers", LoggerMeta),
}
"""Every component kind, in the order ``irem plugins`` lists them. Adding a kind is one line
here plus its hook in :mod:`irem_core.plugins.hookspecs` (a test keeps the two equal)."""


def structure_meta(kind: str, meta: Mapping[str, Any]) -> Any:
    """``meta`` as ``kind``'s metadata class; raises ``TypeError`` / ``ValueError`` saying
    which key is unknown or of the wrong type, and which keys the kind takes."""
    cls = COMPONENT_KINDS[kind].meta
    known = [field.name for field in attrs.fields(cls)]
    unknown = sorted(set(meta) - set(known))
    if unknown:
        takes = ", ".join(known) if known else "no metadata"
        raise TypeError(f"unknown metadata {', '.join(map(repr, unknown))} ({kind} takes {takes})")
    return cls(**meta)
