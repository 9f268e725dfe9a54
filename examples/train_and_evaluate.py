"""Train any solver on any task from Python, then evaluate it on the same and harder splits.

    python examples/train_and_evaluate.py --task inverse --solver irem --out runs/inverse
    python examples/train_and_evaluate.py --task shortest_path --solver recurrent --out runs/sp

Prints the MSE at every step budget of ``eval.steps`` and at each problem's minimum-energy
answer, and writes them to ``OUT/evaluation.json``. ``IREM_SMOKE=1`` shrinks the run to
seconds (used by the tests).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch

import irem_core as irem

SMOKE = os.environ.get("IREM_SMOKE") == "1"
SMOKE_OVERRIDES = [
    "train.iterations=3",
    "train.batch_size=16",
    "train.replay_batch_size=16",
    "train.eval_every=0",
    "eval.problems=32",
    "eval.steps=[5,10]",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="addition", help="any registered task (irem plugins)")
    parser.add_argument("--solver", default="irem", help="any registered solver")
    parser.add_argument("--preset", default="quick", help="the task's preset: quick or paper")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override, e.g. train.iterations=200",
    )
    parser.add_argument("--out", type=Path, default=Path("runs/train_and_evaluate"))
    args = parser.parse_args()

    config = irem.build_run_config(
        task=args.task,
        solver=args.solver,
        preset=args.preset,
        overrides=(SMOKE_OVERRIDES if SMOKE else []) + args.overrides,
    )
    summary = irem.train(config, args.out, force=True, progress=not SMOKE)
    print(
        f"trained {args.solver} on {args.task}: {summary.iterations} iterations in "
        f"{summary.wall_seconds:.0f} s, final loss {summary.final_loss:.4g}"
    )

    run = irem.load_run(args.out)
    report = {}
    for split in ("same", "harder"):
        generator = torch.Generator(run.device).manual_seed(1234)
        problems = run.task.sample(split, run.config.eval.problems, generator)
        result = irem.evaluate(
            run.solver,
            run.task,
            problems,
            run.config.eval.steps,
            generator,
            run.config.eval.batch_size,
        )
        report[split] = {
            "mse": result.mse,
            "zero_predictor": result.zero_predictor,
            "metrics": result.metrics,
        }
        print(
            f"{split:>6}: "
            + ", ".join(f"MSE@{key} {value:.5f}" for key, value in result.mse.items())
            + f" (zero predictor {result.zero_predictor:.5f})"
        )
    (args.out / "evaluation.json").write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out / 'evaluation.json'}")


if __name__ == "__main__":
    main()
