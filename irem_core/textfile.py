"""The one reader of the text files irem reads: configs, ``config.json``, metrics, records.

Bytes that are not UTF-8 and tables or lists nested deeper than :data:`MAX_DEPTH` are an
:class:`IremError` naming the file (exit 2), never a ``UnicodeDecodeError`` or a
``RecursionError``; a syntax error stays the parser's, for the caller to word.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from irem_core.errors import IremError

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

MAX_DEPTH = 64
"""The deepest nesting of tables and lists irem reads (its own files nest 5 deep)."""


def decode(data: bytes, source: str | Path) -> str:
    """``data`` read from ``source`` as UTF-8 text; other bytes are an :class:`IremError`."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise IremError(
            f"{source} is not UTF-8 text (byte {error.start}: {error.reason}); save it "
            "as UTF-8, or name the file you meant"
        ) from None


def read_text(path: Path) -> str:
    """The UTF-8 text of ``path`` (see :func:`decode`); an :class:`OSError` propagates."""
    return decode(Path(path).read_bytes(), path)


def read_lines(path: Path) -> list[str | None]:
    """The lines of ``path``, each decoded on its own: ``None`` for a line that is not UTF-8
    (a line damaged by a kill or another tool costs that line only)."""
    lines: list[str | None] = []
    for raw in Path(path).read_bytes().splitlines():
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            lines.append(None)
    return lines


def parse_json(text: str, source: str | Path) -> Any:
    """``json.loads(text)`` with its nesting checked (see :func:`check_depth`)."""
    try:
        data = json.loads(text)
    except RecursionError:
        raise _too_deep(source) from None
    check_depth(data, source)
    return data


def parse_toml(text: str, source: str | Path) -> dict[str, Any]:
    """``tomllib.loads(text)`` with its nesting checked (see :func:`check_depth`)."""
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise _too_deep(source) from None
    check_depth(data, source)
    return data


def check_depth(data: Any, source: str | Path) -> None:
    """Raise an :class:`IremError` if ``data`` nests tables or lists deeper than
    :data:`MAX_DEPTH` (checked without recursion)."""
    pending = [(data, 0)]
    while pending:
        node, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise _too_deep(source)
        if isinstance(node, dict):
            pending.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            pending.extend((child, depth + 1) for child in node)


def _too_deep(source: str | Path) -> IremError:
    return IremError(
        f"{source} nests tables or lists deeper than {MAX_DEPTH} levels, which no irem file "
        "does; it is damaged or not the file you meant"
    )


TOMLDecodeError = tomllib.TOMLDecodeError
"""The TOML parser's syntax error (``tomllib``'s, or ``tomli``'s before Python 3.11)."""
