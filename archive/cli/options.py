"""Pieces every `newsarchive` command shares: the --db, date and -s options, one-line
errors with their exit codes, opening the archive, progress bars."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

import click
from sqlalchemy import Engine

from archive import exitcodes
from archive.db import ArchiveUnavailable, open_archive
from archive.profiles import ProfileError, SiteProfile, load_profiles

T = TypeVar("T")


class CommandError(click.ClickException):
    """A problem with what the user asked for: one line on stderr, exit code 2."""

    exit_code = exitcodes.USAGE


class CommandFailed(click.ClickException):
    """The work was begun but could not be completed: one line on stderr, exit code 3."""

    exit_code = exitcodes.FAILURES


class ArchiveFailed(click.ClickException):
    """The archive could not be written or read back: one line on stderr, exit code 4."""

    exit_code = exitcodes.ARCHIVE_FAILED


db_option = click.option(
    "--db",
    "db_url",
    metavar="URL",
    help="Archive database URL (default: $NEWSARCHIVE_DB or sqlite:///archive.db).",
)


def date_option(*names: str, help: str):
    """A YYYY-MM-DD option, as the date filters of search and export take them."""
    return click.option(*names, type=click.DateTime(["%Y-%m-%d"]), metavar="DATE", help=help)


setting_option = click.option(
    "-s",
    "--set",
    "settings",
    multiple=True,
    metavar="NAME=VALUE",
    help="Override a Scrapy setting, as with `scrapy crawl -s` (repeatable).",
)


def connect(db_url: str | None, create: bool = False) -> Engine:
    """The archive at `db_url`. Only commands that fill an archive (`create`) may start a
    new SQLite file: for the others a missing file is a mistyped path, not an empty archive.
    """
    try:
        return open_archive(db_url, create=create)
    except ArchiveUnavailable as exc:
        raise CommandError(str(exc)) from None


def check_output_path(path: Path) -> None:
    """Raises CommandError when `path` cannot be written, before any work is done."""
    directory = path.parent
    if not directory.is_dir():
        raise CommandError(f"cannot write {path}: directory {directory} does not exist")
    if path.is_dir():
        raise CommandError(f"cannot write {path}: it is a directory")
    if not os.access(directory, os.W_OK):
        raise CommandError(f"cannot write {path}: directory {directory} is not writable")


def with_progress(items: Iterable[T], length: int | None, label: str) -> Iterator[T]:
    """A progress bar on a terminal; in logs and pipes, nothing."""
    if not sys.stderr.isatty():
        yield from items
        return
    with click.progressbar(items, length=length, label=label, file=sys.stderr) as bar:
        yield from bar


def bundled_profiles() -> dict[str, SiteProfile]:
    """The bundled site profiles by name, or a one-line usage error."""
    try:
        return load_profiles()
    except ProfileError as exc:
        raise CommandError(str(exc)) from None


def named_profiles(names: Iterable[str]) -> list[SiteProfile]:
    """The bundled profiles of `names`, or a usage error naming those there are none of."""
    profiles = bundled_profiles()
    unknown = [name for name in names if name not in profiles]
    if unknown:
        raise CommandError(
            f"no profile for {', '.join(unknown)}; known sites: {', '.join(profiles)}"
        )
    return [profiles[name] for name in names]
