"""The `newsarchive` command line: the `main` group and its commands, one module per group
of commands (crawl, pages, search, export, stats, db); options.py holds what they share.

Only this package imports click: the storage, search, export and stats modules it calls
are plain functions that raise plain exceptions.
"""

from __future__ import annotations

import os
import sys

import click

from archive import exitcodes
from archive.cli.crawl import (
    DEMO_PORTAL,
    DEMO_SETTINGS,
    DEMO_SITE,
    crawl_command,
    demo_command,
    sites_command,
)
from archive.cli.db import db_group
from archive.cli.export import export_command
from archive.cli.health import health_command
from archive.cli.metrics import metrics_command
from archive.cli.pages import extract_command, import_warc_command, reprocess_command
from archive.cli.schedule import schedule_group
from archive.cli.search import search_command
from archive.cli.stats import stats_command
from archive.store import ArchiveUnreachable

__all__ = ["DEMO_PORTAL", "DEMO_SETTINGS", "DEMO_SITE", "NewsarchiveGroup", "main"]


class NewsarchiveGroup(click.Group):
    """The command group, with the exit codes of archive.exitcodes where click would end in
    a traceback, `Aborted!` or status 1: Ctrl-C (130, also while a command starts up), a
    database lost while a command writes (4), and a reader that closed the pipe early
    (`newsarchive export | head`: a quiet end, 0)."""

    def main(self, *args, **kwargs):
        try:
            kwargs.pop("standalone_mode", None)
            return super().main(*args, standalone_mode=False, **kwargs)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except ArchiveUnreachable as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(exitcodes.ARCHIVE_FAILED)
        except (click.exceptions.Abort, KeyboardInterrupt):
            click.echo("interrupted", err=True)
            sys.exit(exitcodes.INTERRUPTED)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise click.exceptions.Exit(exitcodes.OK) from None


@click.group(cls=NewsarchiveGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="newsarchive")
def main() -> None:
    """Harvest news from regional investment portals into a clean multilingual archive."""


for command in (
    crawl_command,
    sites_command,
    demo_command,
    extract_command,
    reprocess_command,
    import_warc_command,
    db_group,
    export_command,
    stats_command,
    health_command,
    metrics_command,
    search_command,
    schedule_group,
):
    main.add_command(command)
del command
