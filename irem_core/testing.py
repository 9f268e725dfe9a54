"""Contract tests for irem plugins, shipped as a pytest plugin (entry point ``pytest11``).

Installing irem makes these fixtures available in every pytest run of that environment:
``irem_device`` (each available device: ``cpu``, and ``cuda`` when present),
``irem_generator`` (a seeded generator on it), ``irem_plugins`` (the installed plugins) and
``irem_use_plugins`` (install plugin modules for one test). A test that needs its own set
of plugins builds it with :func:`plugins_with` and passes it on (``plugins=`` of
:func:`irem_core.train`, :func:`irem_core.cli.app.main`, ...). A plugin tests itself with::

    import pytest
    from irem_core.testing import check_task, component_cases

    def test_sort_task(irem_device):
        check_task(SortTask(SortConfig()), device=irem_device)

    @pytest.mark.parametrize("case", component_cases(plugin="example"))
    def test_contract(case, irem_device):   # every component the plugin registers
        case.check(irem_device)

Each ``check_*`` raises ``AssertionError`` naming the component and the rule it broke:

- :func:`check_task`: shapes, dtypes and devices of problems and starts; determinism
  under a generator seed (and independence from the global RNG); ``pack``/``unpack`` and
  ``to_tensors``/``from_tensors`` round trips; chunks keep the rows' order; clear errors
  for an unknown split or a malformed file.
- :func:`check_energy_model`: one finite energy per problem with the answers' dtype and
  device; a gradient w.r.t. the answer; problems do not influence each other; a sub-batch
  has the energies it has in the full batch; parameters get gradients through a
  differentiated step; deterministic construction under ``torch.manual_seed``.
- :func:`check_optimizer`: descent on an analytic quadratic energy with a known minimiser,
  trajectory shapes, no in-place change of ``y0``, determinism, dtype preservation, and a
  result differentiable w.r.t. the energy's parameters.
- :func:`check_config`: every option has a default and survives a JSON round trip
  through :func:`irem_core.config.schema.unstructure` / :func:`~irem_core.config.schema.structure`;
  unknown keys are refused.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any, cast

import attrs
import pytest
import torch
from torch import Tensor, nn

from irem_core.config.convert import structure, unstructure
from irem_core.errors import IremError, PluginError
from irem_core.plugins.manager import (
    Plugins,
    build_plugins,
    entry_point_sources,
    load_plugins,
    module_plugin,
    resolve_plugins,
    set_plugins,
)
from irem_core.reasoning.energy import (
    BoundEnergy,
    autograd_energy_and_gradient,
    energy_and_gradient,
)
from irem_core.reasoning.protocols import (
    SPLITS,
    EnergyModel,
    GradientEnergy,
    MemoryEnergy,
    Optimizer,
    Problems,
    ScoringTask,
    Task,
)

Device = torch.device | str


def _require(condition: bool, label: str, rule: str) -> None:
    if not condition:
        raise AssertionError(f"{label}: {rule}")


def _device(device: Device) -> torch.device:
    """``device`` with its index (``cuda`` → ``cuda:0``), as tensors report it."""
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", torch.cuda.current_device())
    return device


def _generator(device: torch.device, seed: int) -> torch.Generator:
    return torch.Generator(device).manual_seed(seed)


def _require_error(call: Callable[[], object], label: str, rule: str) -> None:
    """``call()`` must raise an :class:`~irem_core.errors.IremError` (a message for the user)."""
    try:
        call()
    except Exception as error:
        _require(
            isinstance(error, IremError), label, f"{rule}; raised {type(error).__name__}: {error}"
        )
        return
    raise AssertionError(f"{label}: {rule}; nothing was raised")


def _equal(left: dict[str, Tensor], right: dict[str, Tensor]) -> bool:
    return left.keys() == right.keys() and all(torch.equal(left[key], right[key]) for key in left)


def _check_problems(
    problems: Problems, task: Task, count: int, device: torch.device, label: str
) -> None:
    """Shapes, dtypes and devices of one sampled batch."""
    target, rows = problems.target, problems.row_problem
    _require(
        problems.num_problems == count,
        label,
        f"num_problems is {problems.num_problems}, expected {count}",
    )
    _require(
        isinstance(target, Tensor)
        and target.is_floating_point()
        and target.dim() == 2
        and target.shape[1] == task.answer_features,
        label,
        f"target must be a floating (rows, {task.answer_features}) tensor",
    )
    _require(
        target.device == device,
        label,
        f"target is on {target.device}, expected the generator's device {device}",
    )
    _require(bool(target.isfinite().all()), label, "target holds NaN/Inf")
    _require(
        rows.dtype == torch.int64 and rows.shape == (target.shape[0],) and rows.device == device,
        label,
        "row_problem must be int64 of shape (rows,) on the target's device",
    )
    _require(
        rows.numel() > 0
        and int(rows.min()) >= 0
        and int(rows.max()) < count
        and bool((torch.bincount(rows, minlength=count) > 0).all()),
        label,
        "row_problem must map rows onto 0..num_problems−1, every problem owning a row",
    )


def check_task(
    task: Task,
    *,
    device: Device = "cpu",
    seed: int = 0,
    num_problems: int = 4,
    name: str | None = None,
) -> None:
    """Check ``task`` against the :class:`~irem_core.reasoning.protocols.Task` contract.

    Args:
        task: the task instance.
        device: where problems are drawn (the generator's device).
        seed: generator seed.
        num_problems: ``B`` per sampled batch (at least 2).
        name: the name used in messages (default: the class name).
    """
    label, device = f"task {name or type(task).__name__}", _device(device)
    _require(isinstance(task.domain, str) and bool(task.domain), label, "needs a string `domain`")
    _require(
        isinstance(task.answer_features, int) and task.answer_features > 0,
        label,
        "needs a positive int `answer_features`",
    )
    for split in SPLITS:
        where = f"{label} ({split})"
        draws = []
        for global_seed in (1, 2):  # the task must use only the generator it is given
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(global_seed)
                generator = _generator(device, seed)
                problems = task.sample(split, num_problems, generator)
                draws.append((problems, task.init_answer(problems, generator)))
        (problems, start), (again, start_again) = draws
        _check_problems(problems, task, num_problems, device, where)
        _require(
            _equal(task.to_tensors(problems), task.to_tensors(again))
            and torch.equal(start, start_again),
            where,
            "the same generator seed must give the same problems and starts, whatever the "
            "global RNG state (draw only from the generator argument)",
        )
        _require(
            start.shape == problems.target.shape
            and start.dtype == problems.target.dtype
            and start.device == device
            and bool(start.isfinite().all()),
            where,
            "init_answer must return finite answers shaped, typed and placed like the target",
        )
        _check_storage(task, problems, start, where)
        if isinstance(task, ScoringTask):
            for metric, values in task.score(start, problems).items():
                _require(
                    values.shape == (problems.target.shape[0],),
                    where,
                    f"score {metric!r} must give one value per answer row",
                )
    packs = []
    for offset in (1, 2):
        generator = _generator(device, seed + offset)
        problems = task.sample("train", num_problems, generator)
        packs.append(task.pack(problems, task.init_answer(problems, generator)))
    _require(
        all(packs[0][key].shape[1:] == packs[1][key].shape[1:] for key in packs[0]),
        label,
        "pack of two train batches must give equal shapes beyond dim 0 (replay storage is fixed)",
    )
    _require_error(
        lambda: task.sample("no-such-split", num_problems, _generator(device, seed)),
        label,
        "an unknown split must raise IremError naming the valid splits",
    )
    _require_error(
        lambda: task.from_tensors({}),
        label,
        "from_tensors of a malformed file must raise IremError saying what is missing",
    )


def _check_storage(task: Task, problems: Problems, answer: Tensor, label: str) -> None:
    """``pack``/``unpack``, chunking and ``to_tensors``/``from_tensors``."""
    packed = task.pack(problems, answer)
    _require(
        all(value.shape[0] == problems.num_problems for value in packed.values()),
        label,
        "every packed tensor must have leading dimension num_problems",
    )
    unpacked, unpacked_answer = task.unpack(packed)
    _require(
        torch.equal(unpacked.target, problems.target)
        and torch.equal(unpacked.row_problem, problems.row_problem)
        and torch.equal(unpacked_answer, answer)
        and _equal(task.to_tensors(unpacked), task.to_tensors(problems)),
        label,
        "unpack(pack(problems, answer)) must give back the same problems and answer",
    )
    head = problems.num_problems // 2
    chunk, _ = task.unpack({key: value[:head] for key, value in packed.items()})
    _require(
        chunk.num_problems == head
        and torch.equal(chunk.target, problems.target[problems.row_problem < head]),
        label,
        "the first k packed problems must unpack to the first k problems' rows, in order",
    )
    tensors = task.to_tensors(problems)
    restored = task.from_tensors(tensors)
    _require(
        torch.equal(restored.target, problems.target)
        and torch.equal(restored.row_problem, problems.row_problem)
        and _equal(task.to_tensors(restored), tensors),
        label,
        "from_tensors(to_tensors(problems)) must give back the same problems",
    )


def _with_memory(model: nn.Module, answer: Tensor) -> Tensor:
    memory = model.memory_features if isinstance(model, MemoryEnergy) else 0
    return (
        torch.cat([answer, answer.new_zeros(answer.shape[0], memory)], dim=1) if memory else answer
    )


def check_energy_model(
    build: Callable[[], nn.Module],
    task: Task,
    *,
    device: Device = "cpu",
    seed: int = 0,
    num_problems: int = 4,
    name: str | None = None,
) -> None:
    """Check the energy model ``build()`` makes against the energy contract on ``task``.

    Args:
        build: makes the model, e.g. ``lambda: MyEnergy(MyEnergyConfig(), task)``.
        task: a task of the model's domain, supplying problems and starts.
        device: where the model and problems live.
        seed: seeds the model's initialisation and the problems.
        num_problems: ``B`` (at least 2).
        name: the name used in messages (default: the class name).
    """
    device = _device(device)
    with torch.random.fork_rng(devices=[]):
        models = []
        for _ in range(2):
            torch.manual_seed(seed)
            models.append(build())
    model, twin = models
    source = name or type(model).__name__
    label = f"energy model {source}"
    _require(isinstance(model, nn.Module), label, "must be a torch.nn.Module")
    _require(
        all(
            torch.equal(a, b)
            for a, b in zip(model.state_dict().values(), twin.state_dict().values())
        ),
        label,
        "must initialise deterministically under torch.manual_seed",
    )
    model.to(device)
    parameters = [parameter for parameter in model.parameters() if parameter.requires_grad]
    _require(bool(parameters), label, "needs trainable parameters")
    generator = _generator(device, seed)
    problems = task.sample("train", num_problems, generator)
    start = task.init_answer(problems, generator)
    answer = _with_memory(model, start).requires_grad_(True)

    def bind(batch: Problems) -> BoundEnergy:
        context = cast(EnergyModel, model).encode(batch.inputs)
        return BoundEnergy(model, context, batch.row_problem, batch.num_problems, repr(source))

    energy = bind(problems)
    values, gradient = energy_and_gradient(energy, answer, create_graph=True)
    _require(
        values.dtype == answer.dtype and values.device == device and bool(values.isfinite().all()),
        label,
        "energies must be finite, with the answers' dtype and device",
    )
    _require(
        gradient.shape == answer.shape and bool(gradient.isfinite().all()),
        label,
        "the gradient w.r.t. the answer must be finite",
    )
    stepped = (answer - gradient)[:, : start.shape[1]]
    loss = ((stepped - problems.target) ** 2).mean()
    grads = torch.autograd.grad(loss, parameters, allow_unused=True)
    _require(
        any(g is not None and bool(g.abs().sum() > 0) for g in grads)
        and all(g is None or bool(g.isfinite().all()) for g in grads),
        label,
        "a differentiated descent step must give finite, non-zero parameter gradients",
    )
    if isinstance(model, GradientEnergy):
        _check_own_gradient(
            bind(problems), answer, problems.target, start.shape[1], parameters, label
        )
    with torch.no_grad():
        moved = answer.detach().clone()
        moved[problems.row_problem == 0] += 1.0
        _require(
            torch.allclose(energy(moved)[1:], values.detach()[1:], rtol=1e-4, atol=1e-5),
            label,
            "changing one problem's answer must not change other problems' energies",
        )
        head = num_problems // 2
        chunk, chunk_start = task.unpack(
            {key: value[:head] for key, value in task.pack(problems, start).items()}
        )
        _require(
            torch.allclose(
                bind(chunk)(_with_memory(model, chunk_start)), values[:head], rtol=1e-4, atol=1e-5
            ),
            label,
            "a problem's energy must not depend on the other problems in its batch",
        )
        if energy.can_restrict:
            picked = torch.arange(1, num_problems, 2, device=device)
            restricted, rows = energy.restrict(picked)
            _require(
                torch.allclose(
                    restricted(answer.detach()[rows]), values[picked], rtol=1e-4, atol=1e-5
                ),
                label,
                "select(context, problems) must keep those problems' energies",
            )


def _check_own_gradient(
    energy: BoundEnergy,
    answer: Tensor,
    target: Tensor,
    features: int,
    parameters: list[nn.Parameter],
    label: str,
) -> None:
    """A :class:`GradientEnergy`'s energies, answer gradient and the parameter gradients of a
    differentiated descent step must equal autograd's (a parameter without a gradient on one
    path must have a zero gradient on the other)."""

    def step_gradients(path: Callable[..., tuple[Tensor, Tensor]]) -> list[Tensor]:
        values, gradient = path(energy, answer, create_graph=True)
        stepped = (answer - gradient)[:, :features]
        loss = ((stepped - target) ** 2).mean() + values.mean()
        grads = torch.autograd.grad(loss, parameters, allow_unused=True, retain_graph=True)
        return [torch.zeros_like(p) if g is None else g for p, g in zip(parameters, grads)]

    own = energy_and_gradient(energy, answer, create_graph=False)
    reference = autograd_energy_and_gradient(energy, answer, create_graph=False)
    _require(
        all(torch.allclose(a, b, rtol=1e-4, atol=1e-6) for a, b in zip(own, reference)),
        label,
        "energy_and_gradient (GradientEnergy) must equal autograd's energies and gradient",
    )
    _require(
        all(
            torch.allclose(a, b, rtol=1e-3, atol=1e-6)
            for a, b in zip(
                step_gradients(energy_and_gradient),
                step_gradients(autograd_energy_and_gradient),
            )
        ),
        label,
        "parameter gradients through energy_and_gradient (GradientEnergy) must equal autograd's",
    )


@attrs.frozen
class QuadraticContext:
    """The problems of a :class:`QuadraticEnergy`.

    Attributes:
        centres: ``c``, ``(rows, F)``.
        curvature: ``a`` of each row's problem, ``(rows,)``.
        row_problem: problem of each row, ``(rows,)``.
        num_problems: ``B``.
    """

    centres: Tensor
    curvature: Tensor
    row_problem: Tensor
    num_problems: int


class QuadraticEnergy(nn.Module):
    """``E_b(y) = ½ a_b Σ_{rows r of b} ‖y_r − c_r − s‖²``, minimised at ``y_r = c_r + s``.

    The shift ``s`` (``(F,)``, zero) is a parameter, so optimizers' results can be
    differentiated w.r.t. it.

    Shapes:
        - forward: ``QuadraticContext, y (rows, F) -> energies (B,)``
        - select: ``QuadraticContext, problems (B',) -> QuadraticContext``
    """

    def __init__(self, features: int) -> None:
        super().__init__()
        self.shift = nn.Parameter(torch.zeros(features))

    def forward(self, context: QuadraticContext, answer: Tensor) -> Tensor:
        """Energies ``(B,)`` of answers ``(rows, F)``."""
        offset = answer - context.centres - self.shift
        per_row = 0.5 * context.curvature * (offset**2).sum(-1)
        return per_row.new_zeros(context.num_problems).index_add(0, context.row_problem, per_row)

    def select(self, context: QuadraticContext, problems: Tensor) -> QuadraticContext:
        """The context of ``problems`` only (sorted ``(B',)``), renumbered ``0..B'−1``."""
        keep = torch.isin(context.row_problem, problems)
        return QuadraticContext(
            context.centres[keep],
            context.curvature[keep],
            torch.searchsorted(problems, context.row_problem[keep]),
            problems.numel(),
        )


def quadratic_energy(
    curvature: float, *, device: Device = "cpu", dtype: torch.dtype = torch.float32, seed: int = 0
) -> tuple[BoundEnergy, Tensor]:
    """A bound :class:`QuadraticEnergy` of 3 problems owning 1, 2 and 3 rows of 2 features.

    Problem ``b`` has curvature ``curvature / 2^b``.

    Returns:
        The energy and a start ``y0 ~ U(−1, 1)``, ``(6, 2)``.
    """
    generator = _generator(torch.device(device), seed)
    rows = torch.tensor([0, 1, 1, 2, 2, 2], device=device)
    centres = torch.rand((6, 2), generator=generator, device=device, dtype=dtype) * 2 - 1
    start = torch.rand((6, 2), generator=generator, device=device, dtype=dtype) * 2 - 1
    context = QuadraticContext(centres, curvature * 0.5 ** rows.to(dtype), rows, 3)
    model = QuadraticEnergy(2).to(device=device, dtype=dtype)
    return BoundEnergy(model, context, rows, 3, "'contract quadratic'"), start


def check_optimizer(
    factory: Callable[[], Optimizer],
    *,
    device: Device = "cpu",
    steps: int = 10,
    curvature: float | None = None,
    name: str | None = None,
) -> None:
    """Check the optimizers ``factory()`` makes on an analytic quadratic energy.

    Args:
        factory: makes a fresh optimizer, e.g. ``lambda: Adam(AdamConfig())``.
        device: where the answers live.
        steps: the step budget ``T``.
        curvature: the quadratic's largest curvature; default ``0.5 / step_size`` when the
            optimizer has ``options.step_size`` (plain descent then halves the error per
            step), else 1.
        name: the name used in messages (default: the class name).
    """
    optimizer = factory()
    label = f"optimizer {name or type(optimizer).__name__}"
    step_size = getattr(getattr(optimizer, "options", None), "step_size", None)
    curvature = curvature or (0.5 / step_size if step_size else 1.0)
    energy, start = quadratic_energy(curvature, device=device)
    original = start.clone()

    def stream() -> torch.Generator:
        """The same caller's generator for every run: randomness must come only from it."""
        return torch.Generator(start.device).manual_seed(0)

    trajectory = optimizer.run(energy, start, steps, record=True, generator=stream())
    _require(torch.equal(start, original), label, "must not modify y0 in place")
    answers, energies = trajectory.answers, trajectory.energies
    _require(
        answers is not None
        and answers.shape == (steps + 1, *start.shape)
        and torch.equal(answers[0], start),
        label,
        "record=True must keep every iterate, (T + 1, rows, F), starting at y0",
    )
    _require(
        energies is not None and energies.shape == (steps + 1, 3),
        label,
        "record=True must keep the energies of every iterate, (T + 1, B)",
    )
    assert answers is not None and energies is not None  # both required just above
    _require(
        trajectory.answer.shape == start.shape
        and trajectory.answer.dtype == start.dtype
        and trajectory.answer.device == start.device
        and torch.allclose(trajectory.answer, answers[-1]),
        label,
        "the answer must be the last iterate, shaped, typed and placed like y0",
    )
    used = trajectory.steps_used
    _require(
        used.dtype == torch.int64 and used.shape == (3,) and bool((used <= steps).all()),
        label,
        "steps_used must be int64 of shape (B,), at most the budget",
    )
    _require(
        bool((energies[-1] < energies[0]).all()),
        label,
        f"must lower every problem's energy on a quadratic (curvature {curvature:g}); "
        f"energies went from {energies[0].tolist()} to {energies[-1].tolist()}",
    )
    repeat = optimizer.run(energy, start, steps, record=True, generator=stream()).answers
    _require(
        repeat is not None and torch.equal(repeat, answers),
        label,
        "a second solve from the same generator must repeat the result exactly (no "
        "random stream or state of the optimizer's own may carry over between solves)",
    )
    plain = factory().run(energy, start, steps, generator=stream())
    _require(
        plain.answers is None and torch.allclose(plain.answer, trajectory.answer),
        label,
        "record=False must give the same answer without keeping iterates",
    )
    trained = factory().run(energy, start, steps, differentiable_energy=energy, generator=stream())
    shift = cast(QuadraticEnergy, energy.model).shift
    (shift_gradient,) = torch.autograd.grad(trained.answer.sum(), shift, allow_unused=True)
    _require(
        shift_gradient is not None
        and bool(shift_gradient.isfinite().all())
        and bool(shift_gradient.abs().sum() > 0),
        label,
        "with differentiable_energy the answer must be differentiable w.r.t. its parameters",
    )
    wide, wide_start = quadratic_energy(curvature, device=device, dtype=torch.float64)
    _require(
        factory().run(wide, wide_start, 2, generator=stream()).answer.dtype == torch.float64,
        label,
        "float64 answers must stay float64",
    )


def check_config(config: type, *, name: str | None = None, plugins: Plugins | None = None) -> None:
    """Check a component's options class: defaults, JSON round trip, strict keys (structured
    with ``plugins``, default: the installed plugins)."""
    label = f"config {name or config.__name__}"
    _require(attrs.has(config), label, "must be an attrs class")
    try:
        default = config()
    except TypeError as error:
        raise AssertionError(f"{label}: every option needs a default ({error})") from None
    data = json.loads(json.dumps(unstructure(default)))
    _require(
        structure(data, config, plugins=plugins) == default,
        label,
        "structure(unstructure(options)) must give back equal options through JSON",
    )
    _require_error(
        lambda: structure({**data, "no_such_option": 1}, config, plugins=plugins),
        label,
        "an unknown option must be refused",
    )


@attrs.define(frozen=True, eq=False)
class ContractCase:
    """One registered component (an energy model paired with one task) to check.

    Attributes:
        kind: ``task``, ``energy_model`` or ``optimizer``.
        name: the component's registered name.
        task: for energy models, the task checked with.
        plugins: where to look both up (default: the installed plugins).
    """

    kind: str
    name: str
    task: str | None = None
    plugins: Plugins | None = None

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}" + (f"@{self.task}" if self.task else "")

    def check(self, device: Device = "cpu") -> None:
        """Run the config check and the kind's contract check on ``device``."""
        plugins = resolve_plugins(self.plugins)
        component = plugins.get(self.kind, self.name)
        check_config(component.config, name=f"{self}", plugins=plugins)
        options = structure({}, component.config, plugins=plugins)
        if self.kind == "task":
            check_task(component.factory(options), device=device, name=self.name)
        elif self.kind == "optimizer":
            check_optimizer(lambda: component.factory(options), device=device, name=self.name)
        else:
            if self.task is None:
                raise PluginError(f"{self}: an energy model case needs the task to check it on")
            task_component = plugins.get("task", self.task)
            task = task_component.factory(structure({}, task_component.config, plugins=plugins))
            check_energy_model(
                lambda: component.factory(options, task), task, device=device, name=self.name
            )


def _cases(plugins: Plugins, plugin: str | None) -> Iterator[ContractCase]:
    registries = plugins.registries
    ours = lambda component: plugin is None or component.plugin.name == plugin
    for kind in ("task", "optimizer"):
        for component in registries[kind].components():
            if ours(component):
                yield ContractCase(kind, component.name)
    for model in registries["energy_model"].components():
        for task in registries["task"].components():
            if task.meta.get("domain") == model.meta.get("domain") and (ours(model) or ours(task)):
                yield ContractCase("energy_model", model.name, task.name)


def component_cases(*, plugin: str | None = None, plugins: Plugins | None = None) -> list[Any]:
    """``pytest.param`` s over registered tasks, optimizers and (energy model, task) pairs.

    Args:
        plugin: only components of this plugin (entry-point name); an energy model is paired
            with every task of its domain, and is included when either belongs to ``plugin``.
        plugins: where to look (default: the installed plugins, loaded now).

    Returns:
        Parameters for ``@pytest.mark.parametrize("case", ...)``, each a
        :class:`ContractCase` with an id like ``task:addition`` or ``energy_model:mlp@sort``.
    """
    source = resolve_plugins(plugins)
    return [
        pytest.param(ContractCase(case.kind, case.name, case.task, plugins), id=str(case))
        for case in _cases(source, plugin)
    ]


def plugins_with(*modules: ModuleType, installed: bool = True) -> Plugins:
    """Plugins built from ``modules`` (named after them), after the installed ones if asked."""
    sources = entry_point_sources() if installed else []
    return build_plugins(sources + [module_plugin(module, module.__name__) for module in modules])


_DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=_DEVICES)
def irem_device(request: pytest.FixtureRequest) -> str:
    """Each available device in turn: ``cpu``, and ``cuda`` when a GPU is present."""
    return request.param


@pytest.fixture
def irem_generator(irem_device: str) -> torch.Generator:
    """A generator on ``irem_device`` seeded with 0."""
    return torch.Generator(irem_device).manual_seed(0)


@pytest.fixture
def irem_plugins() -> Plugins:
    """The installed plugins (loaded once per process)."""
    return load_plugins()


@pytest.fixture
def irem_use_plugins() -> Iterator[Callable[..., Plugins]]:
    """Make plugin modules current for one test: ``irem_use_plugins(my_plugin_module)``.

    Returns :func:`plugins_with`'s result and makes it what :func:`irem_core.load_plugins`
    returns until the test ends, so that calls that take the default plugins (configs,
    ``irem.train``) see the modules' components; passing the result as ``plugins=`` to
    those calls needs no fixture.
    """
    replaced: list[Plugins | None] = []

    def use(*modules: ModuleType, installed: bool = True) -> Plugins:
        plugins = plugins_with(*modules, installed=installed)
        previous = set_plugins(plugins)
        if not replaced:
            replaced.append(previous)
        return plugins

    yield use
    if replaced:
        set_plugins(replaced[0])
