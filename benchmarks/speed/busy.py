"""Threads beside busy processes: ``irem train`` at ``--threads 1``, torch's default and ``auto``.

    python -m benchmarks.speed.busy [--tasks addition,shortest_path] [--busy 0,1]
        [--iterations K] [--json]

For each count of busy processes (each a one-thread matmul loop standing for another
training run, started before the run, as a user's second job would be) and each task's
``fast`` preset, trains ``K`` iterations at ``--threads 1``, at ``--threads`` = the cores
(torch's default) and at ``--threads auto``, in that order, and reports the seconds per
iteration from the run's own ``metrics.jsonl`` (the first logged stretch, which includes
start-up, is dropped) and each against one thread. The policy's promise
(docs/performance.md): ``auto`` beside a busy process is never more than 1.2× slower than
one thread, and on a quiet machine no slower than torch's default. Run it on a machine with
no other load; the busy processes are its own.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
from pathlib import Path

LOG_EVERY = 5


def keep_busy() -> None:
    """A one-thread matmul loop, forever (a stand-in for another training run)."""
    import torch

    torch.set_num_threads(1)
    a = torch.randn(256, 256)
    while True:
        a = torch.tanh(a @ a)


def seconds_per_iteration(task: str, threads: str, iterations: int, root: Path) -> float:
    """Train ``iterations`` of ``task``'s fast preset at ``--threads threads``; the median
    seconds per iteration of its logged stretches after the first."""
    out = root / f"{task}-{threads}"
    environment = {key: value for key, value in os.environ.items() if key != "OMP_NUM_THREADS"}
    subprocess.run(
        [sys.executable, "-m", "irem_core", "train", "--task", task, "--preset", "fast"]
        + ["--out", str(out), "--no-progress", "--threads", threads]
        + ["--set", f"train.iterations={iterations}", "--set", f"train.log_every={LOG_EVERY}"]
        + ["--set", "train.eval_every=0", "--set", f"train.checkpoint_every={iterations}"],
        check=True,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    stretches = sorted(
        (later["elapsed_s"] - earlier["elapsed_s"]) / (later["iteration"] - earlier["iteration"])
        for earlier, later in itertools.pairwise(lines)
    )
    return stretches[len(stretches) // 2]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.speed.busy", description=__doc__)
    parser.add_argument("--tasks", default="addition,shortest_path")
    parser.add_argument("--busy", default="0,1", help="counts of busy processes to run beside")
    parser.add_argument("--iterations", type=int, default=40)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    cores = str(len(os.sched_getaffinity(0)))
    results = []
    with tempfile.TemporaryDirectory() as root:
        for busy in map(int, args.busy.split(",")):
            others = [multiprocessing.Process(target=keep_busy, daemon=True) for _ in range(busy)]
            for process in others:
                process.start()
            try:
                for task in args.tasks.split(","):
                    seconds = {
                        threads: seconds_per_iteration(
                            task, threads, args.iterations, Path(root) / str(busy)
                        )
                        for threads in ("1", cores, "auto")
                    }
                    results.append({"busy": busy, "task": task, "seconds": seconds})
            finally:
                for process in others:
                    process.terminate()
    if args.json:
        print(json.dumps(results, indent=1))
        return
    print(f"| busy processes | task | 1 thread s/it | {cores} threads | auto | auto vs 1 |")
    print("|---|---|---|---|---|---|")
    for row in results:
        seconds = row["seconds"]
        print(
            f"| {row['busy']} | {row['task']} | {seconds['1']:.3f} | {seconds[cores]:.3f} | "
            f"{seconds['auto']:.3f} | {seconds['auto'] / seconds['1']:.2f}× |"
        )


if __name__ == "__main__":
    main()
