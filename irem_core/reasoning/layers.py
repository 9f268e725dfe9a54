"""Layer utilities shared by energy models and solvers."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


def init_as_concatenation(parts: Sequence[nn.Linear]) -> None:
    """Initialise ``parts`` as column slices of one ``nn.Linear`` over their concatenated
    inputs.

    A layer ``W [y, x] + b`` split into ``W_y y + W_x x + b`` (to compute ``W_x x`` once
    per solve) must start like the single layer: PyTorch's default draws every weight and
    the bias from ``U(−1/√fan_in, 1/√fan_in)`` with ``fan_in`` the *total* input width,
    whereas each part's own default would use its own, smaller fan-in. Biases of the parts
    are drawn with the same bound (keep one of them, or their sum stays within ``k`` bounds).

    Args:
        parts: layers with the same ``out_features``, whose ``in_features`` add up to the
            concatenated layer's fan-in.
    """
    if len({part.out_features for part in parts}) != 1:
        raise ValueError("the parts of a concatenated layer must have the same out_features")
    bound = 1.0 / math.sqrt(sum(part.in_features for part in parts))
    with torch.no_grad():
        for part in parts:
            nn.init.uniform_(part.weight, -bound, bound)
            if part.bias is not None:
                nn.init.uniform_(part.bias, -bound, bound)
