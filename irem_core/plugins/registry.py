"""Name -> component records, one registry per kind, validated in one place."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import attrs

from irem_core.errors import PluginError
from irem_core.plugins.metadata import COMPONENT_KINDS

KINDS: tuple[str, ...] = tuple(COMPONENT_KINDS)
"""The component kinds (see :data:`~irem_core.plugins.metadata.COMPONENT_KINDS`)."""


@attrs.define(frozen=True)
class NoOptions:
    """Options class for a component that takes none."""


@attrs.frozen
class PluginInfo:
    """Where a plugin came from.

    Attributes:
        name: entry-point (or registration) name.
        distribution: the installed distribution that provides it, or ``""``.
        version: that distribution's version, or ``""``.
        error: why the plugin is broken (``None`` while it works).
    """

    name: str
    distribution: str = ""
    version: str = ""
    error: str | None = None

    def describe(self) -> str:
        """``name (distribution version)`` for messages."""
        origin = f" ({self.distribution} {self.version})" if self.distribution else ""
        return f"{self.name}{origin}"


@attrs.frozen
class Component:
    """One registered component.

    Attributes:
        kind: one of :data:`KINDS`.
        name: the registered name.
        factory: builds the component (signature per kind, see ``irem_core.plugins.hookspecs``).
        config: attrs class of its options.
        plugin: the plugin that registered it.
        aliases: other names for it.
        meta: its kind's metadata (an instance of :class:`~irem_core.plugins.metadata.TaskMeta`,
            :class:`~irem_core.plugins.metadata.SolverMeta`, ...).
    """

    kind: str
    name: str
    factory: Callable[..., Any]
    config: type
    plugin: PluginInfo
    aliases: tuple[str, ...] = ()
    meta: Any = None


class NameClash(PluginError):
    """A name two plugins registered, or a plugin and irem itself: neither gets it.

    Attributes:
        plugins: the names of the plugins involved (one when irem itself holds the name).
    """

    def __init__(self, message: str, plugins: tuple[str, ...]) -> None:
        super().__init__(message)
        self.plugins = plugins


class Registry:
    """All components of one kind, by name and alias."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._by_name: dict[str, Component] = {}
        self._aliases: dict[str, str] = {}
        self._broken: dict[str, PluginInfo] = {}
        self._clashes: dict[str, str] = {}
        """Names two plugins registered, with the error: asking for one raises it."""

    def add(self, component: Component) -> None:
        """Register ``component``; a name another factory registered raises
        :class:`NameClash`, and from then on the name is refused to both (see :meth:`get`)."""
        if not attrs.has(component.config):
            raise PluginError(
                f"plugin {component.plugin.describe()} registered {self.kind} "
                f"{component.name!r} with config={component.config!r}, which is not an attrs "
                "class; decorate it with @attrs.define (every field needs a default)"
            )
        for name in (component.name, *component.aliases):
            existing = self.find(name)
            if existing is None:
                continue
            if (
                existing.factory is component.factory
                and existing.plugin.name == component.plugin.name
            ):
                return
            message = (
                f"{self.kind} name {name!r} is registered twice: by plugin "
                f"{existing.plugin.describe()} and by plugin {component.plugin.describe()}; "
                "uninstall one of them or block one with IREM_BLOCK_PLUGINS"
            )
            self._clashes[name] = message
            raise NameClash(message, (existing.plugin.name, component.plugin.name))
        self._by_name[component.name] = component
        for alias in component.aliases:
            self._aliases[alias] = component.name

    def reserve(self, names: Iterable[str], owner: str) -> list[NameClash]:
        """Refuse ``names`` to every plugin, since ``owner`` (irem's built-in commands, say)
        holds them: a plugin's component of such a name is a clash from then on (see
        :meth:`get`). Returns the clashes found."""
        clashes = []
        for name in names:
            component = self.find(name)
            if component is None:
                continue
            message = (
                f"{self.kind} name {name!r} is {owner}, so plugin "
                f"{component.plugin.describe()} cannot register it; rename it in the plugin, "
                "uninstall the plugin or block it with IREM_BLOCK_PLUGINS"
            )
            self._clashes[name] = message
            clashes.append(NameClash(message, (component.plugin.name,)))
        return clashes

    def mark_broken(self, plugin: PluginInfo) -> None:
        """Remember that ``plugin`` failed, so its components raise its error when asked for."""
        self._broken[plugin.name] = plugin

    def find(self, name: str) -> Component | None:
        """The component called ``name`` (or aliased so), or ``None``."""
        return self._by_name.get(self._aliases.get(name, name))

    def get(self, name: str) -> Component:
        """The component called ``name``; raises ``PluginError`` listing the valid names, or
        naming both plugins when two registered it (neither wins silently)."""
        clash = self._clashes.get(self._aliases.get(name, name), self._clashes.get(name))
        if clash is not None:
            raise PluginError(clash)
        component = self.find(name)
        if component is not None:
            broken = self._broken.get(component.plugin.name)
            if broken is not None:
                raise PluginError(
                    f"{self.kind} {name!r} comes from plugin {broken.describe()}, "
                    f"which is broken: {broken.error}"
                )
            return component
        message = (
            f"unknown {self.kind} {name!r}; valid names: {', '.join(self.names()) or '(none)'}"
        )
        for broken in self._broken.values():
            message += f"\nnote: plugin {broken.describe()} failed to load and may provide it: {broken.error}"
        raise PluginError(message)

    def clashes(self) -> dict[str, str]:
        """The names refused to plugins (registered twice, or held by irem), with the error."""
        return dict(self._clashes)

    def names(self) -> list[str]:
        """Registered names (without aliases and clashing names), sorted."""
        return sorted(name for name in self._by_name if name not in self._clashes)

    def components(self) -> list[Component]:
        """Every registered component but those of clashing names, sorted by name."""
        return [self._by_name[name] for name in self.names()]
