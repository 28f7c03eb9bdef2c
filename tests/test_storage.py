"""The crawl's storage pipeline: what a run is recorded as, and database outages."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from archive.db import session_factory
from archive.localsite import LocalSite
from archive.models import Article, CrawlRun
from crawler.storage import run_status
from tests.conftest import OwnPostgres, start_held_crawl
from tests.test_crawl import ARTICLES

ANSWERED = {
    "downloader/response_status_count/200": 6,
    "downloader/response_status_count/304": 1,
    "downloader/response_status_count/301": 1,
    "downloader/response_status_count/404": 3,
}


@pytest.mark.parametrize(
    ("reason", "stats", "failures", "status"),
    [
        ("finished", ANSWERED, 3, "finished"),
        ("finished", ANSWERED, 8, "finished"),
        ("finished", ANSWERED, 9, "failed"),
        ("finished", {"downloader/response_status_count/503": 4}, 4, "failed"),
        ("finished", {}, 0, "failed"),
        ("closespider_timeout", ANSWERED, 0, "finished"),
        ("shutdown", {}, 0, "interrupted"),
        ("database_error", ANSWERED, 0, "database_error"),
    ],
)
def test_a_run_that_fetched_little_or_nothing_failed(
    reason: str, stats: dict, failures: int, status: str
) -> None:
    assert run_status(reason, stats, failures, max_error_share=0.5) == status


def _crawl_until_held(site: LocalSite, db_url: str, cwd: Path, *settings: str):
    """A crawl of the demo portal that has stored all but the held article, and a thread
    that collects its log lines (the only reader of its stderr)."""
    crawl = start_held_crawl(site, db_url, cwd, *settings)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(crawl.stderr), daemon=True)
    reader.start()
    return crawl, lines, reader


def _wait_for_line(lines: list[str], text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not any(text in line for line in lines):
        assert time.monotonic() < deadline, f"no log line with {text!r}: {lines}"
        time.sleep(0.05)


def test_a_database_outage_pauses_the_crawl_and_loses_nothing(
    own_postgres: OwnPostgres, held_site: LocalSite, tmp_path: Path
) -> None:
    crawl, lines, reader = _crawl_until_held(
        held_site, own_postgres.url, tmp_path, "-s", "NEWSARCHIVE_DB_RETRY_FOR=300"
    )
    own_postgres.stop()
    held_site.handler.release.set()
    _wait_for_line(lines, "archive database unreachable")
    own_postgres.start()
    crawl.wait(timeout=120)
    reader.join(10)
    stdout = crawl.stdout.read()
    assert crawl.returncode == 0, "".join(lines)
    assert "archive database reachable again" in "".join(lines)
    assert "articles new 7," in stdout
    with session_factory(create_engine(own_postgres.url))() as session:
        urls = set(session.scalars(select(Article.canonical_url)))
        run = session.scalars(select(CrawlRun)).one()
    assert urls == {held_site.base_url + path for path in ARTICLES}
    assert (run.status, run.articles_new) == ("finished", 7)


def test_a_database_down_past_the_limit_stops_the_crawl_with_exit_code_4(
    own_postgres: OwnPostgres, held_site: LocalSite, tmp_path: Path
) -> None:
    crawl, lines, reader = _crawl_until_held(
        held_site, own_postgres.url, tmp_path, "-s", "NEWSARCHIVE_DB_RETRY_FOR=1"
    )
    own_postgres.stop()
    held_site.handler.release.set()
    crawl.wait(timeout=120)
    reader.join(10)
    log = "".join(lines)
    assert crawl.returncode == 4, log
    assert "archive database unreachable for 1 s, stopping the crawl" in log
    assert "Traceback" not in log
    assert lines[-1].startswith("Error: cannot read the crawl's run records:")
