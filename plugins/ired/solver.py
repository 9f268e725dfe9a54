"""The ``ired`` solver: IRED's annealed energy landscapes (Du, Mao, Tenenbaum, ICML 2024).

An energy ``E(x, y, k)`` conditioned on ``K`` landscapes (any energy model with the
:class:`~irem_core.LandscapeEnergy` capability) is trained at a random landscape ``k`` per
problem with two losses on the noisy answer ``y_k = √ᾱ_k y + √(1 − ᾱ_k) ε``:

- denoising: ``∇_y E(x, y_k, k)`` regresses the noise ``ε`` (per-row mean of the squared
  difference; with ``energy_scale = "noise"`` the landscape's energy is ``E / σ_k``, so
  ``∇_y E`` regresses ``σ_k ε``);
- contrastive: the true answer's ``y_k`` must have lower energy than a nearby wrong one,
  ``softplus(E(x, y⁺_k, k) − E(x, y⁻_k, k))``; the wrong one starts from the answer noised
  three times as much and takes a few accept-if-lower descent steps, and is re-noised with
  the positive's noise.
- with ``descent_weight > 0`` (not in IRED): the squared error of one differentiated
  denoising step on the sharpest landscape from the answer the solve itself reaches.

Reasoning anneals from the smoothest landscape to the sharpest: on each, one denoising step
(the answer predicted from the gradient) and then descent steps that are kept only where
they lower the energy; the budget is shared among the landscapes, so more steps mean more
descent per landscape. Starts are ``N(0, I)`` drawn from the solve's generator (``y0`` is
not used, as in IRED).
"""

from __future__ import annotations

from typing import cast

import attrs
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from irem_core.config.schema import EnergySpec, plugins_default
from irem_core.errors import IremError, PluginError
from irem_core.plugins.manager import Plugins
from irem_core.reasoning.energy import BoundEnergy, energy_and_gradient
from irem_core.reasoning.protocols import (
    EnergyModel,
    LandscapeEnergy,
    Problems,
    Solver,
    Task,
    Trajectory,
)
from irem_plugins.ired.schedule import Landscapes, allot_steps, cosine_landscapes


@attrs.define
class IredConfig:
    """Options of ``ired`` (defaults: IRED's release for its continuous tasks).

    Attributes:
        energy: the energy model, with ``landscapes = K`` (the release: 10).
        contrastive_weight: weight of the contrastive loss (release: 0.5).
        negative_noise: how many times the positive's noise the wrong answer starts with
            (release: 3).
        negative_steps: descent steps that make the wrong answer (release: 2).
        clip: answers are kept within ``±clip`` (release: 2 for continuous answers).
        energy_scale: ``"noise"``: the energy of landscape ``k`` is ``E_θ(x, y, k) / σ_k``
            (``σ_k = √(1 − ᾱ_k)``), so ``∇_y E_θ`` regresses ``σ_k ε`` and its Hessian is
            about ``I`` on every landscape; ``"one"``: ``E_θ`` itself (the release's, the
            default).
        descent_weight: weight of a loss on the solver's own reasoning (0: none, the
            release): from the answer of a solve with one step per landscape (no
            gradients), one more denoising step on the sharpest landscape is
            differentiated and its answer's squared error against the target is added.
    """

    energy: EnergySpec = plugins_default({"name": "mlp", "landscapes": 10}, EnergySpec)
    contrastive_weight: float = attrs.field(default=0.5, validator=attrs.validators.ge(0))
    negative_noise: float = attrs.field(default=3.0, validator=attrs.validators.gt(0))
    negative_steps: int = attrs.field(default=2, validator=attrs.validators.ge(0))
    clip: float = attrs.field(default=2.0, validator=attrs.validators.gt(0))
    energy_scale: str = attrs.field(default="one", validator=attrs.validators.in_(("noise", "one")))
    descent_weight: float = attrs.field(default=0.0, validator=attrs.validators.ge(0))


class IredSolver(Solver):
    """IRED on a landscape-conditioned energy model; see the module.

    Args:
        energy_model: a :class:`~irem_core.LandscapeEnergy` with ``landscapes ≥ 1``.
        options: :class:`IredConfig`.
        energy_name: how messages name the energy model.
    """

    def __init__(self, energy_model: nn.Module, options: IredConfig, energy_name: str) -> None:
        super().__init__()
        self.energy_model = energy_model
        self.options = options
        self.energy_name = energy_name
        landscapes = cosine_landscapes(cast(LandscapeEnergy, energy_model).landscapes)
        self.register_buffer("signal", landscapes.signal, persistent=False)
        self.register_buffer("noise", landscapes.noise, persistent=False)
        self.register_buffer("step", landscapes.step, persistent=False)
        divisor = (
            landscapes.noise if options.energy_scale == "noise" else torch.ones(landscapes.count)
        )
        self.register_buffer("divisor", divisor, persistent=False)

    @property
    def landscapes(self) -> Landscapes:
        """The schedule's constants, on the solver's device."""
        return Landscapes(
            cast(Tensor, self.signal), cast(Tensor, self.noise), cast(Tensor, self.step)
        )

    def _energy(self, base: object, problems: Problems, landscape: Tensor) -> BoundEnergy:
        """The energy of ``problems`` on landscape ``landscape[b]`` (``(B,)``) each."""
        model = cast(LandscapeEnergy, self.energy_model)
        return BoundEnergy(
            self.energy_model,
            model.condition(base, landscape),
            problems.row_problem,
            problems.num_problems,
            self.energy_name,
        )

    def _descend(
        self, energy: BoundEnergy, answer: Tensor, step: Tensor, bound: Tensor, count: int
    ) -> tuple[Tensor, int]:
        """``count`` descent steps ``y ← clamp(y − step ∇E, ±bound)`` (``step``, ``bound``:
        ``(rows, 1)``), each kept only for the problems whose energy it does not raise; the
        answers and the energy evaluations spent."""
        evaluations = 0
        for _ in range(count):
            values, gradient = _energy_and_gradient(energy, answer)
            moved = torch.maximum(torch.minimum(answer - step * gradient, bound), -bound)
            with torch.no_grad():
                worse = (energy(moved) > values)[energy.row_problem]
            answer = torch.where(worse.unsqueeze(-1), answer, moved).detach()
            evaluations += 2 * energy.num_problems
        return answer, evaluations

    def training_step(
        self, problems: Problems, y0: Tensor, steps: int, generator: torch.Generator
    ) -> tuple[Tensor, Tensor]:
        """IRED's denoising and contrastive losses at a random landscape per problem
        (``y0`` and ``steps`` unused); returns the loss and the denoised answers."""
        target, rows, landscapes = problems.target, problems.row_problem, self.landscapes
        device = target.device
        landscape = torch.randint(
            0, landscapes.count, (problems.num_problems,), generator=generator, device=device
        )
        signal = landscapes.signal[landscape][rows].unsqueeze(-1)
        noise_scale = landscapes.noise[landscape][rows].unsqueeze(-1)
        divisor = cast(Tensor, self.divisor)[landscape]
        base = cast(EnergyModel, self.energy_model).encode(problems.inputs)
        energy = self._energy(base, problems, landscape)
        noise = torch.randn(target.shape, generator=generator, device=device)
        noisy = (signal * target + noise_scale * noise).requires_grad_(True)
        _, gradient = energy_and_gradient(energy, noisy, create_graph=True)
        predicted_noise = gradient / divisor[rows].unsqueeze(-1)
        denoising = F.mse_loss(predicted_noise, noise)
        denoised = ((noisy - noise_scale * predicted_noise) / signal).detach()
        if self.options.descent_weight:
            denoising = denoising + self.options.descent_weight * self._descent_loss(
                problems, base, generator
            )
        if not self.options.contrastive_weight:
            return denoising, denoised
        noise = torch.randn(target.shape, generator=generator, device=device)
        positive = signal * target + noise_scale * noise
        bound = signal * self.options.clip
        start = (signal * target + self.options.negative_noise * noise_scale * noise).detach()
        step = (landscapes.step[landscape] / divisor)[rows].unsqueeze(-1)
        wrong, _ = self._descend(energy, start, step, bound, self.options.negative_steps)
        wrong = (wrong / signal).clamp(-self.options.clip, self.options.clip)
        negative = signal * wrong + noise_scale * noise
        contrastive = F.softplus((energy(positive) - energy(negative)) / divisor).mean()
        return denoising + self.options.contrastive_weight * contrastive, denoised

    def _descent_loss(self, problems: Problems, base: object, generator: torch.Generator) -> Tensor:
        """The squared error of one more denoising step on the sharpest landscape,
        differentiated, from the answer of a solve with one step per landscape (no
        gradients): the energy is taught to correct its own reasoning's answers. ``base``:
        the problems' encoding, shared with the other losses."""
        target, landscapes = problems.target, self.landscapes
        with torch.no_grad():
            reached = self.solve(problems, target, landscapes.count, generator=generator).answer
        sharpest = torch.zeros(problems.num_problems, dtype=torch.long, device=target.device)
        energy = self._energy(base, problems, sharpest)
        signal, noise = landscapes.signal[0], landscapes.noise[0]
        answer = (signal * reached).requires_grad_(True)
        _, gradient = energy_and_gradient(energy, answer, create_graph=True)
        predicted = (answer - noise / cast(Tensor, self.divisor)[0] * gradient) / signal
        return F.mse_loss(predicted, target)

    def solve(
        self,
        problems: Problems,
        y0: Tensor,
        steps: int,
        *,
        differentiable: bool = False,
        record: bool = False,
        generator: torch.Generator | None = None,
    ) -> Trajectory:
        """Anneal from the smoothest landscape to the sharpest within ``steps`` gradient
        evaluations (see the module); ``record`` keeps the predicted answer after each."""
        if differentiable:
            raise IremError("the ired solver trains through its training_step, not a solve")
        if generator is None:
            raise IremError("the ired solver draws its starts: pass generator=... to solve")
        clip, landscapes = self.options.clip, self.landscapes
        base = cast(EnergyModel, self.energy_model).encode(problems.inputs)
        count = problems.num_problems
        answer = torch.randn(y0.shape, generator=generator, device=y0.device)
        predicted = (answer / landscapes.signal[-1]).clamp(-clip, clip)
        recorded, evaluations = [predicted], 0
        for offset, allotted in enumerate(allot_steps(steps, landscapes.count)):
            landscape = landscapes.count - 1 - offset
            if not allotted:
                continue
            signal, noise = landscapes.signal[landscape], landscapes.noise[landscape]
            divisor = cast(Tensor, self.divisor)[landscape]
            energy = self._energy(base, problems, torch.full((count,), landscape, device=y0.device))
            answer = signal * predicted
            _, gradient = _energy_and_gradient(energy, answer)
            predicted = ((answer - noise / divisor * gradient) / signal).clamp(-clip, clip)
            recorded.append(predicted)
            answer, evaluations = signal * predicted, evaluations + count
            for _ in range(allotted - 1):
                answer, spent = self._descend(
                    energy, answer, landscapes.step[landscape] / divisor, signal * clip, 1
                )
                predicted, evaluations = answer / signal, evaluations + spent
                recorded.append(predicted)
        steps_used = torch.full((count,), steps, dtype=torch.long, device=y0.device)
        extras = {"energy_evaluations": torch.tensor(evaluations, device=y0.device)}
        return Trajectory(
            answer=predicted,
            steps_used=steps_used,
            answers=torch.stack(recorded) if record else None,
            energies=None,
            extras=extras,
        )


def _energy_and_gradient(energy: BoundEnergy, answer: Tensor) -> tuple[Tensor, Tensor]:
    """Energies and gradient at ``answer`` without a graph for the parameters; the answer
    becomes a leaf that requires grad, as autograd needs for models without their own
    gradient."""
    return energy_and_gradient(energy, answer.detach().requires_grad_(True), create_graph=False)


def build_ired_solver(options: IredConfig, task: Task, *, plugins: Plugins) -> IredSolver:
    """Build ``options.energy`` for ``task``; it must be a landscape-conditioned energy."""
    component = plugins.get("energy_model", options.energy.name)
    model = component.factory(options.energy.options, task)
    name = f"{options.energy.name!r} (plugin {component.plugin.name})"
    if not isinstance(model, LandscapeEnergy) or model.landscapes < 1:
        raise PluginError(
            f"the ired solver needs an energy model conditioned on landscapes; {name} "
            + (
                "has landscapes = 0: set solver.energy.landscapes=K (IRED: 10)"
                if isinstance(model, LandscapeEnergy)
                else "does not implement irem_core.LandscapeEnergy (landscapes, condition)"
            )
        )
    return IredSolver(cast(nn.Module, model), options, name)
