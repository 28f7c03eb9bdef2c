"""`newsarchive crawl`, `demo` and `sites`: crawling portals into the archive."""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import click
from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError

from archive import exitcodes
from archive.cli.health import check_config, config_option, health_lines, told_health
from archive.cli.options import (
    ArchiveFailed,
    CommandError,
    bundled_profiles,
    connect,
    db_option,
    named_profiles,
    setting_option,
)
from archive.db import error_reason, resolve_db_url
from archive.health import COMPLETED, site_health
from archive.localsite import LocalSite
from archive.models import CrawlRun
from archive.schedule import parse_duration
from archive.stats import archive_stats, format_run, format_stats
from crawler.run import (
    SettingError,
    check_overrides,
    crawl_settings,
    run_crawl,
)
from pipelines.page import SiteOptions
from pipelines.urls import is_http_url, site_name_for

DEMO_PORTAL = Path(__file__).parent.with_name("demo_portal")
DEMO_SITE = "demo"
DEMO_SETTINGS = {
    "DOWNLOAD_DELAY": "0",
    "AUTOTHROTTLE_ENABLED": "False",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "8",
    "LOG_LEVEL": "WARNING",
}


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
# A site another run holds is `site_locked`; a finished run of an unhealthy site `unhealthy`.
EXIT_CODE_BY_RUN_STATUS = {
    "interrupted": exitcodes.INTERRUPTED,
    "database_error": exitcodes.ARCHIVE_FAILED,
    "warc_error": exitcodes.ARCHIVE_FAILED,
    "failed": exitcodes.FAILURES,
    "site_locked": exitcodes.SITE_LOCKED,
    "unhealthy": exitcodes.UNHEALTHY,
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
    engine: Engine, targets: list[SiteOptions], overrides: dict[str, str], config
) -> list[str]:
    """Run the crawl, print the run records it made and the health of the sites it
    crawled (alerting as `config` says), and return the status of each target
    (EXIT_CODE_BY_RUN_STATUS): a finished run of an unhealthy site is `unhealthy`.

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
    for holder in result.locked:
        click.echo(f"Error: {holder}: not crawled", err=True)
    if not runs and not result.abandoned and not result.locked:
        raise CommandError("the crawl did not start: see the errors logged above")
    for run in runs:
        click.echo(format_run(run))
    if result.abandoned:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(exitcodes.INTERRUPTED)
    statuses = [run.status for run in runs]
    completed = [run.sites for run in runs if run.status in COMPLETED]
    if completed:
        try:
            reports = site_health(engine, completed)
            told_health(engine, reports, config)
        except DBAPIError as exc:
            click.echo(f"warning: cannot judge the sites' health: {error_reason(exc)}", err=True)
            reports = []
        unhealthy = {report.site for report in reports if not report.healthy}
        for report in reports:
            for line in health_lines(report):
                click.echo(f"health: {line}")
        statuses = [
            "unhealthy" if run.status == "finished" and run.sites in unhealthy else run.status
            for run in runs
        ]
    return statuses + ["site_locked"] * len(result.locked)


@click.command("crawl")
@click.argument("sites", nargs=-1)
@click.option(
    "--start-url",
    "start_urls",
    multiple=True,
    metavar="URL",
    help="Crawl from this URL, staying on its host (repeatable); for sites without a profile.",
)
@click.option(
    "--max-runtime",
    metavar="DURATION",
    help="End the crawl cleanly after this long (90s, 30m, 6h, 1d), once its pages in flight "
    "are done (within DOWNLOAD_TIMEOUT): what was stored is kept and the run is `finished`.",
)
@db_option
@setting_option
@config_option
def crawl_command(
    sites: tuple[str, ...],
    start_urls: tuple[str, ...],
    max_runtime: str | None,
    db_url: str | None,
    settings: tuple,
    config_path: str | None,
) -> None:
    """Crawl bundled SITE profiles (all when none is named) or --start-url URLs.

    Exits 0 when every run finished and its site is healthy; 5 for a site another run is
    crawling; 6 when a site's run finished but the site is unhealthy (see `health`).
    """
    overrides = parse_settings(settings)
    if max_runtime is not None:
        try:
            overrides["CLOSESPIDER_TIMEOUT"] = str(parse_duration(max_runtime))
        except ValueError as exc:
            raise CommandError(f"--max-runtime: {exc}") from None
    config = check_config(config_path)
    if start_urls:
        if sites:
            raise CommandError("give either SITE names or --start-url, not both")
        for url in start_urls:
            if not is_http_url(url):
                raise CommandError(f"not an http(s) URL: {url!r}")
        targets = [SiteOptions(name=site_name_for(start_urls[0]), start_urls=start_urls)]
    else:
        chosen = named_profiles(sites) if sites else list(bundled_profiles().values())
        if not chosen:
            raise CommandError("no site to crawl: no profile is bundled")
        targets = [profile.options for profile in chosen]
    engine = connect(db_url, create=True)
    sys.exit(crawl_exit_code(crawl_and_report(engine, targets, overrides, config)))


@click.command("sites")
@db_option
def sites_command(db_url: str | None) -> None:
    """List the bundled site profiles; with --db, also what that archive holds of each."""
    profiles = bundled_profiles()
    archived: dict[str, Counter[str]] = {}
    if db_url:
        for site, lang, count in archive_stats(connect(db_url)).articles_by_site_lang:
            archived.setdefault(site, Counter())[lang] = count
    for profile in profiles.values():
        click.echo(f"{profile.name:<16} {profile.options.title}")
        for lang, urls in profile.start_urls.items():
            click.echo(f"{'':<16} {lang}: {' '.join(urls)}")
        if db_url:
            langs = archived.get(profile.name, Counter())
            detail = ", ".join(f"{lang} {n}" for lang, n in sorted(langs.items()))
            click.echo(
                f"{'':<16} archived: {langs.total()} articles" + (f" ({detail})" if detail else "")
            )


@click.command("demo")
@db_option
@setting_option
def demo_command(db_url: str | None, settings: tuple) -> None:
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
            target = SiteOptions(name=DEMO_SITE, start_urls=(site.base_url + "/",))
            statuses = crawl_and_report(engine, [target], overrides, check_config(None))
        stats = archive_stats(engine)
    click.echo()
    click.echo(format_stats(stats))
    click.echo(f"\narchive: {resolve_db_url(db_url)}; try `newsarchive export`")
    sys.exit(crawl_exit_code(statuses))
