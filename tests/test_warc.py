"""The raw archive: WARC files written by crawls, reprocessing them, importing others'."""

from __future__ import annotations

import gzip
import os
import re
import resource
import shutil
import signal
import subprocess
from io import BytesIO
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archive import exitcodes
from archive.cli import DEMO_PORTAL, main
from archive.db import open_archive, session_factory
from archive.localsite import LocalSite
from archive.models import Article, ArticleVersion, CrawlRun
from archive.warc import RecordLocation, UnreadableWarc, iter_responses, read_response
from tests.conftest import FAST_CRAWL, NEWSARCHIVE, run_cli
from tests.sites.server import FixtureServer
from tests.test_portals import CRAWL_SETTINGS, SITES, expected

ARTICLES = {a["path"] for a in expected("bitrix")["articles"]}
WARC_ERROR_LINE = "cannot write the WARC file"


@pytest.fixture
def crawled(tmp_path: Path, db_url: str):
    """The bitrix portal crawled into `db_url`, with its WARC file under tmp_path/warc."""
    with FixtureServer(SITES / "bitrix") as server:
        result = run_cli(
            "crawl", "--start-url", server.url("/"), "--db", db_url, *CRAWL_SETTINGS, cwd=tmp_path
        )
        assert result.returncode == 0, result.stderr
        yield server, db_url, tmp_path / "warc"


@pytest.fixture(scope="module")
def demo_crawl(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, set[str]]:
    """A WARC file of the demo portal written by a crawl, the portal's address and the URLs
    of its articles."""
    workdir = tmp_path_factory.mktemp("demo")
    db_url = f"sqlite:///{workdir / 'archive.db'}"
    with LocalSite(DEMO_PORTAL) as site:
        result = run_cli(
            "crawl", "--start-url", site.base_url + "/", "--db", db_url, *FAST_CRAWL, cwd=workdir
        )
    assert result.returncode == 0, result.stderr
    (warc,) = (workdir / "warc").glob("*.warc.gz")
    with session_factory(open_archive(db_url))() as session:
        articles = set(session.scalars(select(Article.url)))
    assert len(articles) == 7
    return warc, site.base_url, articles


def versions_by_path(server: FixtureServer, db_url: str) -> dict[str, int]:
    with session_factory(open_archive(db_url))() as session:
        rows = session.execute(
            select(Article.canonical_url, func.count(ArticleVersion.id))
            .join(ArticleVersion)
            .group_by(Article.canonical_url)
        )
        return {url.removeprefix(server.base_url): count for url, count in rows}


def archived(db_url: str) -> tuple[set[str], list[CrawlRun]]:
    """The URLs of the archived articles, and the runs."""
    with session_factory(open_archive(db_url))() as session:
        return set(session.scalars(select(Article.url))), list(session.scalars(select(CrawlRun)))


def article_offsets(warc: Path, articles: set[str]) -> list[int]:
    """The offsets of the article response records of an intact WARC file, in file order."""
    return [page.location.offset for page in iter_responses(warc) if page.url in articles]


def record_offsets(warc: Path) -> list[int]:
    with warc.open("rb") as stream:
        records = ArchiveIterator(stream)
        return [records.get_record_offset() for _ in records]


def non_articles(warc: Path, articles: set[str], before: int | None = None) -> int:
    """How many HTML pages of a WARC file, up to an offset, are no articles."""
    return sum(
        page.url not in articles
        for page in iter_responses(warc)
        if page.status == 200 and "html" in page.content_type
        if before is None or page.location.offset < before
    )


def report_line(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in sorted(counts.items()) if n) + "\n"


def readable_lines(text: str) -> list[str]:
    lines = text.splitlines()
    assert all(line.isprintable() for line in lines), text
    return lines


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
        assert session.scalars(select(CrawlRun.warc_path)).one() == warc.name
        articles = session.scalars(select(Article)).all()
    assert {a.canonical_url.removeprefix(server.base_url) for a in articles} == ARTICLES
    for article in articles:
        assert article.warc_path == warc.name
        page = read_response(RecordLocation(article.warc_path, article.warc_offset), warc_dir)
        assert page.status == 200
        assert article.title in page.body.decode("utf-8")


def test_reprocess_adds_versions_only_where_the_result_changed(crawled) -> None:
    server, db_url, warc_dir = crawled
    unchanged = run_cli("reprocess", "--db", db_url, cwd=warc_dir.parent)
    assert unchanged.returncode == 0, unchanged.stderr
    assert unchanged.stdout.strip() == f"unchanged {len(ARTICLES)}"
    assert set(versions_by_path(server, db_url).values()) == {1}

    changed = run_cli(
        "reprocess", "--db", db_url, "--drop-selector", 'a[href$=".pdf"]', cwd=warc_dir.parent
    )
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

    # The selector is kept with the site: a plain reprocess does not undo it.
    runner = CliRunner()
    kept = runner.invoke(main, ["reprocess", "--db", db_url, "--warc-dir", str(warc_dir)])
    assert (kept.exit_code, kept.stdout.strip()) == (0, f"unchanged {len(ARTICLES)}")
    forgotten = runner.invoke(
        main, ["reprocess", "--db", db_url, "--warc-dir", str(warc_dir), "--forget-selectors"]
    )
    assert forgotten.exit_code == 0, forgotten.stderr
    assert (
        forgotten.stdout.strip()
        == f"unchanged {len(ARTICLES) - len(with_pdf)}, updated {len(with_pdf)}"
    )


def test_reprocess_finds_the_warc_files_in_the_warc_directory(
    crawled, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, db_url, warc_dir = crawled
    monkeypatch.chdir(tmp_path)
    moved = warc_dir.rename(tmp_path / "elsewhere")
    unchanged = f"unchanged {len(ARTICLES)}\n"
    runner = CliRunner()
    by_option = runner.invoke(main, ["reprocess", "--db", db_url, "--warc-dir", str(moved)])
    assert (by_option.exit_code, by_option.stdout) == (0, unchanged)
    by_env = runner.invoke(
        main, ["reprocess", "--db", db_url], env={"NEWSARCHIVE_WARC_DIR": str(moved)}
    )
    assert (by_env.exit_code, by_env.stdout) == (0, unchanged)
    by_default = runner.invoke(
        main, ["reprocess", "--db", db_url], env={"NEWSARCHIVE_WARC_DIR": ""}
    )
    assert by_default.exit_code == exitcodes.FAILURES
    assert by_default.stdout == f"unreadable record {len(ARTICLES)}\n"
    # Archives written before WARC paths were relative hold absolute ones.
    (warc,) = moved.glob("*.warc.gz")
    with session_factory(open_archive(db_url)).begin() as session:
        session.execute(update(Article).values(warc_path=str(warc.resolve())))
    absolute = runner.invoke(main, ["reprocess", "--db", db_url, "--warc-dir", str(warc_dir)])
    assert (absolute.exit_code, absolute.stdout) == (0, unchanged)


def test_reprocess_reports_bad_input(crawled) -> None:
    _, db_url, warc_dir = crawled
    assert run_cli("reprocess", "--db", db_url, "--site", "no-such-site").stdout.strip() == (
        "nothing to do"
    )
    bad = run_cli("reprocess", "--db", db_url, "--drop-selector", "p[")
    assert bad.returncode == 2 and "bad CSS selector 'p['" in bad.stderr
    for warc in warc_dir.glob("*.warc.gz"):
        warc.unlink()
    missing = run_cli("reprocess", "--db", db_url, "--warc-dir", str(warc_dir))
    assert missing.returncode == exitcodes.FAILURES
    assert missing.stdout.strip() == f"unreadable record {len(ARTICLES)}"
    lines = readable_lines(missing.stderr)
    assert sum("cannot read the WARC record" in line for line in lines) == len(ARTICLES)
    assert lines[-1] == (
        f"Error: {len(ARTICLES)} of {len(ARTICLES)} WARC records could not be read "
        f"(WARC directory {warc_dir})"
    )


def test_reprocess_of_a_truncated_warc_keeps_the_records_before_the_cut(crawled) -> None:
    server, db_url, warc_dir = crawled
    (warc,) = warc_dir.glob("*.warc.gz")
    with session_factory(open_archive(db_url))() as session:
        offsets = sorted(session.scalars(select(Article.warc_offset)))
    cut = offsets[len(offsets) // 2]
    data = warc.read_bytes()
    warc.write_bytes(data[: cut + 200])
    result = run_cli("reprocess", "--db", db_url, "--warc-dir", str(warc_dir))
    lost = len(offsets) - len(offsets) // 2
    assert result.returncode == exitcodes.FAILURES
    assert result.stdout.strip() == f"unchanged {len(offsets) - lost}, unreadable record {lost}"
    lines = readable_lines(result.stderr)
    assert f"{warc} at byte {cut}: gzip data cut short" in lines[0]
    assert lines[-1].startswith(f"Error: {lost} of {len(offsets)} WARC records could not be read")
    assert set(versions_by_path(server, db_url).values()) == {1}


def test_import_of_a_truncated_warc_keeps_every_record_before_the_cut(
    demo_crawl, tmp_path: Path, db_url: str
) -> None:
    warc, _, articles = demo_crawl
    offsets = article_offsets(warc, articles)
    cut = offsets[3]
    damaged = tmp_path / "cut.warc.gz"
    damaged.write_bytes(warc.read_bytes()[: cut + 300])
    result = run_cli("import-warc", str(damaged), "--db", db_url)
    assert result.returncode == exitcodes.FAILURES, result.stderr
    assert result.stdout == report_line(
        {"damaged WARC file": 1, "new": 3, "not an article": non_articles(warc, articles, cut)}
    )
    assert readable_lines(result.stderr) == [
        f"{damaged}: damaged at byte {cut} (gzip data cut short); nothing readable after it"
    ]
    urls, (run,) = archived(db_url)
    before = {page.url for page in iter_responses(warc) if page.location.offset < cut}
    assert urls == before & articles and len(urls) == 3
    assert (run.status, run.articles_new, run.errors) == ("failed", 3, 1)


def test_import_of_a_corrupted_warc_reads_on_after_the_damage(
    demo_crawl, tmp_path: Path, db_url: str
) -> None:
    warc, _, articles = demo_crawl
    hit = next(page for page in iter_responses(warc) if page.url in articles)
    start = hit.location.offset
    # The response's request record follows it: reading resumes there.
    after = next(offset for offset in record_offsets(warc) if offset > start)
    garbage = bytes(range(256)) * 4
    data = warc.read_bytes()
    damaged = tmp_path / "corrupt.warc.gz"
    damaged.write_bytes(data[: start + 100] + garbage + data[start + 100 :])
    result = run_cli("import-warc", str(damaged), "--db", db_url)
    assert result.returncode == exitcodes.FAILURES, result.stderr
    assert result.stdout == report_line(
        {"damaged WARC file": 1, "new": 6, "not an article": non_articles(warc, articles)}
    )
    (line,) = readable_lines(result.stderr)
    assert re.fullmatch(
        rf"{re.escape(str(damaged))}: damaged at byte {start} \(corrupt gzip data: [^)]+\); "
        rf"read on from byte {after + len(garbage)}",
        line,
    )
    urls, (run,) = archived(db_url)
    assert urls == articles - {hit.url}
    assert run.status == "failed"


def test_a_damaged_warc_file_does_not_stop_the_import_of_the_others(
    demo_crawl, tmp_path: Path, db_url: str
) -> None:
    warc, _, articles = demo_crawl
    cut = article_offsets(warc, articles)[1]
    damaged = tmp_path / "cut.warc.gz"
    damaged.write_bytes(warc.read_bytes()[: cut + 10])
    not_a_warc = tmp_path / "page.warc"
    not_a_warc.write_bytes(b"<html>\x00\xff\xfe not a WARC file</html>\n")
    result = run_cli("import-warc", str(damaged), str(not_a_warc), str(warc), "--db", db_url)
    assert result.returncode == exitcodes.FAILURES, result.stderr
    # The articles of the damaged file come again in the intact one: unchanged.
    assert result.stdout == report_line(
        {
            "damaged WARC file": 2,
            "new": 7,
            "not an article": non_articles(warc, articles, cut) + non_articles(warc, articles),
            "unchanged": 1,
        }
    )
    assert readable_lines(result.stderr) == [
        f"{damaged}: damaged at byte {cut} (gzip data cut short); nothing readable after it",
        f"{not_a_warc}: damaged at byte 0 (not a WARC or ARC record); nothing readable after it",
    ]
    urls, (run,) = archived(db_url)
    assert urls == articles
    assert (run.status, run.articles_new, run.errors) == ("failed", 7, 2)


def write_warc(path: Path, pages: list[tuple[str, bytes]], compressed: bool) -> list[int]:
    """A WARC file of HTML responses written by warcio; the offsets of its records."""
    offsets = []
    with path.open("wb") as stream:
        writer = WARCWriter(stream, gzip=compressed)
        for url, body in pages:
            offsets.append(stream.tell())
            headers = StatusAndHeaders(
                "200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1"
            )
            record = writer.create_warc_record(
                url, "response", payload=BytesIO(body), http_headers=headers
            )
            writer.write_record(record)
    return offsets


PAGES = [(f"http://127.0.0.1/{n}", f"<p>page {n}</p>".encode() * 50) for n in range(4)]


@pytest.mark.parametrize(
    ("compressed", "cut_short"),
    [(True, "gzip data cut short"), (False, "record cut short, ")],
    ids=["gzip", "plain"],
)
def test_reading_reports_each_damaged_stretch_and_reads_on(
    tmp_path: Path, compressed: bool, cut_short: str
) -> None:
    offsets = write_warc(tmp_path / "intact.warc", PAGES, compressed)
    data = (tmp_path / "intact.warc").read_bytes()
    garbage = b"\x00\xff garbage \r\n" * 8
    damaged = tmp_path / "damaged.warc"
    cut = offsets[3] + (len(data) - offsets[3]) // 2
    damaged.write_bytes(data[: offsets[1]] + garbage + data[offsets[1] : cut])
    pages = []
    with pytest.raises(UnreadableWarc) as raised:
        pages.extend(iter_responses(damaged))
    assert [(page.url, page.body) for page in pages] == PAGES[:3]
    resumed = offsets[1] + len(garbage)
    assert [page.location.offset for page in pages] == [0, resumed, offsets[2] + len(garbage)]
    assert str(raised.value).startswith(
        f"{damaged}: 2 damaged stretches, the first at byte {offsets[1]} "
        f"(not a WARC or ARC record); "
    )
    assert str(raised.value).endswith("; nothing readable after it")
    page = read_response(RecordLocation(damaged.name, resumed), tmp_path)
    assert (page.url, page.body) == PAGES[1]
    with pytest.raises(ValueError, match=f"{damaged} at byte {offsets[1]}: not a WARC"):
        read_response(RecordLocation(str(damaged), offsets[1]), tmp_path / "ignored")
    with pytest.raises(ValueError, match=f"at byte {offsets[3] + len(garbage)}: {cut_short}"):
        read_response(RecordLocation(damaged.name, offsets[3] + len(garbage)), tmp_path)


def test_a_warc_directory_that_cannot_be_made_stops_the_crawl_before_it_fetches(
    tmp_path: Path, db_url: str, demo_site: LocalSite
) -> None:
    (tmp_path / "warc").write_text("a file where the WARC directory should be\n")
    result = run_cli(
        "crawl", "--start-url", demo_site.base_url + "/", "--db", db_url, *FAST_CRAWL, cwd=tmp_path
    )
    assert result.returncode == exitcodes.ARCHIVE_FAILED, result.stderr
    (line,) = [line for line in readable_lines(result.stderr) if WARC_ERROR_LINE in line]
    assert re.search(
        rf"ERROR: {WARC_ERROR_LINE} warc/[\w.-]+\.warc\.gz, stopping the crawl: "
        r"\[Errno 17\] File exists: 'warc'$",
        line,
    )
    assert demo_site.requested_paths == []
    urls, (run,) = archived(db_url)
    assert (urls, run.status, run.warc_path) == (set(), "warc_error", None)


def limit_file_size(limit: int):
    def preexec() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return preexec


def test_a_warc_write_failure_stops_the_crawl_and_no_article_lacks_its_record(
    tmp_path: Path, postgres_url: str, demo_crawl
) -> None:
    """A file-size limit lets the crawl write about half of the portal's WARC file."""
    full_warc, full_base, articles = demo_crawl
    paths = {url.removeprefix(full_base) for url in articles}
    limit = full_warc.stat().st_size // 2
    with LocalSite(DEMO_PORTAL) as site:
        result = subprocess.run(
            [*NEWSARCHIVE, "crawl", "--start-url", site.base_url + "/", "--db", postgres_url,
             *FAST_CRAWL],
            capture_output=True, text=True, cwd=tmp_path, timeout=120,
            env={**os.environ, "NEWSARCHIVE_DB": ""}, preexec_fn=limit_file_size(limit),
        )  # fmt: skip
    assert result.returncode == exitcodes.ARCHIVE_FAILED, result.stderr
    (warc,) = (tmp_path / "warc").glob("*.warc.gz")
    (line,) = [line for line in readable_lines(result.stderr) if WARC_ERROR_LINE in line]
    assert line.endswith(
        f"ERROR: {WARC_ERROR_LINE} warc/{warc.name}, stopping the crawl: [Errno 27] File too large"
    )
    assert warc.stat().st_size <= limit
    pages = list(iter_responses(warc))
    in_warc = {page.url for page in pages if page.url.removeprefix(site.base_url) in paths}
    urls, (run,) = archived(postgres_url)
    assert urls == in_warc and 0 < len(urls) < len(articles)
    assert (run.status, run.articles_new) == ("warc_error", len(urls))


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
        paths = set(session.scalars(select(Article.warc_path)))
    assert {url.removeprefix(base) for url in urls} == ARTICLES
    assert (run.status, run.articles_new, run.sites) == (
        "finished",
        len(ARTICLES),
        "import:wget.warc.gz",
    )
    assert paths == {str((tmp_path / "wget.warc.gz").resolve())}
    again = run_cli("import-warc", str(tmp_path / "wget.warc.gz"), "--db", db_url)
    assert "new" not in again.stdout and f"unchanged {len(ARTICLES) + 1}" in again.stdout
