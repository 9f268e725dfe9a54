"""A base for vector tasks: what every task of one input vector and one answer row repeats."""

from __future__ import annotations

import torch
from torch import Tensor

from irem_core.errors import IremError
from irem_core.reasoning.protocols import SPLITS, Problems


class VectorTask:
    """Base of ``vector`` tasks: a problem is an input vector and one answer row.

    A subclass sets ``input_features`` (``D_x``) and ``answer_features`` (``F``) and
    implements :meth:`draw`; it may override :meth:`init_answer` and :meth:`size_hint`. The
    base samples the splits, starts answers, packs problems for the replay buffer and reads
    and writes ``irem data`` files ``{"x": (N, D_x), "y": (N, F)}``. A subclass is a
    :class:`~irem_core.Task` and a :class:`~irem_core.VectorInputTask`.

    Shapes:
        - inputs ``x``: ``(N, D_x)``
        - target and answers ``y``: ``(N, F)``; ``row_problem`` is ``arange(N)``
    """

    domain = "vector"
    input_features: int
    """``D_x``, the width of one problem's input vector."""
    answer_features: int
    """``F``, the width of one problem's answer."""

    def draw(self, split: str, count: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """Inputs ``(count, D_x)`` and targets ``(count, F)`` of ``split`` (a valid split),
        drawn only from ``generator``, on its device."""
        raise NotImplementedError

    def size_hint(self) -> str:
        """How a file of the wrong widths is told to fix them, e.g. ``(set task.size to
        match)``."""
        return "(set the task's options to match)"

    @staticmethod
    def make_problems(inputs: Tensor, target: Tensor) -> Problems:
        """Problems of inputs ``(N, D_x)`` and targets ``(N, F)``, one answer row each."""
        count = target.shape[0]
        rows = torch.arange(count, device=target.device)
        return Problems(inputs=inputs, target=target, row_problem=rows, num_problems=count)

    def sample(self, split: str, num_problems: int, generator: torch.Generator) -> Problems:
        """``num_problems`` problems of ``split`` (``train``, ``same`` or ``harder``)."""
        if split not in SPLITS:
            raise IremError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
        return self.make_problems(*self.draw(split, num_problems, generator))

    def init_answer(self, problems: Problems, generator: torch.Generator) -> Tensor:
        """``y_0 ~ U(−1, 1)``, shape ``(N, F)``."""
        shape = tuple(problems.target.shape)
        return torch.rand(shape, generator=generator, device=generator.device) * 2 - 1

    def pack(self, problems: Problems, answer: Tensor) -> dict[str, Tensor]:
        """``{"x": (N, D_x), "y": (N, F), "answer": (N, F)}`` for the replay buffer."""
        return {"x": problems.inputs, "y": problems.target, "answer": answer}

    def unpack(self, packed: dict[str, Tensor]) -> tuple[Problems, Tensor]:
        """Inverse of :meth:`pack`."""
        return self.make_problems(packed["x"], packed["y"]), packed["answer"]

    def to_tensors(self, problems: Problems) -> dict[str, Tensor]:
        """``{"x": (N, D_x), "y": (N, F)}``, for ``irem data`` files."""
        return {"x": problems.inputs, "y": problems.target}

    def from_tensors(self, tensors: dict[str, Tensor]) -> Problems:
        """Problems from ``{"x", "y"}`` (``y`` may be zeros when unknown), as float32.

        Raises:
            IremError: a tensor is missing or extra, or not ``(N, D_x)`` / ``(N, F)``
                floating point.
        """
        expected = {"x": self.input_features, "y": self.answer_features}
        missing = sorted(set(expected) - set(tensors))
        if missing:
            raise IremError(
                f"problem file lacks tensor(s) {', '.join(missing)}; a "
                f"{type(self).__name__} file holds x and y (write it with 'irem data')"
            )
        extra = sorted(set(tensors) - set(expected))
        if extra:
            raise IremError(
                f"problem file holds tensor(s) {', '.join(extra)} that a "
                f"{type(self).__name__} file does not have (only x and y): is it "
                "another task's file? Write one with 'irem data --like RUN'"
            )
        count = tensors["x"].shape[0] if tensors["x"].dim() else -1
        for name, features in expected.items():
            tensor = tensors[name]
            if tensor.shape != (count, features) or not tensor.is_floating_point():
                raise IremError(
                    f"tensor {name!r} has shape {tuple(tensor.shape)} and dtype "
                    f"{tensor.dtype}; expected ({count}, {features}) floating point "
                    f"{self.size_hint()}"
                )
        return self.make_problems(tensors["x"].float(), tensors["y"].float())
