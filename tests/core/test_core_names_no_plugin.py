"""The core knows no plugin: no built-in component name or plugin import in irem_core's code."""

from __future__ import annotations

import ast
from pathlib import Path

from irem_core.plugins.manager import load_plugins

CORE = Path(__file__).parents[2] / "irem_core"
PROJECT = {"irem"}
"""The project's own name is also the IREM solver's; the core uses it as the name of the
entry-point group and of the program, so it is not counted."""


def builtin_names() -> set[str]:
    plugins = load_plugins()
    return {
        name
        for registry in plugins.registries.values()
        for component in registry.components()
        if component.plugin.distribution == "irem"
        for name in (component.name, *component.aliases)
    } - PROJECT


def code_strings(tree: ast.AST) -> list[tuple[int, str]]:
    """String constants that are not docstrings, with their line numbers."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_irem_core_names_no_builtin_component_and_imports_no_plugin() -> None:
    names = builtin_names()
    assert {"addition", "shortest_path", "mlp", "gd", "fold", "feedforward", "reproduce"} <= names
    found = []
    for path in sorted(CORE.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                modules = (
                    [alias.name for alias in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                )
                found += [
                    f"{path.name}:{node.lineno} imports {module}"
                    for module in modules
                    if module.startswith("irem_plugins")
                ]
        found += [
            f"{path.name}:{line} names {text!r}"
            for line, text in code_strings(tree)
            if text in names
        ]
    assert not found, "irem_core names built-in plugins:\n" + "\n".join(found)
