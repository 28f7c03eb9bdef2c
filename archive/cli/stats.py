"""`newsarchive stats`: what the archive holds and the latest crawl runs."""

from __future__ import annotations

import json

import click

from archive.cli.options import connect, db_option
from archive.stats import archive_stats, format_stats, stats_document


@click.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead.")
@db_option
def stats_command(as_json: bool, db_url: str | None) -> None:
    """Articles per site, language and month of publication, and the last crawl runs."""
    engine = connect(db_url)
    try:
        stats = archive_stats(engine)
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps(stats_document(stats), ensure_ascii=False, indent=2))
    else:
        click.echo(format_stats(stats))
