"""docs/cli.md cannot drift from the CLI: every option of every command (plugin commands
included) is in its section, and the documented ``--json`` schemas are the real keys."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from irem_core.cli.app import build_parser, main
from tests.conftest import TINY_GRAPH_OVERRIDES, TINY_OVERRIDES

CLI_MD = Path(__file__).parents[3] / "docs" / "cli.md"
FENCE = re.compile(r"```.*?```", re.S)


# --- docs/cli.md: one ``## `irem COMMAND ...` `` section per command ----------------------


def sections(text: str) -> dict[str, str]:
    """docs/cli.md by command: ``""`` is the text before the first ``## `` heading (the
    top-level options), each ``## `irem NAME ...` `` heading starts ``NAME``'s section, which
    runs to the next ``## `` heading (``###`` subsections included)."""
    parts = re.split(r"^(?=## )", text, flags=re.M)
    found = {"": parts[0]}
    for part in parts[1:]:
        heading = re.match(r"## `irem ([\w-]+)", part)
        assert heading, (
            f"docs/cli.md: a '## ' heading that names no command: {part.splitlines()[0]}"
        )
        assert heading.group(1) not in found, f"docs/cli.md: two sections for {heading.group(1)}"
        found[heading.group(1)] = part
    return found


def mentions(text: str, flag: str) -> bool:
    """``flag`` appears in ``text`` as a whole word (``--halt`` is not ``--halt-window``)."""
    return re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text) is not None


def synopsis(name: str, section: str) -> str:
    """A section's usage lines: its heading, and its first code block when that starts with
    ``irem NAME``."""
    heading, _, body = section.partition("\n")
    block = re.match(r"\s*```\n(.*?)```", body, re.S)
    return heading + (
        "\n" + block.group(1) if block and block.group(1).startswith(f"irem {name}") else ""
    )


def commands() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The top-level parser and each command's, built as ``irem`` builds them (plugins'
    ``irem_register_commands`` included)."""
    parser = build_parser()
    [subparsers] = [
        action for action in parser._actions if isinstance(action, argparse._SubParsersAction)
    ]
    return parser, dict(subparsers.choices)


def options(parser: argparse.ArgumentParser) -> list[str]:
    """Every option string of ``parser`` but ``-h``/``--help``."""
    return [
        flag
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction)
        for flag in action.option_strings
    ]


PARSER, COMMANDS = commands()
SECTIONS = sections(CLI_MD.read_text())


def test_every_command_has_a_section_and_every_section_a_command() -> None:
    assert {"plugins", "data", "train", "eval", "nested", "reproduce", "plot"} <= set(COMMANDS)
    assert set(SECTIONS) - {""} == set(COMMANDS), (
        "docs/cli.md needs one '## `irem NAME ...`' section per command, and none for a "
        "command that does not exist"
    )


@pytest.mark.parametrize("name", ["", *COMMANDS], ids=lambda name: name or "irem")
def test_every_option_is_in_its_section(name: str) -> None:
    parser = COMMANDS[name] if name else PARSER
    missing = [flag for flag in options(parser) if not mentions(SECTIONS[name], flag)]
    assert not missing, f"docs/cli.md's section of 'irem {name}' lacks {missing}"


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_option_in_a_synopsis_exists(name: str) -> None:
    usage = synopsis(name, SECTIONS[name])
    unknown = sorted(
        set(re.findall(r"(?<![\w-])--?[a-z][\w-]*", usage)) - set(options(COMMANDS[name]))
    )
    assert not unknown, f"docs/cli.md's usage of 'irem {name}' names options it lacks: {unknown}"


def test_the_option_checks_can_fail() -> None:
    assert not mentions("[--halt-window K]", "--halt")
    assert mentions("[--halt energy|gradient]", "--halt")
    assert not mentions("[--problems-x N]", "--problems") and mentions("`-n`/`--problems`", "-n")


# --- documented JSON schemas --------------------------------------------------------------


@attrs.frozen
class Keys:
    """A documented object: its quoted keys (each with the schema of its value, ``None`` if
    the doc gives none), and whether a placeholder (``KIND``, ``...``) admits other keys."""

    keys: dict[str, Any]
    open: bool


@attrs.frozen
class Items:
    """A documented list, each item of schema ``item`` (``None``: not described)."""

    item: Any


TOKEN = re.compile(r'\s*(?:"([^"]*)"|([{}\[\]:,])|([^\s{}\[\]:,"]+))')


def tokens(text: str) -> Iterator[tuple[str, str]]:
    """``("key", text)`` for a quoted string, ``("mark", c)`` for punctuation, ``("word", w)``
    for anything else (placeholders such as ``...``, ``KIND``)."""
    position = 0
    while text[position:].strip():
        match = TOKEN.match(text, position)
        assert match, f"cannot read the schema at {text[position:]!r}"
        quoted, mark, word = match.groups()
        yield ("key", quoted) if quoted is not None else ("mark", mark) if mark else ("word", word)
        position = match.end()


def parse_schema(text: str) -> Any:
    """The documented schema ``{"a", "b": {"c", ...}, "d": [{"e"}]}`` as :class:`Keys`,
    :class:`Items` and ``None`` for values not described."""
    stream = list(tokens(text))

    def value(at: int) -> tuple[Any, int]:
        kind, token = stream[at]
        if (kind, token) == ("mark", "{"):
            keys: dict[str, Any] = {}
            is_open, at = False, at + 1
            while stream[at] != ("mark", "}"):
                kind, token = stream[at]
                assert kind != "mark", f"a key expected in {text!r}, got {token!r}"
                at += 1
                schema = None
                if stream[at] == ("mark", ":"):
                    schema, at = value(at + 1)
                if kind == "key":
                    keys[token] = schema
                else:
                    is_open = True
                if stream[at] == ("mark", ","):
                    at += 1
            return Keys(keys, is_open), at + 1
        if (kind, token) == ("mark", "["):
            item, at = (None, at + 1) if stream[at + 1][0] != "mark" else value(at + 1)
            while stream[at] != ("mark", "]"):
                at += 1
            return Items(item if isinstance(item, Keys) else None), at + 1
        assert kind != "mark", f"a value expected in {text!r}, got {token!r}"
        return None, at + 1

    schema, end = value(0)
    assert end == len(stream), f"trailing text after the schema {text!r}"
    return schema


def mismatches(schema: Any, data: Any, where: str = "") -> list[str]:
    """Where ``data`` differs from the documented ``schema`` (empty if it matches)."""
    if isinstance(schema, Keys):
        if not isinstance(data, dict):
            return [f"{where or 'top'}: documented an object, got {type(data).__name__}"]
        found = []
        if set(data) - set(schema.keys) and not schema.open:
            found.append(
                f"{where or 'top'}: undocumented key(s) {sorted(set(data) - set(schema.keys))}"
            )
        if set(schema.keys) - set(data):
            found.append(
                f"{where or 'top'}: documented key(s) missing from the output "
                f"{sorted(set(schema.keys) - set(data))}"
            )
        for key in set(schema.keys) & set(data):
            found += mismatches(schema.keys[key], data[key], f"{where}.{key}")
        return found
    if isinstance(schema, Items):
        if not isinstance(data, list):
            return [f"{where}: documented a list, got {type(data).__name__}"]
        return [
            problem
            for index, item in enumerate(data)
            for problem in mismatches(schema.item, item, f"{where}[{index}]")
        ]
    return []


def assert_matches(schema: Any, data: Any) -> None:
    problems = mismatches(schema, data)
    assert not problems, "docs/cli.md's JSON schema differs from the output: " + "; ".join(problems)


def documented_schema(command: str, key: str) -> Keys:
    """The one ``{...}`` code span in ``command``'s section with the top-level key ``key``."""
    spans = re.findall(r"`(\{[^`]*\})`", FENCE.sub("", SECTIONS[command]))
    schemas = [schema for schema in map(parse_schema, spans) if key in schema.keys]
    assert len(schemas) == 1, (
        f"docs/cli.md's 'irem {command}' section should hold one JSON "
        f"schema with the key {key!r}, found {len(schemas)}"
    )
    return schemas[0]


def test_the_schema_check_can_fail() -> None:
    schema = parse_schema('{"a", "b": {"c": ..., "d"}, "e": {KEY: [...]}, "f": [{"g"}]}')
    good = {"a": 1, "b": {"c": 2, "d": 3}, "e": {"x": [1]}, "f": [{"g": 0}, {"g": 1}]}
    assert_matches(schema, good)
    assert mismatches(schema, {**good, "z": 0}) == ["top: undocumented key(s) ['z']"]
    assert mismatches(schema, {**good, "b": {"c": 2}}) == [
        ".b: documented key(s) missing from the output ['d']"
    ]
    assert mismatches(schema, {**good, "f": [{"g": 0}, {}]}) == [
        ".f[1]: documented key(s) missing from the output ['g']"
    ]


# --- the real output, in-process ------------------------------------------------------------


def sets(overrides: list[str]) -> list[str]:
    return [word for override in overrides for word in ("--set", override)]


@pytest.fixture(scope="module")
def addition_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny addition run (2 iterations)."""
    directory = tmp_path_factory.mktemp("cli_docs") / "addition"
    assert (
        main(
            [
                "train",
                "--task",
                "addition",
                "--out",
                str(directory),
                "--no-progress",
                *sets(TINY_OVERRIDES + ["train.iterations=2"]),
            ]
        )
        == 0
    )
    return directory


@pytest.fixture(scope="module")
def graph_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny shortest-path run (1 iteration): a task with a size option."""
    directory = tmp_path_factory.mktemp("cli_docs") / "graph"
    assert (
        main(
            [
                "train",
                "--task",
                "shortest_path",
                "--preset",
                "quick",
                "--out",
                str(directory),
                "--no-progress",
                *sets(TINY_GRAPH_OVERRIDES + ["train.iterations=1", "train.eval_every=0"]),
            ]
        )
        == 0
    )
    return directory


def json_output(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_plugins_json_is_as_documented(capsys: pytest.CaptureFixture[str]) -> None:
    report = json_output(["plugins", "--json"], capsys)
    assert report["plugins"], "no plugins listed: the nested keys went unchecked"
    assert_matches(documented_schema("plugins", "plugins"), report)


def test_eval_json_is_as_documented(addition_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = json_output(["eval", str(addition_run), "--steps", "10", "-n", "4", "--json"], capsys)
    assert_matches(documented_schema("eval", "zero_predictor"), report)


def test_eval_halting_json_is_as_documented(
    addition_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = json_output(
        ["eval", str(addition_run), "--steps", "10", "-n", "4", "--halt", "energy", "--json"],
        capsys,
    )
    plain, halting = (
        documented_schema("eval", "zero_predictor"),
        documented_schema("eval", "halting"),
    )
    assert halting.open and set(halting.keys) == {"halting"}
    assert_matches(Keys({**plain.keys, **halting.keys}, False), report)


def test_eval_sizes_json_is_as_documented(
    graph_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = json_output(
        ["eval", str(graph_run), "--sizes", "10,4", "--steps", "2", "-n", "2", "--json"], capsys
    )
    schema = documented_schema("eval", "sizes")
    assert set(report["sizes"]) == {"10", "4"}
    sizes = schema.keys["sizes"]
    assert isinstance(sizes, Keys) and sizes.open, "the sizes are keys like '10' and more"
    every_size = Keys(
        {**schema.keys, "sizes": Keys(dict.fromkeys(report["sizes"], sizes.keys["10"]), False)},
        False,
    )
    assert_matches(every_size, report)


def test_nested_json_is_as_documented(
    addition_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = json_output(
        ["nested", str(addition_run), "--depth", "3", "--steps", "2", "-n", "4", "--json"], capsys
    )
    assert_matches(documented_schema("nested", "mse"), report)
    assert len(report["mse"]) == 3
