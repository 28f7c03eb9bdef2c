"""Crawling the fixture portals (tests/sites) over HTTP and checking the archive against
each portal's expected.toml."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from archive.db import open_archive, session_factory
from archive.models import Article, ArticleVersion, CrawlFailure, CrawlRun
from tests.conftest import FAST_CRAWL, run_cli
from tests.sites.server import FixtureServer

SITES = Path(__file__).with_name("sites")
PORTALS = ["bitrix", "wordpress", "modern"]
CRAWL_SETTINGS = [*FAST_CRAWL, "-s", "RETRY_BACKOFF_BASE=0.05"]


def expected(site: str) -> dict:
    return tomllib.loads((SITES / site / "expected.toml").read_text(encoding="utf-8"))


def crawl(server: FixtureServer, db_url: str, *settings: str) -> str:
    result = run_cli(
        "crawl", "--start-url", server.url("/"), "--db", db_url, *CRAWL_SETTINGS, *settings
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def archived(server: FixtureServer, db_url: str) -> dict[str, dict]:
    """Exported articles by path."""
    result = run_cli("export", "--db", db_url)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    return {r["canonical_url"].removeprefix(server.base_url): r for r in records}


@dataclass
class CrawledPortal:
    name: str
    server: FixtureServer
    db_url: str
    expected: dict
    records: dict[str, dict]
    output: str


@pytest.fixture(scope="module", params=PORTALS)
def portal(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CrawledPortal]:
    name = request.param
    db_url = f"sqlite:///{tmp_path_factory.mktemp(name) / 'archive.db'}"
    with FixtureServer(SITES / name) as server:
        output = crawl(server, db_url)
        yield CrawledPortal(name, server, db_url, expected(name), archived(server, db_url), output)


def test_every_article_and_nothing_else_is_archived(portal: CrawledPortal) -> None:
    assert set(portal.records) == {a["path"] for a in portal.expected["articles"]}


def test_articles_have_language_date_title_and_clean_text(portal: CrawledPortal) -> None:
    for article in portal.expected["articles"]:
        record = portal.records[article["path"]]
        assert record["lang"] == article["lang"], article["path"]
        assert record["published"] == article["published"].isoformat(), article["path"]
        assert record["title"] == article["title"], article["path"]
        assert article["contains"] in record["text"], article["path"]
        for phrase in portal.expected.get("boilerplate", []):
            assert phrase not in record["text"], (article["path"], phrase)


def test_robots_disallowed_pages_are_never_requested(portal: CrawledPortal) -> None:
    requested = {r.path for r in portal.server.requests}
    for path in portal.expected.get("disallowed", []):
        assert path not in requested
        assert not any(r.startswith(path.split("?")[0]) for r in requested), path


def test_translations_are_linked_both_ways_and_only_them(portal: CrawledPortal) -> None:
    pairs = {(t["ru"], t["en"]) for t in portal.expected.get("translations", [])}
    linked = {
        (path, other.removeprefix(portal.server.base_url))
        for path, record in portal.records.items()
        for other in record["translations"]
    }
    assert linked == pairs | {(en, ru) for ru, en in pairs}


def test_broken_links_are_recorded_as_failures(portal: CrawledPortal) -> None:
    with session_factory(open_archive(portal.db_url))() as session:
        failures = {
            f.url.removeprefix(portal.server.base_url): f
            for f in session.scalars(select(CrawlFailure))
        }
        run = session.scalars(select(CrawlRun)).one()
    broken = {b["path"]: b for b in portal.expected.get("broken", [])}
    assert set(failures) == set(broken)
    for path, failure in failures.items():
        if broken[path]["status"] >= 400:
            assert failure.status == broken[path]["status"], path
    assert run.status == "finished"
    assert run.articles_new == len(portal.expected["articles"])
    assert run.errors == len(broken)


def test_recrawl_of_unchanged_portal_downloads_no_article(portal: CrawledPortal) -> None:
    article_paths = {a["path"] for a in portal.expected["articles"]}
    portal.server.reset_requests()
    output = crawl(portal.server, portal.db_url)
    requested = {r.path for r in portal.server.requests}
    assert not requested & article_paths
    assert f"skipped as archived {len(article_paths)}" in output
    assert "articles new 0, updated 0, unchanged 0" in output


def test_recrawl_archives_exactly_the_new_and_changed_articles(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    articles = {a["path"] for a in expected("bitrix")["articles"]}
    changed = "/press-center/news/itogi-9-mesyatsev-2026/"
    template = "/press-center/news/investsovet-oktyabr/"
    added = "/press-center/news/novyy-investor-2026/"
    with FixtureServer(SITES / "bitrix") as server:
        crawl(server, db_url)
        old_text = archived(server, db_url)[changed]["text"]

        page = server.fetch(changed).body.decode("utf-8")
        server.mutate(changed, page.replace("Следующий доклад", "Уточнённый доклад").encode())
        new_page = server.fetch(template).body.decode("utf-8").replace(template, added)
        new_page = new_page.replace("шесть проектов", "семь проектов")
        server.add(added, new_page.encode())
        listing = server.fetch("/press-center/news/").body.decode("utf-8")
        link = f'<div class="news-item"><a href="{added}">Новый инвестор</a></div>'
        server.mutate("/press-center/news/", listing.replace("</main>", link + "</main>").encode())
        server.reset_requests()

        output = crawl(
            server,
            db_url,
            "-s",
            "NEWSARCHIVE_REVISIT_AFTER_HOURS=0",
            "-s",
            "NEWSARCHIVE_REVISIT_WITHIN_DAYS=100000",
        )
        records = archived(server, db_url)
        revisits = [r for r in server.requests if r.path in articles]

    assert f"articles new 1, updated 1, unchanged {len(articles) - 1}," in output
    assert set(records) == articles | {added}
    assert "Уточнённый доклад" in records[changed]["text"]
    assert "семь проектов" in records[added]["title"]
    assert {r.path for r in revisits} == articles
    assert all(r.if_none_match for r in revisits)
    assert sorted(r.status for r in revisits) == [200] + [304] * (len(articles) - 1)
    with session_factory(open_archive(db_url))() as session:
        versions = session.scalars(
            select(ArticleVersion.text)
            .join(Article)
            .where(Article.canonical_url == server.url(changed))
            .order_by(ArticleVersion.version)
        ).all()
    assert versions == [old_text, records[changed]["text"]]


def test_crawler_names_itself_and_skips_oversized_pages(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    with FixtureServer(SITES / "bitrix") as server:
        listing = server.fetch("/press-center/news/").body.decode("utf-8")
        big = "/press-center/news/ogromnyy-otchet/"
        server.add(big, b"<html><body>" + b"<p>x</p>" * 200_000 + b"</body></html>")
        link = f'<div class="news-item"><a href="{big}">Отчёт</a></div>'
        server.mutate("/press-center/news/", listing.replace("</main>", link + "</main>").encode())
        server.reset_requests()
        crawl(server, db_url, "-s", "DOWNLOAD_MAXSIZE=1000000", "-s", "DOWNLOAD_WARNSIZE=0")
        agents = {r.user_agent for r in server.requests}
    assert len(agents) == 1 and agents.pop().startswith("newsarchive/")
    with session_factory(open_archive(db_url))() as session:
        failure = session.scalars(
            select(CrawlFailure).where(CrawlFailure.url == server.url(big))
        ).one()
    assert "size" in failure.reason.lower() or "cancel" in failure.reason.lower()


def test_starting_from_the_russian_news_list_finds_the_english_section(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    with FixtureServer(SITES / "bitrix") as server:
        result = run_cli(
            "crawl", "--start-url", server.url("/press-center/news/"), "--db", db_url,
            *CRAWL_SETTINGS,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        records = archived(server, db_url)
    assert set(records) == {a["path"] for a in expected("bitrix")["articles"]}
    assert {r["lang"] for r in records.values()} == {"ru", "en"}


def test_syndicated_press_release_is_flagged_across_portals(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    pairs = expected("bitrix").get("syndicated", [])
    assert pairs
    with FixtureServer(SITES / "bitrix") as bitrix, FixtureServer(SITES / "modern") as modern:
        crawl(bitrix, db_url)
        crawl(modern, db_url)
        records = {
            r["canonical_url"]: r
            for r in map(json.loads, run_cli("export", "--db", db_url).stdout.splitlines())
        }
        flagged = {(url, r["duplicate_of"]) for url, r in records.items() if r["duplicate_of"]}
        assert flagged == {
            (modern.url(pair["other_path"]), bitrix.url(pair["path"])) for pair in pairs
        }


def test_page_workers_archive_the_same_articles(tmp_path: Path) -> None:
    """Pages processed in worker processes come out as they do in the crawl process."""
    results = {}
    for workers in ("0", "2"):
        db_url = f"sqlite:///{tmp_path / f'{workers}.db'}"
        with FixtureServer(SITES / "bitrix") as server:
            crawl(server, db_url, "-s", f"NEWSARCHIVE_PAGE_WORKERS={workers}")
            results[workers] = {
                path: (r["title"], r["text"], r["lang"], r["published"], len(r["translations"]))
                for path, r in archived(server, db_url).items()
            }
    assert set(results["2"]) == {a["path"] for a in expected("bitrix")["articles"]}
    assert results["2"] == results["0"]
