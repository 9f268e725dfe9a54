"""The best connected-components MSE any 1-WL message-passing model can reach.

With zero node features and one scalar per edge (the paper's graph encoding), message
passing on the complete graph (GINE with any aggregation) cannot tell apart two nodes of
the same Weisfeiler-Leman colour, nor the self-pair ``(i, i)`` from a pair ``(i, j)`` of
same-coloured nodes. This study colours sampled graphs with 1-WL refinement (multisets of
neighbour colours and both edge directions: at least as fine as the model's view), groups
node pairs by ``(colour_i, colour_j, A_ij, A_ji[, i == j])`` and predicts each group's mean
label (the best any such model can do). With finitely many graphs that optimum is
bracketed: the predictor's MSE on the graphs it was fitted on is optimistic (a group seen
once has no error) and on fresh graphs pessimistic (an unseen group gets the overall mean);
the share of fresh pairs whose group was seen says how tight the bracket is.

    python -m benchmarks.diagnostics.wl_ceiling --graphs 20000
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from collections.abc import Callable, Iterator

import numpy as np

Pair = tuple[tuple[int, ...], float]


def sample_graph(nodes: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Input ``A (n, n)`` (directed, ``A_ij = 1[U_ij > 0.95]``, no self-loops) and the
    same-component labels ``(n, n)`` of ``A ∨ Aᵀ`` (diagonal 1), as the task draws them."""
    adjacency = rng.random((nodes, nodes)) > 0.95
    np.fill_diagonal(adjacency, False)
    reach = np.eye(nodes, dtype=np.int64) | adjacency | adjacency.T
    for _ in range(max(1, int(np.ceil(np.log2(nodes))))):
        reach = ((reach @ reach) > 0).astype(np.int64)
    return adjacency, reach.astype(bool)


def wl_colours(adjacency: np.ndarray, rounds: int) -> list[int]:
    """1-WL colours after ``rounds`` refinements over the complete graph with edge colours."""
    nodes = adjacency.shape[0]
    colours = [0] * nodes
    for _ in range(rounds):
        colours = [
            hash(
                (
                    colours[i],
                    tuple(
                        sorted(
                            (colours[j], bool(adjacency[j, i]), bool(adjacency[i, j]))
                            for j in range(nodes)
                        )
                    ),
                )
            )
            for i in range(nodes)
        ]
    return colours


def pairs(
    count: int, nodes: Callable[[], int], rounds: int, self_flag: bool, rng: np.random.Generator
) -> Iterator[Pair]:
    """``(features, label)`` of every node pair of ``count`` sampled graphs."""
    for _ in range(count):
        adjacency, labels = sample_graph(nodes(), rng)
        colours = wl_colours(adjacency, rounds)
        size = adjacency.shape[0]
        for i in range(size):
            for j in range(size):
                key = (colours[i], colours[j], int(adjacency[i, j]), int(adjacency[j, i]))
                yield key + ((int(i == j),) if self_flag else ()), float(labels[i, j])


def ceiling(
    count: int, nodes: Callable[[], int], rounds: int, self_flag: bool, seed: int
) -> tuple[float, float, float, float]:
    """MSE of the group-mean predictor on its own graphs and on fresh ones, the share of
    fresh pairs in a seen group, and the label variance of the fresh pairs."""
    rng = np.random.default_rng(seed)
    groups: dict[tuple[int, ...], list[float]] = defaultdict(list)
    for key, label in pairs(count, nodes, rounds, self_flag, rng):
        groups[key].append(label)
    means = {key: float(np.mean(labels)) for key, labels in groups.items()}
    fitted = sum(
        float(np.sum((np.array(labels) - means[key]) ** 2)) for key, labels in groups.items()
    ) / sum(map(len, groups.values()))
    overall = float(np.mean([label for labels in groups.values() for label in labels]))
    held_out = list(pairs(max(count // 4, 1), nodes, rounds, self_flag, rng))
    targets = np.array([label for _, label in held_out])
    predictions = np.array([means.get(key, overall) for key, _ in held_out])
    seen = float(np.mean([key in means for key, _ in held_out]))
    return fitted, float(np.mean((predictions - targets) ** 2)), seen, float(np.var(targets))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graphs", type=int, default=20000, help="graphs fitted per case")
    parser.add_argument("--rounds", type=int, default=3, help="WL refinements (GINE layers)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed + 1)
    cases = {
        "train (n = 2..10)": lambda: int(rng.integers(2, 11)),
        "same (n = 10)": lambda: 10,
        "harder (n = 15)": lambda: 15,
    }
    print(
        "| graphs | self-pair flag | best MSE, fitted graphs | best MSE, fresh graphs | "
        "fresh pairs in a seen group | label variance |\n|---|---|---|---|---|---|"
    )
    for name, nodes in cases.items():
        for self_flag in (False, True):
            fitted, fresh, seen, variance = ceiling(
                args.graphs, nodes, args.rounds, self_flag, args.seed
            )
            print(
                f"| {name} | {'yes' if self_flag else 'no'} | {fitted:.4f} | {fresh:.4f} | "
                f"{seen:.1%} | {variance:.4f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
