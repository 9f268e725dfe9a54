"""``irem plugins``: the installed plugins, what they register, and which are broken."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from irem_core.plugins.manager import Plugins, python_environment
from irem_core.plugins.registry import KINDS


def plugins_report(plugins: Plugins) -> dict[str, Any]:
    report: dict[str, Any] = {
        "python": sys.executable,
        "environment": python_environment(),
        "plugins": [],
    }
    for name, info in sorted(plugins.infos.items()):
        report["plugins"].append(
            {
                "name": name,
                "distribution": info.distribution,
                "version": info.version,
                "status": "active" if plugins.problem(name) is None else "broken",
                "error": plugins.problem(name),
                "registers": {
                    kind: sorted(names)
                    for kind, names in plugins.registered.get(name, {}).items()
                    if names
                },
            }
        )
    return report


def add_parser(commands: Any) -> None:
    """Add the command to ``commands`` (the subparsers of ``irem``)."""
    plugins_parser = commands.add_parser(
        "plugins", help="list installed plugins and what they register"
    )
    plugins_parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    plugins_parser.set_defaults(handler=cmd_plugins)


def cmd_plugins(args: argparse.Namespace) -> int:
    """``irem plugins``."""
    report = plugins_report(args.plugins)
    if args.json:
        print(json.dumps(report, indent=2))
        return _broken_exit(report)
    print(f"Python environment: {report['environment']} ({report['python']})")
    for plugin in report["plugins"]:
        origin = f"{plugin['distribution']} {plugin['version']}".strip() or "(no distribution)"
        print(f"\n{plugin['name']}  [{origin}]  {plugin['status']}")
        if plugin["error"]:
            print(f"  error: {plugin['error']}")
        for kind in KINDS:
            names = plugin["registers"].get(kind)
            if names:
                print(f"  {kind}: {', '.join(names)}")
    return _broken_exit(report)


def _broken_exit(report: dict[str, Any]) -> int:
    """1 (with what to fix on stderr) when an installed plugin is broken, else 0."""
    broken = [plugin for plugin in report["plugins"] if plugin["status"] == "broken"]
    for plugin in broken:
        fix = (
            f"upgrade or reinstall the distribution {plugin['distribution']!r}"
            if plugin["distribution"]
            else "fix the module it names"
        )
        print(
            f"irem plugins: plugin {plugin['name']!r} is broken ({plugin['error']}); {fix}, or "
            f"block it with IREM_BLOCK_PLUGINS={plugin['name']}",
            file=sys.stderr,
        )
    return 1 if broken else 0
