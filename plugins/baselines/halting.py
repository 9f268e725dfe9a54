"""PonderNet's halting distribution, its geometric prior, and test-time halting.

With per-step halting probabilities ``λ_n = σ(ℓ_n)``, ``n = 1..T``, the probability of
halting at step ``n`` is ``p_n = λ_n ∏_{k<n} (1 − λ_k)``; the last step absorbs what is
left, ``p_T = ∏_{k<T} (1 − λ_k)``, so ``Σ_n p_n = 1`` for every problem. Everything is
computed in log space, so long budgets do not underflow.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def halting_log_distribution(logits: Tensor) -> Tensor:
    """``log p_n`` from the halting logits.

    Args:
        logits: ``ℓ_n``, shape ``(T, B)``, ``T ≥ 1``.

    Returns:
        ``log p``, shape ``(T, B)``; ``exp`` of it sums to 1 over steps for every problem.
    """
    log_halt = F.logsigmoid(logits)
    log_continue = F.logsigmoid(-logits)
    continued_before = torch.cumsum(log_continue, dim=0) - log_continue
    halt_here = log_halt + continued_before
    return torch.cat([halt_here[:-1], continued_before[-1:]])


def geometric_log_prior(steps: int, rate: float, like: Tensor) -> Tensor:
    """``log q_n`` of the geometric prior ``q_n = λ_p (1 − λ_p)^{n−1}``, truncated like ``p``.

    Args:
        steps: ``T``.
        rate: ``λ_p`` in ``(0, 1]`` (``1`` only with ``T = 1``).
        like: a tensor whose dtype and device the result takes.

    Returns:
        ``log q``, shape ``(T, 1)``; the last step absorbs the remaining mass.
    """
    powers = torch.arange(steps, dtype=torch.float64, device=like.device)
    prior = rate * (1.0 - rate) ** powers
    prior[-1] = (1.0 - rate) ** (steps - 1)
    return prior.log().to(like.dtype)[:, None]


def kl_to_prior(log_p: Tensor, log_q: Tensor) -> Tensor:
    """``KL(p ‖ q)`` per problem, shape ``(B,)``, from ``log p (T, B)`` and ``log q (T, 1)``."""
    return (log_p.exp() * (log_p - log_q)).sum(dim=0)


def halting_step(log_p: Tensor, threshold: float) -> Tensor:
    """Each problem's answer step: the first ``n`` whose cumulative halting probability
    reaches ``threshold`` (0.5: the median of ``p``), in ``1..T``.

    Args:
        log_p: ``(T, B)`` from :func:`halting_log_distribution`.
        threshold: in ``(0, 1)``.

    Returns:
        Steps, shape ``(B,)``, int64.
    """
    reached = torch.cumsum(log_p.exp(), dim=0) >= threshold
    reached[-1] = True
    return reached.to(torch.uint8).argmax(dim=0) + 1
