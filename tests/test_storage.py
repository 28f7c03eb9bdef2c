"""The crawl's storage pipeline: what a run is recorded as, and database outages."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from scrapy import Request, signals
from scrapy.core.engine import ExecutionEngine
from scrapy.core.scraper import Slot
from scrapy.exceptions import DropItem
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler
from sqlalchemy import create_engine, func, select

from archive.db import open_archive, session_factory
from archive.localsite import LocalSite
from archive.models import Article, CrawlFailure, CrawlRun
from crawler.run import crawl_settings
from crawler.storage import StoragePipeline, run_status
from tests.conftest import (
    FAST_CRAWL,
    HELD_PAGE,
    NEWSARCHIVE,
    OwnPostgres,
    run_cli,
    start_held_crawl,
)
from tests.test_crawl import ARTICLES
from tests.test_store import BRIDGE, RELEASE, make_item

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


def _stored_urls(db_url: str) -> set[str]:
    engine = open_archive(db_url)
    try:
        with session_factory(engine)() as session:
            return set(session.scalars(select(Article.canonical_url)))
    finally:
        engine.dispose()


def _crawler(db_url: str, overrides: dict[str, str]):
    """A crawler with the project's settings of the archive and an engine that does not
    crawl: the test hands the items to the pipeline."""
    settings = crawl_settings(db_url, overrides).copy_to_dict()
    crawler = get_crawler(
        settings_dict={name: value for name, value in settings.items() if "NEWSARCHIVE" in name}
    )
    crawler.engine = ExecutionEngine(crawler, lambda _: None)
    return crawler


def test_the_pipeline_passes_articles_on_only_once_their_batch_is_stored(
    tmp_path: Path,
) -> None:
    """A batch is stored once it is full (or when the crawl ends); an article the archive
    refuses fails alone; every other goes on to later pipelines only once stored."""
    db_url = f"sqlite:///{tmp_path / 'a.db'}"
    overrides = {"NEWSARCHIVE_STORE_BATCH": "4", "NEWSARCHIVE_STORE_INTERVAL": "600"}
    urls = [f"https://example.ru/news/{n}/" for n in range(6)]
    items = [make_item(url, f"Новость {n}", f"{RELEASE} Номер {n}.") for n, url in enumerate(urls)]
    items[2].content_hash = None
    passed_on: dict[str, bool] = {}

    async def crawl() -> list:
        crawler = _crawler(db_url, overrides)
        pipeline = StoragePipeline.from_crawler(crawler)
        pipeline.open_spider()

        def process(item):
            def went_on(task: asyncio.Task) -> None:
                if not task.exception():
                    passed_on[item.url] = item.url in _stored_urls(db_url)

            task = asyncio.ensure_future(pipeline.process_item(item))
            task.add_done_callback(went_on)
            return task

        first = [process(item) for item in items[:3]]
        await asyncio.sleep(0.1)
        assert not any(task.done() for task in first)
        assert _stored_urls(db_url) == set()
        full = [*first, process(items[3])]
        results = await asyncio.gather(*full, return_exceptions=True)
        assert _stored_urls(db_url) == {urls[0], urls[1], urls[3]}
        last = [process(item) for item in items[4:]]
        await asyncio.sleep(0.1)
        assert not any(task.done() for task in last)
        pipeline.spider_closed(crawler.spider, "finished")
        results += await asyncio.gather(*last, return_exceptions=True)
        await crawler.signals.send_catch_log_async(signals.engine_stopped)
        return results

    results = asyncio.run(crawl())
    assert [type(result) for result in results] == [type(items[0])] * 2 + [DropItem] + [
        type(items[0])
    ] * 3
    assert "not stored" in str(results[2]) and urls[2] in str(results[2])
    assert passed_on == dict.fromkeys([urls[0], urls[1], urls[3], urls[4], urls[5]], True)
    with session_factory(open_archive(db_url))() as session:
        run = session.scalars(select(CrawlRun)).one()
        assert (run.articles_new, run.errors) == (5, 1)
        failure = session.scalars(select(CrawlFailure)).one()
        assert failure.url == urls[2] and failure.reason.startswith("not stored: ")
        assert session.scalar(select(func.count(Article.id))) == 5


def test_a_batch_waits_while_scrapy_is_full_until_it_holds_half_of_its_responses(
    tmp_path: Path,
) -> None:
    """Scrapy fetches no more while the responses it holds pass SCRAPER_SLOT_MAX_ACTIVE_SIZE;
    most of those wait for page workers, not for the batch, which is stored early only once
    its pages are half of them."""
    db_url = f"sqlite:///{tmp_path / 'a.db'}"
    overrides = {"NEWSARCHIVE_STORE_BATCH": "100", "NEWSARCHIVE_STORE_INTERVAL": "600"}
    urls = [f"https://example.ru/news/{n}/" for n in range(2)]
    items = [make_item(url, f"Новость {n}", f"{RELEASE} Номер {n}.") for n, url in enumerate(urls)]

    async def crawl() -> None:
        crawler = _crawler(db_url, overrides)
        slot = crawler.engine.scraper.slot = Slot(max_active_size=10_000)
        for n in range(4):
            request = Request(f"https://example.ru/page/{n}/")
            slot.add_response_request(HtmlResponse(request.url, body=b"x" * 5_000), request)
            slot.next_response_request_deferred()
        assert slot.needs_backout()
        pipeline = StoragePipeline.from_crawler(crawler)
        pipeline.open_spider()
        first = asyncio.ensure_future(pipeline.process_item(items[0]))
        await asyncio.sleep(0)
        assert [waiting.item for waiting in pipeline.buffer] == [items[0]]
        second = asyncio.ensure_future(pipeline.process_item(items[1]))
        await asyncio.sleep(0)
        assert pipeline.buffer == []
        assert await asyncio.wait_for(asyncio.gather(first, second), 30) == items
        assert _stored_urls(db_url) == set(urls)
        pipeline.spider_closed(crawler.spider, "finished")
        await crawler.signals.send_catch_log_async(signals.engine_stopped)

    asyncio.run(crawl())


def test_articles_waiting_for_their_batch_are_stored_after_the_interval_or_a_stop(
    tmp_path: Path,
) -> None:
    db_url = f"sqlite:///{tmp_path / 'a.db'}"

    async def crawl(overrides: dict[str, str], stop: bool) -> None:
        crawler = _crawler(db_url, overrides)
        pipeline = StoragePipeline.from_crawler(crawler)
        pipeline.open_spider()
        number = len(_stored_urls(db_url))
        item = make_item(f"https://example.ru/news/{number}/", "Мост", f"{BRIDGE} {number}")
        task = asyncio.ensure_future(pipeline.process_item(item))
        if stop:
            await asyncio.sleep(0.1)
            pipeline.stop_requested()
        assert await asyncio.wait_for(task, 30) is item
        pipeline.spider_closed(crawler.spider, "shutdown")
        await crawler.signals.send_catch_log_async(signals.engine_stopped)

    asyncio.run(crawl({"NEWSARCHIVE_STORE_INTERVAL": "0.05"}, stop=False))
    asyncio.run(crawl({"NEWSARCHIVE_STORE_INTERVAL": "600"}, stop=True))
    assert len(_stored_urls(db_url)) == 2


def test_a_crawl_in_small_batches_stores_every_article(db_url: str, demo_site) -> None:
    result = run_cli(
        "crawl", "--start-url", demo_site.base_url + "/", "--db", db_url, *FAST_CRAWL,
        "-s", "NEWSARCHIVE_STORE_BATCH=2", "-s", "NEWSARCHIVE_STORE_INTERVAL=0.2",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "articles new 7, updated 0, unchanged 0" in result.stdout
    assert _stored_urls(db_url) == {demo_site.base_url + path for path in ARTICLES}


def test_the_last_pages_of_a_crawl_do_not_wait_for_their_batch(db_url: str, demo_site) -> None:
    """Once nothing is fetched or processed but the articles waiting to be stored, they are
    stored at once (here the batch would otherwise wait ten minutes, past the timeout)."""
    result = run_cli(
        "crawl", "--start-url", demo_site.base_url + "/", "--db", db_url, *FAST_CRAWL,
        "-s", "NEWSARCHIVE_STORE_BATCH=1000", "-s", "NEWSARCHIVE_STORE_INTERVAL=600",
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert _stored_urls(db_url) == {demo_site.base_url + path for path in ARTICLES}


def test_ctrl_c_stores_the_articles_waiting_for_their_batch(
    tmp_path: Path, held_site: LocalSite
) -> None:
    """With batches that would wait ten minutes, a stopped crawl still stores every article
    it has."""
    db_url = f"sqlite:///{tmp_path / 'a.db'}"
    crawl = subprocess.Popen(
        [
            *NEWSARCHIVE, "crawl", "--start-url", held_site.base_url + "/", "--db", db_url,
            *FAST_CRAWL, "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2", "-s", "LOG_LEVEL=DEBUG",
            "-s", "NEWSARCHIVE_STORE_BATCH=1000", "-s", "NEWSARCHIVE_STORE_INTERVAL=600",
        ],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )  # fmt: skip
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(crawl.stderr), daemon=True)
    reader.start()
    _wait_for_line(lines, f"({len(ARTICLES) - 1} waiting)")
    assert held_site.handler.arrived.wait(60)
    assert _stored_urls(db_url) == set()
    crawl.send_signal(signal.SIGINT)
    crawl.wait(timeout=60)
    reader.join(10)
    assert crawl.returncode == 130, "".join(lines[-20:])
    with session_factory(open_archive(db_url))() as session:
        run = session.scalars(select(CrawlRun)).one()
        urls = set(session.scalars(select(Article.canonical_url)))
    assert (run.status, run.articles_new) == ("interrupted", len(ARTICLES) - 1)
    assert urls == {held_site.base_url + path for path in ARTICLES} - {
        held_site.base_url + HELD_PAGE
    }
