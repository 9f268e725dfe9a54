"""The energy-model contract: :func:`check_energy_model`."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import torch
from torch import Tensor, nn

from irem_core.reasoning.energy import (
    BoundEnergy,
    autograd_energy_and_gradient,
    energy_and_gradient,
)
from irem_core.reasoning.protocols import (
    EnergyModel,
    GradientEnergy,
    Problems,
    Task,
)
from irem_core.testing.support import Device, as_device, require, seeded, with_memory


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
    device = as_device(device)
    with torch.random.fork_rng(devices=[]):
        models = []
        for _ in range(2):
            torch.manual_seed(seed)
            models.append(build())
    model, twin = models
    source = name or type(model).__name__
    label = f"energy model {source}"
    require(isinstance(model, nn.Module), label, "must be a torch.nn.Module")
    require(
        all(
            torch.equal(a, b)
            for a, b in zip(model.state_dict().values(), twin.state_dict().values())
        ),
        label,
        "must initialise deterministically under torch.manual_seed",
    )
    model.to(device)
    parameters = [parameter for parameter in model.parameters() if parameter.requires_grad]
    require(bool(parameters), label, "needs trainable parameters")
    generator = seeded(device, seed)
    problems = task.sample("train", num_problems, generator)
    start = task.init_answer(problems, generator)
    answer = with_memory(model, start).requires_grad_(True)

    def bind(batch: Problems) -> BoundEnergy:
        context = cast(EnergyModel, model).encode(batch.inputs)
        return BoundEnergy(model, context, batch.row_problem, batch.num_problems, repr(source))

    energy = bind(problems)
    values, gradient = energy_and_gradient(energy, answer, create_graph=True)
    require(
        values.dtype == answer.dtype and values.device == device and bool(values.isfinite().all()),
        label,
        "energies must be finite, with the answers' dtype and device",
    )
    require(
        gradient.shape == answer.shape and bool(gradient.isfinite().all()),
        label,
        "the gradient w.r.t. the answer must be finite",
    )
    stepped = (answer - gradient)[:, : start.shape[1]]
    loss = ((stepped - problems.target) ** 2).mean()
    grads = torch.autograd.grad(loss, parameters, allow_unused=True)
    require(
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
        require(
            torch.allclose(energy(moved)[1:], values.detach()[1:], rtol=1e-4, atol=1e-5),
            label,
            "changing one problem's answer must not change other problems' energies",
        )
        head = num_problems // 2
        chunk, chunk_start = task.unpack(
            {key: value[:head] for key, value in task.pack(problems, start).items()}
        )
        require(
            torch.allclose(
                bind(chunk)(with_memory(model, chunk_start)), values[:head], rtol=1e-4, atol=1e-5
            ),
            label,
            "a problem's energy must not depend on the other problems in its batch",
        )
        if energy.can_restrict:
            picked = torch.arange(1, num_problems, 2, device=device)
            restricted, rows = energy.restrict(picked)
            require(
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
    require(
        all(torch.allclose(a, b, rtol=1e-4, atol=1e-6) for a, b in zip(own, reference)),
        label,
        "energy_and_gradient (GradientEnergy) must equal autograd's energies and gradient",
    )
    require(
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
