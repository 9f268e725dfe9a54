"""Precision: fp32, or bf16 autocast where the hardware has it; ``auto`` picks.

``bf16`` runs the solve and the loss of each training iteration (or an evaluation's solve)
under ``torch.autocast(dtype=torch.bfloat16)``: matmuls take bf16 inputs, while the weights
(the optimizer's master copy), the answers ``y`` and the loss stay float32. It pays only where
the device multiplies bf16 natively: a CUDA GPU that supports it, or a CPU with AVX-512 BF16
or AMX. Elsewhere torch emulates bf16 matmuls about 20× slower than float32
(docs/performance.md), so :func:`check_precision` refuses the setting with a clear message
instead. ``auto`` (``train.precision``'s default) is bf16 where it is native and fp32
elsewhere (:func:`resolve_precision`); a run records the precision it resolved to.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import torch

from irem_core.errors import IremError

NATIVE_BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
"""``/proc/cpuinfo`` flags that mean the CPU multiplies bf16 natively."""


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The feature flags of the first CPU listed in ``cpuinfo`` (empty where the file does
    not exist, as on macOS and Windows)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


NATIVE_BF16_VARIABLE = "IREM_NATIVE_BF16"
"""Environment variable: ``0`` makes :func:`native_bf16` answer no on every device (``auto``
then means fp32, e.g. to compare with a machine without bf16); ``1`` answers yes."""


def native_bf16(device: torch.device, flags: frozenset[str] | None = None) -> bool:
    """Whether ``device`` multiplies bf16 natively (``flags``: the CPU's, read when None),
    unless ``IREM_NATIVE_BF16`` says otherwise.

    torch's own ``get_cpu_capability()`` reports only the vector ISA (``AVX512``) and not the
    bf16 extension, hence the CPU flags.
    """
    told = os.environ.get(NATIVE_BF16_VARIABLE, "").strip()
    if told in ("0", "1"):
        return told == "1"
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(NATIVE_BF16_CPU_FLAGS & (cpu_flags() if flags is None else flags))
    return False


def resolve_precision(precision: str, device: torch.device) -> str:
    """``precision`` with ``auto`` resolved for ``device``: ``bf16`` where it multiplies bf16
    natively (:func:`native_bf16`), else ``fp32``; ``fp32`` and ``bf16`` are kept."""
    if precision != "auto":
        return precision
    return "bf16" if native_bf16(device) else "fp32"


def check_precision(precision: str, device: torch.device, setting: str = "train.precision") -> None:
    """Raise :class:`IremError` when ``precision`` is bf16 and ``device`` lacks native bf16
    (``setting``: the option to name in the message)."""
    if precision == "bf16" and not native_bf16(device):
        where = (
            "this CPU has neither AVX-512 BF16 nor AMX"
            if device.type == "cpu"
            else f"device {device} does not support bf16"
        )
        raise IremError(
            f"{setting}=bf16 needs native bf16 matrix multiplication, but {where}; "
            f"emulated bf16 runs about 20x slower than fp32 here. Use {setting}=fp32 or "
            f"auto, or run on a GPU or a CPU with AMX / AVX-512 BF16"
        )


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager[None]:
    """The context a solve runs in for ``precision`` (``auto`` resolved for ``device``)."""
    if resolve_precision(precision, device) == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)
