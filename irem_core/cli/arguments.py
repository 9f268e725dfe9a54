"""Argument types and options that several commands share."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from irem_core.config.schema import PRECISIONS
from irem_core.errors import IremError
from irem_core.runs.cost import ALLOW_LONG, LONG_SECONDS
from irem_core.seeding import check_seed
from irem_core.threads import AUTO, parse_threads


def positive_list(convert: Callable[[str], Any], kind: str) -> Callable[[str], list[Any]]:
    """An argparse type: comma-separated finite positive ``kind`` (``"integers"``, ...)."""

    def parse(text: str) -> list[Any]:
        try:
            values = [convert(part) for part in text.split(",") if part.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated {kind}, got {text!r}"
            ) from None
        if not values or not all(math.isfinite(value) and value > 0 for value in values):
            raise argparse.ArgumentTypeError(f"expected positive {kind}, got {text!r}")
        return values

    return parse


int_list = positive_list(int, "integers")


factor_list = positive_list(float, "numbers")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def path_type(text: str) -> Path:
    """An argparse type: a non-empty path (``Path('')`` would be the current directory)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(
            "expected a path, got an empty string; name a file or folder (use . for the "
            "current directory)"
        )
    return Path(text)


def seed_type(text: str) -> int:
    """An argparse type: a seed from 0 to 2**64 − 1."""
    try:
        return check_seed(int(text))
    except (ValueError, IremError):
        raise argparse.ArgumentTypeError(
            f"expected an integer from 0 to 2**64 - 1, got {text!r}"
        ) from None


def add_set_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field, e.g. --set train.iterations=100 "
        "(repeatable; VALUE is read as TOML, else as a string)",
    )


def add_allow_long_option(parser: argparse.ArgumentParser) -> None:
    """``--allow-long``: run a command whose lower-bound duration is refused otherwise (see
    :mod:`irem_core.runs.cost`)."""
    parser.add_argument(
        ALLOW_LONG,
        action="store_true",
        help="run even when the up-front estimate says it takes longer than "
        f"{LONG_SECONDS / 60:.0f} minutes (default: refuse, with the estimate)",
    )


def add_precision_option(parser: argparse.ArgumentParser) -> None:
    """``--precision`` of the commands that solve with a trained run (default fp32: bf16
    evaluation is faster on matrices but picks worse min-energy answers; docs/performance.md)."""
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="fp32",
        help="fp32, bf16 (autocast; only where the device multiplies bf16 natively) or auto "
        "(bf16 where native, else fp32) (default: fp32, the most accurate)",
    )


def add_threads_option(parser: argparse.ArgumentParser) -> None:
    """``--threads`` of the commands that compute (see :mod:`irem_core.threads`)."""
    parser.add_argument(
        "--threads",
        type=threads_type,
        default=AUTO,
        metavar="N",
        help="torch threads: a number, or auto (one per core, minus the cores other processes "
        "keep busy, re-checked while training; OMP_NUM_THREADS fixes it too) (default: auto)",
    )


def threads_type(text: str) -> int | str:
    """An argparse type: ``auto`` or a positive thread count."""
    try:
        return parse_threads(text)
    except IremError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
