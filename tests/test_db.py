"""Opening, creating and upgrading the archive database."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from archive.db import ArchiveUnavailable, alembic_config, open_archive, resolve_db_url

TABLES = {"sites", "articles", "article_versions", "article_alternates", "crawl_runs"}


def test_schema_is_created_on_first_use(db_url: str) -> None:
    engine = open_archive(db_url)
    assert set(inspect(engine).get_table_names()) >= TABLES
    with engine.connect() as connection:
        revision = connection.scalar(text("SELECT version_num FROM alembic_version"))
    assert revision == ScriptDirectory.from_config(alembic_config()).get_current_head()
    engine.dispose()
    open_archive(db_url).dispose()


def test_sqlite_runs_in_wal_mode_with_busy_timeout(tmp_path: Path) -> None:
    engine = open_archive(f"sqlite:///{tmp_path / 'a.db'}")
    with engine.connect() as connection:
        assert connection.scalar(text("PRAGMA journal_mode")) == "wal"
        assert connection.scalar(text("PRAGMA busy_timeout")) >= 5000
        assert connection.scalar(text("PRAGMA foreign_keys")) == 1


def test_default_url_comes_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSARCHIVE_DB", raising=False)
    assert resolve_db_url() == "sqlite:///archive.db"
    monkeypatch.setenv("NEWSARCHIVE_DB", "postgresql://h/db")
    assert resolve_db_url() == "postgresql://h/db"
    assert resolve_db_url("sqlite:///x.db") == "sqlite:///x.db"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "cannot parse database URL"),
        ("mysql://root@127.0.0.1/test", "unsupported database 'mysql'"),
        ("postgresql://postgres@127.0.0.1:1/test", "cannot open database"),
        ("sqlite:////nonexistent-dir/sub/a.db", "does not exist"),
    ],
)
def test_unusable_database_gives_one_line_reason(url: str, message: str) -> None:
    with pytest.raises(ArchiveUnavailable) as error:
        open_archive(url)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_sqlite_path_that_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ArchiveUnavailable, match="cannot open database"):
        open_archive(f"sqlite:///{tmp_path}")
