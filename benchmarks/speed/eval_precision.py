"""Evaluation under fp32 and bf16: seconds and errors of one trained run, interleaved.

    python -m benchmarks.speed.eval_precision RUN [--split same] [-n 1000] [--steps 80]
        [--repeats 2]

Loads ``RUN``, draws ``n`` problems of the split (as ``irem eval --seed 0`` draws them) and
evaluates it ``repeats`` times under each precision, alternating (fp32, bf16, fp32, ...),
one torch thread; prints seconds and the MSE at the budget and at the min-energy answer.
Needs a CPU or GPU that multiplies bf16 natively.
"""

from __future__ import annotations

import argparse
import time

import torch

from irem_core.runs.evaluation import evaluate
from irem_core.runs.load import load_run
from irem_core.seeding import generator as seeded_generator
from irem_core.training.precision import autocast


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--split", default="same")
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=80)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    run = load_run(args.run, None, [], "last")
    seed = seeded_generator(0, f"problems:{args.split}", run.device)
    problems = run.task.sample(args.split, args.n, seed)
    for precision in ["fp32", "bf16"] * args.repeats:
        started = time.perf_counter()
        with autocast(precision, run.device):
            result = evaluate(
                run.solver,
                run.task,
                problems,
                [args.steps],
                seeded_generator(0, f"starts:{args.split}", run.device),
                run.config.eval.batch_size,
            )
        mse = ", ".join(f"{key} {value:.6g}" for key, value in result.mse.items())
        print(f"{args.run} {args.split} {precision}: {time.perf_counter() - started:.1f} s, {mse}")


if __name__ == "__main__":
    main()
