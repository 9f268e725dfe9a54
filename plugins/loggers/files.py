"""Loggers writing one text file in the run directory: ``metrics.jsonl`` and ``metrics.csv``.

Both reopen their file for every record, so a line is complete on disk as soon as it is
logged, and both drop, on resume, the records after the checkpoint's iteration (the
resumed run logs those iterations again). Neither writes through a link planted at its
file's name (see :mod:`irem_core.runs.files`).
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from irem_core.errors import IremError
from irem_core.reasoning.protocols import LogRun, LogValue
from irem_core.runs.checkpoint import atomic_write
from irem_core.runs.files import check_run_file, open_run_file
from irem_core.textfile import parse_json, read_lines

JSONL_FILE = "metrics.jsonl"
CSV_FILE = "metrics.csv"


def flatten(values: Mapping[str, LogValue]) -> dict[str, float]:
    """One number per name: a table ``{"eval_same_mse": {"10": x}}`` becomes
    ``{"eval_same_mse/10": x}``."""
    flat: dict[str, float] = {}
    for name, value in values.items():
        if isinstance(value, Mapping):
            flat.update({f"{name}/{key}": number for key, number in value.items()})
        else:
            flat[name] = value
    return flat


def parse_record(line: str, source: Path) -> dict[str, Any] | None:
    """The record of a ``metrics.jsonl`` line; ``None`` for a line that is not JSON or lacks
    a numeric ``iteration``."""
    try:
        record = parse_json(line, source)
    except (json.JSONDecodeError, IremError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("iteration"), (int, float)):
        return None
    return record


class JsonlLogger:
    """One JSON object per record in ``metrics.jsonl``: ``{"iteration": i, **values}``."""

    def __init__(self, run: LogRun) -> None:
        self.path = run.directory / JSONL_FILE
        check_run_file(self.path)
        if run.resumed_from is not None and self.path.exists():
            self._truncate(run.resumed_from)

    def _truncate(self, iteration: int) -> None:
        """Keep the lines up to ``iteration``; a line cut off by a kill is dropped with a
        warning."""
        kept: list[str] = []
        for line in read_lines(self.path):
            if line is None or (record := parse_record(line, self.path)) is None:
                print(
                    f"warning: dropped an unreadable line of {self.path} (cut off by a kill?)",
                    file=sys.stderr,
                )
            elif record["iteration"] <= iteration:
                kept.append(line)
        atomic_write(self.path, "".join(line + "\n" for line in kept).encode())

    def log(self, iteration: int, values: Mapping[str, LogValue]) -> None:
        """Append one JSON line."""
        with open_run_file(self.path, "a") as file:
            file.write(json.dumps({"iteration": iteration, **values}) + "\n")

    def close(self) -> None:
        """Nothing to release: every line is written when logged."""


class CsvLogger:
    """``metrics.csv``: an ``iteration`` column, then one column per flattened value (see
    :func:`flatten`), in order of first appearance. A new run writes the file at its first
    record. A record bringing a new column (the first evaluation, usually) rewrites the
    file once with the wider header; cells a record lacks stay empty."""

    def __init__(self, run: LogRun) -> None:
        self.path = run.directory / CSV_FILE
        check_run_file(self.path)
        self.columns: list[str] = ["iteration"]
        self.written = False
        """Whether the file holds this run's header (a new run replaces any other file)."""
        if run.resumed_from is not None and self.path.exists():
            rows = self._read()
            self._write([row for row in rows if self._keep(row, run.resumed_from)])

    def _read(self) -> list[dict[str, str]]:
        """The rows on disk (cells beyond the header dropped); sets :attr:`columns`."""
        lines = read_lines(self.path)
        if None in lines:
            print(f"warning: dropped the lines of {self.path} that are not UTF-8", file=sys.stderr)
        reader = csv.DictReader(line for line in lines if line is not None)
        self.columns = list(reader.fieldnames or self.columns)
        return [{name: cell for name, cell in row.items() if name is not None} for row in reader]

    def _keep(self, row: dict[str, str], resumed_from: int) -> bool:
        """Whether ``row`` precedes the resumed iteration; an unreadable row is dropped with
        a warning."""
        try:
            return int(row["iteration"]) <= resumed_from
        except (KeyError, TypeError, ValueError):
            print(
                f"warning: dropped an unreadable row of {self.path} (cut off by a kill?)",
                file=sys.stderr,
            )
            return False

    def _write(self, rows: list[dict[str, str]]) -> None:
        """Replace the file by the header of :attr:`columns` and ``rows``."""
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, self.columns, restval="")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write(self.path, text.getvalue().encode())
        self.written = True

    def log(self, iteration: int, values: Mapping[str, LogValue]) -> None:
        """Append one row (rewriting the file with a wider header if ``values`` add a
        column)."""
        row = {
            "iteration": str(iteration),
            **{name: repr(number) for name, number in flatten(values).items()},
        }
        added = [name for name in row if name not in self.columns]
        if added or not self.written:
            rows = self._read() if self.written else []
            self.columns += [name for name in row if name not in self.columns]
            self._write([*rows, row])
            return
        with open_run_file(self.path, "a") as file:
            csv.DictWriter(file, self.columns, restval="").writerow(row)

    def close(self) -> None:
        """Nothing to release: every row is written when logged."""
