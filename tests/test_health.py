"""A site's health from its own recent runs: the rules, the command, and a portal whose
article pages lose their text, end to end with its alerts."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from archive import exitcodes
from archive.cli import DEMO_PORTAL, main
from archive.db import open_archive, session_factory
from archive.health import SiteReport, site_health, update_health
from archive.localsite import LocalSite
from archive.models import CrawlRun
from archive.store import ArchiveWriter, RunCounts
from tests.conftest import FAST_CRAWL, Mailbox, WebhookReceiver, run_cli
from tests.test_crawl import ARTICLES

SITE = "investkaluga"
NOW = dt.datetime.now(dt.UTC)


def figures(
    stored: int = 8,
    rejected: dict | None = None,
    languages: dict | None = None,
    short: int = 0,
    median: int = 2400,
) -> dict:
    return {
        "rejected": rejected or {"a listing: N teaser headlines or summaries in the main text": 3},
        "languages": languages or {"ru": stored // 2, "en": stored - stored // 2},
        "stored": stored,
        "short_bodies": short,
        "median_body_length": median,
    }


def record(
    writer: ArchiveWriter,
    pages: int = 20,
    new: int = 6,
    errors: int = 0,
    status: str = "finished",
    site: str = SITE,
    **figures_of,
) -> int:
    run_id = writer.start_run([site])
    counts = RunCounts(pages_fetched=pages, articles_new=new, articles_unchanged=2, errors=errors)
    writer.finish_run(run_id, status, counts, None, figures(**figures_of))
    return run_id


def problems(db_url: str, now: dt.datetime = NOW) -> list[str]:
    (report,) = site_health(open_archive(db_url), [SITE], now)
    return report.problems


def test_runs_like_the_earlier_ones_are_healthy(db_url: str) -> None:
    writer = ArchiveWriter(open_archive(db_url))
    for new in (4, 9, 6, 5):
        record(writer, new=new)
    (report,) = site_health(open_archive(db_url), [SITE])
    assert report == SiteReport(SITE, [], 4)


def test_a_rejection_reason_that_takes_most_pages_is_named(db_url: str) -> None:
    writer = ArchiveWriter(open_archive(db_url))
    for _ in range(3):
        record(writer)
    record(writer, new=0, stored=0, rejected={"no main text": 18})
    assert problems(db_url) == ["18 of 20 pages rejected as 'no main text', usually 0"]


def test_no_new_article_for_three_runs_where_there_used_to_be_some(db_url: str) -> None:
    writer = ArchiveWriter(open_archive(db_url))
    for new in (4, 9, 6, 5, 0, 0):
        record(writer, new=new)
    assert problems(db_url) == []
    record(writer, new=0)
    assert problems(db_url) == ["0 new articles in the last 3 runs, usually 4-9 per run"]


def test_fetch_errors_short_texts_and_another_language(db_url: str) -> None:
    writer = ArchiveWriter(open_archive(db_url))
    for _ in range(3):
        record(writer, errors=1)
    record(writer, errors=8, short=6, median=310, languages={"en": 8})
    assert problems(db_url) == [
        "fetch errors 40%, usually 5%",
        "6 of 8 articles have under 500 characters of text, usually 0%",
        "median article text 310 characters, usually 2,400",
        "100% of articles in en, usually 50%",
        "0% of articles in ru, usually 50%",
    ]


def test_no_successful_run_and_a_stuck_run(db_url: str) -> None:
    writer = ArchiveWriter(open_archive(db_url))
    record(writer)
    record(writer, status="failed")
    stuck = writer.start_run([SITE])
    assert problems(db_url) == []
    later = NOW + dt.timedelta(days=2, hours=3)
    assert problems(db_url, later) == [
        f"a run is stuck: run {stuck} (pid {os.getpid()} on {_host(db_url, stuck)}) has recorded "
        "nothing for 2 days",
        "no successful run for 2 days",
    ]


def _host(db_url: str, run_id: int) -> str:
    with session_factory(open_archive(db_url))() as session:
        return session.scalar(select(CrawlRun.hostname).where(CrawlRun.id == run_id))


def test_health_is_told_once_per_change(db_url: str) -> None:
    engine = open_archive(db_url)
    sick, well = SiteReport(SITE, ["fetch errors 40%, usually 5%"]), SiteReport(SITE)
    assert update_health(engine, [well]) == []
    (turned,) = update_health(engine, [sick])
    assert turned.subject == f"newsarchive: {SITE} unhealthy"
    assert turned.lines == [f"{SITE}: fetch errors 40%, usually 5%"]
    assert update_health(engine, [sick]) == []
    (recovered,) = update_health(engine, [well])
    assert (recovered.subject, recovered.lines) == (
        f"newsarchive: {SITE} recovered",
        [f"{SITE}: OK again"],
    )


def test_the_health_command(db_url: str, tmp_path: Path) -> None:
    writer = ArchiveWriter(open_archive(db_url))
    for _ in range(3):
        record(writer)
        record(writer, site="arrko")
    record(writer, site="arrko", new=0, stored=0, rejected={"no main text": 18})
    runner = CliRunner()
    result = runner.invoke(main, ["health", "--db", db_url])
    assert result.exit_code == exitcodes.UNHEALTHY
    assert result.output.splitlines() == [
        "arrko: 18 of 20 pages rejected as 'no main text', usually 0",
        f"{SITE}: OK (3 runs)",
    ]
    result = runner.invoke(main, ["health", SITE, "--json", "--db", db_url])
    assert result.exit_code == exitcodes.OK
    assert json.loads(result.output) == {"site": SITE, "healthy": True, "problems": [], "runs": 3}
    bad = tmp_path / "alerts.toml"
    bad.write_text("[alerts.webhook]\nurl = 'ftp://example.org/'\n", encoding="utf-8")
    result = runner.invoke(main, ["health", "--db", db_url, "--config", str(bad)])
    assert result.exit_code == exitcodes.USAGE
    (line,) = result.output.splitlines()
    assert line.startswith(f"Error: {bad}: ")


def _text_by_script(root: Path) -> dict[Path, bytes]:
    """Article pages whose text is left to a script (a portal moving to a JavaScript
    front end): the body holds an empty mount point and the story as JSON. The pages as
    they were are returned."""
    originals = {}
    for path in ARTICLES:
        page = root / path.strip("/") / "index.html"
        originals[page] = page.read_bytes()
        html = originals[page].decode("utf-8")
        body = re.search(r"<body[^>]*>(.*)</body>", html, re.DOTALL)
        story = json.dumps({"html": body[1]}, ensure_ascii=False).replace("</", "<\\/")
        script = f'<div id="app"></div><script type="application/json">{story}</script>'
        page.write_text(html[: body.start(1)] + script + html[body.end(1) :], encoding="utf-8")
    return originals


def test_a_portal_whose_articles_lose_their_text_alerts_once_and_once_when_it_recovers(
    tmp_path: Path,
    receiver: WebhookReceiver,
    smtp_server: Callable[..., Mailbox],
) -> None:
    db_url = f"sqlite:///{tmp_path / 'a.db'}"
    mailbox: Mailbox = smtp_server()
    config = tmp_path / "alerts.toml"
    config.write_text(
        f'[alerts.webhook]\nurl = "{receiver.url}"\n'
        f'[alerts.email]\nhost = "127.0.0.1"\nport = {mailbox.port}\n'
        'from = "newsarchive@example.org"\nto = ["ops@example.org"]\n',
        encoding="utf-8",
    )
    root = tmp_path / "portal"
    shutil.copytree(DEMO_PORTAL, root)
    with LocalSite(root) as site:

        def crawl():
            return run_cli(
                "crawl", "--start-url", site.base_url + "/", "--db", db_url,
                "--config", str(config), *FAST_CRAWL, "-s", "LOG_LEVEL=WARNING",
                "-s", "NEWSARCHIVE_REVISIT_AFTER_HOURS=0",
                "-s", "NEWSARCHIVE_REVISIT_WITHIN_DAYS=3650", cwd=tmp_path,
            )  # fmt: skip

        name = site.base_url.split("://", 1)[1]
        for _ in range(2):
            healthy = crawl()
            assert healthy.returncode == 0, healthy.stderr
            assert f"health: {name}: OK" in healthy.stdout
        originals = _text_by_script(root)
        broken = crawl()
        assert broken.returncode == exitcodes.UNHEALTHY, broken.stderr
        reason = f"{len(ARTICLES)} of "
        (told,) = [line for line in broken.stdout.splitlines() if line.startswith("health:")]
        assert told.startswith(f"health: {name}: {reason}")
        assert told.endswith(" pages rejected as 'no main text', usually 0")
        result = CliRunner().invoke(main, ["health", "--db", db_url, "--config", str(config)])
        assert result.exit_code == exitcodes.UNHEALTHY
        assert result.output.splitlines() == [told.removeprefix("health: ")]
        assert [post["json"]["text"].splitlines() for post in receiver.posts] == [
            [f"newsarchive: {name} unhealthy", told.removeprefix("health: ")]
        ]
        (mail,) = mailbox.messages
        assert mail["message"]["Subject"] == f"newsarchive: {name} unhealthy"
        assert mail["rcpt_tos"] == ["ops@example.org"]
        for page, html in originals.items():
            page.write_bytes(html)
        recovered = crawl()
        assert recovered.returncode == 0, recovered.stderr
    assert f"health: {name}: OK" in recovered.stdout
    assert len(receiver.posts) == 2
    assert receiver.posts[1]["json"]["text"].splitlines() == [
        f"newsarchive: {name} recovered",
        f"{name}: OK again",
    ]
    assert [m["message"]["Subject"] for m in mailbox.messages] == [
        f"newsarchive: {name} unhealthy",
        f"newsarchive: {name} recovered",
    ]
