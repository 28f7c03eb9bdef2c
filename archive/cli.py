"""The `newsarchive` command line."""

from __future__ import annotations

import gzip
import json
import os
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import click
from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError

from archive import exitcodes
from archive.commands import (
    ArchiveFailed,
    CommandError,
    connect,
    db_option,
    with_progress,
)
from archive.db import error_reason, resolve_db_url
from archive.export import export_command
from archive.localsite import LocalSite
from archive.models import CrawlRun
from archive.reprocess import (
    DAMAGED_FILE,
    NOT_STORABLE,
    UNREADABLE,
    archived_records,
    import_warc,
)
from archive.reprocess import reprocess as reprocess_archive
from archive.search import search_command
from archive.stats import archive_stats, format_run, format_stats, stats_command
from archive.store import ArchiveUnreachable
from crawler.profiles import ProfileError, css_selector_problem, load_profiles
from crawler.run import (
    CrawlTarget,
    SettingError,
    check_overrides,
    crawl_settings,
    run_crawl,
)
from pipelines.encoding import decode_html
from pipelines.page import extract_page
from pipelines.urls import is_http_url, site_name_for

DEMO_PORTAL = Path(__file__).with_name("demo_portal")
DEMO_SITE = "demo"
DEMO_SETTINGS = {
    "DOWNLOAD_DELAY": "0",
    "AUTOTHROTTLE_ENABLED": "False",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "8",
    "LOG_LEVEL": "WARNING",
}


setting_option = click.option(
    "-s",
    "--set",
    "settings",
    multiple=True,
    metavar="NAME=VALUE",
    help="Override a Scrapy setting, as with `scrapy crawl -s` (repeatable).",
)


def parse_settings(pairs: tuple[str, ...]) -> dict[str, str]:
    overrides = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise CommandError(f"setting {pair!r} is not NAME=VALUE")
        overrides[name.strip()] = value
    try:
        check_overrides(overrides)
    except SettingError as exc:
        raise CommandError(str(exc)) from None
    return overrides


# The exit code of a crawl by the status of its runs; of several runs, the first listed.
EXIT_CODE_BY_RUN_STATUS = {
    "interrupted": exitcodes.INTERRUPTED,
    "database_error": exitcodes.ARCHIVE_FAILED,
    "warc_error": exitcodes.ARCHIVE_FAILED,
    "failed": exitcodes.FAILURES,
}


def crawl_exit_code(statuses: Iterable[str]) -> int:
    """0 when every run finished; otherwise the code of the gravest status (a status that
    is neither finished nor listed counts as a failure)."""
    codes = [
        EXIT_CODE_BY_RUN_STATUS.get(status, exitcodes.FAILURES)
        for status in statuses
        if status != "finished"
    ]
    for status_code in EXIT_CODE_BY_RUN_STATUS.values():
        if status_code in codes:
            return status_code
    return exitcodes.OK


def crawl_and_report(
    engine: Engine, targets: list[CrawlTarget], overrides: dict[str, str]
) -> list[CrawlRun]:
    """Run the crawl, print the run records it made and return them.

    A crawl abandoned on a second Ctrl-C (or past its grace period) ends the process here,
    with status 130, without waiting for page workers or downloads still under way.
    """
    result = run_crawl(targets, crawl_settings(engine.url.render_as_string(False), overrides))
    try:
        with engine.connect() as connection:
            runs = connection.execute(
                select(CrawlRun).where(CrawlRun.id.in_(result.run_ids)).order_by(CrawlRun.id)
            ).all()
    except DBAPIError as exc:
        raise ArchiveFailed(f"cannot read the crawl's run records: {error_reason(exc)}") from None
    if not runs and not result.abandoned:
        raise CommandError("the crawl did not start: see the errors logged above")
    for run in runs:
        click.echo(format_run(run))
    if result.abandoned:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(exitcodes.INTERRUPTED)
    return runs


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


@main.command()
@click.argument("sites", nargs=-1)
@click.option(
    "--start-url",
    "start_urls",
    multiple=True,
    metavar="URL",
    help="Crawl from this URL, staying on its host (repeatable); for sites without a profile.",
)
@db_option
@setting_option
def crawl(
    sites: tuple[str, ...], start_urls: tuple[str, ...], db_url: str | None, settings: tuple
) -> None:
    """Crawl bundled SITE profiles (all when none is named) or --start-url URLs."""
    overrides = parse_settings(settings)
    if start_urls:
        if sites:
            raise CommandError("give either SITE names or --start-url, not both")
        for url in start_urls:
            if not is_http_url(url):
                raise CommandError(f"not an http(s) URL: {url!r}")
        targets = [CrawlTarget(site_name_for(start_urls[0]), start_urls)]
    else:
        try:
            profiles = load_profiles()
        except ProfileError as exc:
            raise CommandError(str(exc)) from None
        unknown = [name for name in sites if name not in profiles]
        if unknown:
            raise CommandError(
                f"no profile for {', '.join(unknown)}; known sites: {', '.join(profiles)}"
            )
        chosen = [profiles[name] for name in sites] if sites else list(profiles.values())
        if not chosen:
            raise CommandError("no site to crawl: no profile is bundled")
        targets = [CrawlTarget.from_profile(profile) for profile in chosen]
    engine = connect(db_url, create=True)
    runs = crawl_and_report(engine, targets, overrides)
    sys.exit(crawl_exit_code(run.status for run in runs))


@main.command()
@db_option
def sites(db_url: str | None) -> None:
    """List the bundled site profiles; with --db, also what that archive holds of each."""
    try:
        profiles = load_profiles()
    except ProfileError as exc:
        raise CommandError(str(exc)) from None
    archived: dict[str, Counter[str]] = {}
    if db_url:
        for site, lang, count in archive_stats(connect(db_url)).articles_by_site_lang:
            archived.setdefault(site, Counter())[lang] = count
    for profile in profiles.values():
        click.echo(f"{profile.name:<16} {profile.title}")
        for lang, urls in profile.start_urls.items():
            click.echo(f"{'':<16} {lang}: {' '.join(urls)}")
        if db_url:
            langs = archived.get(profile.name, Counter())
            detail = ", ".join(f"{lang} {n}" for lang, n in sorted(langs.items()))
            click.echo(
                f"{'':<16} archived: {langs.total()} articles" + (f" ({detail})" if detail else "")
            )


@main.command()
@db_option
@setting_option
def demo(db_url: str | None, settings: tuple) -> None:
    """Serve the bundled sample portal on 127.0.0.1, crawl it into the archive, print stats.

    An archive that holds the sample already is not given a second copy (the portal is
    served on a new port each time, so its URLs would differ): its stats are printed.
    """
    overrides = {**DEMO_SETTINGS, **parse_settings(settings)}
    engine = connect(db_url, create=True)
    stats = archive_stats(engine)
    archived = sum(n for site, _, n in stats.articles_by_site_lang if site == DEMO_SITE)
    statuses: list[str] = []
    if archived:
        click.echo(f"the sample portal is archived already ({archived} articles)")
    else:
        with LocalSite(DEMO_PORTAL) as site:
            click.echo(f"serving the sample portal at {site.base_url}/ ...")
            target = CrawlTarget(DEMO_SITE, (site.base_url + "/",))
            statuses = [run.status for run in crawl_and_report(engine, [target], overrides)]
        stats = archive_stats(engine)
    click.echo()
    click.echo(format_stats(stats))
    click.echo(f"\narchive: {resolve_db_url(db_url)}; try `newsarchive export`")
    sys.exit(crawl_exit_code(statuses))


def read_page(path: str) -> bytes:
    """The bytes of an HTML file (gzip-compressed ones too), or of standard input for `-`."""
    data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--url", help="The URL the pages were fetched from (resolves relative links).")
def extract(paths: tuple[str, ...], url: str | None) -> None:
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
        item, rejection = extract_page(decode_html(body)[1], known_url or "http://localhost/")
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


@main.command()
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
@db_option
def reprocess(
    site: str | None,
    drop_selectors: tuple[str, ...],
    warc_dir: Path,
    forget_selectors: bool,
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
        reprocess_archive(engine, records, warc_dir, drop_selectors, forget_selectors),
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


@main.command("import-warc")
@click.argument(
    "paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@db_option
def import_warc_command(paths: tuple[Path, ...], db_url: str | None) -> None:
    """Archive the HTML pages of WARC files written by other crawlers (Heritrix,
    wget --warc-file, Common Crawl), through the same pipeline as a crawl."""
    engine = connect(db_url, create=True)
    counts = report(with_progress(import_warc(engine, paths), None, "importing"))
    if counts[DAMAGED_FILE] or counts[NOT_STORABLE]:
        sys.exit(exitcodes.FAILURES)


@main.group()
def db() -> None:
    """Manage the archive database."""


@db.command()
@db_option
def upgrade(db_url: str | None) -> None:
    """Create the archive schema or upgrade it to the latest version."""
    connect(db_url, create=True)
    click.echo(f"archive schema is up to date: {resolve_db_url(db_url)}")


main.add_command(export_command)
main.add_command(stats_command)
main.add_command(search_command)
