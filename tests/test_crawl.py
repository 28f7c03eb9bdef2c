"""Crawling the bundled sample portal over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from archive.cli import DEMO_PORTAL
from archive.db import open_archive, session_factory
from archive.localsite import LocalSite, RecordingHandler
from archive.models import Article, CrawlRun
from tests.conftest import FAST_CRAWL, NEWSARCHIVE, run_cli

ARTICLES = {
    "/news/novyy-zavod-v-industrialnom-parke/": ("ru", "2026-11-24"),
    "/news/novyy-rezident-oez-zarechye/": ("ru", "2026-11-18"),
    "/news/investitsionnyy-forum-2026/": ("ru", "2026-11-10"),
    "/news/programma-mer-podderzhki-2027-2029/": ("ru", "2026-11-03"),
    "/en/news/new-plant-in-industrial-park/": ("en", "2026-11-24"),
    "/en/news/new-sez-resident/": ("en", "2026-11-18"),
    "/en/news/investment-forum-2026/": ("en", "2026-11-10"),
}
TRANSLATIONS = {
    "/news/novyy-zavod-v-industrialnom-parke/": "/en/news/new-plant-in-industrial-park/",
    "/news/novyy-rezident-oez-zarechye/": "/en/news/new-sez-resident/",
    "/news/investitsionnyy-forum-2026/": "/en/news/investment-forum-2026/",
}
BOILERPLATE = (
    "cookie",
    "Подпишитесь",
    "Subscribe",
    "согласие на обработку",
    "Поделиться",
    "Контакты для инвесторов",
    "Contact for investors",
    "Все права защищены",
    "All rights reserved",
)


def exported(db_url: str) -> dict[str, dict]:
    result = run_cli("export", "--db", db_url)
    assert result.returncode == 0, result.stderr
    return {
        json.loads(line)["canonical_url"]: json.loads(line) for line in result.stdout.splitlines()
    }


def test_crawl_archives_exactly_the_articles(db_url: str, demo_site: LocalSite) -> None:
    base = demo_site.base_url
    result = run_cli("crawl", "--start-url", base + "/", "--db", db_url, *FAST_CRAWL)
    assert result.returncode == 0, result.stderr
    assert (
        "articles new 7, updated 0, unchanged 0, skipped as archived 0, errors 0" in result.stdout
    )

    records = exported(db_url)
    assert set(records) == {base + path for path in ARTICLES}
    for path, (lang, published) in ARTICLES.items():
        record = records[base + path]
        assert (record["lang"], record["published"], record["site"]) == (
            lang,
            published,
            "127.0.0.1:" + base.rsplit(":", 1)[1],
        )
        assert record["title"] and record["title"] not in record["text"].splitlines()[1:]
        assert len(record["text"]) > 1000
        for phrase in BOILERPLATE:
            assert phrase.lower() not in record["text"].lower(), (path, phrase)
    for ru, en in TRANSLATIONS.items():
        assert records[base + ru]["translations"] == [base + en]
        assert records[base + en]["translations"] == [base + ru]
    assert records[base + "/news/programma-mer-podderzhki-2027-2029/"]["translations"] == []
    assert not any(path.startswith("/search/") for path in demo_site.requested_paths)


def test_recrawl_of_unchanged_site_downloads_no_article(tmp_path: Path, demo_site) -> None:
    db_url = f"sqlite:///{tmp_path / 'a.db'}"
    for _ in range(2):
        demo_site.requested_paths.clear()
        result = run_cli(
            "crawl", "--start-url", demo_site.base_url + "/", "--db", db_url, *FAST_CRAWL
        )
        assert result.returncode == 0, result.stderr
    assert "articles new 0, updated 0, unchanged 0, skipped as archived 7" in result.stdout
    assert not set(demo_site.requested_paths) & set(ARTICLES)
    with session_factory(open_archive(db_url))() as session:
        assert session.scalar(select(func.count(Article.id))) == 7
        assert [r.status for r in session.scalars(select(CrawlRun))] == ["finished", "finished"]


def test_scrapy_crawl_works_from_the_repository_root(tmp_path: Path, demo_site) -> None:
    db_url = f"sqlite:///{tmp_path / 'a.db'}"
    scrapy = Path(sys.executable).with_name("scrapy")
    result = subprocess.run(
        [
            str(scrapy),
            "crawl",
            "portal",
            "-a",
            f"start_urls={demo_site.base_url}/",
            "-s",
            f"NEWSARCHIVE_DB={db_url}",
            "-s",
            f"NEWSARCHIVE_WARC_DIR={tmp_path / 'warc'}",
            *FAST_CRAWL,
        ],
        cwd=Path(__file__).parents[1],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    with session_factory(open_archive(db_url))() as session:
        assert session.scalar(select(func.count(Article.id))) == 7


def _wait_for_articles(sessions, count: int, timeout: float = 60) -> None:
    """Until a crawl running in another process has stored `count` articles."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sessions() as session:
            if session.scalar(select(func.count(Article.id))) >= count:
                return
        time.sleep(0.05)
    raise AssertionError(f"the crawl stored fewer than {count} articles in {timeout} s")


class SlowHandler(RecordingHandler):
    def do_GET(self) -> None:
        time.sleep(0.4)
        super().do_GET()


@pytest.mark.parametrize("workers", ["0", "2"])
def test_ctrl_c_leaves_a_consistent_archive(tmp_path: Path, workers: str) -> None:
    db_url = f"sqlite:///{tmp_path / 'a.db'}"
    engine = open_archive(db_url)
    sessions = session_factory(engine)
    with LocalSite(DEMO_PORTAL, handler=SlowHandler) as site:
        crawl = subprocess.Popen(
            [
                *NEWSARCHIVE,
                "crawl",
                "--start-url",
                site.base_url + "/",
                "--db",
                db_url,
                *FAST_CRAWL,
                "-s",
                "CONCURRENT_REQUESTS=1",
                "-s",
                f"NEWSARCHIVE_PAGE_WORKERS={workers}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
        )
        _wait_for_articles(sessions, 1)
        crawl.send_signal(signal.SIGINT)
        stdout, stderr = crawl.communicate(timeout=60)
    assert crawl.returncode == 130, stderr
    with sessions() as session:
        run = session.scalars(select(CrawlRun)).one()
        stored = session.scalar(select(func.count(Article.id)))
    assert run.status == "interrupted"
    assert run.finished_at is not None
    assert 1 <= stored < 7
    assert run.articles_new == stored
    assert "[interrupted]" in stdout


def _children(pid: int) -> set[int]:
    """Child processes of a process, from Linux's /proc."""
    tasks = Path(f"/proc/{pid}/task").iterdir()
    return {int(child) for task in tasks for child in (task / "children").read_text().split()}


def _wait_for_exit(pids: set[int], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while (alive := {pid for pid in pids if Path(f"/proc/{pid}").exists()}) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.1)
    assert not alive, f"processes left behind by the killed crawl: {alive}"


@pytest.mark.parametrize("workers", ["0", "2"])
def test_killed_crawl_resumes_without_duplicates_or_downloads(tmp_path: Path, workers: str) -> None:
    db_url = f"sqlite:///{tmp_path / 'a.db'}"
    sessions = session_factory(open_archive(db_url))
    with LocalSite(DEMO_PORTAL, handler=SlowHandler) as site:
        command = [
            *NEWSARCHIVE, "crawl", "--start-url", site.base_url + "/", "--db", db_url,
            *FAST_CRAWL, "-s", "CONCURRENT_REQUESTS=1", "-s", f"NEWSARCHIVE_PAGE_WORKERS={workers}",
        ]  # fmt: skip
        crawl = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path
        )
        _wait_for_articles(sessions, 2)
        children = _children(crawl.pid)  # the page workers and multiprocessing's helper
        crawl.kill()
        crawl.wait(timeout=30)
        assert len(children) >= int(workers)
        _wait_for_exit(children)
        with sessions() as session:
            stored_urls = set(session.scalars(select(Article.canonical_url)))
        site.requested_paths.clear()

        resumed = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)

    assert resumed.returncode == 0, resumed.stderr
    assert 2 <= len(stored_urls) < 7
    refetched = {site.base_url + path for path in site.requested_paths} & stored_urls
    assert not refetched
    with sessions() as session:
        urls = list(session.scalars(select(Article.canonical_url)))
        runs = list(session.scalars(select(CrawlRun).order_by(CrawlRun.id)))
    assert sorted(urls) == sorted({site.base_url + path for path in ARTICLES})
    assert [run.status for run in runs] == ["killed", "finished"]
    assert runs[1].articles_new == 7 - len(stored_urls)
    assert runs[1].articles_skipped == len(stored_urls)


def test_a_dead_page_worker_is_replaced_and_no_page_is_lost(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'a.db'}"
    sessions = session_factory(open_archive(db_url))
    with LocalSite(DEMO_PORTAL, handler=SlowHandler) as site:
        crawl = subprocess.Popen(
            [
                *NEWSARCHIVE, "crawl", "--start-url", site.base_url + "/", "--db", db_url,
                *FAST_CRAWL, "-s", "CONCURRENT_REQUESTS=1", "-s", "NEWSARCHIVE_PAGE_WORKERS=2",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
        )  # fmt: skip
        _wait_for_articles(sessions, 1)
        workers = [
            pid
            for pid in _children(crawl.pid)
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        assert len(workers) == 2
        os.kill(workers[0], signal.SIGKILL)
        stdout, stderr = crawl.communicate(timeout=120)
    assert crawl.returncode == 0, stderr
    assert "a page worker died on" in stderr
    assert "articles new 7," in stdout
    with sessions() as session:
        urls = set(session.scalars(select(Article.canonical_url)))
    assert urls == {site.base_url + path for path in ARTICLES}
