"""The training loop shared by every solver: sample, replay, solve, update, checkpoint.

The global batch is split into shards (see :mod:`irem_core.training.distributed`); a process
trains on the concatenation of its shards' batches, wrapped in DistributedDataParallel
when there are several processes. Rank 0 alone writes checkpoints, metrics and progress.
The training state a checkpoint holds beside the weights (optimizer moments, the shards'
generators and replay rings) is built and restored by :mod:`irem_core.training.state`."""

from __future__ import annotations

import contextlib
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import attrs
import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from irem_core.config.convert import unstructure
from irem_core.config.schema import RunConfig, component_specs, default_loggers
from irem_core.errors import NonFiniteError, PluginError
from irem_core.plugins.manager import Plugins, resolve_plugins
from irem_core.reasoning.protocols import Problems
from irem_core.runs.build import build_solver, build_task, check_problems
from irem_core.runs.checkpoint import (
    BEST_FILE,
    CONFIG_FILE,
    load_best,
    load_checkpoint,
    read_record,
    remove_orphans,
    save_best,
    save_checkpoint,
)
from irem_core.runs.evaluation import evaluate
from irem_core.seeding import generator as seeded_generator
from irem_core.threads import AUTO, ThreadPolicy
from irem_core.training.averaging import WeightAverage
from irem_core.training.checks import check_training
from irem_core.training.distributed import (
    SINGLE,
    World,
    mean_over_processes,
    process_group,
    resolve_shards,
    training_device,
)
from irem_core.training.loggers import Loggers
from irem_core.training.loss import TrainingLoss
from irem_core.training.outcome import TrainingStopped, TrainSummary, format_duration
from irem_core.training.precision import autocast, resolve_precision
from irem_core.training.rundir import prepare_directory, put_back, run_lock, set_aside
from irem_core.training.schedule import learning_rate, make_optimizer
from irem_core.training.state import (
    Shard,
    make_shards,
    restore_optimizer,
    restore_shards,
    restore_weights,
    state_tensors,
)

ESTIMATE_AFTER = 3
"""Iterations after which a long run announces its expected duration."""


LONG_RUN_SECONDS = 600.0
"""Runs expected to last longer than this announce their duration."""


def as_run(config: RunConfig, device: torch.device, plugins: Plugins) -> RunConfig:
    """``config`` as a run on ``device`` holds and saves it: ``train.precision`` resolved
    (``auto`` → fp32 or bf16) and unset ``train.loggers`` as the default loggers."""
    loggers = config.train.loggers
    train = attrs.evolve(
        config.train,
        precision=resolve_precision(config.train.precision, device),
        loggers=default_loggers(plugins) if loggers is None else loggers,
    )
    return attrs.evolve(config, train=train)


class Trainer:
    """Trains the solver of ``config`` and writes checkpoints and metrics into ``directory``.

    Args:
        config: the run config.
        directory: the run directory (prepared with :func:`prepare_directory`).
        world: this process's place among the run's processes; with several, the default
            process group must be open (see :func:`train`).
        plugins: the plugins that build the run's components and log it.
    """

    def __init__(
        self, config: RunConfig, directory: Path, world: World = SINGLE, *, plugins: Plugins
    ) -> None:
        self.device = training_device(config.device, world)
        self.config = config = as_run(config, self.device, plugins)
        """The run config as it runs and is saved (:func:`as_run`)."""
        self.directory = directory
        self.world = world
        self.plugins = plugins
        self.task = build_task(config.task, plugins=plugins)
        self.solver = build_solver(config.solver, self.task, config.seed, plugins=plugins).to(
            self.device
        )
        self.model: nn.Module = TrainingLoss(self.solver, config.train.steps)
        if world.distributed:
            # energy-based losses leave some parameters without a gradient (the energy's
            # constant offset does not move y), so DDP must look for unused parameters
            index = [self.device.index] if self.device.type == "cuda" else None
            self.model = DistributedDataParallel(
                self.model, device_ids=index, find_unused_parameters=True
            )
        parameters = [
            parameter for parameter in self.solver.parameters() if parameter.requires_grad
        ]
        if not parameters:
            raise PluginError(
                f"solver {config.solver.name!r} built for task {config.task.name!r} "
                "has no trainable parameters, so there is nothing to train; its "
                "plugin's model must register its weights as nn.Parameter"
            )
        self.parameters = parameters
        self.optimizer = make_optimizer(parameters, config.train)
        self.average = (
            WeightAverage(self.solver, config.train.ema_decay) if config.train.ema_decay else None
        )
        self.local_shards = self._make_shards(resolve_shards(config.train, world.size))
        self.iteration = 0
        self.last_loss, self.solved = float("nan"), 0
        self.contract_checked = False
        """Whether the task's first training problems passed :func:`check_problems`."""
        self.replaced: Path | None = None
        """A run set aside by ``--force``, deleted at this run's first checkpoint."""
        self.resumed_from: int | None = None
        """The checkpoint's iteration after :meth:`restore`."""
        self.best_mse = float("inf")
        """The validation MSE of ``best.safetensors`` (see :meth:`keep_best`)."""
        self.eval_problems: Problems | None = None
        self.threads: ThreadPolicy | None = None
        """Re-checked at every metrics line when set (:func:`train` sets it)."""
        if world.is_main:
            eval_generator = seeded_generator(config.seed, "validation", self.device)
            self.eval_problems = self.task.sample(
                "same", config.train.eval_problems, eval_generator
            )
            check_problems(
                config.task.name,
                self.task,
                self.eval_problems,
                config.train.eval_problems,
                plugins=plugins,
            )

    def _make_shards(self, count: int) -> list[Shard]:
        """Fresh shards for ``count`` shards in all; returns this process's share."""
        self.num_shards = count
        return make_shards(self.config, count, self.world, self.device)

    def step(self) -> tuple[torch.Tensor, int]:
        """One parameter update; returns the loss (a scalar tensor, the mean over all
        processes) and the problems solved by all processes."""
        settings = self.config.train
        fresh, replay = (
            settings.batch_size // self.num_shards,
            settings.replay_batch_size // self.num_shards,
        )
        replaying = bool(replay) and len(self.local_shards[0].buffer) >= fresh
        packed: list[dict[str, Tensor]] = []
        for shard in self.local_shards:
            problems = self.task.sample("train", fresh, shard.generator)
            y0 = self.task.init_answer(problems, shard.generator)
            if not self.contract_checked:
                check_problems(
                    self.config.task.name, self.task, problems, fresh, y0, plugins=self.plugins
                )
                self.contract_checked = True
            if replaying or len(self.local_shards) > 1:
                packed.append(self.task.pack(problems, y0))
            if replaying:
                packed.append(shard.buffer.sample(replay, shard.generator))
        if packed:
            problems, y0 = self.task.unpack(
                {key: torch.cat([part[key] for part in packed]) for key in packed[0]}
            )
        with autocast(settings.precision, self.device):
            loss, answer = self.model(problems, y0, self.local_shards[0].generator)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        loss = mean_over_processes(loss) if self.world.distributed else loss.detach()
        if not torch.isfinite(loss):
            self._fail_nonfinite()
        if settings.grad_clip:
            nn.utils.clip_grad_norm_(self.parameters, settings.grad_clip, foreach=True)
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(settings, self.iteration)
        self.optimizer.step()
        if self.average is not None:
            self.average.update(self.solver, self.iteration)
        if settings.replay_batch_size:
            states = self.task.pack(problems, answer.detach())
            rows = fresh + (replay if replaying else 0)
            for position, shard in enumerate(self.local_shards):
                shard.buffer.add(
                    {
                        key: value[position * rows : (position + 1) * rows]
                        for key, value in states.items()
                    }
                )
        return loss, problems.num_problems * self.world.size

    def _fail_nonfinite(self) -> None:
        last = (
            f"the last good checkpoint is in {self.directory} (iteration "
            f"{read_record(self.directory)['iteration']})"
            if (self.directory / CONFIG_FILE).exists()
            else "no checkpoint was written yet"
        )
        raise NonFiniteError(
            f"the training loss became NaN/Inf at iteration {self.iteration + 1}; "
            f"{last}. Lower the optimizer step size (solver.optimizer.step_size) "
            "or the learning rate (train.lr) and resume or restart"
        )

    def evaluate_same(self) -> dict[str, float]:
        """MSE on the fixed ``same``-split problems at the training budget and min energy
        (rank 0 only: the other ranks hold no evaluation problems)."""
        assert self.eval_problems is not None, "only rank 0 evaluates"
        generator = seeded_generator(self.config.seed, "validation-starts", self.device)
        self.solver.eval()
        with self.evaluated_weights():
            result = evaluate(
                self.solver,
                self.task,
                self.eval_problems,
                [self.config.train.steps],
                generator,
                self.config.eval.batch_size,
            )
        self.solver.train()
        return result.mse

    def keep_best(self, mse: dict[str, float]) -> None:
        """Save the evaluated weights as ``best.safetensors`` when their MSE at the training
        budget (``mse`` as :meth:`evaluate_same` returns it) beats the best so far (rank 0)."""
        value = mse[str(self.config.train.steps)]
        if value < self.best_mse:
            self.best_mse = value
            weights = self.average.average if self.average else self.solver.state_dict()
            save_best(self.directory, weights, self.iteration, value)

    def evaluated_weights(self) -> contextlib.AbstractContextManager[None]:
        """A context in which the solver holds the weights that are saved and evaluated:
        the moving average with ``train.ema_decay``, else the trained weights."""
        return self.average.applied(self.solver) if self.average else contextlib.nullcontext()

    def save(self) -> None:
        """Write a checkpoint of the current iteration (rank 0 writes; every rank must call it)."""
        raw = self.solver.state_dict() if self.average is not None else None
        tensors, extra = state_tensors(
            self.optimizer, self.local_shards, self.num_shards, self.world, raw
        )
        if not self.world.is_main:
            return
        plugins = self.plugins
        components = {
            f"{spec.kind}:{spec.name}": plugins.get(spec.kind, spec.name).plugin.name
            for spec in component_specs(self.config)
        }
        save_checkpoint(
            self.directory,
            config=unstructure(self.config),
            iteration=self.iteration,
            plugins=plugins.versions(),
            components=components,
            model=self.average.average if self.average else self.solver.state_dict(),
            state=tensors,
            extra=extra,
        )
        if self.replaced is not None:  # the new run is committed: the old one can go
            shutil.rmtree(self.replaced)
            self.replaced = None

    def restore(self) -> None:
        """Continue from the checkpoint in the run directory.

        Exactly where it stopped when the shard count is unchanged (whatever the number of
        processes); otherwise the shards are redistributed (see
        :func:`~irem_core.training.state.reshard`).
        """
        checkpoint = load_checkpoint(self.directory)
        restore_weights(checkpoint, self.solver, self.average, self.directory, self.device)
        restore_optimizer(checkpoint, self.optimizer, self.parameters, self.directory)
        self.num_shards, self.local_shards = restore_shards(
            checkpoint, self.config, self.task, self.world, self.device, self.directory
        )
        self.iteration = self.resumed_from = checkpoint.iteration
        if self.world.is_main and (self.directory / BEST_FILE).exists():
            self.best_mse = load_best(self.directory, with_model=False).mse

    def run(self, progress: bool = True) -> TrainSummary:
        """Train until ``train.iterations``; checkpoint periodically and at the end.

        Every rank runs it; rank 0 alone shows progress, evaluates and writes the metrics.
        """
        settings = self.config.train
        main = self.world.is_main
        loggers = (
            Loggers(
                settings.loggers or [],  # resolved in __init__
                self.directory,
                unstructure(self.config),
                self.resumed_from,
                plugins=self.plugins,
            )
            if main
            else None
        )
        started, self.last_loss, self.solved = time.perf_counter(), float("nan"), 0
        first = self.iteration
        bar = tqdm(
            total=settings.iterations,
            initial=self.iteration,
            disable=not (progress and main),
            desc=f"train {self.config.solver.name} on {self.config.task.name}",
            unit="it",
            dynamic_ncols=True,
            mininterval=0.1 if sys.stderr.isatty() else 10.0,
        )  # a log file gets a line per 10 s
        self.model.train()
        try:
            self._loop(bar, started, loggers)
        except KeyboardInterrupt as interrupt:
            saved = (
                read_record(self.directory)["iteration"]
                if (self.directory / CONFIG_FILE).exists()
                else None
            )
            raise TrainingStopped(self.iteration, saved, self.directory, interrupt) from None
        finally:
            bar.close()
            if loggers is not None:
                loggers.close()
        elapsed = time.perf_counter() - started
        return TrainSummary(
            self.directory,
            self.iteration,
            self.iteration - first,
            elapsed,
            self.last_loss,
            self.solved / max(elapsed, 1e-9),
        )

    def _announce_duration(self, started: float, first: int) -> None:
        """Say how long the run will take, once, when it is long (the first iterations set
        the pace; periodic evaluations and checkpoints come on top)."""
        per_iteration = (time.perf_counter() - started) / max(self.iteration - first, 1)
        remaining = per_iteration * (self.config.train.iterations - self.iteration)
        if remaining >= LONG_RUN_SECONDS:
            print(
                f"irem train: about {format_duration(remaining)} to iteration "
                f"{self.config.train.iterations:,} at {per_iteration:.2f} s per iteration",
                file=sys.stderr,
            )

    def _loop(self, bar: tqdm, started: float, loggers: Loggers | None) -> None:
        """The iterations of :meth:`run`; rank 0 logs to ``loggers``."""
        settings = self.config.train
        main = self.world.is_main
        first = self.iteration
        while self.iteration < settings.iterations:
            loss, count = self.step()
            self.iteration += 1
            self.solved += count
            if main and self.iteration == first + ESTIMATE_AFTER:
                self._announce_duration(started, first)
            loss_value = self.last_loss = float(loss)
            rate = self.solved / max(time.perf_counter() - started, 1e-9)
            bar.update(1)
            bar.set_postfix(loss=f"{loss_value:.4g}", problems_per_s=f"{rate:.0f}", refresh=False)
            record: dict[str, Any] = {}
            if main and (
                self.iteration % settings.log_every == 0 or self.iteration == settings.iterations
            ):
                record = {
                    "loss": loss_value,
                    "problems_per_s": rate,
                    "lr": learning_rate(settings, self.iteration - 1),
                    "bf16": float(settings.precision == "bf16"),
                }
                if self.threads is not None:
                    record["threads"] = float(self.threads.check())
            if (
                main
                and settings.eval_every
                and (
                    self.iteration % settings.eval_every == 0
                    or self.iteration == settings.iterations
                )
            ):
                record["eval_same_mse"] = self.evaluate_same()
                self.keep_best(record["eval_same_mse"])
            if record and loggers is not None:
                loggers.log(self.iteration, {"elapsed_s": time.perf_counter() - started, **record})
            if (
                self.iteration % settings.checkpoint_every == 0
                or self.iteration == settings.iterations
            ):
                self.save()


def train(
    config: RunConfig,
    directory: str | Path,
    *,
    resume: bool = False,
    force: bool = False,
    progress: bool = True,
    world: World = SINGLE,
    plugins: Plugins | None = None,
    threads: int | str = AUTO,
) -> TrainSummary:
    """Train ``config``'s solver into ``directory`` (see :class:`Trainer`), with the
    components and loggers of ``plugins`` (default: the installed plugins).

    With a ``world`` of several processes (every one calls this), the process group is
    opened here and closed on return; rank 0 alone prepares and writes ``directory``.
    ``threads``: torch threads, a count or ``auto`` (see :mod:`irem_core.threads`).
    A stop (Ctrl-C, or SIGTERM under :func:`~irem_core.training.outcome.stop_on_signals`)
    raises :class:`TrainingStopped`, before training starts too; a folder this call
    created and left empty is removed.
    """
    plugins = resolve_plugins(plugins)
    directory = Path(directory)
    check_training(config, directory, world_size=world.size, resume=resume, plugins=plugins)
    created = not directory.exists()
    try:
        with run_lock(directory, plugins=plugins) if world.is_main else contextlib.nullcontext():
            return _train_in(config, directory, resume, force, progress, world, plugins, threads)
    except KeyboardInterrupt as interrupt:
        if isinstance(interrupt, TrainingStopped):
            raise
        resumed = resume and (directory / CONFIG_FILE).exists()
        saved = read_record(directory)["iteration"] if resumed else None
        raise TrainingStopped(None, saved, directory, interrupt) from None
    finally:
        if created and directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()


def _train_in(
    config: RunConfig,
    directory: Path,
    resume: bool,
    force: bool,
    progress: bool,
    world: World,
    plugins: Plugins,
    threads: int | str,
) -> TrainSummary:
    """:func:`train` once it holds the run directory's lock (on rank 0)."""
    prepare_directory(directory, resume=resume, force=force, modify=world.is_main, plugins=plugins)
    if resume and world.is_main:
        remove_orphans(directory)
    aside = (
        set_aside(directory, plugins=plugins) if force and not resume and world.is_main else None
    )
    try:
        with process_group(world, training_device(config.device, world)):
            trainer = Trainer(config, directory, world, plugins=plugins)
            trainer.replaced = aside
            trainer.threads = ThreadPolicy(threads, "train")
            trainer.threads.start()
            if resume:
                trainer.restore()
            return trainer.run(progress=progress)
    except BaseException:
        if aside is not None and aside.exists():
            put_back(directory, aside, plugins=plugins)
        raise
