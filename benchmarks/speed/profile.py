"""Where a training iteration's time goes: torch.profiler over a few paper-shape iterations.

    python -m benchmarks.speed.profile --task addition|inverse|shortest_path [--iterations N]

Prints two markdown tables: the top operators by self CPU time, and the same time grouped
(matmul, element-wise, message passing, autograd bookkeeping, data and replay, optimizer,
other), plus the share of wall time spent outside any operator (Python, dispatch). Problem
generation and replay are attributed through ``record_function`` ranges wrapped around the
task's and the buffers' methods here, so no library code carries profiling hooks.
"""

from __future__ import annotations

import argparse
import functools
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.autograd.profiler_util import FunctionEvent
from torch.profiler import ProfilerActivity, profile, record_function

from benchmarks.speed.run import trainer_for
from irem_core.training.loop import Trainer

DATA_RANGE = "data"
"""Name of the ``record_function`` range around problem generation, packing and replay."""

MATMUL = {"aten::mm", "aten::addmm", "aten::bmm", "aten::matmul", "aten::linear", "aten::baddbmm"}
ELEMENTWISE = {
    "aten::silu",
    "aten::silu_backward",
    "aten::sigmoid",
    "aten::relu",
    "aten::threshold_backward",
    "aten::add",
    "aten::add_",
    "aten::sub",
    "aten::mul",
    "aten::mul_",
    "aten::div",
    "aten::addcmul",
    "aten::neg",
    "aten::pow",
    "aten::mse_loss",
    "aten::mse_loss_backward",
    "aten::sum",
    "aten::mean",
    "aten::rsub",
    "aten::sigmoid_backward",
    "aten::fill_",
    "aten::copy_",
    "aten::clamp_min",
    "aten::where",
    "aten::exp",
    "aten::maximum",
}
MESSAGE_PASSING = {
    "aten::index_select",
    "aten::scatter_add_",
    "aten::scatter_reduce_",
    "aten::scatter_reduce",
    "aten::index_add_",
    "aten::index",
    "aten::gather",
    "aten::new_zeros",
    "aten::scatter",
    "aten::scatter_",
    "aten::index_put_",
    "aten::_index_put_impl_",
    "aten::embedding_dense_backward",
    "aten::index_select_backward",
    "aten::gather_backward",
    "aten::max",
    "aten::eq",
    "aten::masked_fill_",
}
GROUPS = (
    "matmul",
    "element-wise / activation",
    "gather / scatter",
    "autograd bookkeeping",
    "data / replay",
    "optimizer (Adam)",
    "other",
)


def wrap(owner: Any, name: str, label: str) -> None:
    """Replace ``owner.name`` by the same method inside a ``record_function(label)`` range."""
    method: Callable[..., Any] = getattr(owner, name)

    @functools.wraps(method)
    def ranged(*args: Any, **kwargs: Any) -> Any:
        with record_function(label):
            return method(*args, **kwargs)

    setattr(owner, name, ranged)


def instrument(trainer: Trainer) -> None:
    """Put every data-path method of ``trainer`` (task and replay rings) in a data range."""
    for name in ("sample", "init_answer", "pack", "unpack"):
        wrap(trainer.task, name, f"{DATA_RANGE}:{name}")
    for shard in trainer.local_shards:
        for name in ("add", "sample"):
            wrap(shard.buffer, name, f"{DATA_RANGE}:replay.{name}")


def enclosing(event: FunctionEvent) -> list[str]:
    """Names of every range above ``event``, innermost first."""
    names, parent = [], event.cpu_parent
    while parent is not None:
        names.append(parent.name)
        parent = parent.cpu_parent
    return names


BOOKKEEPING = frozenset(
    {
        "aten::empty",
        "aten::empty_strided",
        "aten::zeros",
        "aten::zeros_like",
        "aten::ones_like",
        "aten::expand",
        "aten::view",
        "aten::as_strided",
        "aten::t",
        "aten::transpose",
        "aten::detach",
        "aten::detach_",
        "aten::_reshape_alias",
        "aten::reshape",
        "aten::squeeze",
        "aten::unsqueeze",
        "aten::resize_",
        "aten::empty_like",
        "aten::result_type",
        "aten::to",
        "aten::_to_copy",
        "aten::slice",
        "aten::select",
        "aten::alias",
        "aten::clone",
        "aten::contiguous",
        "aten::numpy_T",
        "aten::permute",
        "aten::lift_fresh",
        "aten::_unsafe_view",
        "detach",
        "aten::set_",
    }
)
"""Allocation, view and copy operators: autograd bookkeeping rather than arithmetic."""


def group_of(event: FunctionEvent) -> str:
    """The breakdown group of one profiled operator."""
    above = enclosing(event)
    if any(name.startswith(DATA_RANGE) for name in above):
        return "data / replay"
    if any(name.startswith(("Optimizer.step", "Optimizer.zero_grad")) for name in above):
        return "optimizer (Adam)"
    name = event.name
    if name in MATMUL:
        return "matmul"
    if name in ELEMENTWISE:
        return "element-wise / activation"
    if name in MESSAGE_PASSING:
        return "gather / scatter"
    if (
        name.startswith("autograd::")
        or name.endswith(("Backward0", "Backward1"))
        or name in BOOKKEEPING
    ):
        return "autograd bookkeeping"
    return "other"


def profile_training(
    task: str, iterations: int, overrides: list[str] | None = None
) -> tuple[list[FunctionEvent], float]:
    """Profile ``iterations`` paper-shape training iterations (after two warm-up ones).

    Returns:
        The profiled operator events (leaves and ranges) and the wall seconds per iteration
        of the profiled loop (the same clock as the events' times).
    """
    trainer = trainer_for(task, overrides or [], Path(tempfile.mkdtemp(prefix="irem-profile-")))
    trainer.step()
    instrument(trainer)
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        started = time.perf_counter()
        for _ in range(iterations):
            trainer.step()
        wall = (time.perf_counter() - started) / iterations
    return list(profiler.events()), wall


def is_range(event: FunctionEvent) -> bool:
    """Whether ``event`` is a user range or optimizer annotation rather than an operator."""
    return event.name.startswith(DATA_RANGE) or event.name.startswith("Optimizer.")


def report(task: str, events: list[FunctionEvent], wall: float, iterations: int, top: int) -> str:
    """The two markdown tables for one profile."""
    operators = [event for event in events if not is_range(event)]
    self_us: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)
    groups: dict[str, float] = defaultdict(float)
    for event in operators:
        self_us[event.name] += event.self_cpu_time_total
        calls[event.name] += 1
        groups[group_of(event)] += event.self_cpu_time_total
    total = sum(self_us.values())
    per_iter = 1e-3 / iterations
    lines = [
        f"### {task}: {total * per_iter:.1f} ms of operator self time per iteration "
        f"(profiled wall {wall * 1e3:.1f} ms/iteration)",
        "",
        "| operator | calls/iter | self ms/iter | share |",
        "|---|---|---|---|",
    ]
    for name, value in sorted(self_us.items(), key=lambda item: -item[1])[:top]:
        lines.append(
            f"| `{name}` | {calls[name] / iterations:.0f} | {value * per_iter:.1f} | "
            f"{value / total:.1%} |"
        )
    lines += ["", "| group | self ms/iter | share of operator time |", "|---|---|---|"]
    for name in GROUPS:
        lines.append(f"| {name} | {groups[name] * per_iter:.1f} | {groups[name] / total:.1%} |")
    outside = wall - total * 1e-6 / iterations
    lines.append(
        f"\nProfiled wall time outside any operator (Python, dispatch, profiler): "
        f"{outside * 1e3:.1f} ms/iteration ({outside / wall:.1%})."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--task",
        default="addition",
        choices=(
            "addition",
            "inverse",
            "completion",
            "shortest_path",
            "edge_copy",
            "connected_components",
        ),
    )
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--top", type=int, default=12, help="rows of the operator table")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override, as for irem train",
    )
    args = parser.parse_args(argv)
    events, wall = profile_training(args.task, args.iterations, args.set)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)\n")
    print(report(args.task, events, wall, args.iterations, args.top))


if __name__ == "__main__":
    main()
