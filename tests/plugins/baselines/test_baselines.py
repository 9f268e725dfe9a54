"""Baseline solvers: they learn on vector and graph tasks, record trajectories, and PonderNet
halts by a proper distribution."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from irem_core.config.compose import build_run_config
from irem_core.errors import IremError
from irem_core.reasoning.protocols import Problems, Solver
from irem_core.runs.build import build_solver, build_task
from irem_core.runs.evaluation import evaluate
from irem_core.runs.load import load_run
from irem_core.training.loop import train
from irem_plugins.baselines.halting import (
    geometric_log_prior,
    halting_log_distribution,
    halting_step,
    kl_to_prior,
)

BASELINES = ["feedforward", "recurrent", "iterative", "ponder", "programmatic"]
TASKS = {
    "vector": ("addition", ["task.size=3"]),
    "graph": (
        "shortest_path",
        ["task.max_train_nodes=4", "task.same_nodes=4", "task.harder_nodes=5"],
    ),
}


def tiny(solver: str, domain: str, *extra: str):
    """A tiny run config of ``solver`` on the ``domain`` task (hidden width 16)."""
    task, overrides = TASKS[domain]
    return build_run_config(
        task=task, solver=solver, preset="quick", overrides=[*overrides, "solver.hidden=16", *extra]
    )


def fixed_batch(
    solver_name: str, domain: str, count: int = 12
) -> tuple[Solver, object, Problems, torch.Tensor]:
    """A tiny solver, its task, a fixed batch of training problems and their starts."""
    config = tiny(solver_name, domain)
    task = build_task(config.task)
    solver = build_solver(config.solver, task, seed=0)
    generator = torch.Generator().manual_seed(0)
    problems = task.sample("train", count, generator)
    return solver, task, problems, task.init_answer(problems, generator)


def adam_losses(solver: Solver, problems: Problems, y0: torch.Tensor) -> list[float]:
    """Training losses of 10 Adam steps (lr 1e-2, 3 solver steps) on one fixed batch."""
    optimizer = torch.optim.Adam(solver.parameters(), lr=1e-2)
    losses = []
    for _ in range(10):
        loss = solver.training_loss(problems, solver.solve(problems, y0, 3, differentiable=True))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses


@pytest.mark.parametrize("domain", sorted(TASKS))
@pytest.mark.parametrize("name", BASELINES)
def test_loss_goes_down_on_a_fixed_batch(name: str, domain: str) -> None:
    solver, _, problems, y0 = fixed_batch(name, domain)
    losses = adam_losses(solver, problems, y0)
    assert all(map(torch.isfinite, torch.tensor(losses)))
    assert losses[-1] < 0.9 * losses[0], losses


@pytest.mark.parametrize("domain", sorted(TASKS))
@pytest.mark.parametrize("name", BASELINES)
def test_recorded_trajectory_has_every_step(name: str, domain: str) -> None:
    solver, task, problems, y0 = fixed_batch(name, domain, count=5)
    with torch.no_grad():
        trajectory = solver.solve(problems, y0, 4, record=True)
    rows = problems.target.shape[0]
    assert trajectory.answers.shape == (5, rows, task.answer_features)
    assert trajectory.answer.shape == (rows, task.answer_features)
    assert trajectory.energies is None and not trajectory.answer.requires_grad
    assert trajectory.steps_used.shape == (problems.num_problems,)
    assert ((trajectory.steps_used >= 1) & (trajectory.steps_used <= 4)).all()
    chosen = trajectory.answers[trajectory.steps_used[problems.row_problem], torch.arange(rows)]
    assert torch.equal(chosen, trajectory.answer)
    if name == "feedforward":
        assert torch.equal(trajectory.answers[0], trajectory.answers[-1])
    if name == "iterative":
        assert torch.equal(trajectory.answers[0], y0)
    if name != "feedforward":
        assert torch.equal(trajectory.answers[-1], trajectory.answer)


def test_ponder_answers_stay_frozen_after_halting() -> None:
    solver, _, problems, y0 = fixed_batch("ponder", "vector", count=64)
    with torch.no_grad():
        trajectory = solver.solve(problems, y0, 6, record=True)
        for budget in range(1, 7):
            shorter = solver.solve(problems, y0, budget)
            torch.testing.assert_close(trajectory.answers[budget], shorter.answer)


@pytest.mark.parametrize("name", BASELINES)
def test_trains_checkpoints_and_evaluates_through_the_core(
    name: str, tmp_path: Path, tiny_overrides: list[str]
) -> None:
    overrides = [item for item in tiny_overrides if not item.startswith("solver.")]
    config = build_run_config(
        task="addition",
        solver=name,
        preset="quick",
        overrides=overrides + ["solver.hidden=16", "train.iterations=3"],
    )
    summary = train(config, tmp_path / "run", progress=False)
    assert summary.iterations == 3
    run = load_run(tmp_path / "run")
    generator = torch.Generator().manual_seed(1)
    problems = run.task.sample("harder", 6, generator)
    result = evaluate(run.solver, run.task, problems, [2, 5], generator, batch_size=4)
    assert set(result.mse) == {"2", "5", "min_energy"} and len(result.curve) == 6
    assert result.nonfinite_problems == 0


def test_iterative_trains_with_graph_replay(tmp_path: Path) -> None:
    config = tiny(
        "iterative",
        "graph",
        "train.iterations=2",
        "train.batch_size=6",
        "train.replay_batch_size=3",
        "train.replay_capacity=16",
        "train.steps=2",
        "train.eval_every=0",
    )
    assert train(config, tmp_path / "run", progress=False).iterations == 2


@given(
    steps=st.integers(1, 12),
    problems=st.integers(1, 4),
    scale=st.floats(0.1, 40.0),
    seed=st.integers(0, 2**16),
)
def test_halting_distribution_sums_to_one_per_problem(
    steps: int, problems: int, scale: float, seed: int
) -> None:
    logits = torch.randn(steps, problems, generator=torch.Generator().manual_seed(seed)) * scale
    log_p = halting_log_distribution(logits)
    assert log_p.shape == (steps, problems)
    torch.testing.assert_close(log_p.exp().sum(dim=0), torch.ones(problems))
    log_q = geometric_log_prior(steps, 1.0 / steps, log_p)
    torch.testing.assert_close(log_q.exp().sum(), torch.tensor(1.0))
    assert (kl_to_prior(log_p, log_q) > -1e-5).all()
    halt = halting_step(log_p, 0.5)
    assert ((halt >= 1) & (halt <= steps)).all()


def test_halting_step_is_the_median_and_the_last_step_absorbs_the_rest() -> None:
    logits = torch.logit(torch.tensor([[0.2], [0.5], [0.9]]))
    probabilities = halting_log_distribution(logits).exp().squeeze(-1)
    torch.testing.assert_close(probabilities, torch.tensor([0.2, 0.4, 0.4]))
    assert halting_step(halting_log_distribution(logits), 0.5).tolist() == [2]
    assert halting_step(halting_log_distribution(logits), 0.1).tolist() == [1]


def test_ponder_halts_within_its_training_horizon() -> None:
    solver, _, problems, y0 = fixed_batch("ponder", "vector", count=8)
    solver.solve(problems, y0, 3, differentiable=True)
    assert int(solver.horizon) == 3
    with torch.no_grad():
        trajectory = solver.solve(problems, y0, 7, record=True)
    assert trajectory.answers.shape[0] == 8 and (trajectory.steps_used <= 3).all()
    assert all(torch.equal(answers, trajectory.answer) for answers in trajectory.answers[3:])
    assert "horizon" in solver.state_dict()


def test_ponder_halts_per_graph() -> None:
    solver, _, problems, y0 = fixed_batch("ponder", "graph", count=4)
    trajectory = solver.solve(problems, y0, 3, differentiable=True)
    log_p = trajectory.extras["log_halting"]
    assert log_p.shape == (3, problems.num_problems)
    torch.testing.assert_close(log_p.exp().sum(dim=0), torch.ones(problems.num_problems))


def test_a_solver_says_which_domains_it_serves() -> None:
    class SequenceTask:
        domain = "sequence"
        answer_features = 4

    config = tiny("recurrent", "vector")
    with pytest.raises(
        IremError, match="'vector' and 'graph' tasks; task SequenceTask is a 'sequence'"
    ):
        build_solver(config.solver, SequenceTask(), seed=0)


def test_vector_baselines_never_touch_the_graph_module(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "irem_plugins.baselines.graph", None)  # importing it fails
    for name in BASELINES:
        config = tiny(name, "vector")
        build_solver(config.solver, build_task(config.task), seed=0)
    with pytest.raises(ImportError):
        config = tiny("feedforward", "graph")
        build_solver(config.solver, build_task(config.task), seed=0)


@pytest.mark.parametrize("name", BASELINES)
def test_graph_baselines_aggregate_messages_as_configured(name: str) -> None:
    """The ``fast`` graph preset gives every baseline IREM's mean aggregation; its option
    reaches every message-passing layer."""
    config = build_run_config(task="shortest_path", solver=name, preset="fast")
    assert config.solver.options.aggregation == "mean"
    solver = build_solver(config.solver, build_task(config.task), seed=0)
    layers = [module for module in solver.modules() if type(module).__name__ == "GINEConv"]
    assert layers and {layer.aggr for layer in layers} == {"mean"}
    paper = build_run_config(task="shortest_path", solver=name, preset="paper")
    assert paper.solver.options.aggregation == "sum"


@given(
    nodes=st.lists(st.integers(1, 5), min_size=1, max_size=4),
    edge_width=st.sampled_from([0, 3]),
    seed=st.integers(0, 2**16),
)
def test_edge_decoder_is_the_linear_map_of_the_concatenated_features(
    nodes: list[int], edge_width: int, seed: int
) -> None:
    """Decoding per node and gathering equals ``Linear([h_i, h_j, e_ij])`` edge by edge."""
    from irem_core.reasoning.graphs import complete_graphs
    from irem_plugins.baselines.graph import EdgeDecoder

    torch.manual_seed(seed)
    hidden = 4
    decoder = EdgeDecoder(hidden, 2, edge_features=edge_width)
    layout = complete_graphs(torch.tensor(nodes), max(nodes))
    states = torch.randn(sum(nodes), hidden)
    source, target = layout.edge_index
    edge_features = torch.randn(source.shape[0], edge_width) if edge_width else None
    concatenated = [states[source], states[target]] + ([edge_features] if edge_width else [])
    expected = decoder.linear(torch.cat(concatenated, dim=-1))
    torch.testing.assert_close(decoder(states, layout.edge_index, edge_features), expected)


def test_iterative_reads_paths_through_third_nodes_on_graphs_only() -> None:
    """``triangle`` feeds :class:`ThirdNodeMax` into the decoder (the graph network gains its
    parameters, the per-edge update still learns); a vector task refuses the option."""
    task_config = tiny("iterative", "graph", "solver.triangle=4")
    task = build_task(task_config.task)
    solver = build_solver(task_config.solver, task, seed=0)
    plain = build_solver(tiny("iterative", "graph").solver, task, seed=0)
    added = 16 * 3 * 4 + 3 * 4 + 4  # U, V, W and their biases; the decoder's 4 more inputs
    count = sum(parameter.numel() for parameter in solver.parameters())
    assert count == sum(parameter.numel() for parameter in plain.parameters()) + added
    generator = torch.Generator().manual_seed(0)
    problems = task.sample("train", 12, generator)
    losses = adam_losses(solver, problems, task.init_answer(problems, generator))
    assert losses[-1] < 0.9 * losses[0], losses
    vector = tiny("iterative", "vector", "solver.triangle=4")
    with pytest.raises(IremError, match="graph option"):
        build_solver(vector.solver, build_task(vector.task), seed=0)
