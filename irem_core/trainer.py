"""The training loop shared by every solver: sample, replay, solve, update, checkpoint."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import attrs
import torch
from tqdm.auto import tqdm

from irem_core.checkpoint import (CONFIG_FILE, MODEL_FILE, PENDING_SUFFIX, STATE_FILE,
                                  load_checkpoint, read_record, save_checkpoint)
from irem_core.config import RunConfig, component_specs, unstructure
from irem_core.errors import CheckpointError, IremError, NonFiniteError
from irem_core.evaluate import evaluate
from irem_core.plugins import load_plugins
from irem_core.replay import ReplayBuffer
from irem_core.runs import build_solver, build_task, resolve_device

METRICS_FILE = "metrics.jsonl"
RUN_FILES = (CONFIG_FILE, MODEL_FILE, STATE_FILE, METRICS_FILE, MODEL_FILE + PENDING_SUFFIX,
             STATE_FILE + PENDING_SUFFIX)


@attrs.frozen
class TrainSummary:
    """What a finished :func:`train` call did.

    Attributes:
        directory: the run directory.
        iterations: iterations completed in total (including resumed ones).
        wall_seconds: time this call took.
        final_loss: loss of the last iteration.
        problems_per_second: training problems (fresh + replayed) solved per second.
    """

    directory: Path
    iterations: int
    wall_seconds: float
    final_loss: float
    problems_per_second: float


def prepare_directory(directory: Path, *, resume: bool, force: bool) -> None:
    """Check ``directory`` may receive a run; with ``force``, delete the run files it holds."""
    existing = [name for name in RUN_FILES if (directory / name).exists()]
    if resume:
        if not (directory / CONFIG_FILE).exists():
            raise CheckpointError(f"cannot resume: {directory} holds no checkpoint ({CONFIG_FILE} "
                                  "missing); drop --resume to start a new run there")
        return
    if existing and not force:
        raise IremError(f"{directory} already holds a run ({', '.join(existing)}); pass --resume "
                        "to continue it, --force to overwrite it, or choose another --out")
    for name in existing:
        (directory / name).unlink()
    directory.mkdir(parents=True, exist_ok=True)


class Trainer:
    """Trains the solver of ``config`` and writes checkpoints and metrics into ``directory``.

    Args:
        config: the run config.
        directory: the run directory (prepared with :func:`prepare_directory`).
    """

    def __init__(self, config: RunConfig, directory: Path) -> None:
        self.config = config
        self.directory = directory
        self.device = resolve_device(config.device)
        self.task = build_task(config.task)
        self.solver = build_solver(config.solver, self.task, config.seed).to(self.device)
        self.optimizer = torch.optim.Adam(self.solver.parameters(), lr=config.train.lr)
        self.buffer = ReplayBuffer(config.train.replay_capacity)
        self.generator = torch.Generator(self.device).manual_seed(config.seed)
        self.iteration = 0
        eval_generator = torch.Generator(self.device).manual_seed(config.seed + 1)
        self.eval_problems = self.task.sample("same", config.train.eval_problems, eval_generator)

    def step(self) -> tuple[torch.Tensor, int]:
        """One parameter update; returns the loss (a scalar tensor) and the problems solved."""
        settings = self.config.train
        problems = self.task.sample("train", settings.batch_size, self.generator)
        y0 = self.task.init_answer(problems, self.generator)
        if settings.replay_batch_size and len(self.buffer) >= settings.batch_size:
            fresh = self.task.pack(problems, y0)
            replayed = self.buffer.sample(settings.replay_batch_size, self.generator)
            problems, y0 = self.task.unpack({key: torch.cat([fresh[key], replayed[key]])
                                             for key in fresh})
        trajectory = self.solver.solve(problems, y0, settings.steps, differentiable=True)
        loss = self.solver.training_loss(problems, trajectory)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if not torch.isfinite(loss):
            self._fail_nonfinite()
        self.optimizer.step()
        if settings.replay_batch_size:
            self.buffer.add(self.task.pack(problems, trajectory.answer.detach()))
        return loss.detach(), problems.num_problems

    def _fail_nonfinite(self) -> None:
        last = (f"the last good checkpoint is in {self.directory} (iteration "
                f"{read_record(self.directory)['iteration']})"
                if (self.directory / CONFIG_FILE).exists() else "no checkpoint was written yet")
        raise NonFiniteError(f"the training loss became NaN/Inf at iteration {self.iteration + 1}; "
                             f"{last}. Lower the optimizer step size (solver.optimizer.step_size) "
                             "or the learning rate (train.lr) and resume or restart")

    def evaluate_same(self) -> dict[str, float]:
        """MSE on the fixed ``same``-split problems at the training budget and min energy."""
        generator = torch.Generator(self.device).manual_seed(self.config.seed + 2)
        self.solver.eval()
        result = evaluate(self.solver, self.task, self.eval_problems, [self.config.train.steps],
                          generator, self.config.eval.batch_size)
        self.solver.train()
        return result.mse

    def state_tensors(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Named tensors and JSON data holding the optimizer, replay and generator state."""
        optimizer_state = self.optimizer.state_dict()
        tensors = {f"optimizer.{index}.{key}": value
                   for index, state in optimizer_state["state"].items()
                   for key, value in state.items()}
        tensors.update({f"replay.{key}": value for key, value in self.buffer.state_tensors().items()})
        tensors["generator"] = self.generator.get_state()
        extra = {"optimizer_param_groups": optimizer_state["param_groups"],
                 "replay_cursor": self.buffer.cursor}
        return tensors, extra

    def save(self) -> None:
        """Write a checkpoint of the current iteration."""
        tensors, extra = self.state_tensors()
        plugins = load_plugins()
        components = {f"{spec.kind}:{spec.name}": plugins.get(spec.kind, spec.name).plugin.name
                      for spec in component_specs(self.config)}
        save_checkpoint(self.directory, config=unstructure(self.config), iteration=self.iteration,
                        plugins=plugins.versions(), components=components,
                        model=self.solver.state_dict(), state=tensors, extra=extra)

    def restore(self) -> None:
        """Continue from the checkpoint in the run directory, exactly where it stopped."""
        checkpoint = load_checkpoint(self.directory)
        self.solver.load_state_dict(checkpoint.model)
        optimizer_state: dict[int, dict[str, torch.Tensor]] = {}
        replay: dict[str, torch.Tensor] = {}
        for name, tensor in checkpoint.state.items():
            section, _, rest = name.partition(".")
            if section == "optimizer":
                index, _, key = rest.partition(".")
                optimizer_state.setdefault(int(index), {})[key] = tensor
            elif section == "replay":
                replay[rest] = tensor.to(self.device)
        self.optimizer.load_state_dict({"state": optimizer_state,
                                        "param_groups": checkpoint.extra["optimizer_param_groups"]})
        for group in self.optimizer.param_groups:
            group["lr"] = self.config.train.lr
        self.buffer.load(replay, checkpoint.extra["replay_cursor"])
        self.generator.set_state(checkpoint.state["generator"])
        self.iteration = checkpoint.iteration
        self._truncate_metrics()

    def _truncate_metrics(self) -> None:
        path = self.directory / METRICS_FILE
        if path.exists():
            kept = [line for line in path.read_text().splitlines()
                    if line and json.loads(line)["iteration"] <= self.iteration]
            path.write_text("".join(line + "\n" for line in kept))

    def log(self, record: dict[str, Any]) -> None:
        """Append one JSON line to the metrics log."""
        with open(self.directory / METRICS_FILE, "a") as file:
            file.write(json.dumps(record) + "\n")

    def run(self, progress: bool = True) -> TrainSummary:
        """Train until ``train.iterations``; checkpoint periodically and at the end."""
        settings = self.config.train
        started, loss_value, solved = time.perf_counter(), float("nan"), 0
        bar = tqdm(total=settings.iterations, initial=self.iteration, disable=not progress,
                   desc=f"train {self.config.solver.name} on {self.config.task.name}",
                   unit="it", dynamic_ncols=True)
        self.solver.train()
        while self.iteration < settings.iterations:
            loss, count = self.step()
            self.iteration += 1
            solved += count
            loss_value = float(loss)
            rate = solved / max(time.perf_counter() - started, 1e-9)
            bar.update(1)
            bar.set_postfix(loss=f"{loss_value:.4g}", problems_per_s=f"{rate:.0f}", refresh=False)
            record: dict[str, Any] = {}
            if self.iteration % settings.log_every == 0 or self.iteration == settings.iterations:
                record = {"loss": loss_value, "problems_per_s": rate}
            if settings.eval_every and (self.iteration % settings.eval_every == 0
                                        or self.iteration == settings.iterations):
                record["eval_same_mse"] = self.evaluate_same()
            if record:
                self.log({"iteration": self.iteration,
                          "elapsed_s": time.perf_counter() - started, **record})
            if self.iteration % settings.checkpoint_every == 0 or self.iteration == settings.iterations:
                self.save()
        bar.close()
        elapsed = time.perf_counter() - started
        return TrainSummary(self.directory, self.iteration, elapsed, loss_value,
                            solved / max(elapsed, 1e-9))


def train(config: RunConfig, directory: str | Path, *, resume: bool = False,
          force: bool = False, progress: bool = True) -> TrainSummary:
    """Train ``config``'s solver into ``directory`` (see :class:`Trainer`)."""
    directory = Path(directory)
    prepare_directory(directory, resume=resume, force=force)
    trainer = Trainer(config, directory)
    if resume:
        trainer.restore()
    return trainer.run(progress=progress)


def resume_config(directory: str | Path) -> dict[str, Any]:
    """The config (plain data) saved in ``directory``'s checkpoint, for ``--resume``."""
    prepare_directory(Path(directory), resume=True, force=False)
    return read_record(Path(directory))["config"]

