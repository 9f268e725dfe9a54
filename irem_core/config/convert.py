"""Strict conversion between plain data and config classes, with errors that name every bad field.

One cattrs converter per set of plugins structures a run's config: unknown keys, wrong types
and failed validators become one :class:`~irem_core.errors.ConfigError` listing each field
with its problem; a plugin whose config class cannot be converted is named as the culprit."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, get_origin

import attrs
import cattrs
from cattrs.cols import list_structure_factory
from cattrs.errors import (
    AttributeValidationNote,
    BaseValidationError,
    ForbiddenExtraKeysError,
    IterableValidationNote,
)
from cattrs.v import transform_error

from irem_core.config.schema import PLUGINS_DEFAULT, ComponentSpec
from irem_core.errors import ConfigError, IremError, PluginError
from irem_core.plugins.manager import Plugins, resolve_plugins


def _strict(expected: type, accepts: tuple[type[Any], ...]) -> Callable[[Any, type], Any]:
    """A structure hook accepting only instances of ``accepts`` (no bools unless ``expected``
    is bool); floats must be finite and come out as ``float``."""

    def structure(value: Any, _: type) -> Any:
        if isinstance(value, bool) and expected is not bool:
            raise TypeError(f"expected {expected.__name__}, got bool {value!r}")
        if not isinstance(value, accepts):
            raise TypeError(f"expected {expected.__name__}, got {type(value).__name__} {value!r}")
        if expected is float:
            if not math.isfinite(value):
                raise TypeError(f"expected a finite number, got {value!r}")
            return float(value)
        return value

    return structure


def _is_list(cls: Any) -> bool:
    return get_origin(cls) is list


def _strict_list(cls: Any, converter: cattrs.Converter) -> Callable[[Any, type], Any]:
    """``cls``'s list structure function, refusing a string or a table (cattrs would take a
    string for the list of its characters)."""
    items = list_structure_factory(cls, converter)

    def structure(value: Any, type_: type) -> Any:
        if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__iter__"):
            hint = f" (for one item, write [{json.dumps(value)}])" if isinstance(value, str) else ""
            raise TypeError(f"expected a list, got {type(value).__name__} {value!r}{hint}")
        return items(value, type_)

    return structure


def _is_spec(cls: Any) -> bool:
    return isinstance(cls, type) and issubclass(cls, ComponentSpec)


def _has_plugins_defaults(cls: Any) -> bool:
    return (
        isinstance(cls, type)
        and attrs.has(cls)
        and any(PLUGINS_DEFAULT in field.metadata for field in attrs.fields(cls))
    )


def _make_converter(plugins: Plugins | None) -> cattrs.Converter:
    """A strict converter; it structures component specs and :func:`plugins_default`
    fields with ``plugins``' registries (``None``: it only unstructures)."""
    converter = cattrs.Converter(forbid_extra_keys=True)
    converter.register_structure_hook(int, _strict(int, (int,)))
    converter.register_structure_hook(float, _strict(float, (int, float)))
    converter.register_structure_hook(bool, _strict(bool, (bool,)))
    converter.register_structure_hook(str, _strict(str, (str,)))
    converter.register_structure_hook_factory(_is_list, lambda cls: _strict_list(cls, converter))

    def structure_spec(data: Any, cls: type[ComponentSpec]) -> ComponentSpec:
        if not isinstance(data, Mapping) or not isinstance(data.get("name"), str):
            raise ConfigError(
                f"expected a table with a string 'name' choosing the {cls.kind}, got {data!r}"
            )
        if plugins is None:
            raise TypeError(
                "this converter only unstructures; structure with converter_for(plugins)"
            )
        component = plugins.get(cls.kind, data["name"])
        options = {key: value for key, value in data.items() if key != "name"}
        try:
            return cls(component.name, converter.structure(options, component.config))
        except Exception as error:
            bug = _plugin_bug(error)
            if isinstance(bug, ConfigClassBug):  # a nested component's: already named
                raise bug from bug.__cause__
            if bug is None:
                raise
            raise ConfigClassBug(
                f"{cls.kind} {component.name!r} of plugin {component.plugin.describe()} has a "
                f"broken config class {component.config.__qualname__}: building it from "
                f"{options!r} raised {type(bug).__name__}: {bug}; this is a bug in the plugin, "
                "not in the configuration: report it to the plugin's authors"
            ) from bug

    def unstructure_spec(spec: ComponentSpec) -> dict[str, Any]:
        return {"name": spec.name, **converter.unstructure(spec.options)}

    def structure_with_defaults(cls: type) -> Callable[[Any, type], Any]:
        """``cls``'s structure function, after filling its missing :func:`plugins_default`
        fields with ``plugins``' defaults (as data, structured with the rest)."""
        structure_fields: Callable[[Any, type], Any] = converter.gen_structure_attrs_fromdict(cls)
        defaults = [
            (field.name, field.metadata[PLUGINS_DEFAULT])
            for field in attrs.fields(cls)
            if PLUGINS_DEFAULT in field.metadata
        ]

        def structure_attrs(data: Any, _: type) -> Any:
            if isinstance(data, Mapping) and plugins is not None:
                missing = {name: make(plugins) for name, make in defaults if name not in data}
                data = {**data, **missing} if missing else data
            return structure_fields(data, cls)

        return structure_attrs

    converter.register_structure_hook_func(_is_spec, structure_spec)
    converter.register_unstructure_hook_func(_is_spec, unstructure_spec)
    converter.register_structure_hook_factory(_has_plugins_defaults, structure_with_defaults)
    return converter


_UNSTRUCTURER = _make_converter(None)
"""Unstructures configs: that needs no registry (each spec holds its options)."""


def converter_for(plugins: Plugins) -> cattrs.Converter:
    """The strict converter that structures configs with ``plugins``' registries: component
    specs into the config classes ``plugins`` registered, :func:`plugins_default` fields
    with their defaults. Built once per :class:`~irem_core.plugins.manager.Plugins`."""
    if plugins.converter is None:
        plugins.converter = _make_converter(plugins)
    return plugins.converter


class ConfigClassBug(PluginError):
    """A component's config class failed on its own (its ``__init__``, a converter or
    ``__attrs_post_init__`` raised something other than a validator's ``ValueError`` or
    ``TypeError``): a bug in its plugin, not invalid configuration."""


def _leaves(error: BaseException) -> Iterator[BaseException]:
    """The exceptions inside ``error`` (cattrs' validation groups, nested), depth first."""
    if isinstance(error, BaseValidationError):
        for inner in error.exceptions:
            yield from _leaves(inner)
    else:
        yield error


def _from_user_data(error: BaseException) -> bool:
    """Whether ``error`` (a leaf of a structuring error) is about the data, not the code.

    cattrs notes every error raised while structuring a field's value (a value of the
    wrong type, a missing key, a value outside a ``Literal``); unknown keys are reported
    as :class:`ForbiddenExtraKeysError`. Un-noted errors come from the class's own
    ``__init__``: validators reject values with ``ValueError`` or ``TypeError``; anything
    else there (``__attrs_post_init__``, a converter) is a bug of the class.
    """
    if isinstance(error, ConfigClassBug):
        return False
    notes = getattr(error, "__notes__", [])
    return isinstance(error, (IremError, ForbiddenExtraKeysError, ValueError, TypeError)) or any(
        isinstance(note, (AttributeValidationNote, IterableValidationNote)) for note in notes
    )


def _plugin_bug(error: BaseException) -> BaseException | None:
    """The first error inside ``error`` that is not about the user's data (a
    :class:`ConfigClassBug` first, when there is one), or ``None``."""
    bugs = [leaf for leaf in _leaves(error) if not _from_user_data(leaf)]
    named = [bug for bug in bugs if isinstance(bug, ConfigClassBug)]
    return (named or bugs or [None])[0]


def _format_exception(error: BaseException, type_: Any) -> str:
    if isinstance(error, ForbiddenExtraKeysError):
        valid = ", ".join(a.name for a in attrs.fields(error.cl)) or "(none)"
        return f"unknown key(s) {', '.join(sorted(error.extra_fields))}; valid keys: {valid}"
    if isinstance(error, KeyError):
        return "required key missing"
    if isinstance(error, ValueError) and _is_choice_error(error):
        _, field, choices, value = error.args
        allowed = ", ".join(repr(choice) for choice in choices)
        return f"'{field.name}' must be one of {allowed}, got {value!r}"
    return str(error)


def _is_choice_error(error: ValueError) -> bool:
    """Whether ``error`` is that of attrs' ``in_`` validator: ``(message, attribute,
    choices, value)``, whose ``str`` is a tuple holding the attribute's internals."""
    return len(error.args) == 4 and isinstance(error.args[1], attrs.Attribute)


def structure(data: Any, cls: type, *, plugins: Plugins | None = None) -> Any:
    """Structure ``data`` into ``cls`` with ``plugins``' registries (default: the installed
    plugins); errors in ``data`` become one :class:`ConfigError` naming keys.

    A config class that fails on its own (see :func:`_from_user_data`) is not reported as
    invalid configuration: when it is a component's, a :class:`ConfigClassBug` (a
    :class:`PluginError`) names the component and its plugin; otherwise its error
    propagates.
    """
    try:
        return converter_for(resolve_plugins(plugins)).structure(data, cls)
    except IremError:
        raise
    except Exception as error:
        bug = _plugin_bug(error)
        if isinstance(bug, ConfigClassBug):
            if hasattr(bug, "__notes__"):
                del bug.__notes__  # cattrs' notes on where it was structured
            raise bug from bug.__cause__
        if bug is not None:
            raise
        lines = []
        for line in transform_error(error, format_exception=_format_exception):
            message, _, path = line.rpartition(" @ ")
            key = path.removeprefix("$").removeprefix(".")
            field = re.match(r"'(\w+)' (.*)", message)  # attrs validators name their field
            if field:
                key, message = f"{key}.{field[1]}".lstrip("."), field[2]
            lines.append(f"  {key or '(top level)'}: {message}")
        raise ConfigError("invalid configuration:\n" + "\n".join(lines)) from None


def unstructure(config: Any) -> Any:
    """Plain JSON-compatible data for ``config``."""
    return _UNSTRUCTURER.unstructure(config)
