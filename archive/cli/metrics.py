"""`newsarchive metrics`: the archive's figures in the Prometheus text exposition format."""

from __future__ import annotations

import click
from sqlalchemy.exc import DBAPIError

from archive.cli.options import ArchiveFailed, connect, db_option
from archive.db import error_reason
from archive.metrics import metrics_text


@click.command("metrics")
@db_option
def metrics_command(db_url: str | None) -> None:
    """Articles per site and the figures of each site's crawl runs, for Prometheus.

    Write the output where node-exporter's textfile collector reads it, or serve it.
    """
    engine = connect(db_url)
    try:
        text = metrics_text(engine)
    except DBAPIError as exc:
        raise ArchiveFailed(f"cannot read the archive: {error_reason(exc)}") from None
    finally:
        engine.dispose()
    click.echo(text, nl=False)
