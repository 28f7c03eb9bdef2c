"""`newsarchive health`: each site's health from its own recent runs, with alerts."""

from __future__ import annotations

import json
import sys

import click
from sqlalchemy import Engine

from archive import exitcodes
from archive.alerts import ConfigError, load_config, send_alert
from archive.cli.options import CommandError, connect, db_option
from archive.health import SiteReport, site_health, update_health

config_option = click.option(
    "--config",
    "config_path",
    metavar="PATH",
    envvar="NEWSARCHIVE_CONFIG",
    help="The alert config (TOML) [env NEWSARCHIVE_CONFIG].",
)


def check_config(path: str | None):
    """The alert config at `path`, or a one-line usage error."""
    try:
        return load_config(path)
    except ConfigError as exc:
        raise CommandError(str(exc)) from None


def told_health(engine: Engine, reports: list[SiteReport], config) -> None:
    """Record the sites' health and alert on each change; an alert that cannot be sent is
    a warning, never a lost run."""
    for change in update_health(engine, reports):
        for error in send_alert(config, change.subject, change.lines):
            click.echo(f"warning: alert not sent: {error}", err=True)


def health_lines(report: SiteReport) -> list[str]:
    if report.healthy:
        return [f"{report.site}: OK ({report.runs} run{'s' * (report.runs != 1)})"]
    return [f"{report.site}: {problem}" for problem in report.problems]


@click.command("health")
@click.argument("sites", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per site.")
@db_option
@config_option
def health_command(
    sites: tuple[str, ...], as_json: bool, db_url: str | None, config_path: str | None
) -> None:
    """Each SITE's health (all crawled sites when none is named): OK, or what is wrong.

    Exits 6 when any site is unhealthy; alerts (see --config) go out when a site turns
    unhealthy and when it recovers.
    """
    config = check_config(config_path)
    engine = connect(db_url)
    reports = site_health(engine, sites)
    if not reports:
        raise CommandError("no crawl run recorded yet: nothing to judge")
    told_health(engine, reports, config)
    for report in reports:
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "site": report.site,
                        "healthy": report.healthy,
                        "problems": report.problems,
                        "runs": report.runs,
                    },
                    ensure_ascii=False,
                )
            )
        else:
            for line in health_lines(report):
                click.echo(line)
    sys.exit(exitcodes.OK if all(r.healthy for r in reports) else exitcodes.UNHEALTHY)
