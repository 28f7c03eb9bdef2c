"""The per-page core: framework-free, so that any program can run it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pipelines

FRAMEWORKS = ("scrapy", "twisted", "click", "sqlalchemy", "alembic", "warcio")
OURS_OUTSIDE_THE_CORE = ("crawler", "archive", "benchmarks", "tests")
CORE_MODULES = sorted(
    f"pipelines.{path.stem}" for path in Path(pipelines.__file__).parent.glob("*.py")
)


def test_the_core_loads_no_framework_and_nothing_of_ours_outside_it() -> None:
    imports = "; ".join(f"import {name}" for name in CORE_MODULES)
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys; {imports}; from pipelines.page import extract_page; "
            "extract_page('<html><body><h1>A</h1><p>Text.</p></body></html>', 'http://a.ru/'); "
            "print(' '.join(sorted(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    assert "pipelines.language" in loaded
    roots = {name.split(".")[0] for name in loaded}
    assert roots.isdisjoint(FRAMEWORKS + OURS_OUTSIDE_THE_CORE)
