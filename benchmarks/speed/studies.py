"""The performance studies of the "Performance" issue: torch.compile, bf16 autocast, threads.

    python -m benchmarks.speed.studies compile [--repeats N]
    python -m benchmarks.speed.studies bf16 --run DIR [--repeats N]
    python -m benchmarks.speed.studies threads [--repeats N]

Every speed figure is a ratio of variants timed in this process, interleaved (variant A,
variant B, A, B, ...) and summarised by the median, so a busy machine slows both alike.
Run with ``OMP_NUM_THREADS=1``; only ``threads`` changes the thread count.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from benchmarks.speed.run import interleaved, trainer_for
from irem_core.reasoning.energy import BoundEnergy, energy_and_gradient
from irem_core.runs.load import load_run


def show(title: str, seconds: dict[str, float], baseline: str) -> None:
    """Print median times and speed-ups over ``baseline`` as a markdown table."""
    print(f"\n{title}\n\n| variant | median ms | speed vs {baseline} |\n|---|---|---|")
    for name, value in seconds.items():
        print(f"| {name} | {value * 1e3:.1f} | {seconds[baseline] / value:.2f}× |")


def matrix_batch(trainer: Any, rows: int) -> tuple[Any, Tensor]:
    """``rows`` training problems of the trainer's task and their starts ``(rows, F)``."""
    generator = torch.Generator().manual_seed(0)
    problems = trainer.task.sample("train", rows, generator)
    return problems, trainer.task.init_answer(problems, generator)


def study_compile(repeats: int) -> None:
    """torch.compile on the matrix energy: forward only, forward + gradient, a training
    solve with compiled non-differentiated steps, and double backward (fails)."""
    trainer = trainer_for("addition", [], Path(tempfile.mkdtemp(prefix="irem-study-")))
    model = trainer.solver.energy_model
    compiled = torch.compile(model)
    problems, y0 = matrix_batch(trainer, 1024)
    with torch.no_grad():
        context = model.encode(problems.inputs)
    bound = {
        name: BoundEnergy(module, context, problems.row_problem, problems.num_problems, "mlp")
        for name, module in (("eager", model), ("compiled", compiled))
    }

    def forward(name: str) -> Callable[[], Tensor]:
        def run() -> Tensor:
            with torch.no_grad():
                return bound[name](y0)

        return run

    def gradient(name: str) -> Callable[[], Tensor]:
        return lambda: energy_and_gradient(
            bound[name], y0.detach().requires_grad_(True), create_graph=False
        )[1]

    difference = (gradient("eager")() - gradient("compiled")()).abs().max().item()
    show(
        "Energy forward, 1024 rows, no grad (eval-only evaluation)",
        interleaved({"eager": forward("eager"), "compiled": forward("compiled")}, repeats),
        "eager",
    )
    show(
        f"Energy + input gradient, 1024 rows, no create_graph (max |Δ gradient| = {difference:.2e})",
        interleaved({"eager": gradient("eager"), "compiled": gradient("compiled")}, repeats),
        "eager",
    )

    optimizer = trainer.solver.optimizer
    steps = trainer.config.train.steps

    def solve_and_backward(name: str) -> Callable[[], None]:
        def run() -> None:
            encoded = model.encode(problems.inputs)
            undifferentiated = BoundEnergy(
                model if name == "eager" else compiled,
                encoded,
                problems.row_problem,
                problems.num_problems,
                "mlp",
            )
            differentiated = BoundEnergy(
                model, encoded, problems.row_problem, problems.num_problems, "mlp"
            )
            trajectory = optimizer.run(
                undifferentiated, y0, steps, differentiable_energy=differentiated
            )
            torch.nn.functional.mse_loss(trajectory.answer, problems.target).backward()

        return run

    show(
        f"Training solve ({steps} steps) + backward, 1024 rows: steps 1..{steps - 1} through the "
        "compiled energy, the differentiated last step eager",
        interleaved(
            {"eager": solve_and_backward("eager"), "compiled": solve_and_backward("compiled")},
            repeats,
        ),
        "eager",
    )
    double_backward(bound["compiled"], y0, "after the no-create_graph calls above")
    torch._dynamo.reset()
    fresh = BoundEnergy(
        torch.compile(model), context, problems.row_problem, problems.num_problems, "mlp"
    )
    double_backward(fresh, y0, "freshly compiled")
    torch._dynamo.reset()
    torch._functorch.config.donated_buffer = False
    fresh = BoundEnergy(
        torch.compile(model), context, problems.row_problem, problems.num_problems, "mlp"
    )
    double_backward(fresh, y0, "freshly compiled, torch._functorch.config.donated_buffer = False")


def double_backward(energy: BoundEnergy, y0: Tensor, label: str) -> None:
    """Try the training step's last-step pattern (gradient with create_graph, then backward)
    through a compiled energy and print what happens."""
    answer = y0.detach().requires_grad_(True)
    try:
        _, gradient = energy_and_gradient(energy, answer, create_graph=True)
        (answer - gradient).pow(2).mean().backward()
        print(f"\nDouble backward through the compiled energy ({label}): works")
    except RuntimeError as error:
        print(f"\nDouble backward through the compiled energy ({label}): RuntimeError: {error}")


def study_bf16(run: Path, repeats: int) -> None:
    """bf16 autocast: accuracy and speed of solving with a trained model, and the speed of
    a paper-shape training iteration."""
    trained = load_run(run)
    problems = trained.task.sample("same", 1000, torch.Generator().manual_seed(0))
    y0 = trained.task.init_answer(problems, torch.Generator().manual_seed(1))
    steps = 80

    def solve(bf16: bool) -> Callable[[], Tensor]:
        def run_solve() -> Tensor:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                return trained.solver.solve(problems, y0, steps).answer.float()

        return run_solve

    answers = {name: solve(name == "bf16")() for name in ("fp32", "bf16")}
    print(f"\nSolving 1,000 'same' problems of {run} ({steps} steps, identical starts):\n")
    print("| variant | MSE to target |\n|---|---|")
    for name, answer in answers.items():
        print(f"| {name} | {torch.nn.functional.mse_loss(answer, problems.target).item():.6f} |")
    print(
        f"\nmax |answer_bf16 − answer_fp32| = {(answers['bf16'] - answers['fp32']).abs().max():.4f}, "
        f"mean = {(answers['bf16'] - answers['fp32']).abs().mean():.4f}"
    )
    show("Solve speed", interleaved({"fp32": solve(False), "bf16": solve(True)}, repeats), "fp32")
    trainer = trainer_for("addition", [], Path(tempfile.mkdtemp(prefix="irem-study-")))

    def step(bf16: bool) -> Callable[[], Any]:
        def run_step() -> Any:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                return trainer.step()

        return run_step

    show(
        "Paper-shape addition training iteration (1024 rows, 10 steps)",
        interleaved({"fp32": step(False), "bf16": step(True)}, repeats),
        "fp32",
    )


def study_threads(repeats: int) -> None:
    """One against two torch threads for the training iterations of every benchmark task."""
    for task in ("addition", "inverse", "shortest_path"):
        trainer = trainer_for(task, [], Path(tempfile.mkdtemp(prefix="irem-study-")))

        def step(threads: int, trainer: Any = trainer) -> Callable[[], Any]:
            def run_step() -> Any:
                torch.set_num_threads(threads)
                return trainer.step()

            return run_step

        show(
            f"{task} training iteration at paper shapes",
            interleaved({"1 thread": step(1), "2 threads": step(2)}, repeats),
            "1 thread",
        )
    torch.set_num_threads(1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", choices=("compile", "bf16", "threads"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--run", type=Path, help="a trained addition run (bf16 study)")
    args = parser.parse_args(argv)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    if args.study == "compile":
        study_compile(args.repeats)
    elif args.study == "bf16":
        if args.run is None:
            parser.error("the bf16 study needs --run DIR (a trained addition run)")
        study_bf16(args.run, args.repeats)
    else:
        study_threads(args.repeats)


if __name__ == "__main__":
    main()
