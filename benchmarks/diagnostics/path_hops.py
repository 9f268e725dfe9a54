"""Where a shortest-path model's error comes from as graphs grow: error by path length in hops.

    python -m benchmarks.diagnostics.path_hops RUN [RUN ...] [--sizes 10,20,30] [-n 200] [--steps 80]
        [--max-hops 5] [--json]

Shortest-path distances on bigger graphs run over more edges: a model trained on 2..10
nodes has seen few paths of many hops. For each size ``n`` this draws ``n``-node graphs of
the ``same`` distribution (the same graphs for every run), answers them with each run's
solver (its lowest-energy iterate of ``--steps``, the last iterate for a solver without an
energy, as ``irem eval``'s ``min_energy``), and reports, per number of hops of each pair's
shortest path (1, 2, …, ``--max-hops`` or more; the self-pairs, 0 hops, apart): the share of
pairs and the MSE on them. The hops come from a batched Floyd–Warshall that carries each
path's edge count (weights are continuous, so ties have probability zero).

Every number comes from the runs' own solvers; nothing is trained.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import torch
from torch import Tensor

from irem_core import load_run, solve
from irem_core.plugins.manager import load_plugins
from irem_core.runs.build import sized_task
from irem_core.seeding import generator as seeded_generator


def hops_of_shortest_paths(weights: Tensor) -> Tensor:
    """Edge count of every pair's shortest path.

    Args:
        weights: direct edge weights, ``(G, n, n)``, zero diagonal.

    Returns:
        Hops, ``(G, n, n)`` int64: 0 on the diagonal, 1 where the direct edge is shortest.
    """
    distance = weights.clone()
    size = weights.shape[-1]
    hops = 1 - torch.eye(size, dtype=torch.long, device=weights.device).expand_as(weights)
    for via in range(size):
        through = distance[:, :, via : via + 1] + distance[:, via : via + 1, :]
        shorter = through < distance
        distance = torch.where(shorter, through, distance)
        hops = torch.where(shorter, hops[:, :, via : via + 1] + hops[:, via : via + 1, :], hops)
    return hops


def measure(
    runs: dict[str, Any], size: int, problems_count: int, steps: int, max_hops: int
) -> dict[str, Any]:
    """Share of pairs and each run's MSE per hop count, at one size."""
    first = next(iter(runs.values()))
    task = sized_task(first.config.task, size, plugins=load_plugins())
    problems = task.sample(
        "same", problems_count, seeded_generator(0, f"problems:size:{size}", first.device)
    )
    weights = problems.inputs.edge_attr.reshape(problems_count, size, size)
    hops = hops_of_shortest_paths(weights).reshape(-1).clamp(max=max_hops)
    groups = {str(h) if h < max_hops else f"{h}+": hops == h for h in range(max_hops + 1)}
    row: dict[str, Any] = {
        "n": size,
        "share": {name: float(mask.double().mean()) for name, mask in groups.items()},
        "mse": {},
    }
    for label, run in runs.items():
        answers = solve(run, problems, steps, task=task, batch_size=100)
        squared = ((answers - problems.target) ** 2).reshape(-1)
        row["mse"][label] = {
            "all": float(squared.mean()),
            **{
                name: float(squared[mask].mean()) if mask.any() else None
                for name, mask in groups.items()
            },
        }
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.diagnostics.path_hops", description=__doc__.splitlines()[0]
    )
    parser.add_argument("runs", nargs="+", help="run directories of shortest-path runs")
    parser.add_argument("--sizes", default="10,20,30", help="graph sizes")
    parser.add_argument("-n", "--problems", type=int, default=200, help="graphs per size")
    parser.add_argument("--steps", type=int, default=80, help="step budget of every solve")
    parser.add_argument(
        "--max-hops", type=int, default=5, help="the last hop group is this or more"
    )
    parser.add_argument("--device", help="torch device (default: each run's)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    runs = {directory: load_run(directory, args.device) for directory in args.runs}
    rows = [
        measure(runs, int(size), args.problems, args.steps, args.max_hops)
        for size in args.sizes.split(",")
    ]
    if args.json:
        print(json.dumps({"steps": args.steps, "sizes": rows}, indent=1))
        return 0
    for row in rows:
        names = list(row["share"])
        print(f"n = {row['n']}")
        print(f"  {'hops':<28}" + "".join(f"{name:>8}" for name in names) + f"{'all':>8}")
        print(f"  {'share of pairs':<28}" + "".join(f"{row['share'][k]:8.3f}" for k in names))
        for label, errors in row["mse"].items():
            cells = "".join(
                f"{errors[k]:8.4f}" if errors[k] is not None else f"{'-':>8}" for k in names
            )
            print(f"  {label[-28:]:<28}{cells}{errors['all']:8.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
