"""The records a reproduction leaves on disk beside each run, and whether one can be reused.

A finished run keeps its evaluation in ``evaluation.json``, a finished sweep run its
validation in ``validation.json``; a rerun reuses a record made with the same config (and,
for an evaluation, the same sizes and test-time changes) and redoes the rest.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from irem_core.config.convert import structure
from irem_core.config.schema import RunConfig
from irem_core.errors import ConfigError, IremError
from irem_core.plugins.manager import Plugins
from irem_core.runs.build import resolve_device
from irem_core.textfile import parse_json, read_text
from irem_core.training.loop import as_run
from irem_plugins.experiments.protocol import nested_strategy, plain_config, size_curve_sizes

EVALUATION_FILE = "evaluation.json"


SWEEP_FILE = "validation.json"


def _differences(saved: Any, wanted: Any, prefix: str = "") -> list[str]:
    if isinstance(saved, dict) and isinstance(wanted, dict):
        return [
            difference
            for name in sorted(set(saved) | set(wanted))
            for difference in _differences(saved.get(name), wanted.get(name), f"{prefix}{name}.")
        ]
    return [] if saved == wanted else [f"{prefix.rstrip('.')} ({saved!r} there, {wanted!r} now)"]


def _as_recorded(config: dict[str, Any], plugins: Plugins) -> dict[str, Any]:
    """``config`` (plain data) as a run's ``config.json`` records it (a record may hold
    either; see :func:`~irem_core.training.loop.as_run`)."""
    run = structure(config, RunConfig, plugins=plugins)
    return plain_config(as_run(run, resolve_device(run.device), plugins))


def check_same_config(
    directory: Path, saved: dict[str, Any], wanted: dict[str, Any], *, plugins: Plugins
) -> bool:
    """Refuse to reuse a run trained with another config (options added since it ran take
    defaults). The evaluation settings (``eval``) do not change training: a run that
    differs only there is reused, and the result says whether they match (``False``: its
    saved evaluation is stale and is made again)."""
    try:
        saved = plain_config(structure(saved, RunConfig, plugins=plugins))
    except ConfigError as error:
        raise IremError(
            f"{directory} holds a run whose config no longer loads ({error}). Delete "
            "that directory to redo it, or choose another --out"
        ) from None
    differences = _differences(
        {key: value for key, value in _as_recorded(saved, plugins).items() if key != "eval"},
        {key: value for key, value in _as_recorded(wanted, plugins).items() if key != "eval"},
    )
    if differences:
        raise IremError(
            f"{directory} holds a run with another config: {'; '.join(differences)}. "
            "Delete that directory to redo it, or choose another --out"
        )
    return saved.get("eval") == wanted.get("eval")


def read_record_file(path: Path) -> dict[str, Any] | None:
    """The JSON record a finished run left in ``path``; ``None`` when there is none, or when it
    is cut off or damaged (then the run is evaluated again, with a note on stderr)."""
    if not path.is_file():
        return None
    try:
        record = parse_json(read_text(path), path)
    except (json.JSONDecodeError, IremError):
        record = None
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
        print(f"irem reproduce: {path} is damaged; evaluating that run again", file=sys.stderr)
        return None
    return record


def finished_evaluation(
    directory: Path,
    config: RunConfig,
    sizes: Sequence[int],
    eval_overrides: Sequence[str],
    *,
    plugins: Plugins,
) -> dict[str, Any] | None:
    """The saved record of a finished run of ``config`` in ``directory``, else ``None``.

    A record evaluated at other sizes than ``sizes``, with other ``eval`` settings or other
    test-time changes (``eval_overrides``) is not finished (its run is evaluated again,
    without training).
    """
    record = read_record_file(directory / EVALUATION_FILE)
    if record is None:
        return None
    if not check_same_config(directory, record["config"], plain_config(config), plugins=plugins):
        return None
    wanted = [str(size) for size in size_curve_sizes(config.task.name, sizes, plugins=plugins)]
    has_nested = nested_strategy(config.task.name, plugins=plugins) is not None
    if "error" not in record and (
        list(record["sizes"]) != wanted
        or ("nested" in record) != has_nested
        or record.get("eval_overrides", []) != list(eval_overrides)
    ):
        return None
    return record


def finished_validation(
    directory: Path, config: RunConfig, *, plugins: Plugins
) -> dict[str, Any] | None:
    """The saved record of a finished sweep run of ``config`` in ``directory``, else ``None``."""
    record = read_record_file(directory / SWEEP_FILE)
    if record is None:
        return None
    if not check_same_config(directory, record["config"], plain_config(config), plugins=plugins):
        return None
    return record
