"""Layers: the command line sits on top of storage, and migrations stand on their own."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import archive

STORAGE_MODULES = ("archive.search", "archive.export", "archive.stats")
MIGRATIONS = Path(archive.__file__).with_name("migrations") / "versions"
APPLICATION_PACKAGES = ("archive", "pipelines", "crawler")


def test_storage_modules_load_no_click() -> None:
    """Search, export and stats are plain functions: only archive.cli imports click."""
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys; import {', '.join(STORAGE_MODULES)};"
            " print(' '.join(sorted(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    assert set(STORAGE_MODULES) <= set(loaded)
    assert [name for name in loaded if name.split(".")[0] == "click"] == []


def imported_modules(path: Path) -> list[str]:
    """Every module a file imports, at any depth of its code (relative imports as `.name`)."""
    modules = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules.append("." * node.level + (node.module or ""))
    return modules


def test_migrations_import_no_application_code() -> None:
    """A revision runs the code of its own day: what it needs of the application's constants,
    tables or functions is copied into it, never imported from the live modules."""
    revisions = sorted(MIGRATIONS.glob("*.py"))
    assert revisions
    offending = {
        path.name: [
            module
            for module in imported_modules(path)
            if module.startswith(".") or module.split(".")[0] in APPLICATION_PACKAGES
        ]
        for path in revisions
    }
    assert {name: modules for name, modules in offending.items() if modules} == {}
