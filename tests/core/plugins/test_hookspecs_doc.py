"""docs/plugins.md's hook reference is generated from the hookspecs' docstrings.

The section between ``<!-- hooks:begin -->`` and ``<!-- hooks:end -->`` must equal
:func:`render_hook_reference`; on a mismatch the test prints the text to paste there.
"""

from __future__ import annotations

import inspect
from pathlib import Path

from irem_core.plugins import hookspecs

PLUGINS_MD = Path(__file__).parents[3] / "docs" / "plugins.md"
BEGIN, END = "<!-- hooks:begin -->", "<!-- hooks:end -->"


def hooks() -> list[object]:
    """The ``irem_register_*`` hookspecs, in the order of hookspecs.py."""
    found = [
        function
        for name, function in vars(hookspecs).items()
        if name.startswith("irem_register_") and inspect.isfunction(function)
    ]
    return sorted(found, key=lambda function: function.__code__.co_firstlineno)


def signature(function: object) -> str:
    """``name(arg: Type, ...) -> Return`` as annotated in hookspecs.py."""
    annotations = function.__annotations__
    arguments = ", ".join(
        f"{name}: {annotations[name]}" for name in inspect.signature(function).parameters
    )
    return f"{function.__name__}({arguments}) -> {annotations['return']}"


def render_hook_reference() -> str:
    """One ``### `signature``` heading per hook, its docstring verbatim below (Markdown renders
    the docstring's indented ``Example::`` block as code), hooks in hookspecs.py's order."""
    return "\n\n".join(
        f"### `{signature(function)}`\n{inspect.getdoc(function)}" for function in hooks()
    )


def documented_hook_reference() -> str:
    text = PLUGINS_MD.read_text()
    assert text.count(BEGIN) == 1 and text.count(END) == 1, f"{PLUGINS_MD.name} lacks the markers"
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n")


def test_the_hook_reference_in_plugins_md_is_generated_from_the_hookspecs() -> None:
    expected = render_hook_reference().strip("\n")
    if documented_hook_reference() != expected:
        print(f"Paste between {BEGIN} and {END} in docs/plugins.md:\n\n{expected}\n")
    assert documented_hook_reference() == expected, (
        "docs/plugins.md's hook reference differs from irem_core/plugins/hookspecs.py "
        "(regenerated text printed above)"
    )


def test_every_hook_is_rendered_once() -> None:
    names = [function.__name__ for function in hooks()]
    assert len(names) == 7 and len(set(names)) == 7
    rendered = render_hook_reference()
    assert all(rendered.count(f"### `{name}(") == 1 for name in names)
