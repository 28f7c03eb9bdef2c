"""`newsarchive db`: managing the archive database."""

from __future__ import annotations

import click

from archive.cli.options import connect, db_option
from archive.db import resolve_db_url


@click.group("db")
def db_group() -> None:
    """Manage the archive database."""


@db_group.command("upgrade")
@db_option
def upgrade_command(db_url: str | None) -> None:
    """Create the archive schema or upgrade it to the latest version."""
    connect(db_url, create=True)
    click.echo(f"archive schema is up to date: {resolve_db_url(db_url)}")
