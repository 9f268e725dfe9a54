"""The GINE graph energy: one scalar per graph, invariances, the paper's architecture."""

from __future__ import annotations

import attrs
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from irem_core.config.compose import build_run_config
from irem_core.errors import IremError
from irem_core.reasoning.energy import BoundEnergy, energy_and_gradient
from irem_core.reasoning.graphs import GraphBatch, complete_graphs
from irem_core.runs.build import build_solver, build_task
from irem_core.runs.evaluation import select_min_energy
from irem_plugins.graph.energy import GineEnergyConfig
from irem_plugins.graph.gine import GineEnergy
from irem_plugins.graph.tasks import GraphConfig, ShortestPathTask
from irem_plugins.matrix.tasks import AdditionTask, MatrixConfig

TASK = ShortestPathTask(GraphConfig())
READOUTS = {
    "max": {},
    "edges": {"readout": "edges"},
    "triangle": {"readout": "edges", "triangle": 8},
}


def make_energy(seed: int = 0, hidden: int = 32, readout: str = "max") -> GineEnergy:
    """A double-precision energy; ``readout`` names one of :data:`READOUTS`."""
    torch.manual_seed(seed)
    model = GineEnergy(GineEnergyConfig(hidden=hidden, **READOUTS[readout]), TASK).double()
    if readout != "max":  # the edge readout starts flat: a flat energy tests nothing
        torch.nn.init.normal_(model.readout[2].weight)
    return model


def attr_double(graphs: GraphBatch) -> GraphBatch:
    return attrs.evolve(graphs, edge_attr=graphs.edge_attr.double())


def energies(
    model: GineEnergy, inputs: torch.Tensor, answer: torch.Tensor, nodes: list[int]
) -> torch.Tensor:
    """Energies ``(G,)`` of graphs given as dense ``(G, P, P)`` inputs and answers."""
    layout = complete_graphs(torch.tensor(nodes), inputs.shape[-1])
    graphs = layout.graph_batch(layout.from_dense(inputs))
    return model(model.encode(graphs), layout.from_dense(answer))


def test_parameter_count_equals_the_release() -> None:
    model = GineEnergy(GineEnergyConfig(), TASK)
    assert sum(parameter.numel() for parameter in model.parameters()) == 83_330


@settings(max_examples=10)
@given(size=st.integers(2, 8), seed=st.integers(0, 1000), readout=st.sampled_from(list(READOUTS)))
def test_energy_is_invariant_under_node_relabelling(size: int, seed: int, readout: str) -> None:
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.rand((2, size, size), generator=generator, dtype=torch.float64)
    answer = torch.rand((2, size, size), generator=generator, dtype=torch.float64) * 2 - 1
    permutation = torch.randperm(size, generator=generator)
    model = make_energy(seed, readout=readout)
    original = energies(model, inputs, answer, [size, size])
    relabelled = energies(
        model,
        inputs[:, permutation][:, :, permutation],
        answer[:, permutation][:, :, permutation],
        [size, size],
    )
    assert original.shape == (2,)
    torch.testing.assert_close(relabelled, original)


@settings(max_examples=5)
@given(seed=st.integers(0, 1000), readout=st.sampled_from(list(READOUTS)))
def test_each_graph_gets_one_energy_independent_of_its_batch(seed: int, readout: str) -> None:
    problems = TASK.sample("train", 6, torch.Generator().manual_seed(seed))
    answer = TASK.init_answer(problems, torch.Generator().manual_seed(seed + 1)).double()
    model = make_energy(seed, readout=readout)
    graphs = problems.inputs
    batched = model(model.encode(attr_double(graphs)), answer)
    assert batched.shape == (6,)
    packed = TASK.pack(problems, answer)
    for graph in range(6):
        single, single_answer = TASK.unpack(
            {key: value[graph : graph + 1] for key, value in packed.items()}
        )
        alone = model(model.encode(attr_double(single.inputs)), single_answer)
        torch.testing.assert_close(alone, batched[graph : graph + 1])


def test_factored_edge_term_equals_the_direct_computation() -> None:
    """``encode`` folds the edge projection; the result must equal embed → concat → project."""
    problems = TASK.sample("train", 5, torch.Generator().manual_seed(0))
    graphs = attr_double(problems.inputs)
    answer = TASK.init_answer(problems, torch.Generator().manual_seed(1)).double()
    model = make_energy(hidden=128)
    embedding = torch.cat(
        [model.input_embedding(graphs.edge_attr), model.answer_embedding(answer)], dim=-1
    )
    hidden = graphs.edge_attr.new_zeros(graphs.batch.shape[0], 1)
    for projection, convolution in zip(model.edge_projections, model.convolutions):
        hidden = convolution(hidden, graphs.edge_index, projection(embedding))
    pooled = torch.stack([hidden[graphs.batch == graph].amax(dim=0) for graph in range(5)])
    expected = model.readout(pooled).squeeze(-1)
    torch.testing.assert_close(model(model.encode(graphs), answer), expected)


def test_edge_readout_equals_the_direct_sum_over_edges() -> None:
    """``readout = "edges"``: ``Σ_ij w·σ(A h_i + B h_j + P e_ij + b)`` per graph, with the
    readout's edge term folded into ``encode`` like the layers'."""
    problems = TASK.sample("train", 5, torch.Generator().manual_seed(0))
    graphs = attr_double(problems.inputs)
    answer = TASK.init_answer(problems, torch.Generator().manual_seed(1)).double()
    model = make_energy(hidden=16, readout="edges")
    embedding = torch.cat(
        [model.input_embedding(graphs.edge_attr), model.answer_embedding(answer)], dim=-1
    )
    hidden = graphs.edge_attr.new_zeros(graphs.batch.shape[0], 1)
    for projection, convolution in zip(model.edge_projections, model.convolutions):
        hidden = convolution(hidden, graphs.edge_index, projection(embedding))
    from_source, from_target = model.readout_nodes(hidden).chunk(2, dim=-1)
    source, target = graphs.edge_index
    terms = model.readout[2](
        model.readout[1](from_source[source] + from_target[target] + model.readout[0](embedding))
    ).squeeze(-1)
    expected = torch.stack([terms[graphs.edge_graph == graph].sum() for graph in range(5)])
    torch.testing.assert_close(model(model.encode(graphs), answer), expected)


@pytest.mark.parametrize("chunk", [1 << 22, 40])
def test_triangle_term_equals_the_max_over_third_nodes(chunk: int) -> None:
    """``t_ij = max_k σ(U r_ik + V r_kj + W r_ij)`` over the nodes of each graph, computed
    pair by pair with ``amax``, equals the padded batched computation (graphs of 2..10
    nodes), in value and in its first and second derivatives, whether the search for the
    max runs in one chunk or in many."""
    problems = TASK.sample("train", 4, torch.Generator().manual_seed(0))
    graphs = attr_double(problems.inputs)
    answer = TASK.init_answer(problems, torch.Generator().manual_seed(1)).double()
    model = make_energy(hidden=16, readout="triangle")
    assert model.triangle is not None
    model.triangle.chunk = chunk
    context = model.encode(graphs)
    edge_term = (context.readout_offset + answer * context.readout_slope).requires_grad_(True)
    first, second, own = model.triangle.linear(edge_term).chunk(3, dim=-1)
    activate = torch.nn.functional.silu if model.activation == "silu" else torch.relu
    rows = []
    for graph in range(4):
        edges = (graphs.edge_graph == graph).nonzero().squeeze(-1)
        size = int(graphs.nodes[graph])
        for edge in edges.tolist():
            i, j = divmod(edge - int(edges[0]), size)
            row = edges[i * size : (i + 1) * size]  # (i, k) for every k
            column = edges[j::size]  # (k, j) for every k
            rows.append(activate(first[row] + second[column] + own[edge]).amax(dim=0))
    expected = torch.stack(rows)
    actual = model.triangle(graphs, edge_term)
    torch.testing.assert_close(actual, expected)
    weights = torch.randn(expected.shape, generator=torch.Generator().manual_seed(2)).double()
    gradients = [
        torch.autograd.grad((weights * t).sum(), edge_term, create_graph=True)[0]
        for t in (actual, expected)
    ]
    torch.testing.assert_close(*gradients)
    second_order = [torch.autograd.grad(g.pow(2).sum(), edge_term)[0] for g in gradients]
    torch.testing.assert_close(*second_order)


def test_triangle_needs_the_edge_readout_and_uses_autograd() -> None:
    with pytest.raises(ValueError, match="readout"):
        GineEnergyConfig(triangle=8)
    model = make_energy(hidden=16, readout="triangle")
    problems = TASK.sample("train", 2, torch.Generator().manual_seed(0))
    answer = TASK.init_answer(problems, torch.Generator().manual_seed(1)).double()
    assert model.energy_and_gradient(model.encode(attr_double(problems.inputs)), answer) is None


def test_a_fresh_edge_readout_energy_is_flat_and_the_readout_is_validated() -> None:
    """A sum over ~n² edge terms would start with gradients far larger than the max
    readout's; its output layer starts at zero so the first descents stay put."""
    problems = TASK.sample("train", 3, torch.Generator().manual_seed(0))
    model = GineEnergy(GineEnergyConfig(hidden=16, readout="edges"), TASK)
    answer = TASK.init_answer(problems, torch.Generator().manual_seed(1))
    context = model.encode(problems.inputs)
    energies, gradient = model.energy_and_gradient(context, answer)
    assert bool(gradient.eq(0).all())
    torch.testing.assert_close(model(context, answer.neg()), energies)
    with pytest.raises(ValueError, match="readout"):
        GineEnergyConfig(readout="mean")


def test_energy_depends_on_the_answer_through_the_core_contract() -> None:
    problems = TASK.sample("harder", 3, torch.Generator().manual_seed(0))
    model = GineEnergy(GineEnergyConfig(hidden=16), TASK)
    bound = BoundEnergy(model, model.encode(problems.inputs), problems.row_problem, 3, "gine")
    answer = TASK.init_answer(problems, torch.Generator().manual_seed(1)).requires_grad_(True)
    values, gradient = energy_and_gradient(bound, answer, create_graph=False)
    assert values.shape == (3,) and gradient.shape == answer.shape
    assert bool(gradient.abs().sum(dim=-1).gt(0).any())


@settings(max_examples=10)
@given(seed=st.integers(0, 1000), chosen=st.sets(st.integers(0, 5), min_size=1))
def test_selected_graphs_keep_their_energies(seed: int, chosen: set[int]) -> None:
    problems = TASK.sample("train", 6, torch.Generator().manual_seed(seed))
    answer = TASK.init_answer(problems, torch.Generator().manual_seed(seed + 1))
    model = GineEnergy(GineEnergyConfig(hidden=16), TASK)
    bound = BoundEnergy(model, model.encode(problems.inputs), problems.row_problem, 6, "gine")
    subset = torch.tensor(sorted(chosen))
    restricted, rows = bound.restrict(subset)
    torch.testing.assert_close(restricted(answer[rows]), bound(answer)[subset])


def test_per_graph_halting_restricts_the_batch_to_running_graphs() -> None:
    """Graphs whose gradient is already small stop at step 0; the others keep descending."""

    def solver_with(tolerance: float):
        config = build_run_config(
            task="shortest_path",
            preset="quick",
            overrides=[
                "solver.energy.hidden=16",
                "solver.optimizer.name=gd",
                "solver.optimizer.halt=gradient",
                f"solver.optimizer.halt_tolerance={tolerance}",
            ],
        )
        task = build_task(config.task)
        return task, build_solver(config.solver, task, 0)

    task, solver = solver_with(0.0)
    problems = task.sample("train", 8, torch.Generator().manual_seed(0))
    y0 = task.init_answer(problems, torch.Generator().manual_seed(1)).requires_grad_(True)
    model = solver.energy_model
    bound = BoundEnergy(model, model.encode(problems.inputs), problems.row_problem, 8, "gine")
    _, gradient = energy_and_gradient(bound, y0, create_graph=False)
    norms = bound.per_problem((gradient**2).sum(-1)).sqrt().detach()
    tolerance = float(norms.median()) * 1.0001
    _, solver = solver_with(tolerance)
    steps_used = solver.solve(problems, y0.detach(), 3, record=True).steps_used
    assert torch.equal(steps_used == 0, norms < tolerance)
    assert bool((steps_used[norms >= tolerance] > 0).all())


def test_energy_model_rejects_non_graph_tasks_and_odd_widths() -> None:
    with pytest.raises(IremError, match="graph task"):
        GineEnergy(GineEnergyConfig(), AdditionTask(MatrixConfig(size=2)))
    with pytest.raises(ValueError, match="even"):
        GineEnergyConfig(hidden=15)


def test_min_energy_selection_is_per_graph() -> None:
    """Graphs of 2 and 3 nodes: each gets its own lowest-energy iterate, not the batch's."""
    layout = complete_graphs(torch.tensor([2, 3]), 3)
    answers = torch.arange(3.0)[:, None, None].expand(3, 13, 1)
    energy = torch.tensor([[3.0, 1.0], [1.0, 2.0], [2.0, float("nan")]])
    selected = select_min_energy(answers, energy, layout.edge_graph)
    assert selected.squeeze(-1).tolist() == [1.0] * 4 + [0.0] * 9
    energy[2, 1] = -5.0
    selected = select_min_energy(answers, energy, layout.edge_graph)
    assert selected.squeeze(-1).tolist() == [1.0] * 4 + [2.0] * 9


@pytest.mark.parametrize("self_pair_input", [False, True])
def test_only_the_self_pair_input_lets_the_energy_single_out_the_diagonal(
    self_pair_input: bool,
) -> None:
    """On an empty graph with a constant answer every edge looks alike to message passing,
    so without the flag the energy's gradient is the same on (i, i) as on (i, j)."""
    torch.manual_seed(0)
    model = GineEnergy(GineEnergyConfig(hidden=32, self_pair_input=self_pair_input), TASK).double()
    size = 5
    layout = complete_graphs(torch.tensor([size]), size)
    graphs = layout.graph_batch(layout.from_dense(torch.zeros(1, size, size, dtype=torch.float64)))
    answer = torch.full((size * size, 1), 0.3, dtype=torch.float64, requires_grad=True)
    (gradient,) = torch.autograd.grad(model(model.encode(graphs), answer).sum(), answer)
    diagonal = graphs.edge_index[0] == graphs.edge_index[1]
    gap = (gradient[diagonal].mean() - gradient[~diagonal].mean()).abs()
    assert (gap > 1e-6) == self_pair_input
    # the flag is a model input, not data: files and batches are unchanged
    assert graphs.edge_attr.shape == (size * size, 1)


def test_connected_components_fast_gives_every_solver_the_self_pair_input() -> None:
    for solver in ["irem", "feedforward", "recurrent", "iterative", "ponder", "programmatic"]:
        config = build_run_config(task="connected_components", solver=solver, preset="fast")
        options = (
            config.solver.options.energy.options if solver == "irem" else config.solver.options
        )
        assert options.self_pair_input and options.aggregation == "mean"
        built = build_solver(config.solver, build_task(config.task), seed=0)
        problems = build_task(config.task).sample("same", 2, torch.Generator().manual_seed(0))
        y0 = torch.zeros_like(problems.target)
        assert built.solve(problems, y0, 2).answer.shape == problems.target.shape
    shortest = build_run_config(task="shortest_path", preset="fast")
    assert not shortest.solver.options.energy.options.self_pair_input


@pytest.mark.parametrize("task", ["shortest_path", "connected_components", "edge_copy"])
def test_graph_fast_trains_a_silu_energy_with_the_matrices_replay_share(task: str) -> None:
    config = build_run_config(task=task, preset="fast")
    energy = config.solver.options.energy.options
    assert (energy.activation, energy.aggregation) == ("silu", "mean")
    assert (config.train.batch_size, config.train.replay_batch_size) == (512, 512)
    paper = build_run_config(task=task, preset="paper")
    assert paper.solver.options.energy.options.activation == "relu"
    assert paper.train.replay_batch_size == 32


def _training_loss_gradients(activation: str) -> dict[str, torch.Tensor | None]:
    """Parameter gradients of one IREM-style loss: the target's MSE after two descent steps
    (a double backward through ``energy_and_gradient``)."""
    torch.manual_seed(0)
    model = GineEnergy(
        GineEnergyConfig(hidden=16, aggregation="mean", activation=activation), TASK
    ).double()
    problems = TASK.sample("train", 4, torch.Generator().manual_seed(0))
    graphs = attr_double(problems.inputs)
    bound = BoundEnergy(model, model.encode(graphs), problems.row_problem, 4, "gine")
    answer = TASK.init_answer(problems, torch.Generator().manual_seed(1)).double()
    answer.requires_grad_(True)
    for _ in range(2):
        _, gradient = energy_and_gradient(bound, answer, create_graph=True)
        answer = answer - 10.0 * gradient
    loss = (answer - problems.target.double()).pow(2).mean()
    parameters = dict(model.named_parameters())
    grads = torch.autograd.grad(loss, list(parameters.values()), allow_unused=True)
    return dict(zip(parameters, grads))


def test_relu_energy_never_trains_its_input_embedding_and_silu_does() -> None:
    """With ReLU the answer's gradient is piecewise constant, so parameters that reach it
    only through the masks (the input embedding) get no gradient from the unrolled loss."""
    relu = _training_loss_gradients("relu")
    silu = _training_loss_gradients("silu")
    for name in ("input_embedding.weight", "input_embedding.bias"):
        assert relu[name] is None or float(relu[name].abs().max()) == 0.0
        assert silu[name] is not None and float(silu[name].abs().max()) > 0.0


@pytest.mark.parametrize("aggregation", ["sum", "mean", "max"])
def test_written_out_relu_convolutions_equal_gineconv(aggregation: str) -> None:
    """``_propagate`` (the SiLU forward and the explicit gradient's) is GINEConv for ReLU."""
    torch.manual_seed(0)
    model = GineEnergy(GineEnergyConfig(hidden=16, aggregation=aggregation), TASK).double()
    problems = TASK.sample("train", 5, torch.Generator().manual_seed(0))
    context = model.encode(attr_double(problems.inputs))
    answer = TASK.init_answer(problems, torch.Generator().manual_seed(1)).double()
    hidden = context.nodes
    for convolution, offset, slope in zip(
        model.convolutions, context.edge_offsets, context.edge_slopes
    ):
        hidden = convolution(hidden, context.graphs.edge_index, offset + answer * slope)
    torch.testing.assert_close(model._propagate(context, answer)[0], hidden)


def test_silu_energy_keeps_the_parameter_count_and_descends() -> None:
    model = GineEnergy(GineEnergyConfig(activation="silu"), TASK)
    assert sum(parameter.numel() for parameter in model.parameters()) == 83_330
    problems = TASK.sample("same", 3, torch.Generator().manual_seed(0))
    bound = BoundEnergy(model, model.encode(problems.inputs), problems.row_problem, 3, "gine")
    answer = TASK.init_answer(problems, torch.Generator().manual_seed(1)).requires_grad_(True)
    before, gradient = energy_and_gradient(bound, answer, create_graph=False)
    after, _ = energy_and_gradient(
        bound, (answer - 1e-3 * gradient).detach().requires_grad_(True), create_graph=False
    )
    assert bool((after <= before).all())
