"""The loop every gradient-based optimizer shares: truncation, recording, per-problem halting.

A subclass only says how one step moves the answer (:meth:`DescentLoop.update`, given a
:class:`DescentStep`). The loop
takes care of differentiating the last step (or every step) in training, keeping every
iterate when asked, and, at inference, halting each problem on its own: a halted problem
leaves the active set, so it costs no further energy evaluations.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any

import attrs
import torch
from torch import Tensor

from irem_core.errors import IremError
from irem_core.reasoning.energy import BoundEnergy, energy_and_gradient
from irem_core.reasoning.protocols import Trajectory

HALT_RULES = ("none", "energy", "energy_absolute", "gradient")

ENERGY_WINDOW = 8
"""The ``energy`` rule's window when ``halt_window`` is unset (the other rules': 1), measured
in docs/notes/halting.md."""


@attrs.define
class HaltOptions:
    """Per-problem halting, shared by every descent optimizer (inference only).

    Attributes:
        halt: ``"none"`` (run the full budget); ``"energy"`` (stop a problem when the lowest
            energy it has reached improved, over the last ``halt_window`` steps, by at most
            ``halt_tolerance`` times its whole descent so far, ``E_0 − min_t E_t``: a
            relative rule, unchanged by the energy's scale or offset, that a single rising
            step does not trigger); ``"energy_absolute"`` (stop when its energy fell by less
            than ``halt_tolerance`` over the last ``halt_window`` steps, the 0.2.0 rule) or
            ``"gradient"`` (stop when the norm of its energy gradient is below
            ``halt_tolerance``). The step budget is the maximum.
        halt_tolerance: threshold of the rule.
        halt_window: ``w``, steps over which the energy rules measure their decrease; unset:
            8 for ``energy``, 1 for ``energy_absolute``.
    """

    halt: str = attrs.field(default="none", validator=attrs.validators.in_(HALT_RULES))
    halt_tolerance: float = attrs.field(default=1e-4, validator=attrs.validators.ge(0))
    halt_window: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.ge(1))
    )

    @property
    def window(self) -> int:
        """``halt_window``, or the rule's default."""
        if self.halt_window is not None:
            return self.halt_window
        return ENERGY_WINDOW if self.halt == "energy" else 1


@attrs.define
class DescentOptions(HaltOptions):
    """Options every descent optimizer has.

    Attributes:
        step_size: ``λ``, the step along the negative energy gradient (paper: 100).
        full_backprop: differentiate through every step in training instead of only the
            last one (the paper's default is truncated).
    """

    step_size: float = attrs.field(default=100.0, validator=attrs.validators.gt(0))
    full_backprop: bool = False


State = dict[str, Tensor]

RNG = "rng"
"""State key of the solve's random stream, a generator state (a ``uint8`` tensor) that
:func:`normal_noise` reads and advances; unlike the other entries it belongs to the whole
solve, so halting never slices it."""


def solve_stream(generator: torch.Generator, device: torch.device) -> Tensor:
    """A fresh random stream for one solve on ``device``, seeded by one draw from the
    caller's ``generator`` (so successive solves get different streams, all determined by
    the caller's seed; one host read of the drawn seed on CUDA)."""
    seed = int(torch.randint(0, 2**62, (), generator=generator, device=generator.device))
    return torch.Generator(device).manual_seed(seed).get_state()


def normal_noise(state: State, like: Tensor) -> tuple[Tensor, State]:
    """Standard normal noise shaped like ``like`` from the solve's stream ``state["rng"]``,
    and the state with the stream advanced past it."""
    stream = torch.Generator(like.device)
    stream.set_state(state[RNG])
    noise = torch.randn(like.shape, generator=stream, device=like.device, dtype=like.dtype)
    return noise, {**state, RNG: stream.get_state()}


@attrs.frozen
class DescentStep:
    """Where one step of a descent starts: what :meth:`DescentLoop.update` is given.

    Attributes:
        energy: the energy being descended (in training, for the differentiated step, the
            differentiable one; with halting, restricted to the active problems).
        answer: the answers ``(rows, F)``.
        values: their energies ``(B,)``.
        gradient: ``∇_y E`` at ``answer``, ``(rows, F)``.
        index: the step's index, ``0 .. count − 1``.
        count: the steps of the solve, ``T``.
    """

    energy: BoundEnergy
    answer: Tensor
    values: Tensor
    gradient: Tensor
    index: int
    count: int


LEGACY_UPDATE = ("energy", "answer", "values", "gradient", "state", "step", "steps")
"""The parameters of 0.1.0's ``update``; still accepted with a warning until 0.3.0."""


def _adapt_legacy_update(cls: type) -> None:
    """Wrap a subclass's 0.1.0-style ``update(energy, answer, ..., step, steps)`` into
    ``update(at, state)``, warning once (at class definition) that it will stop working."""
    update = cls.__dict__.get("update")
    if update is None:
        return
    parameters = tuple(inspect.signature(update).parameters)[1:]
    if parameters != LEGACY_UPDATE:
        return
    warnings.warn(
        f"{cls.__module__}.{cls.__qualname__}.update(energy, answer, values, gradient, state, "
        "step, steps) is deprecated since irem 0.2.0 and stops working in 0.3.0; write "
        "update(self, at: irem_core.DescentStep, state) and read at.energy, at.answer, "
        "at.values, at.gradient, at.index and at.count",
        DeprecationWarning,
        stacklevel=3,
    )

    def adapted(self: Any, at: DescentStep, state: State) -> tuple[Tensor, State]:
        return update(self, at.energy, at.answer, at.values, at.gradient, state, at.index, at.count)

    adapted.__doc__ = update.__doc__
    cls.update = adapted  # type: ignore[attr-defined]


class DescentLoop:
    """Base of the descent optimizers; subclasses implement :meth:`update`.

    Args:
        options: :class:`DescentOptions` or a subclass.
    """

    problem_state: tuple[str, ...] = ()
    """Keys of state tensors shaped ``(B, ...)``; all other state is shaped like the rows
    (except ``"rng"``)."""

    draws_random: bool = False
    """Whether :meth:`update` draws random numbers. If so, the loop puts a stream for the
    solve under ``state["rng"]`` (:func:`solve_stream` of the caller's generator) and
    :meth:`update` draws from it with :func:`normal_noise`: all randomness is explicit state,
    reproducible from the caller's seed and checkpointed with the caller's generator."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _adapt_legacy_update(cls)

    def __init__(self, options: DescentOptions) -> None:
        self.options = options

    def init_state(self, answer: Tensor, energy: BoundEnergy) -> State:
        """Optimizer state for answers ``(rows, F)``; row-shaped tensors are sliced on halting.

        A per-problem ``"evaluations"`` entry (``(B,)``) counts energy evaluations beyond
        one per step (e.g. line-search trials); the loop adds it to its count.
        """
        return {}

    def update(self, at: DescentStep, state: State) -> tuple[Tensor, State]:
        """One step from ``at``: the next answers ``(rows, F)`` and state."""
        raise NotImplementedError

    def _first_state(
        self, answer: Tensor, energy: BoundEnergy, generator: torch.Generator | None
    ) -> State:
        state = self.init_state(answer, energy)
        if self.draws_random:
            if generator is None:
                raise IremError(
                    f"optimizer {type(self).__name__} draws random numbers, so its "
                    "solve needs a generator: pass generator=... to solve/run"
                )
            state[RNG] = solve_stream(generator, answer.device)
        return state

    def run(
        self,
        energy: BoundEnergy,
        y0: Tensor,
        steps: int,
        *,
        differentiable_energy: BoundEnergy | None = None,
        record: bool = False,
        generator: torch.Generator | None = None,
    ) -> Trajectory:
        """Descend ``energy`` from ``y0 (rows, F)``; see :class:`irem_core.Optimizer`."""
        if differentiable_energy is None and self.options.halt != "none":
            return self._run_halting(energy, y0, steps, record, generator)
        training = differentiable_energy is not None
        full = training and self.options.full_backprop
        answer = y0.detach().requires_grad_(True)
        state = self._first_state(answer, energy, generator)
        answers, energies = [y0.detach()], []
        for step in range(steps):
            differentiated = training and (full or step == steps - 1)
            if not (differentiated and full):
                answer = answer.detach().requires_grad_(True)
                state = {key: value.detach() for key, value in state.items()}
            current = (
                differentiable_energy
                if differentiated and differentiable_energy is not None
                else energy
            )
            values, gradient = energy_and_gradient(current, answer, create_graph=differentiated)
            at = DescentStep(current, answer, values, gradient, step, steps)
            answer, state = self.update(at, state)
            if not differentiated:
                answer = answer.detach()
            if record:
                answers.append(answer.detach())
                energies.append(values.detach())
        steps_used = torch.full((energy.num_problems,), steps, dtype=torch.long, device=y0.device)
        # counted on the answers' device: no host-device copy (a sync on CUDA)
        evaluations = torch.full((), steps * energy.num_problems, device=y0.device)
        if "evaluations" in state:
            evaluations = evaluations + state["evaluations"].sum()
        if not record:
            return Trajectory(
                answer=answer, steps_used=steps_used, extras={"energy_evaluations": evaluations}
            )
        with torch.no_grad():
            energies.append(energy(answer.detach()))
        return Trajectory(
            answer=answer,
            steps_used=steps_used,
            answers=torch.stack(answers),
            energies=torch.stack(energies),
            extras={"energy_evaluations": evaluations + energy.num_problems},
        )

    def _halted(
        self, energy: BoundEnergy, gradient: Tensor, tracked: tuple[Tensor, Tensor, Tensor] | None
    ) -> Tensor:
        """Which of the active problems stop now.

        Args:
            energy: the energy restricted to the active problems.
            gradient: the gradient at their answers, ``(rows', F)``.
            tracked: for the energy rules, once ``halt_window`` steps are done, the tracked
                energy of the active problems at step 0, ``window`` steps ago and now
                (``(B',)`` each): the lowest energy reached (rule ``energy``) or the energy
                (``energy_absolute``); ``None`` before.
        """
        options = self.options
        if options.halt == "gradient":
            norm = energy.per_problem((gradient**2).sum(-1)).sqrt()
            return norm < options.halt_tolerance
        if tracked is None:
            return torch.zeros(energy.num_problems, dtype=torch.bool, device=gradient.device)
        first, earlier, now = tracked
        if options.halt == "energy_absolute":
            return earlier - now < options.halt_tolerance
        return earlier - now <= options.halt_tolerance * (first - now)

    def _run_halting(
        self,
        energy: BoundEnergy,
        y0: Tensor,
        steps: int,
        record: bool,
        generator: torch.Generator | None,
    ) -> Trajectory:
        """Inference with per-problem halting; halted problems are no longer evaluated."""
        if not energy.can_restrict:
            raise IremError(
                f"energy model {energy.source} cannot evaluate a subset of problems, "
                "so per-problem halting is unavailable; give the model a "
                'select(context, problems) method or use halt = "none"'
            )
        device = y0.device
        answer = y0.detach().clone()
        state = self._first_state(answer, energy, generator)
        active = torch.arange(energy.num_problems, device=device)
        steps_used = torch.zeros(energy.num_problems, dtype=torch.long, device=device)
        current = torch.full((energy.num_problems,), torch.nan, dtype=y0.dtype, device=device)
        lowest = torch.full_like(current, torch.inf)
        history: list[Tensor] = []  # per step, the tracked energies of every problem
        window = self.options.window
        answers, energies = [answer.clone()], []
        evaluations = torch.zeros((), dtype=torch.long, device=device)
        restricted: tuple[BoundEnergy, Tensor] | None = None  # rebuilt when a problem halts
        for step in range(steps):
            if active.numel() == 0:
                break
            if restricted is None:
                sub_energy, rows = energy.restrict(active)
                restricted = sub_energy, rows.nonzero().squeeze(-1)
            sub_energy, row_index = restricted
            sub_answer = answer[row_index].requires_grad_(True)
            values, gradient = energy_and_gradient(sub_energy, sub_answer, create_graph=False)
            values, gradient = values.detach(), gradient.detach()
            evaluations += sub_energy.num_problems
            current[active] = values.to(current.dtype)  # bf16 under autocast
            lowest = torch.fmin(lowest, current)
            history.append((lowest if self.options.halt == "energy" else current).clone())
            tracked = (
                (history[0][active], history[-1 - window][active], history[-1][active])
                if len(history) > window
                else None
            )
            stop = self._halted(sub_energy, gradient, tracked)
            sub_state = self._slice_state(state, active, row_index)
            at = DescentStep(sub_energy, sub_answer.detach(), values, gradient, step, steps)
            moved, sub_state = self.update(at, sub_state)
            going_rows = ~stop[sub_energy.row_problem]
            answer[row_index[going_rows]] = moved.detach()[going_rows]
            going = active[~stop]
            self._write_state(state, sub_state, active, row_index, ~stop, going_rows)
            steps_used[going] += 1
            if going.numel() < active.numel():
                restricted = None
            active = going
            if record:
                answers.append(answer.clone())
                energies.append(current.clone())
        if "evaluations" in state:
            evaluations = evaluations + state["evaluations"].sum()
        trajectory_extras = {"energy_evaluations": evaluations}
        if not record:
            return Trajectory(answer=answer, steps_used=steps_used, extras=trajectory_extras)
        for _ in range(steps - len(energies)):
            answers.append(answer.clone())
            energies.append(current.clone())
        with torch.no_grad():
            energies.append(energy(answer))
        trajectory_extras["energy_evaluations"] += energy.num_problems
        return Trajectory(
            answer=answer,
            steps_used=steps_used,
            answers=torch.stack(answers),
            energies=torch.stack(energies),
            extras=trajectory_extras,
        )

    def _slice_state(self, state: State, problems: Tensor, rows: Tensor) -> State:
        return {
            key: value
            if key == RNG
            else value[problems]
            if key in self.problem_state
            else value[rows]
            for key, value in state.items()
        }

    def _write_state(
        self,
        state: State,
        sub_state: State,
        problems: Tensor,
        rows: Tensor,
        going: Tensor,
        going_rows: Tensor,
    ) -> None:
        for key, value in sub_state.items():
            if key == RNG:
                state[key] = value
            elif key in self.problem_state:
                state[key][problems[going]] = value.detach()[going]
            else:
                state[key][rows[going_rows]] = value.detach()[going_rows]
