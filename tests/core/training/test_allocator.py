"""``keep_freed_memory``: glibc reuses freed tensor memory instead of faulting it in anew."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from irem_core.cli import app as cli
from irem_core.training.allocator import USER_SETTINGS, keep_freed_memory

FAULTS = """
import resource, sys, torch
from irem_core.training.allocator import keep_freed_memory
assert keep_freed_memory()
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(3):
    torch.ones(4_000_000) * 2
before = faults()
for _ in range(20):
    (torch.ones(4_000_000) * 2).sum()  # two 16 MB tensors made and freed per round
print(faults() - before)
"""


def _page_faults_with_freed_memory_kept() -> int:
    env = {name: value for name, value in os.environ.items() if name not in USER_SETTINGS}
    done = subprocess.run(
        [sys.executable, "-c", FAULTS], capture_output=True, text=True, check=True, env=env
    )
    return int(done.stdout)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")
def test_freed_tensors_are_reused_without_page_faults() -> None:
    """20 rounds of two 16 MB tensors (3,906 pages each): kept memory faults in a few
    tensors' pages while the heap grows (11 to 11,729 faults seen), where glibc's defaults
    usually fault in every tensor of every round again (about 155,000)."""
    assert _page_faults_with_freed_memory_kept() < 5 * 3_906


@pytest.mark.parametrize("setting", USER_SETTINGS)
def test_a_users_own_malloc_setting_is_left_alone(
    setting: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(setting, "131072")
    assert keep_freed_memory() is False


def test_every_command_keeps_freed_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bool] = []
    monkeypatch.setattr(cli, "keep_freed_memory", lambda: calls.append(True) or True)
    assert cli.main(["plugins"]) == 0
    assert calls == [True]
