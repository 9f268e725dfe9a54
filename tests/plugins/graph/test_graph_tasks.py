"""Graph task generators: labels against scipy, splits, seeding, storage round trips."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import connected_components, shortest_path

from irem_core.config.compose import build_run_config
from irem_core.errors import ConfigError, IremError
from irem_core.reasoning.protocols import Problems
from irem_plugins.graph.labels import same_component
from irem_plugins.graph.tasks import (
    ConnectedComponentsTask,
    EdgeCopyTask,
    GraphConfig,
    GraphTask,
    ShortestPathTask,
)

TASKS = {
    "edge_copy": EdgeCopyTask,
    "connected_components": ConnectedComponentsTask,
    "shortest_path": ShortestPathTask,
}


def sample(task: GraphTask, split: str, count: int, seed: int = 0) -> Problems:
    return task.sample(split, count, torch.Generator().manual_seed(seed))


def graph_matrices(problems: Problems, values: torch.Tensor) -> list[np.ndarray]:
    """Per-edge values ``(E, 1)`` as one ``n × n`` float64 array per graph."""
    sizes = problems.inputs.nodes.tolist()
    chunks = values.squeeze(-1).double().split([n * n for n in sizes])
    return [chunk.view(n, n).numpy() for chunk, n in zip(chunks, sizes)]


def mixed_or_fixed(mixed: bool, size: int) -> tuple[GraphConfig, str]:
    """A config drawing graphs of exactly ``size`` nodes, or of 2..``size`` nodes (mixed)."""
    if mixed:
        return GraphConfig(min_train_nodes=2, max_train_nodes=size), "train"
    return GraphConfig(nodes=size), "same"


@settings(max_examples=20)
@given(size=st.integers(2, 20), seed=st.integers(0, 10_000), mixed=st.booleans())
def test_shortest_paths_equal_scipy(size: int, seed: int, mixed: bool) -> None:
    config, split = mixed_or_fixed(mixed, size)
    problems = sample(ShortestPathTask(config), split, 4, seed)
    weights = graph_matrices(problems, problems.inputs.edge_attr)
    targets = graph_matrices(problems, problems.target)
    for weight, target in zip(weights, targets):
        np.testing.assert_allclose(weight, weight.T)
        assert (np.diag(weight) == 0).all() and (weight[~np.eye(len(weight), dtype=bool)] > 0).all()
        np.testing.assert_allclose(target, shortest_path(weight, directed=False), atol=1e-5)


@settings(max_examples=20)
@given(size=st.integers(2, 20), seed=st.integers(0, 10_000), mixed=st.booleans())
def test_components_equal_scipy(size: int, seed: int, mixed: bool) -> None:
    config, split = mixed_or_fixed(mixed, size)
    problems = sample(ConnectedComponentsTask(config), split, 4, seed)
    adjacencies = graph_matrices(problems, problems.inputs.edge_attr)
    targets = graph_matrices(problems, problems.target)
    for adjacency, target in zip(adjacencies, targets):
        assert set(np.unique(adjacency)) <= {0.0, 1.0}
        _, labels = connected_components(adjacency, directed=False)
        np.testing.assert_array_equal(target, labels[:, None] == labels[None, :])


@pytest.mark.parametrize("size", [2, 3, 5, 9, 17, 20])
def test_closure_of_long_chains_equals_scipy(size: int) -> None:
    """Shuffled paths and sparse graphs: components spanning up to ``size - 1`` hops."""
    generator = torch.Generator().manual_seed(size)
    order = torch.randperm(size, generator=generator)
    chain = torch.zeros(size, size, dtype=torch.bool)
    chain[order[:-1], order[1:]] = True
    sparse = torch.rand((16, size, size), generator=generator) > 0.9
    adjacency = torch.cat([chain[None], sparse])
    labels = same_component(adjacency)
    assert bool(labels[0].all())
    for graph, label in zip(adjacency.numpy(), labels.numpy()):
        _, components = connected_components(graph, directed=False)
        np.testing.assert_array_equal(label, components[:, None] == components[None, :])


def test_edge_copy_target_is_the_input() -> None:
    problems = sample(EdgeCopyTask(GraphConfig()), "train", 16)
    assert torch.equal(problems.target, problems.inputs.edge_attr)
    assert problems.target.abs().max() <= 1.0


@pytest.mark.parametrize("name", TASKS)
@pytest.mark.parametrize("split", ["train", "same", "harder"])
def test_shapes_splits_and_seed_reproducibility(name: str, split: str) -> None:
    task = TASKS[name](GraphConfig())
    problems, again, other = (sample(task, split, 9, seed) for seed in (3, 3, 4))
    graphs = problems.inputs
    nodes = graphs.nodes
    edges = int((nodes * nodes).sum())
    low, high = {"train": (2, 10), "same": (10, 10), "harder": (15, 15)}[split]
    assert problems.num_problems == 9 and graphs.num_graphs == 9
    assert low <= int(nodes.min()) and int(nodes.max()) <= high
    assert problems.target.shape == graphs.edge_attr.shape == (edges, 1)
    assert graphs.edge_index.shape == (2, edges) and graphs.edge_index.dtype == torch.long
    assert graphs.batch.shape == (int(nodes.sum()),)
    edge_graph = torch.repeat_interleave(torch.arange(9), nodes * nodes)
    assert torch.equal(problems.row_problem, edge_graph)
    assert torch.equal(graphs.edge_graph, problems.row_problem)
    assert torch.equal(graphs.ptr[1:] - graphs.ptr[:-1], nodes)
    assert torch.equal(problems.target, again.target)
    assert torch.equal(graphs.edge_index, again.inputs.edge_index)
    if name != "connected_components":  # sparse 0/1 inputs of tiny graphs may coincide
        assert not torch.equal(graphs.edge_attr, other.inputs.edge_attr)
    y0 = task.init_answer(problems, torch.Generator().manual_seed(0))
    assert y0.shape == (edges, 1) and float(y0.min()) >= -1 and float(y0.max()) <= 1


def test_edges_are_complete_graphs_row_major() -> None:
    problems = sample(EdgeCopyTask(GraphConfig(min_train_nodes=2, max_train_nodes=4)), "train", 5)
    graphs = problems.inputs
    start = 0
    for graph, n in enumerate(graphs.nodes.tolist()):
        offset = int(graphs.ptr[graph])
        rows, cols = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
        expected = torch.stack([rows.flatten(), cols.flatten()]) + offset
        assert torch.equal(graphs.edge_index[:, start : start + n * n], expected)
        start += n * n


def test_train_sizes_cover_the_range_and_nodes_overrides_every_split() -> None:
    task = ShortestPathTask(GraphConfig())
    assert set(sample(task, "train", 400).inputs.nodes.tolist()) == set(range(2, 11))
    fixed = ShortestPathTask(GraphConfig(nodes=30))
    for split in ("train", "same", "harder"):
        assert set(sample(fixed, split, 3).inputs.nodes.tolist()) == {30}
    config = build_run_config(task="shortest_path", preset="paper", overrides=["task.nodes=30"])
    assert config.task.options.nodes == 30


def test_target_variance_matches_the_papers_trivial_predictors() -> None:
    sp, cc = ShortestPathTask(GraphConfig()), ConnectedComponentsTask(GraphConfig())
    assert abs(float(sample(sp, "same", 400).target.var()) - 0.156) < 0.01
    assert abs(float(sample(sp, "harder", 400).target.var()) - 0.116) < 0.01
    assert abs(float(sample(cc, "same", 1000).target.var()) - 0.209) < 0.02
    assert abs(float(sample(cc, "harder", 1000).target.var()) - 0.243) < 0.02


def test_invalid_configs_name_the_key() -> None:
    with pytest.raises(ConfigError, match="max_train_nodes"):
        build_run_config(
            task="shortest_path", overrides=["task.min_train_nodes=8", "task.max_train_nodes=4"]
        )
    with pytest.raises(ConfigError, match="nodes"):
        build_run_config(task="shortest_path", overrides=["task.nodes=0"])
    with pytest.raises(IremError, match="valid splits"):
        sample(ShortestPathTask(GraphConfig()), "hard", 2)


@settings(max_examples=10)
@given(seed=st.integers(0, 10_000), split=st.sampled_from(["train", "same", "harder"]))
def test_mixed_batches_round_trip_through_pack_and_tensor_files(seed: int, split: str) -> None:
    task = ShortestPathTask(GraphConfig())
    problems = sample(task, split, 7, seed)
    answer = torch.randn(problems.target.shape, generator=torch.Generator().manual_seed(seed))
    packed = task.pack(problems, answer)
    width = 100 if split != "harder" else 225
    assert {key: tuple(value.shape) for key, value in packed.items()} == {
        "edge_attr": (7, width),
        "target": (7, width),
        "answer": (7, width),
        "nodes": (7,),
    }
    restored, restored_answer = task.unpack(packed)
    assert_same_problems(restored, problems)
    assert torch.equal(restored_answer, answer)
    half, _ = task.unpack({key: value[2:5] for key, value in packed.items()})
    assert torch.equal(half.inputs.nodes, problems.inputs.nodes[2:5])
    assert_same_problems(task.from_tensors(task.to_tensors(problems)), problems)


def assert_same_problems(left: Problems, right: Problems) -> None:
    for name in ("edge_index", "edge_attr", "batch", "ptr", "nodes"):
        assert torch.equal(getattr(left.inputs, name), getattr(right.inputs, name)), name
    assert torch.equal(left.target, right.target)
    assert torch.equal(left.row_problem, right.row_problem)
    assert left.num_problems == right.num_problems


def test_training_batches_pack_to_one_width_and_concatenate() -> None:
    task = ConnectedComponentsTask(GraphConfig())
    batches = [sample(task, "train", 5, seed) for seed in range(2)]
    packed = [task.pack(problems, problems.target) for problems in batches]
    assert {rows["answer"].shape[1] for rows in packed} == {100}
    joined, answer = task.unpack(
        {key: torch.cat([packed[0][key], packed[1][key]]) for key in packed[0]}
    )
    assert joined.num_problems == 10
    assert torch.equal(answer, torch.cat([batches[0].target, batches[1].target]))
    assert torch.equal(joined.row_problem[-1], torch.tensor(9))


def test_tensor_files_hold_the_documented_tensors() -> None:
    task = ShortestPathTask(GraphConfig())
    problems = sample(task, "same", 3)
    tensors = task.to_tensors(problems)
    assert {key: (tuple(value.shape), value.dtype) for key, value in tensors.items()} == {
        "edge_index": ((2, 300), torch.long),
        "edge_attr": ((300, 1), torch.float32),
        "y": ((300, 1), torch.float32),
        "ptr": ((4,), torch.long),
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.pop("y"), "expected tensors edge_index, edge_attr, y, ptr"),
        (lambda t: t.update(extra=torch.zeros(1)), "found edge_attr, edge_index, extra"),
        (lambda t: t.update(ptr=t["ptr"].float()), "'ptr' has shape"),
        (lambda t: t.update(ptr=torch.tensor([0, 4, 4])), "increase strictly"),
        (lambda t: t.update(edge_index=t["edge_index"].int()), "expected \\(2, 300\\) int64"),
        (lambda t: t.update(edge_attr=t["edge_attr"][:-1]), "expected \\(300, 1\\) floating"),
        (lambda t: t.update(y=t["y"].long()), "'y' has shape"),
        (lambda t: t.update(edge_index=t["edge_index"].flip(0)), "row-major"),
    ],
)
def test_from_tensors_rejects_malformed_files(change, message: str) -> None:
    task = ShortestPathTask(GraphConfig())
    tensors = dict(task.to_tensors(sample(task, "same", 3)))
    change(tensors)
    with pytest.raises(IremError, match=message):
        task.from_tensors(tensors)


def test_score_reports_per_edge_accuracy() -> None:
    task = ConnectedComponentsTask(GraphConfig(nodes=3))
    problems = sample(task, "same", 2)
    perfect = task.score(problems.target.clone(), problems)["accuracy"]
    assert perfect.shape == (18,) and bool((perfect == 1).all())
    flipped = task.score(1 - problems.target, problems)["accuracy"]
    assert bool((flipped == 0).all())
