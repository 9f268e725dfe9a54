"""Docs cannot drift: every config field and every hook is documented."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import attrs
import pytest

from irem_core.config.schema import EvalConfig, RunConfig, TrainConfig
from irem_core.plugins import hookspecs
from irem_core.plugins.manager import load_plugins
from irem_core.reasoning import protocols

DOCS = Path(__file__).parent.parent / "docs"


def config_classes() -> list[type]:
    classes = [RunConfig, TrainConfig, EvalConfig]
    for registry in load_plugins().registries.values():
        classes += [
            component.config
            for component in registry.components()
            if component.plugin.distribution == "irem"
        ]
    return classes


@pytest.mark.parametrize("cls", config_classes(), ids=lambda cls: cls.__name__)
def test_every_config_field_is_in_config_md(cls: type) -> None:
    text = (DOCS / "config.md").read_text()
    missing = [field.name for field in attrs.fields(cls) if f"| `{field.name}` |" not in text]
    assert not missing, f"docs/config.md lacks {cls.__name__} fields: {missing}"


def test_every_hookspec_has_a_documented_signature_and_example() -> None:
    hooks = [
        name
        for name, _ in inspect.getmembers(hookspecs, inspect.isfunction)
        if name.startswith("irem_")
    ]
    assert len(hooks) == 7
    for name in hooks:
        doc = inspect.getdoc(getattr(hookspecs, name))
        assert "Args:" in doc and "Example::" in doc, name


def hook_signature(function: object) -> str:
    """``name(arg: Type, ...) -> Return`` as written in the hookspec's source."""
    annotations = function.__annotations__
    arguments = ", ".join(
        f"{name}: {annotations[name]}" for name in inspect.signature(function).parameters
    )
    return f"{function.__name__}({arguments}) -> {annotations['return']}"


def test_every_hookspec_is_in_plugins_md_with_its_signature() -> None:
    text = (DOCS / "plugins.md").read_text()
    hooks = [
        function
        for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
        if name.startswith("irem_")
    ]
    missing = [hook_signature(hook) for hook in hooks if f"`{hook_signature(hook)}`" not in text]
    assert not missing, f"docs/plugins.md lacks these hook signatures: {missing}"


def test_plugins_md_shows_the_example_plugin_files_as_they_are() -> None:
    text = (DOCS / "plugins.md").read_text()
    plugin = DOCS.parent / "examples" / "irem-plugin-example"
    shown = re.findall(r"```\w+\n# file: (\S+)\n(.*?)```", text, flags=re.DOTALL)
    assert len(shown) >= 5
    for path, body in shown:
        assert body == (plugin / path).read_text(), f"docs/plugins.md shows an outdated {path}"


def protocol_members(cls: type) -> list[str]:
    """The attributes and methods a protocol declares itself."""
    methods = [
        name
        for name, value in vars(cls).items()
        if inspect.isfunction(value) and not name.startswith("_")
    ]
    return [*cls.__annotations__, *methods]


def test_every_protocol_and_capability_is_in_plugins_md_with_its_members() -> None:
    lines = (DOCS / "plugins.md").read_text().splitlines()
    found = [
        cls
        for _, cls in inspect.getmembers(protocols, inspect.isclass)
        if getattr(cls, "_is_runtime_protocol", False) and cls.__module__ == protocols.__name__
    ]
    assert len(found) >= 10
    for cls in found:
        rows = [line for line in lines if line.startswith(f"| `{cls.__name__}` |")]
        assert rows, f"docs/plugins.md has no table row for {cls.__name__}"
        missing = [name for name in protocol_members(cls) if f"`{name}" not in rows[0]]
        assert not missing, f"docs/plugins.md's {cls.__name__} row lacks {missing}"


ROOT = DOCS.parent
LINK = re.compile(r"\]\(([^)\s]+)\)")


def heading_anchors(path: Path) -> set[str]:
    """GitHub's anchors of a Markdown file's headings: lowercased, punctuation but ``-`` and
    ``_`` dropped, spaces as ``-``; a repeated heading gets ``-1``, ``-2``...; and the names of
    explicit anchors, ``<a id="name"></a>`` (which keep old links working after a move)."""
    anchors: set[str] = set()
    in_code = False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if not in_code:
            anchors.update(re.findall(r'<a (?:id|name)="([^"]+)"', line))
        if in_code or not line.startswith("#"):
            continue
        text = line.lstrip("#").strip().lower()
        slug = re.sub(r"[^\w\- ]", "", text).replace(" ", "-")
        anchor, count = slug, 0
        while anchor in anchors:
            count += 1
            anchor = f"{slug}-{count}"
        anchors.add(anchor)
    return anchors


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


@pytest.mark.parametrize("path", markdown_files(), ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(path: Path) -> None:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.DOTALL)
    broken = []
    for link in LINK.findall(text):
        if re.match(r"[a-z]+:", link):
            continue
        target, _, anchor = link.partition("#")
        file = (path.parent / target).resolve() if target else path
        checks_anchor = bool(anchor) and file.suffix == ".md"
        if not file.exists() or (checks_anchor and anchor not in heading_anchors(file)):
            broken.append(link)
    assert not broken, f"{path.relative_to(ROOT)}: broken links {broken}"


# --- repository paths named in the docs exist; reference pages stay short -------------------

# ``irem_plugins`` is the import name of ``plugins/``: as a file path it never exists.
REPO_DIRS = (
    "benchmarks",
    "docs",
    "examples",
    "irem_core",
    "irem_plugins",
    "models",
    "plugins",
    "tests",
)
CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
FENCE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)
REPO_PATH = re.compile(rf"(?<![\w./~-])((?:{'|'.join(REPO_DIRS)})/[\w./*<>…-]*)")


def code_text(text: str) -> list[str]:
    """The text of a Markdown file's fenced blocks and inline code spans."""
    fences = FENCE.findall(text)
    return fences + [span for _, span in CODE_SPAN.findall(FENCE.sub("", text))]


def cited_paths(text: str) -> list[str]:
    """Repository paths (``benchmarks/x.py``, ``models/addition``, ...) in code: in a fenced
    block or a code span, alone or inside a command; placeholders (``<name>``, ``...``,
    ``models/TASK``) are left out."""
    found = []
    for code in code_text(text):
        for path in REPO_PATH.findall(code):
            path = path.rstrip(".,:;")
            if any(mark in path for mark in ("<", ">", "…", "...")) or any(
                re.fullmatch(r"[A-Z][A-Z_]*", part) for part in path.split("/")
            ):
                continue
            found.append(path)
    return found


def exists(path: str, folder: Path) -> bool:
    """``path`` names a file or folder of the repository, from its root or from ``folder``;
    a glob (``benchmarks/campaigns/*.runs``) must match at least one."""
    for base in (ROOT, folder):
        if "*" in path:
            if any(base.glob(path)):
                return True
        elif (base / path).exists():
            return True
    return False


@pytest.mark.parametrize("path", markdown_files(), ids=lambda path: str(path.relative_to(ROOT)))
def test_every_repository_path_in_code_exists(path: Path) -> None:
    missing = sorted(
        {cited for cited in cited_paths(path.read_text()) if not exists(cited, path.parent)}
    )
    assert not missing, f"{path.relative_to(ROOT)} names paths that do not exist: {missing}"


def test_the_path_check_can_fail() -> None:
    text = (
        "Run `python benchmarks/nowhere.py`, see `models/variants/<name>` and\n"
        "```\nirem eval models/addition\n```\n"
    )
    assert cited_paths(text) == ["models/addition", "benchmarks/nowhere.py"]
    assert not exists("benchmarks/nowhere.py", DOCS) and exists("models/addition", DOCS)
    assert exists("benchmarks/tools/campaigns/*.runs", DOCS)
    assert cited_paths("`my_plugins/graph.py`, `~/ttq/models/x`, `models/TASK`") == []
    assert cited_paths("`irem_plugins/graph.py`") == ["irem_plugins/graph.py"]
    assert not exists("irem_plugins/graph.py", DOCS)


MODULE_COMMAND = re.compile(r"python3? -m ((?:benchmarks|irem_core|irem_plugins)(?:\.\w+)*)")


def module_exists(module: str) -> bool:
    """``python -m module`` finds a module of the repository (``irem_plugins`` is ``plugins/``)."""
    parts = module.split(".")
    parts[0] = "plugins" if parts[0] == "irem_plugins" else parts[0]
    path = ROOT.joinpath(*parts)
    return path.with_suffix(".py").is_file() or (path / "__main__.py").is_file()


@pytest.mark.parametrize("path", markdown_files(), ids=lambda path: str(path.relative_to(ROOT)))
def test_every_python_m_command_names_a_module_that_exists(path: Path) -> None:
    commands = {
        module for code in code_text(path.read_text()) for module in MODULE_COMMAND.findall(code)
    }
    missing = sorted(module for module in commands if not module_exists(module))
    assert not missing, f"{path.relative_to(ROOT)} runs modules that do not exist: {missing}"


def test_the_module_check_can_fail() -> None:
    assert MODULE_COMMAND.findall("`python -m benchmarks.speed.run --quick`") == [
        "benchmarks.speed.run"
    ]
    assert module_exists("benchmarks.speed.run") and module_exists("irem_core")
    assert not module_exists("benchmarks.nowhere")


@pytest.mark.parametrize("path", sorted(DOCS.glob("*.md")), ids=lambda path: path.name)
def test_every_reference_page_fits_in_400_lines(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= 400, (
        f"docs/{path.name} has {lines} lines: reference pages say what is true now in at most "
        "400; move investigations to docs/notes/ and leave a summary that links there"
    )


def first_table(text: str) -> list[list[str]]:
    """The cells of a Markdown file's first table, header row included, separator left out."""
    rows = []
    for line in FENCE.sub("", text).splitlines():
        if line.startswith("|"):
            rows.append(line)
        elif rows:
            break
    cells = [[cell.strip() for cell in re.split(r"(?<!\\)\|", row.strip())[1:-1]] for row in rows]
    return [row for row in cells if not all(re.fullmatch(r":?-+:?", cell) for cell in row)]


def test_results_md_opens_with_one_short_claims_table() -> None:
    table = first_table((DOCS / "results.md").read_text())
    assert table and table[0] == ["claim", "paper", "ours", "verdict", "details"], table[:1]
    assert len(table) > 5
    long = [cell for row in table for cell in row if len(cell) > 200]
    assert not long, f"docs/results.md's claims table has cells over 200 characters: {long}"
    for row in table[1:]:
        assert len(row) == 5, row
        assert re.search(r"\]\([^)]+\)", row[4]), f"no link in the details cell: {row}"
