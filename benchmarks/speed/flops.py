"""Analytic FLOP counts of the vector-energy training iteration.

A dense layer ``in → out`` on ``N`` rows costs ``2·N·in·out`` FLOPs forward; its input
gradient costs the same again, and the weight gradient the same again. Element-wise work
(activations, bias adds, the update) is ignored: it is not matmul work and is small.
"""

from __future__ import annotations


def energy_matmul_flops(rows: int, answer_features: int, hidden: int, layers: int) -> int:
    """Forward FLOPs of the answer path of the MLP energy (the input part is encoded once)."""
    return 2 * rows * (answer_features * hidden + (layers - 1) * hidden * hidden + hidden)


def training_iteration_flops(
    rows: int, input_features: int, answer_features: int, hidden: int, layers: int, steps: int
) -> int:
    """FLOPs of one truncated-backprop training iteration on ``rows`` problems.

    - each of the ``steps`` steps: energy forward + its input gradient (``2 f``);
    - the last step is differentiated: backpropagating the loss through the input-gradient
      graph needs, for every matmul of the forward and of the input gradient, an input and
      a weight gradient (``4 f``);
    - the input part of the first layer ``W_x x``: forward once plus its weight gradient
      (``2 · 2·rows·D_x·hidden``).
    """
    forward = energy_matmul_flops(rows, answer_features, hidden, layers)
    encode = 2 * rows * input_features * hidden
    return steps * 2 * forward + 4 * forward + 2 * encode
