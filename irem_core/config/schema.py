"""Run configuration: frozen attrs classes, strict cattrs converters, TOML/JSON files, overrides.

Precedence, lowest first: field defaults < the task's preset < ``--config`` file < ``--set``
overrides < explicit CLI flags. A component section (``task``, ``solver`` and the nested
specs of a solver) names its component with ``name``; its other keys are that component's
options, structured into the attrs class it registered (a tagged union built from the
registries of the :class:`~irem_core.plugins.manager.Plugins` the data is structured with: each
has its own converter, see :func:`converter_for`). Configs are frozen: change one with
:func:`attrs.evolve`, or change its data before structuring it (``--set``).
"""

from __future__ import annotations

import copy
import json
import math
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import attrs
import cattrs
from attrs import validators as v
from cattrs.errors import (
    AttributeValidationNote,
    BaseValidationError,
    ForbiddenExtraKeysError,
    IterableValidationNote,
)
from cattrs.v import transform_error

from irem_core.errors import ConfigError, IremError, PluginError
from irem_core.plugins.manager import Plugins, resolve_plugins
from irem_core.seeding import SEED_LIMIT
from irem_core.training.loggers import default_loggers
from irem_core.training.precision import PRECISIONS

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib


@attrs.frozen
class ComponentSpec:
    """A component chosen by name, with its options (an instance of its config class)."""

    kind: ClassVar[str] = ""
    name: str
    options: Any = None


@attrs.frozen
class TaskSpec(ComponentSpec):
    """The task section: ``name`` plus the task's options."""

    kind: ClassVar[str] = "task"


@attrs.frozen
class SolverSpec(ComponentSpec):
    """The solver section: ``name`` plus the solver's options."""

    kind: ClassVar[str] = "solver"


@attrs.frozen
class EnergySpec(ComponentSpec):
    """An energy model chosen by name, with its options."""

    kind: ClassVar[str] = "energy_model"


@attrs.frozen
class OptimizerSpec(ComponentSpec):
    """An optimizer chosen by name, with its options."""

    kind: ClassVar[str] = "optimizer"


# Typed for float values so that int and float fields share them (``v.gt(0)`` infers int).
_positive: Callable[[Any, attrs.Attribute[Any], float], Any] = v.gt(0)
_non_negative: Callable[[Any, attrs.Attribute[Any], float], Any] = v.ge(0)


def _positive_steps(instance: object, attribute: attrs.Attribute, value: list[int]) -> None:
    if not value or any(step <= 0 for step in value):
        raise ValueError(
            f"'{attribute.name}' must be a non-empty list of positive step counts, got {value}"
        )


def _seed(instance: object, attribute: attrs.Attribute, value: int) -> None:
    if not 0 <= value < SEED_LIMIT:
        raise ValueError(f"'{attribute.name}' must be an integer from 0 to 2**64 - 1, got {value}")


LR_DECAYS = ("none", "linear", "cosine")
"""Learning-rate decays after warm-up: constant, linear or cosine down to ``lr · lr_final``."""


def _betas(instance: object, attribute: attrs.Attribute, value: list[float]) -> None:
    if len(value) != 2 or not all(0.0 <= beta < 1.0 for beta in value):
        raise ValueError(f"'{attribute.name}' must be two numbers in [0, 1), got {value}")


def _distinct(instance: object, attribute: attrs.Attribute, value: list[str]) -> None:
    if len(set(value)) != len(value):
        raise ValueError(f"'{attribute.name}' names an entry twice: {value}")


PLUGINS_DEFAULT = "irem_plugins_default"
"""The field metadata key of :func:`plugins_default` fields: ``make(plugins) -> data``."""


def plugins_default(data: Any, cls: type | None = None, **field: Any) -> Any:
    """An attrs field whose default depends on the plugins (the registered components).

    ``data`` is the default as config data, or a callable ``data(plugins)`` returning it; it
    is structured into ``cls`` when given, else taken as it is. A config structured for
    some plugins (:func:`structure`, ``plugins=``) gets their default; one built in Python
    without the field gets the installed plugins' (see
    :func:`~irem_core.plugins.manager.resolve_plugins`). ``field`` goes to :func:`attrs.field`.

    Example: ``optimizer: OptimizerSpec = plugins_default({"name": "gd"}, OptimizerSpec)``.
    """
    make: Callable[[Plugins], Any] = data if callable(data) else lambda _: copy.deepcopy(data)

    def factory() -> Any:
        plugins = resolve_plugins(None)
        value = make(plugins)
        return value if cls is None else structure(value, cls, plugins=plugins)

    return attrs.field(factory=factory, metadata={PLUGINS_DEFAULT: make}, **field)


@attrs.frozen
class TrainConfig:
    """Training loop settings.

    Attributes:
        iterations: parameter updates in total.
        batch_size: fresh problems per iteration, over all processes (the global batch;
            divisible by the shard count).
        replay_batch_size: replayed states mixed into each iteration, over all processes
            (0 disables replay; divisible by the shard count).
        replay_capacity: states the replay rings hold together (each of ``S`` shards keeps
            ``replay_capacity // S``).
        shards: ``S``, the slices the global batch is split into, each with its own problem
            generator and replay ring; a multiple of the process count (0: one per process,
            fixed when the run starts). See :mod:`irem_core.training.distributed`.
        steps: optimisation steps per training problem.
        lr: Adam learning rate (the peak, with a warm-up or a decay).
        lr_warmup: iterations over which the learning rate rises linearly from ``lr /
            lr_warmup`` to ``lr`` (0: none).
        lr_decay: ``none`` (constant after warm-up), ``linear`` or ``cosine`` from ``lr``
            at the end of warm-up to ``lr · lr_final`` at ``iterations``.
        lr_final: the decayed learning rate's final fraction of ``lr``.
        adam_betas: Adam's ``(β₁, β₂)``.
        weight_decay: decoupled weight decay (AdamW) when positive; plain Adam at 0.
        grad_clip: largest global gradient norm (clipped above it; 0: no clipping).
        ema_decay: when positive, the saved and evaluated model is an exponential moving
            average of the trained weights with this decay (training continues on the raw
            weights, kept in the training state); 0: the raw weights.
        precision: ``fp32``, or ``bf16``: each iteration's solve and loss under bf16
            autocast (float32 weights, answers and loss), only where the device multiplies
            bf16 natively (see :mod:`irem_core.training.precision`).
        log_every: iterations between metrics-log lines.
        eval_every: iterations between evaluations on the ``same`` split (0: never).
        eval_problems: problems in each periodic evaluation.
        checkpoint_every: iterations between checkpoints (the last one is always written).
        loggers: names of the loggers receiving the metrics (plugins of kind ``logger``);
            default: those registered with ``default=True``. Checked when training starts
            (see :func:`~irem_core.training.loggers.check_loggers`), so that evaluating a run does
            not need its logger plugins.
    """

    iterations: int = attrs.field(default=10_000, validator=_positive)
    batch_size: int = attrs.field(default=512, validator=_positive)
    replay_batch_size: int = attrs.field(default=512, validator=_non_negative)
    replay_capacity: int = attrs.field(default=10_000, validator=_positive)
    shards: int = attrs.field(default=0, validator=_non_negative)
    steps: int = attrs.field(default=10, validator=_positive)
    lr: float = attrs.field(default=1e-4, validator=_positive)
    lr_warmup: int = attrs.field(default=0, validator=_non_negative)
    lr_decay: str = attrs.field(default="none", validator=v.in_(LR_DECAYS))
    lr_final: float = attrs.field(default=0.0, validator=[_non_negative, v.le(1.0)])
    adam_betas: list[float] = attrs.field(factory=lambda: [0.9, 0.999], validator=_betas)
    weight_decay: float = attrs.field(default=0.0, validator=_non_negative)
    grad_clip: float = attrs.field(default=0.0, validator=_non_negative)
    ema_decay: float = attrs.field(default=0.0, validator=[_non_negative, v.lt(1.0)])
    precision: str = attrs.field(default="fp32", validator=v.in_(PRECISIONS))
    log_every: int = attrs.field(default=50, validator=_positive)
    eval_every: int = attrs.field(default=1_000, validator=_non_negative)
    eval_problems: int = attrs.field(default=256, validator=_positive)
    checkpoint_every: int = attrs.field(default=1_000, validator=_positive)
    loggers: list[str] = plugins_default(default_loggers, validator=_distinct)


@attrs.frozen
class EvalConfig:
    """Evaluation settings.

    Attributes:
        steps: step budgets at which the error is reported; the solver runs to the largest.
        problems: problems per evaluation.
        batch_size: problems solved at once (memory bound).
    """

    steps: list[int] = attrs.field(factory=lambda: [10, 20, 40, 80], validator=_positive_steps)
    problems: int = attrs.field(default=1_000, validator=_positive)
    batch_size: int = attrs.field(default=1_000, validator=_positive)


@attrs.frozen
class RunConfig:
    """Everything a run needs; saved as ``config.json`` beside its checkpoint.

    Attributes:
        task: which task, with its options.
        solver: which solver, with its options.
        train: training loop settings.
        eval: evaluation settings.
        seed: seeds every generator of the run.
        device: ``"cpu"``, ``"cuda"`` or any torch device string.
    """

    task: TaskSpec
    solver: SolverSpec
    train: TrainConfig = plugins_default({}, TrainConfig)
    eval: EvalConfig = attrs.field(factory=EvalConfig)
    seed: int = attrs.field(default=0, validator=_seed)
    device: str = "cpu"


def component_specs(config: Any) -> list[ComponentSpec]:
    """Every :class:`ComponentSpec` inside ``config`` (an attrs instance), depth first."""
    if not attrs.has(type(config)):
        return []
    found: list[ComponentSpec] = [config] if isinstance(config, ComponentSpec) else []
    for field in attrs.fields(type(config)):
        found += component_specs(getattr(config, field.name))
    return found


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
    return str(error)


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


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Parse a ``.toml`` or ``.json`` config file into a dict."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as error:
        kind = "JSON" if path.suffix == ".json" else "TOML"
        raise ConfigError(f"config file {path} is not valid {kind}: {error}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a table/object at the top level")
    return data


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse ``key.path=value``; the value is read as TOML, else kept as a string."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set expects key=value (e.g. train.iterations=100), got {text!r}")
    try:
        value = tomllib.loads(f"value = {raw}")["value"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.strip().split("."), value


def set_path(data: dict[str, Any], path: list[str], value: Any) -> None:
    """Set ``data[path[0]][path[1]]... = value``, creating tables on the way."""
    node = data
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[path[-1]] = value


def override_saved(data: dict[str, Any], overrides: Sequence[str]) -> None:
    """Apply ``--set`` overrides to a saved config ``data`` (in place).

    An override that changes a component's ``name`` (e.g. ``solver.optimizer.name=momentum``)
    replaces that component's whole table by ``{name}`` first, so the new component starts
    from its own defaults and not from options of the one it replaces; then every override
    applies, so the options set alongside the name are kept.
    """
    parsed = [parse_override(text) for text in overrides]
    for path, value in parsed:
        if path[-1] != "name" or len(path) < 2:
            continue
        table: Any = data
        for part in path[:-1]:
            table = table.get(part) if isinstance(table, dict) else None
        if isinstance(table, dict) and table.get("name") != value:
            set_path(data, path[:-1], {"name": value})
    for path, value in parsed:
        set_path(data, path, value)


def merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``base`` with ``override`` merged in, table by table."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def preset_overrides(
    task_name: str, solver_name: str, preset: str, *, plugins: Plugins
) -> dict[str, Any]:
    """The overrides the task's ``preset`` makes for ``solver_name`` (a nested dict)."""
    component = plugins.get("task", task_name)
    presets: dict[str, dict[str, Any]] = component.meta.get("presets", {})
    if preset not in presets:
        raise ConfigError(
            f"task {component.name!r} has no preset {preset!r}; "
            f"available: {', '.join(sorted(presets)) or '(none)'}"
        )
    chosen = copy.deepcopy(presets[preset])
    solver_sections = chosen.pop("solvers", {})
    if solver_name in solver_sections:
        chosen["solver"] = solver_sections[solver_name]
    return chosen


def default_solver(*, plugins: Plugins) -> str:
    """The solver a config gets when it names none: the one registered with ``default=True``."""
    defaults = [
        component.name
        for component in plugins.registries["solver"].components()
        if component.meta.get("default")
    ]
    if len(defaults) != 1:
        raise ConfigError(
            f"no solver chosen and {len(defaults)} solvers are registered as the "
            f"default ({', '.join(defaults) or 'none'}); pass --solver NAME"
        )
    return defaults[0]


def build_run_config(
    *,
    task: str | None = None,
    solver: str | None = None,
    preset: str = "paper",
    file_data: Mapping[str, Any] | None = None,
    overrides: Sequence[str] = (),
    seed: int | None = None,
    device: str | None = None,
    plugins: Plugins | None = None,
) -> RunConfig:
    """Compose a :class:`RunConfig` from a preset, a config file, overrides and flags, with
    the components of ``plugins`` (default: the installed plugins)."""
    plugins = resolve_plugins(plugins)
    data = merge({}, file_data or {})
    for path, value in map(parse_override, overrides):
        set_path(data, path, value)
    if task is not None:
        set_path(data, ["task", "name"], task)
    if solver is not None:
        set_path(data, ["solver", "name"], solver)
    for section in ("task", "solver"):
        if not isinstance(data.setdefault(section, {}), dict):
            raise ConfigError(f"{section} must be a table with a 'name' key, got {data[section]!r}")
    for section in ("train", "eval"):
        if not isinstance(data.get(section, {}), dict):
            example = "iterations" if section == "train" else "problems"
            raise ConfigError(
                f"{section} is a table of options, got {data[section]!r}; set one "
                f"of its keys, e.g. --set {section}.{example}=3"
            )
    data["solver"].setdefault("name", default_solver(plugins=plugins))
    task_name, solver_name = data["task"].get("name"), data["solver"]["name"]
    if not isinstance(task_name, str):
        raise ConfigError("no task chosen: pass --task NAME or set task.name in the config file")
    if not isinstance(solver_name, str):
        raise ConfigError(f"solver.name must be a string, got {solver_name!r}")
    data = merge(preset_overrides(task_name, solver_name, preset, plugins=plugins), data)
    if seed is not None:
        data["seed"] = seed
    if device is not None:
        data["device"] = device
    return structure(data, RunConfig, plugins=plugins)
