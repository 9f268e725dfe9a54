"""Speed benchmarks: training throughput, FLOP/s against the matmul peak, solving with and
without halting, problem generation and peak memory. Prints one table.

    python -m benchmarks.speed.run [--quick] [--json] [--tasks addition,inverse,shortest_path]

Every ratio compares numbers measured in this same run on this same machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from benchmarks.speed.flops import training_iteration_flops
from benchmarks.speed.reference import ReferenceLoop
from irem_core.config.compose import build_run_config
from irem_core.plugins.manager import load_plugins
from irem_core.runs.evaluation import evaluate
from irem_core.training.loop import Trainer, train
from irem_core.training.precision import native_bf16
from irem_core.training.rundir import prepare_directory


def timed(function: Callable[[], Any], repeats: int, warmup: int = 1) -> float:
    """Median seconds of ``function()`` over ``repeats`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def interleaved(
    variants: dict[str, Callable[[], Any]],
    repeats: int,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, float]:
    """Median seconds of each variant, called in turn (A, B, ..., A, B, ...) ``repeats`` times
    after one warm-up call each, so that a busy machine slows every variant alike.

    ``clock`` is wall time by default; ``time.process_time`` (this process's CPU time)
    ignores the time a shared machine takes the CPU away, which is right for one thread.
    """
    for function in variants.values():
        function()
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, function in variants.items():
            started = clock()
            function()
            times[name].append(clock() - started)
    return {name: statistics.median(values) for name, values in times.items()}


PEAK_SIZE = 2048
"""Side of the square float32 ``torch.mm`` whose FLOP/s is the machine's dense matmul peak."""


def matmul_peak(repeats: int = 5) -> float:
    """FLOP/s of a ``PEAK_SIZE``² float32 ``torch.mm``: the machine's dense matmul peak."""
    a, b = torch.randn(PEAK_SIZE, PEAK_SIZE), torch.randn(PEAK_SIZE, PEAK_SIZE)
    return 2 * PEAK_SIZE**3 / timed(lambda: torch.mm(a, b), repeats)


def trainer_for(task: str, overrides: list[str], directory: Path) -> Trainer:
    """A paper-preset trainer whose replay buffer already holds a batch; fp32 unless
    ``overrides`` set ``train.precision`` (figures stay comparable across machines)."""
    config = build_run_config(
        task=task,
        preset="paper",
        overrides=["train.precision=fp32", *overrides, "train.eval_every=0"],
    )
    plugins = load_plugins()
    prepare_directory(directory, resume=False, force=True, plugins=plugins)
    trainer = Trainer(config, directory, plugins=plugins)
    trainer.step()
    return trainer


def bench_training(task: str, repeats: int, scratch: Path, precision: str) -> dict[str, Any]:
    """Seconds per training iteration, problems/s and generation share at paper shapes,
    training at ``train.precision = precision``.

    For vector tasks the iteration, the reference loop and the peak matmul are timed
    interleaved, and the FLOP/s share is of the peak measured alongside; with one torch
    thread in process CPU time (time a busy machine takes away is not counted), with more in
    wall time (process CPU time would add up the threads).
    """
    trainer = trainer_for(task, [f"train.precision={precision}"], scratch / f"{task}-{precision}")
    settings = trainer.config.train
    problems = settings.batch_size + settings.replay_batch_size
    result: dict[str, Any] = {"task": task, "precision": precision}
    if trainer.task.domain == "vector":
        options = trainer.config.solver.options.energy.options
        flops = training_iteration_flops(
            problems,
            trainer.task.input_features,
            trainer.task.answer_features,
            options.hidden,
            options.layers,
            settings.steps,
        )
        reference = ReferenceLoop(
            trainer.task.input_features,
            trainer.task.answer_features,
            lambda count, generator: trainer.task.draw("train", count, generator),
            batch_size=settings.batch_size,
            steps=settings.steps,
        )
        a, b = torch.randn(PEAK_SIZE, PEAK_SIZE), torch.randn(PEAK_SIZE, PEAK_SIZE)
        medians = interleaved(
            {"irem": trainer.step, "reference": reference.step, "peak": lambda: torch.mm(a, b)},
            repeats,
            clock=time.process_time if torch.get_num_threads() == 1 else time.perf_counter,
        )
        seconds = medians["irem"]
        peak = 2 * PEAK_SIZE**3 / medians["peak"]
        result.update(
            flops_per_iteration=flops,
            flops_per_second=flops / seconds,
            peak_flops_alongside=peak,
            peak_share=flops / seconds / peak,
            reference_seconds_per_iteration=medians["reference"],
            speedup_vs_reference=medians["reference"] / seconds,
        )
    else:
        seconds = timed(trainer.step, repeats)
    generation = timed(
        lambda: trainer.task.init_answer(
            trainer.task.sample("train", settings.batch_size, trainer.local_shards[0].generator),
            trainer.local_shards[0].generator,
        ),
        repeats,
    )
    result.update(
        seconds_per_iteration=seconds,
        problems_per_second=problems / seconds,
        generation_seconds=generation,
        generation_share=generation / seconds,
    )
    return result


def bench_solving(iterations: int, problems: int, scratch: Path) -> dict[str, Any]:
    """Problems/s solving addition at 80 steps, fixed budget against per-problem halting."""
    directory = scratch / "solve"
    config = build_run_config(
        task="addition",
        preset="quick",
        overrides=[f"train.iterations={iterations}", "train.eval_every=0"],
    )
    train(config, directory, force=True, progress=False)
    from irem_core.runs.load import load_run

    results = {}
    for mode, overrides in (
        ("fixed", []),
        ("halting", ["solver.optimizer.halt='energy'", "solver.optimizer.halt_tolerance=1e-5"]),
    ):
        run = load_run(directory, overrides=overrides)
        data = run.task.sample("same", problems, torch.Generator().manual_seed(0))
        started = time.perf_counter()
        result = evaluate(
            run.solver, run.task, data, [80], torch.Generator().manual_seed(1), problems
        )
        seconds = time.perf_counter() - started
        results[mode] = {
            "problems_per_second": problems / seconds,
            "min_energy_mse": result.mse["min_energy"],
            "mean_steps": result.steps_used["mean"],
            "energy_evaluations": result.energy_evaluations,
        }
    results["speedup"] = (
        results["halting"]["problems_per_second"] / results["fixed"]["problems_per_second"]
    )
    return results


MEMORY_PROBE = """
import resource, sys, tempfile, torch
from pathlib import Path
from benchmarks.speed.run import trainer_for
torch.set_num_threads(1)
full = sys.argv[1] == "full"
trainer = trainer_for("addition", ["solver.optimizer.full_backprop=" + ("true" if full else "false")],
                      Path(tempfile.mkdtemp()))
trainer.step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def bench_memory() -> dict[str, float]:
    """Peak resident memory (MiB) of addition training at paper shapes, truncated vs full."""
    peaks = {}
    for mode in ("truncated", "full"):
        output = subprocess.run(
            [sys.executable, "-c", MEMORY_PROBE, mode],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parents[2],
        )
        peaks[mode] = int(output.stdout.split()[-1]) / 1024
    return peaks


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, a shorter solve model")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--tasks", default="addition,inverse,shortest_path")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else 10
    scratch = Path(tempfile.mkdtemp(prefix="irem-bench-"))
    report: dict[str, Any] = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "native_bf16": native_bf16(torch.device("cpu")),
        },
        "matmul_peak_flops": matmul_peak(),
        "training": [
            bench_training(task, repeats, scratch, precision)
            for task in args.tasks.split(",")
            for precision in ("fp32", "bf16")
            if precision == "fp32" or native_bf16(torch.device("cpu"))
        ],
        "solving": bench_solving(300 if args.quick else 1000, 1000, scratch),
        "peak_memory_mib": bench_memory(),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    peak = report["matmul_peak_flops"]
    print(f"machine: {report['machine']}")
    print(
        f"dense matmul peak: {peak / 1e9:.1f} GFLOP/s (2048² float32 torch.mm); '% peak' is of the "
        "peak timed interleaved with that task's iterations\n"
    )
    print(
        f"{'task':<15}{'prec':>5}{'s/iter':>9}{'problems/s':>12}{'gen share':>11}{'GFLOP/s':>9}"
        f"{'% peak':>8}{'ref s/iter':>11}{'vs ref':>8}"
    )
    for row in report["training"]:
        flops = row.get("flops_per_second")
        print(
            f"{row['task']:<15}{row['precision']:>5}{row['seconds_per_iteration']:>9.3f}{row['problems_per_second']:>12.0f}"
            f"{row['generation_share']:>10.1%} "
            + (
                f"{flops / 1e9:>8.1f}{row['peak_share']:>8.0%}"
                f"{row['reference_seconds_per_iteration']:>11.3f}"
                f"{row['speedup_vs_reference']:>7.2f}x"
                if flops
                else f"{'-':>8}{'-':>8}{'-':>11}{'-':>8}"
            )
        )
    solving = report["solving"]
    print("\nsolving 1000 addition problems, 80-step budget:")
    for mode in ("fixed", "halting"):
        row = solving[mode]
        print(
            f"  {mode:<8} {row['problems_per_second']:>8.0f} problems/s, min-energy MSE "
            f"{row['min_energy_mse']:.6f}, mean steps {row['mean_steps']:.1f}, "
            f"energy evaluations {row['energy_evaluations']}"
        )
    print(f"  halting speed-up: {solving['speedup']:.2f}x")
    memory = report["peak_memory_mib"]
    print(
        f"\npeak memory, addition training at paper shapes: truncated {memory['truncated']:.0f} MiB, "
        f"full backprop {memory['full']:.0f} MiB"
    )


if __name__ == "__main__":
    main()
