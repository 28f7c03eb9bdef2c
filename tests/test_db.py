"""Opening, creating and upgrading the archive database."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, inspect, text

from archive.db import (
    ArchiveUnavailable,
    alembic_config,
    create_archive_engine,
    open_archive,
    resolve_db_url,
    upgrade_schema,
)
from archive.models import Base
from archive.store import ArchiveWriter, Outcome, archive_url_key
from pipelines.article import ExtractedArticle
from pipelines.dedup import content_hash
from pipelines.urls import url_key

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


def test_archive_of_a_newer_version_is_refused_in_one_line(db_url: str) -> None:
    engine = open_archive(db_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0999'"))
    engine.dispose()
    with pytest.raises(ArchiveUnavailable) as error:
        open_archive(db_url)
    assert "schema revision 0999" in str(error.value)
    assert "newer version" in str(error.value)
    assert "\n" not in str(error.value)


def test_read_only_archive_can_be_read_but_not_written(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    open_archive(f"sqlite:///{path}").dispose()
    read_only = f"sqlite:///file:{path}?mode=ro&uri=true"
    engine = open_archive(read_only)
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM articles")) == 0
    with pytest.raises(ArchiveUnavailable, match="readonly database") as error:
        ArchiveWriter(engine)
    assert "\n" not in str(error.value)

    queried = create_archive_engine(f"sqlite:///{path}")
    event.listen(queried, "connect", lambda dbapi, _: dbapi.execute("PRAGMA query_only=ON"))
    with pytest.raises(ArchiveUnavailable, match="readonly database"):
        ArchiveWriter(queried)


def test_read_only_archive_that_needs_an_upgrade_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    engine = create_archive_engine(f"sqlite:///{path}")
    upgrade_schema(engine, "0004")
    engine.dispose()
    with pytest.raises(ArchiveUnavailable, match="readonly database") as error:
        open_archive(f"sqlite:///file:{path}?mode=ro&uri=true")
    assert "\n" not in str(error.value)


def test_migrated_schema_is_the_models_schema(db_url: str) -> None:
    engine = open_archive(db_url)
    search = {"article_search", "search_vector", "ix_articles_search_vector"}
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "include_object": lambda _obj, name, *_: (
                    name not in search and not (name or "").startswith("article_search_")
                )
            },
        )
        assert compare_metadata(context, Base.metadata) == []


def test_upgrade_bounds_url_keys_too_long_to_index(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    engine = create_archive_engine(url)
    upgrade_schema(engine, "0004")
    long_url = "https://portal.example/news/" + "x" * 5000
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO sites (id, name, created_at) VALUES (1, 'portal', '2026-11-24');")
        )
        connection.execute(
            text(
                "INSERT INTO articles (id, site_id, canonical_url, url, lang, title, text,"
                " content_hash, first_seen, last_fetched) VALUES (1, 1, :url, :url, 'ru',"
                " 'Завод', 'Текст.', :hash, '2026-11-24', '2026-11-24')"
            ),
            {"url": long_url, "hash": content_hash("Завод", "Текст.")},
        )
        connection.execute(
            text("INSERT INTO article_urls (url_key, article_id) VALUES (:key, 1)"),
            {"key": url_key(long_url)},
        )
    upgrade_schema(engine)
    with engine.connect() as connection:
        assert connection.scalars(text("SELECT url_key FROM article_urls")).all() == [
            archive_url_key(long_url)
        ]
    item = ExtractedArticle(
        url=long_url,
        site="portal",
        fetched_at=dt.datetime(2026, 11, 25, tzinfo=dt.UTC),
        canonical_url=long_url,
        title="Завод",
        text="Текст.",
        lang="ru",
        content_hash=content_hash("Завод", "Текст."),
    )
    assert ArchiveWriter(engine).save(item) is Outcome.UNCHANGED
