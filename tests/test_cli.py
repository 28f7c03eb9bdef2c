"""The `newsarchive` command line, run as a user runs it."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from archive.cli import DEMO_PORTAL
from tests.conftest import NEWSARCHIVE, run_cli

COMMANDS = [
    (),
    ("crawl",),
    ("export",),
    ("stats",),
    ("demo",),
    ("sites",),
    ("db",),
    ("db", "upgrade"),
]
EXPORT_FIELDS = {
    "url",
    "canonical_url",
    "site",
    "title",
    "text",
    "lang",
    "published",
    "fetched_at",
    "translations",
    "duplicate_of",
    "content_hash",
}


def test_demo_then_export_and_stats(cli, tmp_path: Path) -> None:
    demo = run_cli("demo", cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    assert "articles new 7" in demo.stdout
    assert re.search(r"^demo\s+en\s+3$", demo.stdout, re.M)
    assert re.search(r"^demo\s+ru\s+4$", demo.stdout, re.M)
    assert (tmp_path / "archive.db").exists()

    export = cli("export")
    assert export.exit_code == 0, export.stderr
    records = [json.loads(line) for line in export.stdout.splitlines()]
    assert len(records) == 7
    assert all(set(record) >= EXPORT_FIELDS for record in records)
    assert {r["lang"] for r in records} == {"ru", "en"}

    to_file = cli("export", "--format", "jsonl", "-o", "out.jsonl")
    assert to_file.exit_code == 0, to_file.stderr
    assert (tmp_path / "out.jsonl").read_text(encoding="utf-8") == export.stdout
    assert "exported 7 articles" in to_file.stderr

    stats = cli("stats")
    assert re.search(r"^total\s+7$", stats.stdout, re.M)
    assert "[finished] sites=demo" in stats.stdout

    again = cli("demo")
    assert again.exit_code == 0, again.stderr
    assert "the sample portal is archived already (7 articles)" in again.stdout
    assert re.search(r"^total\s+7$", again.stdout, re.M)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(cli, command: tuple[str, ...]) -> None:
    result = cli(*command, "--help")
    assert result.exit_code == 0
    assert "Usage: " in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("stats", "--db", "nonsense"), "cannot parse database URL"),
        (("export", "--db", "postgresql://postgres@127.0.0.1:1/x"), "cannot open database"),
        (("stats", "--db", "sqlite:///missing.db"), "no archive at missing.db"),
        (("search", "x", "--db", "sqlite:///missing.db"), "no archive at missing.db"),
        (("export", "--db", "sqlite:///missing.db"), "no archive at missing.db"),
        (("reprocess", "--db", "sqlite:///missing.db"), "no archive at missing.db"),
        (("sites", "--db", "sqlite:///missing.db"), "no archive at missing.db"),
        (("crawl", "--start-url", "ftp://example.ru/"), "not an http(s) URL"),
        (("crawl", "--start-url", ""), "not an http(s) URL"),
        (("crawl", "no-such-site"), "no profile for no-such-site"),
        (("crawl", "--start-url", "http://127.0.0.1:1/", "-s", "DELAY"), "is not NAME=VALUE"),
        (
            ("crawl", "--start-url", "http://127.0.0.1:1/", "-s", "DOWNLOAD_DELAY=1s"),
            "setting DOWNLOAD_DELAY: '1s' is not a number",
        ),
        (
            ("demo", "-s", "NEWSARCHIVE_PAGE_WORKERS=two"),
            "setting NEWSARCHIVE_PAGE_WORKERS: 'two' is not a whole number",
        ),
        (
            ("crawl", "--start-url", "http://127.0.0.1:1/", "-s", "ROBOTSTXT_OBEY=maybe"),
            "setting ROBOTSTXT_OBEY: 'maybe' is not true or false",
        ),
        (("crawl", "arrko", "--start-url", "http://127.0.0.1:1/"), "not both"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(
    cli, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    result = cli(*args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_a_crawl_that_cannot_start_is_an_error(tmp_path: Path) -> None:
    pipelines = (
        'ITEM_PIPELINES={"no_such_module.Pipeline": 1, "crawler.storage.StoragePipeline": 900}'
    )
    result = run_cli("crawl", "--start-url", "http://127.0.0.1:1/", "-s", pipelines, cwd=tmp_path)
    assert result.returncode == 2
    assert "No module named 'no_such_module'" in result.stderr
    lines = result.stderr.splitlines()
    assert "Error: the crawl did not start: see the errors logged above" in lines


def test_sites_lists_bundled_profiles(cli) -> None:
    result = cli("sites")
    assert result.exit_code == 0
    assert "investkaluga" in result.stdout
    assert "https://investkaluga.com/en/media/news/" in result.stdout
    assert "arrko" in result.stdout
    assert "archived:" not in result.stdout


def test_sites_with_an_archive_says_what_it_holds_of_each(cli, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    assert cli("db", "upgrade", "--db", db).exit_code == 0
    result = cli("sites", "--db", db)
    assert result.exit_code == 0, result.stderr
    assert re.search(
        r"^investkaluga .*\n(?:\s+\w\w: .*\n)+\s+archived: 0 articles$", result.stdout, re.M
    )


def test_db_upgrade_creates_the_schema(cli, tmp_path: Path) -> None:
    result = cli("db", "upgrade", "--db", f"sqlite:///{tmp_path / 'x.db'}")
    assert result.exit_code == 0, result.stderr
    assert "up to date" in result.stdout
    assert (tmp_path / "x.db").stat().st_size > 0


def test_extract_prints_one_json_line_per_page(cli, tmp_path: Path) -> None:
    article = DEMO_PORTAL / "news" / "novyy-rezident-oez-zarechye" / "index.html"
    compressed = tmp_path / "about.html.gz"
    compressed.write_bytes(gzip.compress((DEMO_PORTAL / "about" / "index.html").read_bytes()))
    result = cli(
        "extract", str(article), str(compressed), "--url", "https://zarechye.example/news/x/"
    )
    assert result.exit_code == 0, result.stderr
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first["title"] == "Компания «ЭкоПолимер» стала резидентом ОЭЗ «Заречье»"
    assert (first["lang"], first["published"], first["article"]) == ("ru", "2026-11-18", True)
    assert first["url"] == "https://zarechye.example/news/novyy-rezident-oez-zarechye/"
    assert "Подпишитесь" not in first["text"]
    assert (second["article"], second["reason"]) == (False, "og:type is 'website'")
    assert second["text"].startswith("Агентство инвестиционного развития")


def test_extract_reads_standard_input_and_reports_unreadable_files(cli) -> None:
    piped = cli(
        "extract", "-", input=b"<html><body><p>The governor opened a plant.</p></body></html>"
    )
    record = json.loads(piped.stdout)
    assert (record["path"], record["url"], record["lang"]) == ("-", None, "en")
    missing = cli("extract", "/nonexistent/page.html")
    assert missing.exit_code == 2
    assert "cannot read /nonexistent/page.html" in missing.stderr


@pytest.fixture
def demo_archive(tmp_path: Path) -> str:
    """An archive holding the demo portal, crawled once."""
    result = run_cli("demo", "--db", f"sqlite:///{tmp_path / 'demo.db'}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return f"sqlite:///{tmp_path / 'demo.db'}"


def test_export_to_an_unwritable_place_is_one_line(cli, demo_archive: str) -> None:
    result = cli("export", "--db", demo_archive, "-o", "missing/dir/x.jsonl")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "Error: cannot write missing/dir/x.jsonl: directory missing/dir does not exist"
    ]


def test_a_reader_that_closes_the_pipe_ends_the_export_quietly(demo_archive: str) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        export = subprocess.run(
            [*NEWSARCHIVE, "export", "--db", demo_archive],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert export.returncode == 0
    assert export.stderr == ""
