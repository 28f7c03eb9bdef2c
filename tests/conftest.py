"""Shared fixtures: archive databases (SQLite file and real PostgreSQL) and local sites."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from archive.cli import DEMO_PORTAL
from archive.localsite import LocalSite

POSTGRES_URL = os.environ.get(
    "NEWSARCHIVE_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
NEWSARCHIVE = [str(Path(sys.executable).with_name("newsarchive"))]
FAST_CRAWL = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False"]


def _postgres_unavailable() -> str | None:
    engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return None
    except OperationalError as exc:
        return f"no PostgreSQL server answers at {POSTGRES_URL}: {str(exc.orig).strip()}"
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """The PostgreSQL server; skipped where none answers, except in CI, where it must."""
    if reason := _postgres_unavailable():
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL tests: {reason}")
        pytest.skip(reason)
    return POSTGRES_URL


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"newsarchive_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(postgres_admin_url).set(database=name).render_as_string(False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on a SQLite file and on a real PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'archive.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def demo_site() -> Iterator[LocalSite]:
    with LocalSite(DEMO_PORTAL) as site:
        yield site


# Where commands run when a test names no directory: crawls write WARC files to ./warc.
WORKDIR = Path(tempfile.mkdtemp(prefix="newsarchive-tests-"))


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 120):
    """Run `newsarchive ARGS` in a subprocess (Scrapy's reactor runs once per process)."""
    return subprocess.run(
        [*NEWSARCHIVE, *args],
        capture_output=True,
        text=True,
        cwd=cwd or WORKDIR,
        timeout=timeout,
        env={**os.environ, "NEWSARCHIVE_DB": ""},
    )
