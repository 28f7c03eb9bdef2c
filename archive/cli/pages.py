"""`newsarchive extract`, `reprocess` and `import-warc`: pages from files, WARC records and
the archive's own WARC files, through the same functions as a crawl."""

from __future__ import annotations

import gzip
import json
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import click

from archive import exitcodes
from archive.cli.options import CommandError, connect, db_option, with_progress
from archive.profiles import css_selector_problem
from archive.reprocess import (
    DAMAGED_FILE,
    NOT_STORABLE,
    UNREADABLE,
    archived_records,
    import_warc,
)
from archive.reprocess import reprocess as reprocess_archive
from pipelines.page import extract_page
from pipelines.workers import default_workers


def read_page(path: str) -> bytes:
    """The bytes of an HTML file (gzip-compressed ones too), or of standard input for `-`."""
    data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


@click.command("extract")
@click.argument("paths", nargs=-1, required=True)
@click.option("--url", help="The URL the pages were fetched from (resolves relative links).")
def extract_command(paths: tuple[str, ...], url: str | None) -> None:
    """Extract article title, text, language and date from HTML files (`-` for stdin).

    Prints one JSON object per file. The same functions run as in a crawl; `article` says
    whether a crawl would store the page, and `reason` why not.
    """
    for path in paths:
        try:
            body = read_page(path)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise CommandError(f"cannot read {path}: {exc}") from None
        known_url = url or (None if path == "-" else Path(path).resolve().as_uri())
        item, rejection = extract_page(body, known_url or "http://localhost/")
        record = {
            "path": path,
            "url": item.canonical_url if known_url else None,
            "title": item.title,
            "text": item.text,
            "lang": item.lang,
            "title_lang": item.title_lang,
            "published": item.published.isoformat() if item.published else None,
            "author": item.author,
            "article": rejection is None,
            "reason": rejection,
        }
        click.echo(json.dumps(record, ensure_ascii=False))


def report(outcomes: Iterable[str]) -> Counter[str]:
    counts = Counter(outcomes)
    click.echo(", ".join(f"{name} {counts[name]}" for name in sorted(counts)) or "nothing to do")
    return counts


@click.command("reprocess")
@click.option("--site", help="Only the articles of this site.")
@click.option(
    "--drop-selector",
    "drop_selectors",
    multiple=True,
    metavar="CSS",
    help="Also remove blocks matching this CSS selector before extraction (repeatable).",
)
@click.option(
    "--warc-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default="warc",
    envvar="NEWSARCHIVE_WARC_DIR",
    metavar="DIR",
    help="Where the crawls wrote their WARC files (default: $NEWSARCHIVE_WARC_DIR or warc).",
)
@click.option(
    "--forget-selectors",
    is_flag=True,
    help="Forget the drop selectors kept from earlier --drop-selector runs first.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=default_workers,
    show_default="one per core where there are several",
    help="Page worker processes; 0 processes the pages in this one.",
)
@db_option
def reprocess_command(
    site: str | None,
    drop_selectors: tuple[str, ...],
    warc_dir: Path,
    forget_selectors: bool,
    workers: int,
    db_url: str | None,
) -> None:
    """Run extraction, language, date and duplicate detection again over the archived WARC
    records, without network; a new version is stored only where the result changed.

    Drop selectors are kept with the site: later crawls and reprocessing remove those blocks
    too, until --forget-selectors.
    """
    for selector in drop_selectors:
        if problem := css_selector_problem(selector):
            raise CommandError(problem)
    engine = connect(db_url)
    records = archived_records(engine, site)
    outcomes = with_progress(
        reprocess_archive(engine, records, warc_dir, drop_selectors, forget_selectors, workers),
        len(records),
        "reprocessing",
    )
    counts = report(outcomes)
    if unreadable := counts[UNREADABLE]:
        click.echo(
            f"Error: {unreadable} of {len(records)} WARC records could not be read "
            f"(WARC directory {warc_dir})",
            err=True,
        )
    if unreadable or counts[NOT_STORABLE]:
        sys.exit(exitcodes.FAILURES)


@click.command("import-warc")
@click.argument(
    "paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=default_workers,
    show_default="one per core where there are several",
    help="Page worker processes; 0 processes the pages in this one.",
)
@db_option
def import_warc_command(paths: tuple[Path, ...], workers: int, db_url: str | None) -> None:
    """Archive the HTML pages of WARC files written by other crawlers (Heritrix,
    wget --warc-file, Common Crawl), through the same pipeline as a crawl."""
    engine = connect(db_url, create=True)
    counts = report(with_progress(import_warc(engine, paths, workers), None, "importing"))
    if counts[DAMAGED_FILE] or counts[NOT_STORABLE]:
        sys.exit(exitcodes.FAILURES)
