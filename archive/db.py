"""Choosing, opening and upgrading the archive database."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_DB_URL = "sqlite:///archive.db"
DB_ENV_VAR = "NEWSARCHIVE_DB"
SQLITE_BUSY_TIMEOUT_MS = 30_000
MIGRATIONS_DIR = Path(__file__).with_name("migrations")


class ArchiveUnavailable(Exception):
    """The archive database cannot be used; the message names the problem in one line."""


def resolve_db_url(url: str | None = None) -> str:
    return url or os.environ.get(DB_ENV_VAR) or DEFAULT_DB_URL


def parse_db_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ArchiveUnavailable(f"cannot parse database URL {url!r}") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ArchiveUnavailable(
            f"unsupported database {parsed.get_backend_name()!r} in {url!r}: "
            "use sqlite:///FILE or postgresql://..."
        )
    return parsed


def _check_sqlite_path(url: URL) -> None:
    if not url.database or url.database == ":memory:":
        return
    directory = Path(url.database).expanduser().resolve().parent
    if not directory.is_dir():
        raise ArchiveUnavailable(f"directory {directory} of the SQLite archive does not exist")
    if not os.access(directory, os.W_OK):
        raise ArchiveUnavailable(f"directory {directory} of the SQLite archive is not writable")


def _set_sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_archive_engine(url: str | None = None) -> Engine:
    """An engine for the archive at `url`, without touching the database yet."""
    parsed = parse_db_url(resolve_db_url(url))
    if parsed.get_backend_name() == "sqlite":
        _check_sqlite_path(parsed)
        engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _set_sqlite_pragmas)
        return engine
    try:
        return create_engine(parsed, pool_pre_ping=True, connect_args={"connect_timeout": 10})
    except NoSuchModuleError as exc:
        raise ArchiveUnavailable(f"no database driver for {parsed.drivername!r}") from exc


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def upgrade_schema(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema to `revision` (alembic migrations)."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def open_archive(url: str | None = None) -> Engine:
    """Connect to the archive and bring its schema up to date, or raise ArchiveUnavailable."""
    engine = create_archive_engine(url)
    try:
        upgrade_schema(engine)
    except DBAPIError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise ArchiveUnavailable(
            f"cannot open database {engine.url.render_as_string(hide_password=True)}: {reason}"
        ) from exc
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
