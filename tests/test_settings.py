"""Crawl settings: a value that cannot work, or a name nothing reads, stops the command."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.cli import main
from archive.exitcodes import USAGE
from crawler.run import SettingError, check_overrides, crawl_settings
from crawler.settings_check import LONGEST_DAYS

STORAGE = '"crawler.storage.StoragePipeline"'


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CONCURRENT_REQUESTS_PER_DOMAIN", "0", "'0' is out of range: must be at least 1"),
        ("CONCURRENT_REQUESTS", "0", "'0' is out of range: must be at least 1"),
        ("RETRY_BACKOFF_MAX", "nan", "'nan' is not a finite number"),
        ("RETRY_BACKOFF_MAX", "inf", "'inf' is not a finite number"),
        ("DOWNLOAD_DELAY", "-1", "'-1' is out of range: must be at least 0"),
        ("RETRY_BACKOFF_BASE", "-2", "'-2' is out of range: must be at least 0"),
        ("AUTOTHROTTLE_START_DELAY", "-0.5", "'-0.5' is out of range: must be at least 0"),
        ("AUTOTHROTTLE_MAX_DELAY", "-inf", "'-inf' is not a finite number"),
        ("AUTOTHROTTLE_TARGET_CONCURRENCY", "0", "'0' is out of range: must be greater than 0"),
        ("DOWNLOAD_MAXSIZE", "-1", "'-1' is out of range: must be at least 0"),
        ("DOWNLOAD_WARNSIZE", "-1", "'-1' is out of range: must be at least 0"),
        ("DOWNLOAD_TIMEOUT", "-5", "'-5' is out of range: must be greater than 0"),
        ("DOWNLOAD_TIMEOUT", "0", "'0' is out of range: must be greater than 0"),
        ("RETRY_TIMES", "-1", "'-1' is out of range: must be at least 0"),
        ("REDIRECT_MAX_TIMES", "-1", "'-1' is out of range: must be at least 0"),
        (
            "NEWSARCHIVE_REVISIT_AFTER_HOURS",
            "1e308",
            "'1e308' is out of range: must be between 0 and 8766000",
        ),
        (
            "NEWSARCHIVE_REVISIT_WITHIN_DAYS",
            "1e308",
            "'1e308' is out of range: must be between 0 and 365250",
        ),
        ("NEWSARCHIVE_REVISIT_WITHIN_DAYS", "-1", "'-1' is out of range"),
        ("NEWSARCHIVE_PAGE_WORKERS", "-1", "'-1' is out of range: must be at least 0"),
        ("NEWSARCHIVE_MAX_ERROR_SHARE", "1.5", "'1.5' is out of range: must be between 0 and 1"),
        ("NEWSARCHIVE_MAX_ERROR_SHARE", "-0.1", "'-0.1' is out of range: must be between 0 and 1"),
        ("NEWSARCHIVE_STOP_GRACE", "nan", "'nan' is not a finite number"),
        ("DEPTH_LIMIT", "-3", "'-3' is out of range: must be at least 0"),
        ("LOG_LEVEL", "NOPE", "'NOPE' is not a log level (CRITICAL, ERROR, WARNING, INFO, DEBUG)"),
        ("LOG_LEVEL", "bogus", "'bogus' is not a log level"),
        ("LOG_LEVEL", "15", "'15' is not a log level"),
        ("RETRY_GIVE_UP_LOG_LEVEL", "LOUD", "'LOUD' is not a log level"),
        ("DOWNLOAD_DELAYY", "0", "unknown setting; did you mean DOWNLOAD_DELAY?"),
        ("download_delay", "0", "unknown setting; did you mean DOWNLOAD_DELAY?"),
        ("NEWSARCHIVE_PAGE_WORKER", "2", "unknown setting; did you mean NEWSARCHIVE_PAGE_WORKERS?"),
        ("ITEM_PIPELINES", "{}", f"nothing would be archived without {STORAGE[1:-1]}"),
        (
            "ITEM_PIPELINES",
            f"{{{STORAGE}: null}}",
            f"nothing would be archived without {STORAGE[1:-1]}",
        ),
        (
            "ITEM_PIPELINES",
            '{"crawler.page_stages.PageStagesPipeline": 100}',
            f"nothing would be archived without {STORAGE[1:-1]}",
        ),
        ("ITEM_PIPELINES", "crawler.storage.StoragePipeline", "is not a JSON object"),
        ("ITEM_PIPELINES", f"{{{STORAGE}: 900", "is not a JSON object"),
        ("DOWNLOADER_MIDDLEWARES", "[1, 2]", "'[1, 2]' is not a JSON object"),
        (
            "ITEM_PIPELINES",
            f'{{{STORAGE}: "last"}}',
            f"the order of {STORAGE[1:-1]!r} is 'last', not a whole number or null",
        ),
        ("FEEDS", "out.json", "'out.json' is not a JSON object"),
        ("RETRY_HTTP_CODES", "500,five", "is not a comma-separated list of whole numbers"),
        ("DOWNLOAD_DELAY", "1s", "'1s' is not a number"),
        ("RETRY_TIMES", "2.5", "'2.5' is not a whole number"),
    ],
)
def test_a_value_that_cannot_work_is_refused(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingError) as error:
        check_overrides({name: value})
    assert message in str(error.value)
    assert str(error.value).startswith(f"setting {name}: ")


def test_an_unknown_name_far_from_any_gets_no_suggestion() -> None:
    with pytest.raises(SettingError) as error:
        check_overrides({"XYZZY": "1"})
    assert str(error.value) == "setting XYZZY: unknown setting"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("DOWNLOAD_DELAY", "0", 0.0),
        ("DOWNLOAD_WARNSIZE", "0", 0),
        ("DOWNLOAD_MAXSIZE", "0", 0),
        ("RETRY_TIMES", "0", 0),
        ("RETRY_PRIORITY_ADJUST", "-3", -3),
        ("NEWSARCHIVE_MAX_ERROR_SHARE", "1", 1.0),
        ("NEWSARCHIVE_REVISIT_WITHIN_DAYS", "100000", 100000.0),
        ("LOG_LEVEL", "debug", "DEBUG"),
        ("LOG_LEVEL", "20", 20),
        ("DEFAULT_DROPITEM_LOG_LEVEL", "warning", "WARNING"),
        ("RETRY_HTTP_CODES", "500,503", [500, 503]),
        ("AUTOTHROTTLE_ENABLED", "False", False),
        ("CONCURRENT_REQUESTS", "1" + "0" * 400, 10**400),
    ],
)
def test_a_value_that_works_is_kept_as_its_type(name: str, value: str, expected: object) -> None:
    assert crawl_settings("", {name: value}).get(name) == expected


def test_pipelines_with_the_storage_pipeline_are_accepted() -> None:
    pipelines = f'{{"crawler.page_stages.PageStagesPipeline": 100, {STORAGE}: 800}}'
    settings = crawl_settings("sqlite:///a.db", {"ITEM_PIPELINES": pipelines})
    assert dict(settings.getwithbase("ITEM_PIPELINES")) == {
        "crawler.page_stages.PageStagesPipeline": 100,
        "crawler.storage.StoragePipeline": 800,
    }


def test_the_longest_revisit_windows_fit_a_timedelta() -> None:
    now = dt.datetime.now(dt.UTC)
    settings = crawl_settings(
        "",
        {
            "NEWSARCHIVE_REVISIT_AFTER_HOURS": str(LONGEST_DAYS * 24),
            "NEWSARCHIVE_REVISIT_WITHIN_DAYS": str(LONGEST_DAYS),
        },
    )
    after = dt.timedelta(hours=settings.getfloat("NEWSARCHIVE_REVISIT_AFTER_HOURS"))
    within = dt.timedelta(days=settings.getfloat("NEWSARCHIVE_REVISIT_WITHIN_DAYS"))
    assert after == within
    assert (now - within).year < now.year - 999


@pytest.mark.parametrize(
    ("command", "setting", "message"),
    [
        (
            "crawl",
            "CONCURRENT_REQUESTS_PER_DOMAIN=0",
            "setting CONCURRENT_REQUESTS_PER_DOMAIN: '0' is out of range: must be at least 1",
        ),
        (
            "crawl",
            "RETRY_BACKOFF_MAX=nan",
            "setting RETRY_BACKOFF_MAX: 'nan' is not a finite number",
        ),
        (
            "crawl",
            "LOG_LEVEL=NOPE",
            "setting LOG_LEVEL: 'NOPE' is not a log level (CRITICAL, ERROR, WARNING, INFO, DEBUG)",
        ),
        (
            "crawl",
            "DOWNLOAD_DELAYY=0",
            "setting DOWNLOAD_DELAYY: unknown setting; did you mean DOWNLOAD_DELAY?",
        ),
        (
            "crawl",
            "ITEM_PIPELINES={}",
            "setting ITEM_PIPELINES: nothing would be archived without "
            "crawler.storage.StoragePipeline",
        ),
        (
            "crawl",
            "DOWNLOADER_MIDDLEWARES=nope",
            "setting DOWNLOADER_MIDDLEWARES: 'nope' is not a JSON object",
        ),
        (
            "demo",
            "NEWSARCHIVE_REVISIT_WITHIN_DAYS=1e308",
            "setting NEWSARCHIVE_REVISIT_WITHIN_DAYS: '1e308' is out of range: "
            "must be between 0 and 365250",
        ),
        (
            "demo",
            "NEWSARCHIVE_MAX_ERROR_SHARE=2",
            "setting NEWSARCHIVE_MAX_ERROR_SHARE: '2' is out of range: must be between 0 and 1",
        ),
    ],
)
def test_the_command_stops_with_one_line_and_exit_code_2(
    tmp_path: Path, command: str, setting: str, message: str
) -> None:
    db = tmp_path / "a.db"
    args = [command, "--db", f"sqlite:///{db}", "-s", setting]
    if command == "crawl":
        args += ["--start-url", "http://127.0.0.1:1/"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == USAGE
    assert result.stderr == f"Error: {message}\n"
    assert result.stdout == ""
    assert not db.exists()
