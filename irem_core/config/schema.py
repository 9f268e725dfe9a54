"""The run configuration's schema: frozen attrs classes, their validators and defaults.

Conversion from plain data lives in :mod:`irem_core.config.convert`, composition of presets,
files and overrides in :mod:`irem_core.config.compose`; neither this module nor they import
training code.

Precedence, lowest first: field defaults < the task's preset < ``--config`` file < ``--set``
overrides < explicit CLI flags. A component section (``task``, ``solver`` and the nested
specs of a solver) names its component with ``name``; its other keys are that component's
options, structured into the attrs class it registered (a tagged union built from the
registries of the :class:`~irem_core.plugins.manager.Plugins` the data is structured with: each
has its own converter, see :func:`converter_for`). Configs are frozen: change one with
:func:`attrs.evolve`, or change its data before structuring it (``--set``)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, ClassVar

import attrs
from attrs import validators as v

from irem_core.plugins.manager import Plugins, resolve_plugins
from irem_core.seeding import SEED_LIMIT


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


PRECISIONS = ("auto", "fp32", "bf16")
"""``train.precision``: bf16 where native else fp32, float32, or bf16 autocast (see
:mod:`irem_core.training.precision`)."""


def default_loggers(plugins: Plugins) -> list[str]:
    """The loggers of a config that names none: those registered with ``default=True``."""
    return [
        component.name
        for component in plugins.registries["logger"].components()
        if component.meta.default
    ]


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
        from irem_core.config.convert import structure  # convert imports this module

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
        precision: ``auto`` (bf16 where the device multiplies it natively, else fp32),
            ``fp32``, or ``bf16``: each iteration's solve and loss under bf16 autocast
            (float32 weights, answers and loss), only where the device multiplies bf16
            natively (see :mod:`irem_core.training.precision`). A run's ``config.json``
            holds the precision ``auto`` resolved to.
        log_every: iterations between metrics-log lines.
        eval_every: iterations between evaluations on the ``same`` split (0: never).
        eval_problems: problems in each periodic evaluation.
        checkpoint_every: iterations between checkpoints (the last one is always written).
        loggers: names of the loggers receiving the metrics (plugins of kind ``logger``);
            ``None`` (the default): those registered with ``default=True``
            (:func:`default_loggers`), resolved when training starts and recorded in the
            run's ``config.json``. Checked when training starts (see
            :func:`~irem_core.training.loggers.check_loggers`), so that evaluating a run does
            not need its logger plugins; building a config loads no plugin for it.
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
    precision: str = attrs.field(default="auto", validator=v.in_(PRECISIONS))
    log_every: int = attrs.field(default=50, validator=_positive)
    eval_every: int = attrs.field(default=1_000, validator=_non_negative)
    eval_problems: int = attrs.field(default=256, validator=_positive)
    checkpoint_every: int = attrs.field(default=1_000, validator=_positive)
    loggers: list[str] | None = attrs.field(default=None, validator=v.optional(_distinct))


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
    train: TrainConfig = attrs.field(factory=TrainConfig)
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
