"""`newsarchive schedule systemd` and `schedule cron`: ready-made schedules that run
`newsarchive crawl` unattended."""

from __future__ import annotations

import click

from archive.cli.options import CommandError, bundled_profiles, db_option, named_profiles
from archive.schedule import CrawlJob, crawl_job, crontab_line, systemd_units

sites_argument = click.argument("sites", nargs=-1, metavar="SITE...")
every_option = click.option(
    "--every",
    default="6h",
    show_default=True,
    metavar="DURATION",
    help="How often the crawl runs: a number and a unit, s, m, h or d (90s, 30m, 6h, 1d).",
)


def _job(sites: tuple[str, ...], every: str, db_url: str | None) -> CrawlJob:
    if not sites:
        known = ", ".join(bundled_profiles())
        raise CommandError(f"name the SITE to crawl; known sites: {known}")
    named_profiles(sites)
    try:
        return crawl_job(sites, every, db_url)
    except ValueError as exc:
        raise CommandError(str(exc)) from None


@click.group("schedule")
def schedule_group() -> None:
    """Print a systemd timer or a crontab line that crawls SITE... at intervals.

    The job runs `newsarchive crawl SITE... --db URL` with this installation's
    `newsarchive`, from the current directory (its WARC files go to ./warc), into the
    archive of --db, $NEWSARCHIVE_DB or sqlite:///archive.db, a relative SQLite path
    taken from the current directory.
    """


@schedule_group.command("systemd")
@sites_argument
@every_option
@db_option
def systemd_command(sites: tuple[str, ...], every: str, db_url: str | None) -> None:
    """Print a systemd service and timer, each after a comment naming its file."""
    units = systemd_units(_job(sites, every, db_url))
    click.echo("\n".join(f"# {unit.path}\n{unit.text}" for unit in units), nl=False)


@schedule_group.command("cron")
@sites_argument
@every_option
@db_option
def cron_command(sites: tuple[str, ...], every: str, db_url: str | None) -> None:
    """Print a crontab line (minutes dividing an hour, hours dividing a day, or 1d)."""
    job = _job(sites, every, db_url)
    try:
        line = crontab_line(job)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    click.echo(line)
