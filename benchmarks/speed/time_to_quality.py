"""Time to quality: train from scratch and record test error against training time.

    python -m benchmarks.speed.time_to_quality --task addition --preset fast [--set KEY=VALUE ...]
        [--out DIR] [--resume] [--max-minutes M] [--eval-every K] [--device cpu] [--json]
    python -m benchmarks.speed.time_to_quality --compare DIR_A DIR_B ... --plot curves.png

Training runs in ``DIR/run`` (an ordinary run directory: ``irem eval DIR/run`` works). At
evaluation points the current model (the weight average with ``train.ema_decay``) solves
fixed ``same`` and ``harder`` sets (1,000 problems each by default, drawn as ``irem data
TASK --split S --seed 0`` draws them) with the task's test budget (the largest of
``eval.steps``), and each problem's minimum-energy iterate is scored, as in the paper. Each
point records iterations, fresh problems seen, training CPU seconds (of this process, all
threads) and training wall seconds (evaluation and checkpointing excluded, and reported
apart as the overhead) against the two MSEs; ``DIR/curve.json`` and ``DIR/curve.png`` are
rewritten after every point, together with a checkpoint, so ``--resume`` continues from the
last point and a killed run loses at most one interval.

Evaluation points: every ``--eval-every`` iterations when given; otherwise whenever at least
50 iterations *and* fifteen times the last evaluation's duration of training have passed,
which keeps evaluation and checkpointing near or under 10 % of training time. The targets are the paper's
IREM numbers the task declares (its ``paper`` metadata); the first point at or under each
is reported.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import attrs
import torch

from irem_core.config.compose import build_run_config
from irem_core.config.convert import structure, unstructure
from irem_core.config.schema import RunConfig
from irem_core.errors import IremError
from irem_core.plugins.manager import load_plugins
from irem_core.reasoning.protocols import Problems
from irem_core.runs.checkpoint import atomic_write
from irem_core.runs.evaluation import MIN_ENERGY, evaluate, json_bytes
from irem_core.seeding import generator as seeded_generator
from irem_core.training.loop import Trainer
from irem_core.training.rundir import prepare_directory
from irem_core.training.schedule import learning_rate

SPLITS = ("same", "harder")
CURVE_FILE = "curve.json"
MIN_GAP = 50
"""Fewest iterations between two automatic evaluation points."""
OVERHEAD_RATIO = 15.0
"""Automatic points wait for this many times the last evaluation's duration of training
(with 10, the first runs measured 12–13 % overhead, the iteration-0 point and the
checkpoints included)."""


def machine() -> dict[str, Any]:
    """Where the numbers come from: processor, cores, torch and its threads."""
    return {
        "platform": platform.platform(),
        "processor": _cpu_name(),
        "cores": _cores(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def commit() -> str | None:
    """The git commit of the code being run (``+dirty`` with uncommitted changes), if known."""
    root = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")


class Benchmark:
    """One time-to-quality run in ``out`` (see the module docstring).

    Args:
        config: the run config (its own periodic evaluation is switched off).
        out: the benchmark directory; the run is ``out/run``.
        problems: problems per evaluation set.
        eval_every: fixed evaluation interval in iterations (``None``: automatic).
        curve: the curve so far when resuming (``None`` for a new run).
    """

    def __init__(
        self,
        config: RunConfig,
        out: Path,
        problems: int,
        eval_every: int | None,
        curve: dict[str, Any] | None = None,
    ) -> None:
        self.out = out
        self.eval_every = eval_every
        resume = curve is not None
        plugins = load_plugins()
        prepare_directory(out / "run", resume=resume, force=False, plugins=plugins)
        self.trainer = Trainer(config, out / "run", plugins=plugins)
        if resume:
            self.trainer.restore()
        self.sets = {split: self._problems(split, problems) for split in SPLITS}
        paper = plugins.get("task", config.task.name).meta.paper
        targets = paper.get("results", {}).get("irem", {})
        self.curve = curve or {
            "task": config.task.name,
            "targets": targets,
            "eval_problems": problems,
            "points": [],
            "runs": [],
        }
        self.curve["config"] = unstructure(config)
        self.curve["runs"].append(
            {
                "started": _now(),
                "commit": commit(),
                "machine": machine(),
                "command": " ".join(sys.argv),
                "from_iteration": self.trainer.iteration,
            }
        )
        last = self.curve["points"][-1] if self.curve["points"] else {}
        self.cpu = last.get("cpu_s", 0.0)
        self.wall = last.get("wall_s", 0.0)
        self.overhead = last.get("overhead_s", 0.0)

    def _problems(self, split: str, count: int) -> Problems:
        generator = seeded_generator(0, f"problems:{split}", self.trainer.device)
        return self.trainer.task.sample(split, count, generator)

    def evaluate(self) -> dict[str, float]:
        """Min-energy MSE at the test budget on both sets."""
        steps = [max(self.trainer.config.eval.steps)]
        errors = {}
        solver = self.trainer.solver
        solver.eval()
        with self.trainer.evaluated_weights():
            for split, problems in self.sets.items():
                generator = seeded_generator(0, f"starts:{split}", self.trainer.device)
                result = evaluate(
                    solver,
                    self.trainer.task,
                    problems,
                    steps,
                    generator,
                    self.trainer.config.eval.batch_size,
                )
                errors[split] = result.mse[MIN_ENERGY]
        solver.train()
        return errors

    def run(self, max_seconds: float | None) -> dict[str, Any]:
        """Train to ``train.iterations`` (or ``max_seconds`` of training wall time in this
        call), evaluating on the schedule; returns the curve."""
        trainer, settings = self.trainer, self.trainer.config.train
        if not self.curve["points"]:
            self._point(loss=float("nan"))
        started_wall = self.wall
        last_eval_seconds = self.curve["points"][-1]["eval_s"]
        since_iterations, since_seconds = 0, 0.0
        while trainer.iteration < settings.iterations:
            cpu, wall = time.process_time(), time.perf_counter()
            loss, _ = trainer.step()
            trainer.iteration += 1
            loss_value = float(loss)
            self.cpu += time.process_time() - cpu
            spent = time.perf_counter() - wall
            self.wall += spent
            since_iterations, since_seconds = since_iterations + 1, since_seconds + spent
            out_of_time = max_seconds is not None and self.wall - started_wall >= max_seconds
            due = (
                since_iterations >= self.eval_every
                if self.eval_every
                else since_iterations >= MIN_GAP
                and since_seconds >= OVERHEAD_RATIO * last_eval_seconds
            )
            if due or out_of_time or trainer.iteration == settings.iterations:
                last_eval_seconds = self._point(loss_value)
                since_iterations, since_seconds = 0, 0.0
            if out_of_time:
                break
        return self.curve

    def _point(self, loss: float) -> float:
        """Evaluate, checkpoint and write the curve; returns the evaluation's seconds."""
        started = time.perf_counter()
        errors = self.evaluate()
        evaluated = time.perf_counter() - started
        self.trainer.save()
        self.overhead += time.perf_counter() - started
        trainer = self.trainer
        update = max(trainer.iteration - 1, 0)
        self.curve["points"].append(
            {
                "iteration": trainer.iteration,
                "problems_seen": trainer.iteration * trainer.config.train.batch_size,
                "cpu_s": round(self.cpu, 3),
                "wall_s": round(self.wall, 3),
                "overhead_s": round(self.overhead, 3),
                "eval_s": round(evaluated, 3),
                "lr": learning_rate(trainer.config.train, update),
                "loss": loss,
                "mse": errors,
            }
        )
        self.curve["reached"] = reached(self.curve)
        self.curve["eval_overhead"] = self.overhead / max(self.wall, 1e-9)
        atomic_write(self.out / CURVE_FILE, json_bytes(self.curve))
        plot([self.curve], self.out / "curve.png", [self.out.name])
        return evaluated


def reached(curve: dict[str, Any]) -> dict[str, Any]:
    """Per split, the first point at or under the target (``None`` if none yet)."""
    found: dict[str, Any] = {}
    for split, target in curve["targets"].items():
        point = next(
            (
                point
                for point in curve["points"]
                if point["mse"].get(split) is not None and point["mse"][split] <= target
            ),
            None,
        )
        found[split] = (
            None
            if point is None
            else {
                "target": target,
                "iteration": point["iteration"],
                "cpu_s": point["cpu_s"],
                "wall_s": point["wall_s"],
                "wall_min": round(point["wall_s"] / 60, 2),
            }
        )
    return found


AXES = {
    "wall": ("wall_s", 1 / 60, "training wall minutes"),
    "cpu": ("cpu_s", 1 / 60, "training CPU minutes"),
    "iterations": ("iteration", 1, "iterations"),
}
"""``--x`` choices: the point field, its scale and the axis label."""


def plot(curves: list[dict[str, Any]], path: Path, labels: list[str], x: str = "wall") -> None:
    """MSE against training time (``x``: wall, cpu or iterations), one panel per split,
    the targets dotted.

    Skipped (with a note on stderr) without matplotlib.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(
            "time_to_quality: matplotlib is not installed, so no plot was written", file=sys.stderr
        )
        return
    figure, axes = plt.subplots(1, len(SPLITS), figsize=(11, 4), squeeze=False)
    for axis, split in zip(axes[0], SPLITS):
        for curve, label in zip(curves, labels):
            points = [point for point in curve["points"] if point["mse"].get(split) is not None]
            field, scale, _ = AXES[x]
            axis.plot(
                [point[field] * scale for point in points],
                [point["mse"][split] for point in points],
                marker=".",
                label=label,
            )
        target = curves[0]["targets"].get(split)
        if target is not None:
            axis.axhline(target, color="grey", linestyle=":", label=f"paper {target}")
        axis.set(
            title=f"{curves[0]['task']} ({split})",
            xlabel=AXES[x][2],
            ylabel="min-energy MSE",
            yscale="log",
        )
        axis.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.speed.time_to_quality", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--task", help="task to train")
    parser.add_argument("--preset", default="fast", help="the task's preset (default: fast)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override, repeatable (as in irem train)",
    )
    parser.add_argument("--seed", type=int, default=0, help="training seed (default: 0)")
    parser.add_argument("--device", help="torch device (default: the preset's, cpu)")
    parser.add_argument(
        "--out", type=Path, help="benchmark directory (default: runs/ttq/TASK-PRESET)"
    )
    parser.add_argument("--resume", action="store_true", help="continue the benchmark in --out")
    parser.add_argument("--max-minutes", type=float, help="stop after this much training wall time")
    parser.add_argument(
        "--eval-every",
        type=int,
        help="evaluate every K iterations (default: automatic, < 10%% of training)",
    )
    parser.add_argument(
        "--eval-problems", type=int, default=1000, help="problems per set (default: 1000)"
    )
    parser.add_argument("--json", action="store_true", help="print the curve as JSON")
    parser.add_argument(
        "--compare",
        type=Path,
        nargs="+",
        metavar="DIR",
        help="plot benchmarks (directories or curve JSON files) together instead of training",
    )
    parser.add_argument("--plot", type=Path, help="with --compare: the PNG to write")
    parser.add_argument(
        "--x",
        choices=sorted(AXES),
        default="wall",
        help="with --compare: the horizontal axis (default: wall)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.compare:
            curves = [
                json.loads((path / CURVE_FILE if path.is_dir() else path).read_text())
                for path in args.compare
            ]
            plot(
                curves,
                args.plot or Path("curves.png"),
                [path.stem if path.is_file() else path.name for path in args.compare],
                args.x,
            )
            return 0
        if args.eval_every is not None and args.eval_every <= 0:
            raise IremError(f"--eval-every must be positive, got {args.eval_every}")
        curve = None
        if args.resume:
            if args.out is None or not (args.out / CURVE_FILE).exists():
                raise IremError("--resume needs --out DIR of an earlier benchmark (DIR/curve.json)")
            curve = json.loads((args.out / CURVE_FILE).read_text())
            config = structure(curve["config"], RunConfig)
            if args.overrides:
                config = build_run_config(file_data=curve["config"], overrides=args.overrides)
            out = args.out
        else:
            if not args.task:
                raise IremError("--task is required (or --compare DIR ...)")
            config = build_run_config(
                task=args.task,
                preset=args.preset,
                overrides=args.overrides,
                seed=args.seed,
                device=args.device,
            )
            out = args.out or Path("runs/ttq") / f"{args.task}-{args.preset}"
        config = attrs.evolve(config, train=attrs.evolve(config.train, eval_every=0))
        benchmark = Benchmark(
            config,
            out,
            curve["eval_problems"] if curve else args.eval_problems,
            args.eval_every,
            curve,
        )
        result = benchmark.run(None if args.max_minutes is None else args.max_minutes * 60)
    except IremError as error:
        print(f"time_to_quality: error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json_bytes(result).decode())
    else:
        for point in result["points"]:
            print(
                f"it {point['iteration']:>6}  wall {point['wall_s'] / 60:7.2f} min  cpu "
                f"{point['cpu_s'] / 60:7.2f} min  same {point['mse']['same']:.6f}  harder "
                f"{point['mse']['harder']:.6f}"
            )
        print(
            f"reached: {json.dumps(result['reached'])}; evaluation overhead "
            f"{100 * result['eval_overhead']:.1f} % of training time"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
