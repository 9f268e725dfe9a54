"""Docs cannot drift: every config field and every hook is documented."""

from __future__ import annotations

import inspect
from pathlib import Path

import attrs
import pytest

from irem_core import hookspecs
from irem_core.config import EvalConfig, RunConfig, TrainConfig
from irem_core.plugins import load_plugins

DOCS = Path(__file__).parent.parent / "docs"


def config_classes() -> list[type]:
    classes = [RunConfig, TrainConfig, EvalConfig]
    for registry in load_plugins().registries.values():
        classes += [component.config for component in registry.components()
                    if component.plugin.distribution == "irem"]
    return classes


@pytest.mark.parametrize("cls", config_classes(), ids=lambda cls: cls.__name__)
def test_every_config_field_is_in_config_md(cls: type) -> None:
    text = (DOCS / "config.md").read_text()
    missing = [field.name for field in attrs.fields(cls) if f"| `{field.name}` |" not in text]
    assert not missing, f"docs/config.md lacks {cls.__name__} fields: {missing}"


def test_every_hookspec_has_a_documented_signature_and_example() -> None:
    hooks = [name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction)
             if name.startswith("irem_")]
    assert len(hooks) == 5
    for name in hooks:
        doc = inspect.getdoc(getattr(hookspecs, name))
        assert "Args:" in doc and "Example::" in doc, name
