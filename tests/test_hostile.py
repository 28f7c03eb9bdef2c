"""Crawling hostile portals (tests/sites/hostile.py): huge and malformed pages, sitemap
floods, robots.txt errors, other ports, foreign canonicals, redirect traps, broken transfers.

Each crawl is a subprocess of its own. It must end within CRAWL_BOUND seconds with a peak
RSS under MAX_RSS_MB and no traceback, having archived every good article of the site.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from archive.db import open_archive, session_factory
from archive.models import Article, ArticleUrl, ArticleVersion, CrawlFailure, CrawlRun
from tests.conftest import FAST_CRAWL, NEWSARCHIVE
from tests.sites.hostile import (
    ARTICLES,
    BAD_CANONICAL,
    BAD_PORT_LINK,
    BROKEN,
    CHAIN_HOPS,
    DRIP_SECONDS,
    JSON_LD_BOMB,
    LISTED,
    REFRESHED_ARTICLE,
    SITEMAP_ARTICLES,
    TRANSPORT_ARTICLES,
    HostileSite,
    article,
    article_route,
    html,
    listing,
    markup_routes,
    sitemap_routes,
    transport_routes,
)

CRAWL_BOUND = 90.0
MAX_RSS_MB = 400
QUIET = ["-s", "LOG_LEVEL=WARNING"]
NO_RETRIES = ["-s", "RETRY_TIMES=0", "-s", "RETRY_BACKOFF_BASE=0"]
# Hostile sites fail on purpose; their runs must still count as finished.
FAILURES_EXPECTED = ["-s", "NEWSARCHIVE_MAX_ERROR_SHARE=1"]
DOWNLOAD_TIMEOUT = 5
# The crawler's defaults (crawler/settings.py).
# A lower limit on the links taken from a page, so that few of them are requested.
MAX_LINKS_PER_PAGE = 200
MAX_SITEMAPS = 100
# A lower limit on the URLs taken from sitemaps, so that the flood test ends soon.
FLOOD_SITEMAP_URLS = 300


@dataclass(frozen=True)
class Crawled:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_rss_mb: float


class CrawlProcess:
    """`newsarchive crawl` from `start_url`, in a subprocess; its wall time and peak RSS."""

    def __init__(self, start_url: str, db_url: str, cwd: Path, *settings: str) -> None:
        self.out = cwd / "crawl.out"
        self.err = cwd / "crawl.err"
        with self.out.open("w") as stdout, self.err.open("w") as stderr:
            self.process = subprocess.Popen(
                [*NEWSARCHIVE, "crawl", "--start-url", start_url, "--db", db_url,
                 *FAST_CRAWL, *QUIET, *settings],
                stdout=stdout,
                stderr=stderr,
                cwd=cwd,
                env={**os.environ, "NEWSARCHIVE_DB": ""},
            )  # fmt: skip
        self.started = time.monotonic()

    def __enter__(self) -> CrawlProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        """A crawl that a failed test leaves running is killed."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def interrupt(self) -> None:
        self.process.send_signal(signal.SIGINT)

    def rss_high_water_mb(self) -> float:
        """The crawl's peak resident memory so far (0 once it has exited)."""
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return 0.0
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def finish(self, timeout: float = CRAWL_BOUND) -> Crawled:
        """Waits for the end; fails past `timeout` seconds from the start."""
        peak = 0.0
        while self.process.poll() is None:
            peak = max(peak, self.rss_high_water_mb())
            if time.monotonic() - self.started > timeout:
                raise AssertionError(
                    f"the crawl did not end within {timeout:g} s (peak RSS {peak:.0f} MB); "
                    "its stderr ends with:\n" + self.err.read_text()[-3000:]
                )
            time.sleep(0.02)
        return Crawled(
            self.process.returncode,
            self.out.read_text(),
            self.err.read_text(),
            time.monotonic() - self.started,
            peak,
        )


def crawl(name: str, site: HostileSite, db_url: str, cwd: Path, *settings: str) -> Crawled:
    """A whole crawl of `site` from its home page; its figures are printed under `name`."""
    with CrawlProcess(site.url("/"), db_url, cwd, *settings) as running:
        crawled = running.finish()
    print(
        f"{name}: {crawled.seconds:.1f} s, peak RSS {crawled.peak_rss_mb:.0f} MB, "
        f"{len(stored(db_url))} articles, exit {crawled.returncode}"
    )
    return crawled


def assert_sound(crawled: Crawled, returncode: int = 0) -> None:
    assert crawled.returncode == returncode, crawled.stderr[-3000:]
    assert crawled.seconds < CRAWL_BOUND
    assert crawled.peak_rss_mb < MAX_RSS_MB
    assert "Traceback" not in crawled.stderr, crawled.stderr[-5000:]


@functools.cache
def sessions(db_url: str) -> sessionmaker[Session]:
    return session_factory(open_archive(db_url))


def stored(db_url: str) -> dict[str, Article]:
    with sessions(db_url)() as session:
        return {a.canonical_url: a for a in session.scalars(select(Article))}


def failures(db_url: str) -> dict[str, CrawlFailure]:
    with sessions(db_url)() as session:
        return {f.url: f for f in session.scalars(select(CrawlFailure))}


def run_statuses(db_url: str) -> list[str]:
    with sessions(db_url)() as session:
        return list(session.scalars(select(CrawlRun.status).order_by(CrawlRun.id)))


def assert_archived(db_url: str, site: HostileSite, paths: dict[str, int]) -> None:
    """Each path's page is archived under its URL, with the title and text of ARTICLES[i]."""
    articles = stored(db_url)
    for path, index in paths.items():
        record = articles.get(site.url(path))
        assert record is not None, f"{path} not archived; archived: {sorted(articles)}"
        assert record.title.startswith(ARTICLES[index].title)
        for paragraph in ARTICLES[index].paragraphs:
            assert paragraph in record.text


def sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'archive.db'}"


# Cases 1, 2 and 4: each page is a crawl of its own, so that what it costs is its own.


def markup_crawl(name: str, site: HostileSite, tmp_path: Path) -> tuple[Crawled, str]:
    db_url = sqlite_url(tmp_path)
    links = ("-s", f"NEWSARCHIVE_MAX_LINKS_PER_PAGE={MAX_LINKS_PER_PAGE}")
    return crawl(name, site, db_url, tmp_path, *NO_RETRIES, *FAILURES_EXPECTED, *links), db_url


def test_a_tag_of_100000_attributes_and_50000_levels_of_nesting(tmp_path: Path) -> None:
    with HostileSite(markup_routes(["/attrs/", "/deep/"])) as site:
        crawled, db_url = markup_crawl("attributes and nesting", site, tmp_path)
    assert_sound(crawled)
    assert site.hits()["/attrs/"] == site.hits()["/deep/"] == 1
    assert_archived(db_url, site, LISTED)


def test_a_page_of_700000_links_and_one_of_9_mb(tmp_path: Path) -> None:
    with HostileSite(markup_routes(["/links-700k/", "/links-9mb/"])) as site:
        crawled, db_url = markup_crawl("700,000 links; 9 MB of links", site, tmp_path)
    assert_sound(crawled)
    hits = site.hits()
    assert hits["/links-700k/"] == hits["/links-9mb/"] == 1
    # The 9 MB page is read, and its first links are followed, up to the limit.
    gone = [path for path in site.requests if path.startswith("/gone/")]
    assert "/gone/0/" in gone
    assert len(gone) <= MAX_LINKS_PER_PAGE
    assert len([path for path in site.requests if path.startswith("/far/")]) <= MAX_LINKS_PER_PAGE
    assert_archived(db_url, site, LISTED)


def test_a_page_of_a_million_identical_links(tmp_path: Path) -> None:
    with HostileSite(markup_routes(["/same/"])) as site:
        crawled, db_url = markup_crawl("a million identical links", site, tmp_path)
    assert_sound(crawled)
    assert site.hits()["/same/"] == site.hits()["/same/x"] == 1
    assert_archived(db_url, site, {**LISTED, "/same/x": 3})


def test_bad_port_link_bad_canonical_and_json_ld_bomb_stop_no_page(tmp_path: Path) -> None:
    """On the listing and on an article: both are processed, their good links followed."""
    routes = markup_routes(["/weird/"], BAD_CANONICAL + JSON_LD_BOMB, BAD_PORT_LINK)
    with HostileSite(routes) as site:
        crawled, db_url = markup_crawl("bad port, bad canonical, JSON-LD bomb", site, tmp_path)
    assert_sound(crawled)
    assert_archived(db_url, site, {**LISTED, "/weird/": 1, "/news/a3/": 2})
    assert stored(db_url)[site.url("/weird/")].url == site.url("/weird/")


# Case 3: sitemap floods, and Ctrl-C in the middle of one.


def sitemap_site() -> HostileSite:
    site = HostileSite({})
    site.routes.update(sitemap_routes(site.base_url))
    return site


def test_a_sitemap_flood_still_ends_in_time_with_the_good_articles(tmp_path: Path) -> None:
    db_url = sqlite_url(tmp_path)
    with sitemap_site() as site:
        crawled = crawl(
            "sitemap flood", site, db_url, tmp_path, *NO_RETRIES, *FAILURES_EXPECTED,
            "-s", f"NEWSARCHIVE_MAX_SITEMAP_URLS={FLOOD_SITEMAP_URLS}",
        )  # fmt: skip
        requests = site.requests
    assert_sound(crawled)
    assert_archived(db_url, site, SITEMAP_ARTICLES)
    # robots.txt is far over DOWNLOAD_MAXSIZE; its first 500 KiB still hold its rules.
    assert not [path for path in requests if path.startswith("/private/")]
    sitemaps = [path for path in requests if path.startswith(("/sitemaps/", "/more/"))]
    assert len(sitemaps) <= MAX_SITEMAPS
    assert len([path for path in sitemaps if path.startswith("/more/")]) <= MAX_SITEMAPS // 10
    assert [path for path in sitemaps if path.startswith("/sitemaps/")]
    assert 0 < sum(path.startswith("/gone/") for path in requests) <= FLOOD_SITEMAP_URLS


def test_ctrl_c_stops_a_sitemap_flood_within_seconds(tmp_path: Path) -> None:
    db_url = sqlite_url(tmp_path)
    with (
        sitemap_site() as site,
        CrawlProcess(
            site.url("/"),
            db_url,
            tmp_path,
            *NO_RETRIES,
            *FAILURES_EXPECTED,
            "-s",
            "NEWSARCHIVE_MAX_SITEMAP_URLS=5000",
        ) as running,
    ):
        deadline = time.monotonic() + 60
        while sum(path.startswith("/gone/") for path in site.requests) < 10:
            assert time.monotonic() < deadline, "the crawl fetched no page of the sitemaps"
            assert running.process.poll() is None, running.err.read_text()[-3000:]
            time.sleep(0.05)
        interrupted_at = time.monotonic()
        running.interrupt()
        crawled = running.finish()
        stop_seconds = time.monotonic() - interrupted_at
    print(
        f"sitemap flood, Ctrl-C: {crawled.seconds:.1f} s, stopped {stop_seconds:.1f} s after "
        f"SIGINT, peak RSS {crawled.peak_rss_mb:.0f} MB, {len(stored(db_url))} articles"
    )
    assert_sound(crawled, returncode=130)
    assert stop_seconds < 10
    assert run_statuses(db_url) == ["interrupted"]


# Case 5: robots.txt answering 500 means everything is disallowed (RFC 9309); the 404 case
# is the transport site's.


def test_robots_txt_500_means_nothing_but_robots_txt_is_requested(tmp_path: Path) -> None:
    db_url = sqlite_url(tmp_path)
    routes = {
        "/robots.txt": lambda _: html("<html><body>Internal Server Error</body></html>", 500),
        "/": lambda _: html(listing([("/news/r1/", ARTICLES[0])])),
        "/news/r1/": article_route(0),
    }
    with HostileSite(routes) as site:
        crawled = crawl("robots.txt 500", site, db_url, tmp_path, *NO_RETRIES)
        requests = site.requests
    assert set(requests) == {"/robots.txt"}
    # Nothing could be fetched: a failed run (exit status 3).
    assert_sound(crawled, returncode=3)
    assert stored(db_url) == {}
    assert run_statuses(db_url) == ["failed"]


# Cases 5, 6 and 8 on one site: robots.txt 404, another port of the host, redirect traps,
# broken transfers and 5xx answers.


@pytest.fixture(scope="module")
def transport(tmp_path_factory: pytest.TempPathFactory):
    cwd = tmp_path_factory.mktemp("transport")
    db_url = sqlite_url(cwd)
    other = HostileSite({"*": article_route(4)})
    with other, HostileSite(transport_routes(other.base_url)) as site:
        crawled = crawl(
            "transport traps", site, db_url, cwd, *NO_RETRIES, *FAILURES_EXPECTED,
            "-s", f"DOWNLOAD_TIMEOUT={DOWNLOAD_TIMEOUT}",
        )  # fmt: skip
        yield site, other, crawled, db_url


def test_transport_traps_end_in_time_within_memory(transport) -> None:
    _, _, crawled, db_url = transport
    assert_sound(crawled)
    assert crawled.seconds < DRIP_SECONDS
    assert run_statuses(db_url) == ["finished"]


def test_robots_txt_404_allows_everything(transport) -> None:
    site, _, _, db_url = transport
    assert "/robots.txt" in site.requests
    assert_archived(db_url, site, TRANSPORT_ARTICLES)


def test_another_port_of_the_host_is_never_requested(transport) -> None:
    site, other, _, db_url = transport
    assert other.requests == []
    assert site.hits()["/jump/"] == 1
    assert "off the portal" in failures(db_url)[site.url("/jump/")].reason


def test_redirect_loop_and_long_chain_are_recorded_failures(transport) -> None:
    site, _, _, db_url = transport
    failed = failures(db_url)
    assert "redirect loop" in failed[site.url("/loop/a/")].reason
    assert "redirect loop" in failed[site.url("/refresh/loop/a/")].reason
    assert "redirect chain too long" in failed[site.url("/chain/1/")].reason
    hits = site.hits()
    assert hits["/loop/a/"] == hits["/loop/b/"] == 1
    assert f"/chain/{CHAIN_HOPS + 1}/" not in hits


def test_drip_false_gzip_binary_and_5xx_are_failures_not_articles(transport) -> None:
    site, _, _, db_url = transport
    failed = failures(db_url)
    assert site.url("/drip/") in failed
    assert site.url("/gzip/") in failed
    for path in BROKEN:
        assert failed[site.url(path)].status == 503
        assert site.hits()[path] == 1
    assert set(stored(db_url)) == {
        site.url(path) for path in [*TRANSPORT_ARTICLES, REFRESHED_ARTICLE]
    }


# Case 7: a page claiming, by rel=canonical, an article of another archived site.


def test_a_canonical_to_another_site_leaves_its_article_alone(tmp_path: Path) -> None:
    db_url = sqlite_url(tmp_path)
    original = {
        "/": lambda _: html(listing([("/news/original/", ARTICLES[3])])),
        "/news/original/": article_route(3),
    }
    with HostileSite(original) as site_a:
        assert_sound(crawl("canonical, site A", site_a, db_url, tmp_path, *NO_RETRIES))
        target = site_a.url("/news/original/")
        with sessions(db_url)() as session:
            before = session.scalars(select(Article).where(Article.canonical_url == target)).one()
        copy = {
            "/": lambda _: html(listing([("/news/copy/", ARTICLES[5])])),
            "/news/copy/": lambda _: html(article(ARTICLES[5], canonical=target)),
        }
        with HostileSite(copy) as site_b:
            assert_sound(crawl("canonical, site B", site_b, db_url, tmp_path, *NO_RETRIES))
        assert site_a.hits()["/news/original/"] == 1
    with sessions(db_url)() as session:
        after = session.get(Article, before.id)
        assert (after.title, after.text, after.site_id, after.content_hash) == (
            before.title,
            before.text,
            before.site_id,
            before.content_hash,
        )
        versions = session.scalar(
            select(func.count(ArticleVersion.id)).where(ArticleVersion.article_id == before.id)
        )
        assert versions == 1
        copied = session.scalars(
            select(Article).where(Article.canonical_url == site_b.url("/news/copy/"))
        ).one()
        assert copied.id != before.id
        assert ARTICLES[5].paragraphs[0] in copied.text
        keys = session.scalars(
            select(ArticleUrl.url_key).where(ArticleUrl.article_id == before.id)
        ).all()
        assert keys
        assert not [key for key in keys if f":{site_b.port}/" in key]
