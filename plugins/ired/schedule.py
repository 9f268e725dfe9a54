"""IRED's landscapes: a cosine noise schedule over ``K`` levels and the step sizes it implies."""

from __future__ import annotations

import math

import attrs
import torch
from torch import Tensor

COSINE_OFFSET = 0.008
"""``s`` of the cosine schedule (Nichol & Dhariwal, 2021), as in IRED's release."""


@attrs.frozen
class Landscapes:
    """Per-landscape constants, each ``(K,)``, landscape ``k = 0`` the sharpest (the data's).

    Attributes:
        signal: ``√ᾱ_k``, the scale of the answer in the noisy answer ``y_k``.
        noise: ``√(1 − ᾱ_k)``, the scale of the noise in it.
        step: the descent's step size on landscape ``k``, ``β_k / √(1 − ᾱ_k)`` (IRED's).
    """

    signal: Tensor
    noise: Tensor
    step: Tensor

    @property
    def count(self) -> int:
        """``K``."""
        return self.signal.shape[0]

    def to(self, device: torch.device) -> Landscapes:
        """The same constants on ``device``."""
        return Landscapes(self.signal.to(device), self.noise.to(device), self.step.to(device))


def cosine_landscapes(count: int) -> Landscapes:
    """The cosine schedule of ``count`` landscapes: ``ᾱ(u) = cos²((u + s)/(1 + s) · π/2)``
    normalised to ``ᾱ(0) = 1`` at ``u = k / K``, ``β_k = 1 − ᾱ_{k+1}/ᾱ_k`` clipped to 0.999,
    computed in float64."""
    u = torch.linspace(0, 1, count + 1, dtype=torch.float64)
    curve = torch.cos((u + COSINE_OFFSET) / (1 + COSINE_OFFSET) * math.pi / 2) ** 2
    curve = curve / curve[0]
    betas = (1 - curve[1:] / curve[:-1]).clamp(max=0.999)
    cumulative = torch.cumprod(1 - betas, dim=0)
    return Landscapes(
        cumulative.sqrt().float(),
        (1 - cumulative).sqrt().float(),
        (betas / (1 - cumulative).sqrt()).float(),
    )


def allot_steps(steps: int, count: int) -> list[int]:
    """Steps per landscape for a budget of ``steps``, from the smoothest (``K − 1``) to the
    sharpest (``0``): an equal share each, the remainder to the sharpest landscapes."""
    share, extra = divmod(steps, count)
    return [share + (1 if landscape < extra else 0) for landscape in reversed(range(count))]
