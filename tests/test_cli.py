"""The `newsarchive` command line, run as a user runs it."""

from __future__ import annotations

import gzip
import json
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


def test_demo_then_export_and_stats(tmp_path: Path) -> None:
    demo = run_cli("demo", cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    assert "articles new 7" in demo.stdout
    assert re.search(r"^demo\s+en\s+3$", demo.stdout, re.M)
    assert re.search(r"^demo\s+ru\s+4$", demo.stdout, re.M)
    assert (tmp_path / "archive.db").exists()

    export = run_cli("export", cwd=tmp_path)
    assert export.returncode == 0, export.stderr
    records = [json.loads(line) for line in export.stdout.splitlines()]
    assert len(records) == 7
    assert all(set(record) >= EXPORT_FIELDS for record in records)
    assert {r["lang"] for r in records} == {"ru", "en"}

    to_file = run_cli("export", "--format", "jsonl", "-o", "out.jsonl", cwd=tmp_path)
    assert to_file.returncode == 0, to_file.stderr
    assert (tmp_path / "out.jsonl").read_text(encoding="utf-8") == export.stdout
    assert "exported 7 articles" in to_file.stderr

    stats = run_cli("stats", cwd=tmp_path)
    assert re.search(r"^total\s+7$", stats.stdout, re.M)
    assert "[finished] sites=demo" in stats.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: tuple[str, ...]) -> None:
    result = run_cli(*command, "--help")
    assert result.returncode == 0
    assert "Usage: newsarchive" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("stats", "--db", "nonsense"), "cannot parse database URL"),
        (("export", "--db", "postgresql://postgres@127.0.0.1:1/x"), "cannot open database"),
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
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "archive.db").exists()


def test_a_crawl_that_cannot_start_is_an_error(tmp_path: Path) -> None:
    pipelines = 'ITEM_PIPELINES={"no_such_module.Pipeline": 1}'
    result = run_cli("crawl", "--start-url", "http://127.0.0.1:1/", "-s", pipelines, cwd=tmp_path)
    assert result.returncode == 2
    assert "No module named 'no_such_module'" in result.stderr
    lines = result.stderr.splitlines()
    assert "Error: the crawl did not start: see the errors logged above" in lines


def test_sites_lists_bundled_profiles() -> None:
    result = run_cli("sites")
    assert result.returncode == 0
    assert "investkaluga" in result.stdout
    assert "https://investkaluga.com/en/media/news/" in result.stdout
    assert "arrko" in result.stdout


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    result = run_cli("db", "upgrade", "--db", f"sqlite:///{tmp_path / 'x.db'}")
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout
    assert (tmp_path / "x.db").stat().st_size > 0


def test_extract_prints_one_json_line_per_page(tmp_path: Path) -> None:
    article = DEMO_PORTAL / "news" / "novyy-rezident-oez-zarechye" / "index.html"
    compressed = tmp_path / "about.html.gz"
    compressed.write_bytes(gzip.compress((DEMO_PORTAL / "about" / "index.html").read_bytes()))
    result = run_cli(
        "extract", str(article), str(compressed), "--url", "https://zarechye.example/news/x/"
    )
    assert result.returncode == 0, result.stderr
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first["title"] == "Компания «ЭкоПолимер» стала резидентом ОЭЗ «Заречье»"
    assert (first["lang"], first["published"], first["article"]) == ("ru", "2026-11-18", True)
    assert first["url"] == "https://zarechye.example/news/novyy-rezident-oez-zarechye/"
    assert "Подпишитесь" not in first["text"]
    assert (second["article"], second["reason"]) == (False, "og:type is 'website'")
    assert second["text"].startswith("Агентство инвестиционного развития")


def test_extract_reads_standard_input_and_reports_unreadable_files() -> None:
    piped = subprocess.run(
        [*NEWSARCHIVE, "extract", "-"],
        input=b"<html><body><p>The governor opened a plant.</p></body></html>",
        capture_output=True,
        timeout=60,
    )
    record = json.loads(piped.stdout)
    assert (record["path"], record["url"], record["lang"]) == ("-", None, "en")
    missing = run_cli("extract", "/nonexistent/page.html")
    assert missing.returncode == 2
    assert "cannot read /nonexistent/page.html" in missing.stderr
