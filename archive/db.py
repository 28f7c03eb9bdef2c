"""Choosing, opening and upgrading the archive database."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import sqlite3
import tempfile
import time
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_DB_URL = "sqlite:///archive.db"
DB_ENV_VAR = "NEWSARCHIVE_DB"
SQLITE_BUSY_TIMEOUT_MS = 30_000
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# The key of the PostgreSQL advisory lock that one schema upgrade at a time holds.
MIGRATION_LOCK_ID = 0x6E657773_61726368
SQLITE_BEGIN_OPTION = "sqlite_begin"


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


def sqlite_file(url: URL) -> Path | None:
    """The file of a SQLite archive; None for an in-memory one."""
    if not url.database or url.database == ":memory:":
        return None
    path = url.database
    if url.query.get("uri") == "true":
        path = path.removeprefix("file:")
    return Path(path).expanduser()


def _check_sqlite_path(url: URL, create: bool) -> None:
    path = sqlite_file(url)
    if path is None:
        return
    if not create and not path.is_file():
        raise ArchiveUnavailable(
            f"no archive at {path}: check the path, or create one with `newsarchive crawl`"
            " or `newsarchive db upgrade`"
        )
    directory = path.resolve().parent
    if not directory.is_dir():
        raise ArchiveUnavailable(f"directory {directory} of the SQLite archive does not exist")
    if not os.access(directory, os.W_OK):
        raise ArchiveUnavailable(f"directory {directory} of the SQLite archive is not writable")


def _set_sqlite_pragmas(dbapi_connection, _record) -> None:
    # SQLAlchemy's begin event, not pysqlite, starts every transaction (see _begin_sqlite).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    _set_wal(cursor)
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _set_wal(cursor: sqlite3.Cursor) -> None:
    """WAL journal mode, which the file keeps once set. Setting it needs the file to itself,
    and SQLite gives up at once rather than wait while another connection opens it (its
    busy timeout does not apply): the archive's first openers take turns."""
    delay = 0.01
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


def _begin_sqlite(connection: Connection) -> None:
    """BEGIN, or BEGIN IMMEDIATE for the engines of `writing`: a writer takes SQLite's write
    lock before it reads what it will write, so no other writer can change that in between."""
    mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
    connection.exec_driver_sql(f"BEGIN {mode}")


def writing(engine: Engine) -> Engine:
    """The engine for transactions that write; on SQLite they hold the write lock throughout."""
    return engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})


def create_archive_engine(url: str | None = None, create: bool = True) -> Engine:
    """An engine for the archive at `url`, without touching the database yet; without
    `create`, a SQLite archive must exist."""
    parsed = parse_db_url(resolve_db_url(url))
    if parsed.get_backend_name() == "sqlite":
        _check_sqlite_path(parsed, create)
        engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _set_sqlite_pragmas)
        event.listen(engine, "begin", _begin_sqlite)
        return engine
    try:
        return create_engine(parsed, pool_pre_ping=True, connect_args={"connect_timeout": 10})
    except NoSuchModuleError as exc:
        raise ArchiveUnavailable(f"no database driver for {parsed.drivername!r}") from exc


def _copy_tree(source: Traversable, target: Path) -> None:
    target.mkdir()
    for entry in source.iterdir():
        if entry.is_dir():
            _copy_tree(entry, target / entry.name)
        else:
            (target / entry.name).write_bytes(entry.read_bytes())


@functools.cache
def migrations_dir() -> Path:
    """The directory of the migrations; when the package is imported from a zip file (the
    egg Scrapyd runs), a copy of them in a temporary directory, as alembic reads files."""
    if MIGRATIONS_DIR.is_dir():
        return MIGRATIONS_DIR
    copy = Path(tempfile.mkdtemp(prefix="newsarchive-migrations-"))
    atexit.register(shutil.rmtree, copy, ignore_errors=True)
    _copy_tree(resources.files("archive") / "migrations", copy / "migrations")
    return copy / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    return config


def _current_revisions(connection: Connection, script: ScriptDirectory) -> set[str]:
    """The schema revisions of the database; ArchiveUnavailable for one this code does not know."""
    current = set(MigrationContext.configure(connection).get_current_heads())
    known = {revision.revision for revision in script.walk_revisions()}
    if unknown := current - known:
        raise ArchiveUnavailable(
            f"the archive {_display(connection.engine)} has schema revision "
            f"{', '.join(sorted(unknown))}, which this version of newsarchive does not know "
            f"(its newest is {script.get_current_head()}): it was written by a newer version"
        )
    return current


def upgrade_schema(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema to `revision` (alembic migrations).

    One process at a time upgrades: the others wait for it, then find the schema up to date.
    An archive already at `revision` is only read, so a read-only one opens too.
    """
    config = alembic_config()
    script = ScriptDirectory.from_config(config)
    wanted = {rev.revision for rev in script.get_revisions(revision)}
    with engine.connect() as connection:
        if _current_revisions(connection, script) == wanted:
            return
    with writing(engine).begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        if _current_revisions(connection, script) == wanted:
            return
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def _display(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def error_reason(exc: DBAPIError) -> str:
    """The first line of what the database said."""
    lines = (str(exc.orig) if exc.orig else str(exc)).strip().splitlines()
    return lines[0] if lines else type(exc.orig or exc).__name__


def open_archive(url: str | None = None, create: bool = True) -> Engine:
    """Connect to the archive and bring its schema up to date, or raise ArchiveUnavailable.

    Without `create`, a SQLite file that does not exist is an error (a mistyped path),
    not a new empty archive.
    """
    engine = create_archive_engine(url, create)
    try:
        upgrade_schema(engine)
    except ArchiveUnavailable:
        engine.dispose()
        raise
    except DBAPIError as exc:
        engine.dispose()
        raise ArchiveUnavailable(
            f"cannot open database {_display(engine)}: {error_reason(exc)}"
        ) from exc
    return engine


def check_writable(engine: Engine) -> None:
    """ArchiveUnavailable unless the archive takes writes (a file may be read-only, a
    connection `PRAGMA query_only`, a PostgreSQL server a read-only standby)."""
    try:
        with writing(engine).connect() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = version_num"))
            connection.rollback()
    except DBAPIError as exc:
        raise ArchiveUnavailable(
            f"cannot write to the archive {_display(engine)}: {error_reason(exc)}"
        ) from exc


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
