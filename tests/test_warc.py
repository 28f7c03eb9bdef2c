"""The raw archive: WARC files written by crawls, reprocessing them, importing others'."""

from __future__ import annotations

import gzip
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import func, select

from archive.db import open_archive, session_factory
from archive.models import Article, ArticleVersion, CrawlRun
from archive.warc import RecordLocation, iter_responses, read_response
from tests.conftest import run_cli
from tests.sites.server import FixtureServer
from tests.test_portals import CRAWL_SETTINGS, SITES, expected

ARTICLES = {a["path"] for a in expected("bitrix")["articles"]}


@pytest.fixture
def crawled(tmp_path: Path, db_url: str):
    """The bitrix portal crawled into `db_url`, with its WARC file under tmp_path."""
    with FixtureServer(SITES / "bitrix") as server:
        result = run_cli(
            "crawl", "--start-url", server.url("/"), "--db", db_url, *CRAWL_SETTINGS,
            "-s", f"NEWSARCHIVE_WARC_DIR={tmp_path / 'warc'}",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        yield server, db_url, tmp_path / "warc"


def versions_by_path(server: FixtureServer, db_url: str) -> dict[str, int]:
    with session_factory(open_archive(db_url))() as session:
        rows = session.execute(
            select(Article.canonical_url, func.count(ArticleVersion.id))
            .join(ArticleVersion)
            .group_by(Article.canonical_url)
        )
        return {url.removeprefix(server.base_url): count for url, count in rows}


def test_every_fetched_page_is_in_the_runs_warc_file(crawled) -> None:
    server, db_url, warc_dir = crawled
    (warc,) = warc_dir.glob("*.warc.gz")
    pages = list(iter_responses(warc))
    served = [r for r in server.requests if r.status < 300]
    assert {p.url.removeprefix(server.base_url) for p in pages} >= {r.path for r in served}
    with gzip.open(warc, "rt", encoding="utf-8", errors="replace") as stream:
        raw = stream.read()
    assert raw.count("WARC-Type: request") == raw.count("WARC-Type: response") == len(pages)
    with session_factory(open_archive(db_url))() as session:
        assert session.scalars(select(CrawlRun.warc_path)).one() == str(warc)
        articles = session.scalars(select(Article)).all()
    assert {a.canonical_url.removeprefix(server.base_url) for a in articles} == ARTICLES
    for article in articles:
        page = read_response(RecordLocation(article.warc_path, article.warc_offset))
        assert page.status == 200
        assert article.title in page.body.decode("utf-8")


def test_reprocess_adds_versions_only_where_the_result_changed(crawled) -> None:
    server, db_url, _ = crawled
    unchanged = run_cli("reprocess", "--db", db_url)
    assert unchanged.returncode == 0, unchanged.stderr
    assert unchanged.stdout.strip() == f"unchanged {len(ARTICLES)}"
    assert set(versions_by_path(server, db_url).values()) == {1}

    changed = run_cli("reprocess", "--db", db_url, "--drop-selector", 'a[href$=".pdf"]')
    assert changed.returncode == 0, changed.stderr
    with_pdf = {
        path
        for path in ARTICLES
        if '.pdf"' in server.fetch(path).body.decode("utf-8").split("<h1", 1)[1]
    }
    assert (
        changed.stdout.strip()
        == f"unchanged {len(ARTICLES) - len(with_pdf)}, updated {len(with_pdf)}"
    )
    versions = versions_by_path(server, db_url)
    assert {path for path, count in versions.items() if count == 2} == with_pdf


def test_reprocess_reports_bad_input(crawled) -> None:
    _, db_url, warc_dir = crawled
    assert run_cli("reprocess", "--db", db_url, "--site", "no-such-site").stdout.strip() == (
        "nothing to do"
    )
    bad = run_cli("reprocess", "--db", db_url, "--drop-selector", "p[")
    assert bad.returncode == 2 and "bad CSS selector 'p['" in bad.stderr
    for warc in warc_dir.glob("*.warc.gz"):
        warc.unlink()
    missing = run_cli("reprocess", "--db", db_url)
    assert missing.returncode == 0
    assert missing.stdout.strip() == f"unreadable record {len(ARTICLES)}"
    assert "cannot read the WARC record" in missing.stderr


@pytest.mark.skipif(not shutil.which("wget"), reason="wget is not installed")
def test_import_of_a_warc_written_by_wget(tmp_path: Path, db_url: str) -> None:
    with FixtureServer(SITES / "bitrix") as server:
        subprocess.run(
            ["wget", "--recursive", "--level=4", "--quiet", "--no-host-directories",
             f"--directory-prefix={tmp_path / 'mirror'}", f"--warc-file={tmp_path / 'wget'}",
             server.url("/")],
            timeout=120,
        )  # fmt: skip
        base = server.base_url
    result = run_cli("import-warc", str(tmp_path / "wget.warc.gz"), "--db", db_url)
    assert result.returncode == 0, result.stderr
    # The utm-tagged link that the site also has is the same article again: unchanged.
    assert f"new {len(ARTICLES)}," in result.stdout and "unchanged 1" in result.stdout
    with session_factory(open_archive(db_url))() as session:
        urls = set(session.scalars(select(Article.canonical_url)))
        run = session.scalars(select(CrawlRun)).one()
    assert {url.removeprefix(base) for url in urls} == ARTICLES
    assert (run.status, run.articles_new, run.sites) == (
        "finished",
        len(ARTICLES),
        "import:wget.warc.gz",
    )
    again = run_cli("import-warc", str(tmp_path / "wget.warc.gz"), "--db", db_url)
    assert "new" not in again.stdout and f"unchanged {len(ARTICLES) + 1}" in again.stdout
