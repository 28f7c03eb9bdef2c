"""Pieces every `newsarchive` command shares: the --db option, one-line errors, progress."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

import click
from sqlalchemy import Engine

from archive.db import ArchiveUnavailable, open_archive

T = TypeVar("T")


class CommandError(click.ClickException):
    """A problem with what the user asked for: one line on stderr, exit code 2."""

    exit_code = 2


db_option = click.option(
    "--db",
    "db_url",
    metavar="URL",
    help="Archive database URL (default: $NEWSARCHIVE_DB or sqlite:///archive.db).",
)


def date_option(*names: str, help: str):
    """A YYYY-MM-DD option, as the date filters of search and export take them."""
    return click.option(*names, type=click.DateTime(["%Y-%m-%d"]), metavar="DATE", help=help)


def connect(db_url: str | None) -> Engine:
    try:
        return open_archive(db_url)
    except ArchiveUnavailable as exc:
        raise CommandError(str(exc)) from None


def with_progress(items: Iterable[T], length: int | None, label: str) -> Iterator[T]:
    """A progress bar on a terminal; in logs and pipes, nothing."""
    if not sys.stderr.isatty():
        yield from items
        return
    with click.progressbar(items, length=length, label=label, file=sys.stderr) as bar:
        yield from bar
