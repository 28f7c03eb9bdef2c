"""`newsarchive export`: archived articles for analysts and indexers."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click
from sqlalchemy.exc import DBAPIError

# The module, not its names: a test replaces export.iter_export_records.
from archive import export
from archive.cli.options import (
    CommandError,
    CommandFailed,
    check_output_path,
    connect,
    date_option,
    db_option,
    with_progress,
)


@click.command("export")
@click.option(
    "--format",
    "export_format",
    type=click.Choice(export.EXPORT_FORMATS),
    default="jsonl",
    show_default=True,
    help="JSON lines, CSV with a header row, or an Elasticsearch/OpenSearch bulk request.",
)
@click.option(
    "--index",
    default=export.DEFAULT_INDEX,
    show_default=True,
    metavar="NAME",
    help="Index named in the actions of --format bulk.",
)
@click.option(
    "--since",
    metavar="CURSOR",
    help="Only articles new or changed since the cursor an earlier export printed.",
)
@click.option("--lang", "langs", multiple=True, metavar="CODE", help="Language (repeatable).")
@click.option("--site", "sites", multiple=True, metavar="NAME", help="Site (repeatable).")
@date_option("--from", "published_from", help="Published on or after DATE (YYYY-MM-DD).")
@date_option("--until", "published_until", help="Published on or before DATE (YYYY-MM-DD).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write to FILE (replaced only when the export succeeds) instead of stdout.",
)
@db_option
def export_command(
    export_format: str,
    index: str,
    since: str | None,
    langs: tuple[str, ...],
    sites: tuple[str, ...],
    published_from: dt.datetime | None,
    published_until: dt.datetime | None,
    output: Path | None,
    db_url: str | None,
) -> None:
    """Export archived articles, in full or only those changed since a cursor.

    Every export ends by printing `cursor: VALUE` on stderr; pass it to --since next time
    (with the same filters) to get the articles added or changed in between.
    """
    try:
        since_cursor = export.Cursor.parse(since) if since is not None else None
    except export.CursorError as exc:
        raise CommandError(str(exc)) from None
    if published_from and published_until and published_from > published_until:
        raise CommandError("--from is after --until")
    filters = export.ExportFilter(
        langs=langs,
        sites=sites,
        published_from=published_from.date() if published_from else None,
        published_until=published_until.date() if published_until else None,
    )
    if output is not None:
        check_output_path(output)
    engine = connect(db_url)
    write = export.record_writer(export_format, index=index)
    try:
        cursor = export.export_cursor(engine)
        if since_cursor is not None and since_cursor > cursor:
            raise CommandError(
                f"cursor {since_cursor} is ahead of this archive, whose latest is {cursor}: "
                "was it printed by an export of another database?"
            )
        records = export.iter_export_records(
            engine, since=since_cursor, upto=cursor, filters=filters
        )
        if sys.stderr.isatty():
            total = export.count_export_records(
                engine, since=since_cursor, upto=cursor, filters=filters
            )
            records = with_progress(records, total, "exporting")
        if output is None:
            write(records, sys.stdout)
        else:
            with export.atomic_output(output) as stream:
                count = write(records, stream)
            click.echo(f"exported {count} articles to {output}", err=True)
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise CommandFailed(f"export failed: {reason}") from exc
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            raise
        raise CommandFailed(
            f"export failed: cannot write {output or 'stdout'}: {exc.strerror}"
        ) from exc
    finally:
        engine.dispose()
    click.echo(f"cursor: {cursor}", err=True)
