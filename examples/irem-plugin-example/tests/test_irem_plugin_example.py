"""The plugin checks itself with irem's contract kit; pytest loads the kit's fixtures.

Run after ``pip install -e .``: ``pytest tests``.
"""

from __future__ import annotations

import pytest
import torch

from irem_core.testing import ContractCase, check_optimizer, check_task, component_cases
from irem_plugin_example.adam import Adam, AdamConfig
from irem_plugin_example.sorting import SortConfig, SortTask


@pytest.mark.parametrize("case", component_cases(plugin="example"))
def test_registered_components_meet_their_contracts(case: ContractCase, irem_device: str) -> None:
    case.check(irem_device)


def test_longer_vectors_sort(irem_device: str) -> None:
    check_task(SortTask(SortConfig(length=32)), device=irem_device)


def test_adam_descends_with_a_large_step(irem_device: str) -> None:
    check_optimizer(lambda: Adam(AdamConfig(step_size=0.5)), device=irem_device)


def test_targets_are_sorted(irem_generator: torch.Generator) -> None:
    problems = SortTask(SortConfig()).sample("harder", 8, irem_generator)
    assert bool((problems.target.diff(dim=1) >= 0).all())
    assert torch.equal(problems.target, problems.inputs.sort(dim=1).values)
