"""Solve your own matrices with a trained model: add pairs of 3×3 matrices you choose.

    python examples/solve_your_own.py --run runs/add3       # a run trained on addition
    python examples/solve_your_own.py --matrices mine.safetensors

``--matrices`` holds tensors ``A`` and ``B`` of shape ``(N, n, n)`` with the run's ``n``; by
default two hand-written pairs are solved (for a 3×3 model; for another size, two seeded
random pairs of that size, e.g. ``--run models/addition`` for the shipped 20×20 model).
Without ``--run`` a small 3×3 addition model is trained first into ``OUT`` (a few CPU
minutes; seconds with ``IREM_SMOKE=1``). The answers are written to
``OUT/answers.safetensors``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

import irem_core as irem

SMOKE = os.environ.get("IREM_SMOKE") == "1"


def trained_run(run: Path | None, out: Path) -> irem.TrainedRun:
    """The run in ``run``, or a small 3×3 addition model trained into ``out``."""
    if run is None:
        shrink = [
            "train.iterations=3",
            "train.batch_size=16",
            "train.replay_batch_size=16",
            "train.eval_every=0",
        ]
        config = irem.build_run_config(
            task="addition", preset="quick", overrides=["task.size=3"] + (shrink if SMOKE else [])
        )
        irem.train(config, out, force=True, progress=not SMOKE)
        run = out
    return irem.load_run(run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="run directory of a model trained on addition")
    parser.add_argument("--matrices", type=Path, help="safetensors file with A and B, (N, n, n)")
    parser.add_argument("--steps", type=int, default=80, help="optimisation steps (default: 80)")
    parser.add_argument("--out", type=Path, default=Path("runs/solve_your_own"))
    args = parser.parse_args()
    run = trained_run(args.run, args.out)
    size = round(run.task.answer_features**0.5)
    if args.matrices:
        tensors = load_file(args.matrices)
        left, right = tensors["A"].float(), tensors["B"].float()
        if left.shape[1:] != (size, size) or right.shape != left.shape:
            parser.error(
                f"A and B must both be (N, {size}, {size}) for this {size}x{size} model; "
                f"got {tuple(left.shape)} and {tuple(right.shape)}"
            )
    elif size == 3:
        left = torch.tensor(
            [
                [[0.5, -0.2, 0.1], [0.0, 0.3, -0.4], [0.2, 0.2, 0.2]],
                [[-0.9, 0.0, 0.0], [0.0, -0.9, 0.0], [0.0, 0.0, -0.9]],
            ]
        )
        right = torch.tensor(
            [
                [[0.1, 0.1, 0.1], [0.4, -0.3, 0.0], [-0.5, 0.0, 0.5]],
                [[0.5, 0.0, 0.0], [0.0, 0.5, 0.0], [0.0, 0.0, 0.5]],
            ]
        )
    else:
        pairs = torch.rand(2, 2, size, size, generator=irem.seeded_generator(0, "example")) * 2 - 1
        left, right = pairs[:, 0], pairs[:, 1]
    inputs = torch.cat([left.flatten(1), right.flatten(1)], dim=1).to(run.device)
    unknown = inputs.new_zeros(inputs.shape[0], run.task.answer_features)  # targets are not used
    problems = run.task.from_tensors({"x": inputs, "y": unknown})
    answers = irem.solve(run, problems, args.steps)

    for index, (answer, exact) in enumerate(zip(answers.view(-1, size, size).cpu(), left + right)):
        print(
            f"pair {index}: IREM's A + B (max error {float((answer - exact).abs().max()):.3f}; "
            f"top-left {min(size, 6)}x{min(size, 6)} shown)"
        )
        print(
            "\n".join(
                "  " + " ".join(f"{value:+.3f}" for value in row[:6]) for row in answer[:6].tolist()
            )
        )
    args.out.mkdir(parents=True, exist_ok=True)
    save_file(
        {"answers": answers.view(-1, size, size).cpu().contiguous()},
        str(args.out / "answers.safetensors"),
    )
    print(f"wrote {args.out / 'answers.safetensors'}")


if __name__ == "__main__":
    main()
