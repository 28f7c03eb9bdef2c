"""Crawling the bundled sample portal over real HTTP on 127.0.0.1."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from archive import exitcodes
from archive.db import open_archive, session_factory
from archive.localsite import LocalSite
from archive.models import Article, ArticleVersion, CrawlRun, SiteLock
from tests.conftest import FAST_CRAWL, HELD_PAGE, NEWSARCHIVE, run_cli, start_held_crawl

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


def test_scrapy_crawl_works_from_the_repository_root_with_feeds(tmp_path: Path, demo_site) -> None:
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
            "-o",
            str(tmp_path / "items.jsonl"),
            "-o",
            str(tmp_path / "items.csv"),
            *FAST_CRAWL,
        ],
        cwd=Path(__file__).parents[1],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    with session_factory(open_archive(db_url))() as session:
        titles = set(session.scalars(select(Article.title)))
    assert len(titles) == 7
    lines = (tmp_path / "items.jsonl").read_text(encoding="utf-8").splitlines()
    items = [json.loads(line) for line in lines]
    assert {item["title"] for item in items} == titles
    assert {item["url"] for item in items} == {demo_site.base_url + path for path in ARTICLES}
    assert all(item["text"] and item["lang"] in ("ru", "en") for item in items)
    with (tmp_path / "items.csv").open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert {row["title"] for row in rows} == titles
    assert "] ERROR:" not in result.stderr


def _the_run(db_url: str) -> CrawlRun:
    with session_factory(open_archive(db_url))() as session:
        return session.scalars(select(CrawlRun)).one()


@pytest.mark.parametrize("workers", ["0", "2"])
def test_ctrl_c_abandons_pages_in_flight_and_records_the_run(
    tmp_path: Path, held_site: LocalSite, workers: str
) -> None:
    db_url = f"sqlite:///{tmp_path / 'a.db'}"
    workers_setting = f"NEWSARCHIVE_PAGE_WORKERS={workers}"
    crawl = start_held_crawl(held_site, db_url, tmp_path, "-s", workers_setting)
    crawl.send_signal(signal.SIGINT)
    stdout, stderr = crawl.communicate(timeout=60)
    assert not held_site.handler.release.is_set()
    assert crawl.returncode == 130, stderr
    run = _the_run(db_url)
    assert (run.status, run.articles_new) == ("interrupted", len(ARTICLES) - 1)
    assert run.finished_at is not None
    assert "[interrupted]" in stdout
    assert "Traceback" not in stderr


def test_a_second_ctrl_c_stops_at_once(tmp_path: Path, held_site: LocalSite) -> None:
    db_url = f"sqlite:///{tmp_path / 'a.db'}"
    crawl = start_held_crawl(held_site, db_url, tmp_path, "-s", "NEWSARCHIVE_STOP_GRACE=600")
    crawl.send_signal(signal.SIGINT)
    deadline = time.monotonic() + 60
    while _the_run(db_url).status != "interrupted":
        assert time.monotonic() < deadline, "the first Ctrl-C was not recorded"
        time.sleep(0.05)
    crawl.send_signal(signal.SIGINT)
    stdout, stderr = crawl.communicate(timeout=60)
    assert crawl.returncode == 130, stderr
    assert _the_run(db_url).status == "interrupted"
    assert "[interrupted]" in stdout


def _children(pid: int) -> set[int]:
    """Child processes of a process, from Linux's /proc."""
    tasks = Path(f"/proc/{pid}/task").iterdir()
    return {int(child) for task in tasks for child in (task / "children").read_text().split()}


def _descendants(pid: int) -> set[int]:
    children = _children(pid)
    return children.union(*(_descendants(child) for child in children))


def _page_workers(pid: int) -> set[int]:
    """The page workers of a crawl: the children of its fork server (pipelines.workers)."""
    servers = [
        child
        for child in _children(pid)
        if b"forkserver" in Path(f"/proc/{child}/cmdline").read_bytes()
    ]
    return set().union(*(_children(server) for server in servers))


def _wait_for_exit(pids: set[int], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while (alive := {pid for pid in pids if Path(f"/proc/{pid}").exists()}) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.1)
    assert not alive, f"processes left behind by the killed crawl: {alive}"


@pytest.mark.parametrize("workers", ["0", "2"])
def test_killed_crawl_resumes_without_duplicates_or_downloads(
    tmp_path: Path, held_site: LocalSite, workers: str
) -> None:
    db_url = f"sqlite:///{tmp_path / 'a.db'}"
    sessions = session_factory(open_archive(db_url))
    settings = ("-s", f"NEWSARCHIVE_PAGE_WORKERS={workers}")
    crawl = start_held_crawl(held_site, db_url, tmp_path, *settings)
    # The run record keeps up with the crawl, so a killed run still shows what it stored.
    deadline = time.monotonic() + 60
    while _the_run(db_url).articles_new < len(ARTICLES) - 1:
        assert time.monotonic() < deadline, "the run record does not keep up"
        time.sleep(0.05)
    workers_seen = _page_workers(crawl.pid)
    children = _descendants(crawl.pid)  # the page workers and multiprocessing's helpers
    crawl.kill()
    crawl.wait(timeout=30)
    assert len(workers_seen) == int(workers)
    _wait_for_exit(children)
    held_site.handler.release.set()
    held_site.requested_paths.clear()
    resumed = subprocess.run(
        [
            *NEWSARCHIVE, "crawl", "--start-url", held_site.base_url + "/", "--db", db_url,
            *FAST_CRAWL, *settings,
        ],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert set(held_site.requested_paths) & set(ARTICLES) == {HELD_PAGE}
    with sessions() as session:
        urls = list(session.scalars(select(Article.canonical_url)))
        runs = list(session.scalars(select(CrawlRun).order_by(CrawlRun.id)))
    assert sorted(urls) == sorted(held_site.base_url + path for path in ARTICLES)
    assert [run.status for run in runs] == ["killed", "finished"]
    assert runs[0].articles_new == len(ARTICLES) - 1
    assert runs[0].warc_path
    assert (runs[1].articles_new, runs[1].articles_skipped) == (1, len(ARTICLES) - 1)


def test_a_dead_page_worker_is_replaced_and_no_page_is_lost(
    tmp_path: Path, held_site: LocalSite
) -> None:
    db_url = f"sqlite:///{tmp_path / 'a.db'}"
    crawl = start_held_crawl(held_site, db_url, tmp_path, "-s", "NEWSARCHIVE_PAGE_WORKERS=2")
    workers = sorted(_page_workers(crawl.pid))
    assert len(workers) == 2
    os.kill(workers[0], signal.SIGKILL)
    _wait_for_exit({workers[0]})
    held_site.handler.release.set()
    stdout, stderr = crawl.communicate(timeout=120)
    assert crawl.returncode == 0, stderr
    assert "a page worker died on" in stderr
    assert "articles new 7," in stdout
    with session_factory(open_archive(db_url))() as session:
        urls = set(session.scalars(select(Article.canonical_url)))
    assert urls == {held_site.base_url + path for path in ARTICLES}


def test_a_crawl_that_reaches_nothing_fails_with_one_line_per_host(tmp_path: Path) -> None:
    result = run_cli(
        "crawl", "--start-url", "http://127.0.0.1:1/", "--start-url", "http://127.0.0.2:1/",
        "--db", f"sqlite:///{tmp_path / 'a.db'}", *FAST_CRAWL, "-s", "RETRY_BACKOFF_BASE=0",
        "-s", "LOG_LEVEL=WARNING", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 3, result.stderr
    assert "[failed]" in result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 2, result.stderr
    assert "cannot reach 127.0.0.1:1" in lines[0] + lines[1]
    assert "cannot reach 127.0.0.2:1" in lines[0] + lines[1]


def test_a_second_crawl_of_a_site_being_crawled_exits_at_once_naming_the_holder(
    db_url: str, tmp_path: Path, held_site: LocalSite
) -> None:
    """One crawl of a site at a time: the second exits with SITE_LOCKED and records
    nothing; the first stores every article once."""
    first = start_held_crawl(held_site, db_url, tmp_path)
    (run_id,) = _run_ids(db_url)
    second = run_cli(
        "crawl", "--start-url", held_site.base_url + "/", "--db", db_url, *FAST_CRAWL,
        "-s", "LOG_LEVEL=WARNING", cwd=tmp_path,
    )  # fmt: skip
    assert second.returncode == exitcodes.SITE_LOCKED, second.stderr
    (line,) = [line for line in second.stderr.splitlines() if line.startswith("Error:")]
    assert f"is being crawled by run {run_id} (host " in line
    assert f"pid {first.pid}, since " in line and line.endswith(": not crawled")
    assert "Traceback" not in second.stderr and "run " not in second.stdout
    held_site.handler.release.set()
    _, stderr = first.communicate(timeout=120)
    assert first.returncode == 0, stderr
    with session_factory(open_archive(db_url))() as session:
        urls = list(session.scalars(select(Article.canonical_url)))
        versions = session.scalar(select(func.count(ArticleVersion.id)))
        runs = {run.id: run.status for run in session.scalars(select(CrawlRun))}
        assert session.scalars(select(SiteLock)).all() == []
    assert sorted(urls) == sorted(held_site.base_url + path for path in ARTICLES)
    assert versions == len(ARTICLES)
    assert runs == {run_id: "finished"}


def test_the_lock_of_a_killed_crawl_is_taken_over(tmp_path: Path, held_site: LocalSite) -> None:
    db_url = f"sqlite:///{tmp_path / 'a.db'}"
    killed = start_held_crawl(held_site, db_url, tmp_path)
    (killed_id,) = _run_ids(db_url)
    killed.kill()
    killed.communicate(timeout=60)
    held_site.handler.release.set()
    again = run_cli(
        "crawl", "--start-url", held_site.base_url + "/", "--db", db_url, *FAST_CRAWL,
        "-s", "LOG_LEVEL=WARNING", cwd=tmp_path,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    with session_factory(open_archive(db_url))() as session:
        runs = {run.id: run.status for run in session.scalars(select(CrawlRun))}
        assert session.scalars(select(SiteLock)).all() == []
    (new_id,) = set(runs) - {killed_id}
    assert runs == {killed_id: "killed", new_id: "finished"}
    assert f"run {new_id} " in again.stdout


def _run_ids(db_url: str) -> list[int]:
    with session_factory(open_archive(db_url))() as session:
        return list(session.scalars(select(CrawlRun.id)))


def test_max_runtime_ends_a_crawl_cleanly_keeping_what_it_stored(
    tmp_path: Path, held_site: LocalSite
) -> None:
    """The crawl stops at its deadline and its pages in flight end within DOWNLOAD_TIMEOUT:
    the held page never comes, the others are stored, the run is finished."""
    db_url = f"sqlite:///{tmp_path / 'a.db'}"
    result = run_cli(
        "crawl", "--start-url", held_site.base_url + "/", "--db", db_url, "--max-runtime", "5s",
        *FAST_CRAWL, "-s", "DOWNLOAD_TIMEOUT=2", "-s", "LOG_LEVEL=WARNING", cwd=tmp_path,
    )  # fmt: skip
    assert held_site.handler.arrived.is_set() and not held_site.handler.release.is_set()
    assert result.returncode == 0, result.stderr
    run = _the_run(db_url)
    assert (run.status, run.articles_new) == ("finished", len(ARTICLES) - 1)
    with session_factory(open_archive(db_url))() as session:
        assert session.scalars(select(SiteLock)).all() == []
    bad = run_cli("crawl", "--start-url", held_site.base_url + "/", "--max-runtime", "soon")
    assert bad.returncode == exitcodes.USAGE
    assert bad.stderr.strip() == (
        "Error: --max-runtime: not a duration: 'soon'; give a number and a unit, "
        "such as 90s, 30m, 6h or 1d"
    )
