"""Builds the plugin manager, loads every entry point of group ``irem``, fills the registries.

The loaded plugins travel as an argument: the CLI loads them once and hands the
:class:`Plugins` down to whatever needs a registry (config conversion, building a run, the
trainer, plugin commands as ``args.plugins``), as pytest's plugin manager travels on its
``config``. Library functions take ``plugins: Plugins``; the public API's take
``plugins: Plugins | None = None`` and fall back, through :func:`resolve_plugins` alone, to
the installed plugins, which :func:`load_plugins` loads once, lazily (nothing is loaded at
import time; :func:`set_plugins` replaces them).
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
import sys
import traceback
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

import attrs
import pluggy

from irem_core.errors import PluginError
from irem_core.plugins import hookspecs
from irem_core.plugins.metadata import COMPONENT_KINDS, structure_meta
from irem_core.plugins.registry import (
    KINDS,
    Component,
    NameClash,
    NoOptions,
    PluginInfo,
    Registry,
)

ENTRY_POINT_GROUP = "irem"
STRICT_ENV = "IREM_STRICT_PLUGINS"
ONLY_ENV = "IREM_PLUGINS"
BLOCK_ENV = "IREM_BLOCK_PLUGINS"

PLUGIN_FAILURES = (Exception, SystemExit, KeyboardInterrupt)
"""What a plugin's code may raise without ending the command: it marks that plugin broken
(``sys.exit`` or a stray ``KeyboardInterrupt`` at import included)."""

HOOK_KINDS: dict[str, str] = {kind.hook: name for name, kind in COMPONENT_KINDS.items()}
"""Hook name -> the kind of component it registers."""


@attrs.define
class Plugins:
    """The loaded plugins and the registries they filled.

    Attributes:
        manager: the pluggy plugin manager.
        registries: one :class:`Registry` per kind.
        infos: every plugin seen, working or broken, by name.
        registered: names each plugin registered, as ``{plugin: {kind: [names]}}``.
        conflicts: the name clashes each plugin is part of, as ``{plugin: [messages]}``: the
            names are refused, the plugin's other components work.
        strict: whether a broken or conflicting plugin is an error (``IREM_STRICT_PLUGINS``).
        converter: the cattrs converter structuring configs with these registries, built on
            first use by :func:`irem_core.config.schema.converter_for`.
    """

    manager: pluggy.PluginManager
    registries: dict[str, Registry]
    infos: dict[str, PluginInfo] = attrs.field(factory=dict)
    registered: dict[str, dict[str, list[str]]] = attrs.field(factory=dict)
    conflicts: dict[str, list[str]] = attrs.field(factory=dict)
    strict: bool = False
    converter: Any = attrs.field(default=None, init=False, repr=False, eq=False)

    def get(self, kind: str, name: str) -> Component:
        """The component of ``kind`` called ``name``; error lists valid names."""
        if kind not in self.registries:
            raise PluginError(f"unknown component kind {kind!r}; valid kinds: {', '.join(KINDS)}")
        return self.registries[kind].get(name)

    def mark_broken(self, info: PluginInfo, error: BaseException) -> None:
        """Record that ``info``'s plugin failed with ``error``: its components raise that
        error when asked for; the other plugins keep working. Raises a
        :class:`PluginError` instead when :attr:`strict`."""
        broken = attrs.evolve(info, error=_describe_error(error))
        self.infos[info.name] = broken
        for registry in self.registries.values():
            registry.mark_broken(broken)
        if self.strict:
            raise PluginError(
                f"plugin {info.describe()} is broken ({STRICT_ENV} is set): {broken.error}"
            ) from error

    def record_clash(self, clash: NameClash) -> None:
        """Remember ``clash`` for each plugin it involves (see :attr:`conflicts`); raises it
        when :attr:`strict`."""
        for name in clash.plugins:
            messages = self.conflicts.setdefault(name, [])
            if str(clash) not in messages:
                messages.append(str(clash))
        if self.strict:
            raise PluginError(f"{clash} ({STRICT_ENV} is set)")

    def reserve(self, kind: str, names: Iterable[str], owner: str) -> None:
        """Refuse ``names`` of ``kind`` to every plugin (see :meth:`Registry.reserve`); a
        plugin that registered one is recorded as conflicting."""
        for clash in self.registries[kind].reserve(names, owner):
            self.record_clash(clash)

    def problem(self, name: str) -> str | None:
        """Why plugin ``name`` does not (fully) work: its error or its name clashes."""
        info = self.infos[name]
        return info.error or "; ".join(self.conflicts.get(name, [])) or None

    def versions(self) -> dict[str, dict[str, str]]:
        """``{plugin: {"distribution", "version"}}`` of every working plugin."""
        return {
            name: {"distribution": info.distribution, "version": info.version}
            for name, info in self.infos.items()
            if info.error is None
        }


def _env_names(variable: str) -> set[str] | None:
    value = os.environ.get(variable)
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


def _describe_error(error: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(error), error)).strip()


def new_manager() -> pluggy.PluginManager:
    """A plugin manager that knows irem's hookspecs and has no plugins."""
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    return manager


def build_plugins(sources: list[tuple[PluginInfo, Callable[[], Any]]]) -> Plugins:
    """Load plugins from ``(info, loader)`` pairs and fill fresh registries.

    Each loader returns the plugin object (a module or any object with hookimpls). Each
    hook is called with the arguments it names, of ``register`` (bound to its plugin) and
    ``plugins`` (the :class:`Plugins` being built, for its factories to keep). A loader or
    hook that raises marks that plugin broken; a name two plugins register is refused to
    both (see :meth:`Plugins.record_clash`); the others keep working. With
    ``IREM_STRICT_PLUGINS=1`` the first failure or clash is raised instead.
    """
    manager = new_manager()
    plugins = Plugins(
        manager,
        {kind: Registry(kind) for kind in KINDS},
        strict=os.environ.get(STRICT_ENV, "") not in ("", "0"),
    )

    for info, loader in sources:
        plugins.infos[info.name] = info
        plugins.registered[info.name] = {}
        try:
            manager.register(loader(), name=info.name)
        except PLUGIN_FAILURES as error:  # a broken plugin must not break the others,
            plugins.mark_broken(info, error)  # nor end the command (sys.exit at import)
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as error:
        bad = manager.get_name(error.plugin) or str(error.plugin)
        info = plugins.infos.get(bad, PluginInfo(bad))
        manager.unregister(name=info.name)
        plugins.mark_broken(info, PluginError(f"misspelled or unknown hook: {error}"))

    for hook_name, kind in HOOK_KINDS.items():
        for impl in getattr(manager.hook, hook_name).get_hookimpls():
            info = plugins.infos[impl.plugin_name]
            registrations = plugins.registered[impl.plugin_name].setdefault(kind, [])

            def register(
                name: str,
                factory: Callable[..., Any],
                *,
                config: type | None = None,
                aliases: tuple[str, ...] = (),
                _info: PluginInfo = info,
                _kind: str = kind,
                _names: list[str] = registrations,
                **meta: Any,
            ) -> None:
                try:
                    typed = structure_meta(_kind, meta)
                except (TypeError, ValueError) as error:
                    raise PluginError(
                        f"plugin {_info.describe()} registered {_kind} {name!r} with bad "
                        f"metadata: {error}"
                    ) from None
                try:
                    plugins.registries[_kind].add(
                        Component(
                            _kind, name, factory, config or NoOptions, _info, tuple(aliases), typed
                        )
                    )
                except NameClash as clash:
                    plugins.record_clash(clash)
                    return
                if name not in _names:
                    _names.append(name)

            arguments = {"register": register, "plugins": plugins}
            try:
                impl.function(**{name: arguments[name] for name in impl.argnames})
            except PLUGIN_FAILURES as error:
                plugins.mark_broken(info, error)
    return plugins


def entry_point_sources() -> list[tuple[PluginInfo, Callable[[], Any]]]:
    """``(info, loader)`` for every entry point of group ``irem``, after the env filters.

    ``IREM_PLUGINS=a,b`` loads only the named plugins; ``IREM_BLOCK_PLUGINS=c`` skips ``c``.
    """
    only, blocked = _env_names(ONLY_ENV), _env_names(BLOCK_ENV) or set()
    sources = []
    for entry_point in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if (only is not None and entry_point.name not in only) or entry_point.name in blocked:
            continue
        dist = entry_point.dist
        info = PluginInfo(entry_point.name, dist.name if dist else "", dist.version if dist else "")
        sources.append((info, entry_point.load))
    return sources


_loaded: Plugins | None = None


def load_plugins() -> Plugins:
    """Load every installed plugin once and return them; later calls return the same.

    Called where a process starts (the CLI, a worker process, a script); code below takes
    the result as an argument.
    """
    global _loaded
    if _loaded is None:
        _loaded = build_plugins(entry_point_sources())
    return _loaded


def resolve_plugins(plugins: Plugins | None) -> Plugins:
    """``plugins``, or the installed ones (:func:`load_plugins`) when ``None``: the one
    fallback of the public API's ``plugins=None`` parameters."""
    return load_plugins() if plugins is None else plugins


def set_plugins(plugins: Plugins | None) -> Plugins | None:
    """Replace the loaded plugins (``None`` forces a reload); returns the previous ones."""
    global _loaded
    previous, _loaded = _loaded, plugins
    return previous


def get(kind: str, name: str) -> Component:
    """Shortcut for ``load_plugins().get(kind, name)``."""
    return load_plugins().get(kind, name)


def module_plugin(module: ModuleType | object, name: str) -> tuple[PluginInfo, Callable[[], Any]]:
    """A ``(info, loader)`` source for an in-process plugin object (tests, scripts)."""
    return PluginInfo(name), lambda: module


def python_environment() -> str:
    """The interpreter and site-packages searched for plugins, for ``irem plugins``."""
    return sys.prefix
