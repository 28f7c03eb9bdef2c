"""The per-page core: framework-free, so that any program can run it."""

from __future__ import annotations

import subprocess
import sys

FRAMEWORKS = ("scrapy", "twisted", "click", "sqlalchemy", "alembic")


def test_the_core_loads_no_framework() -> None:
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; import pipelines.page; print(' '.join(sorted(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    assert [name for name in loaded if name.split(".")[0] in FRAMEWORKS] == []
