"""`newsarchive search`: full-text search of the archive."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict

import click

from archive.cli.options import CommandError, connect, date_option, db_option
from archive.search import SearchHit, SearchQueryError, search


def _hit_record(hit: SearchHit) -> dict[str, object]:
    record = asdict(hit)
    record["published"] = hit.published.isoformat() if hit.published else None
    return record


def _format_hit(rank: int, hit: SearchHit) -> str:
    published = hit.published.isoformat() if hit.published else "undated"
    return (
        f"{rank}. {hit.title}\n"
        f"   {published}  {hit.site}  {hit.lang}\n"
        f"   {hit.url}\n"
        f"   {hit.snippet}\n"
    )


@click.command("search")
@click.argument("query", nargs=-1, required=True)
@click.option("--lang", type=click.Choice(["ru", "en"]), help="Only articles in this language.")
@click.option("--site", help="Only articles of this site.")
@date_option("--since", help="Only articles published on or after DATE (YYYY-MM-DD).")
@date_option("--until", help="Only articles published on or before DATE (YYYY-MM-DD).")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per hit and line.")
@db_option
def search_command(
    query: tuple[str, ...],
    lang: str | None,
    site: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    limit: int,
    as_json: bool,
    db_url: str | None,
) -> None:
    """Search archived articles: words (any word form), "phrases", OR, -excluded words."""
    engine = connect(db_url)
    try:
        hits = search(
            engine,
            " ".join(query),
            lang=lang,
            site=site,
            since=since.date() if since else None,
            until=until.date() if until else None,
            limit=limit,
        )
    except SearchQueryError as exc:
        raise CommandError(str(exc)) from None
    finally:
        engine.dispose()
    for rank, hit in enumerate(hits, 1):
        if as_json:
            click.echo(json.dumps(_hit_record(hit), ensure_ascii=False))
        else:
            click.echo(_format_hit(rank, hit))
    if not hits:
        click.echo("no article matches", err=True)
