"""`newsarchive schedule`: the systemd units and crontab lines of unattended crawls."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import pwd
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from archive.schedule import crawl_job, parse_duration, systemd_units, unit_name

NEWSARCHIVE = str(Path(sys.executable).with_name("newsarchive").absolute())
USER = pwd.getpwuid(os.geteuid()).pw_name
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
needs_systemd_analyze = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None,
    reason="systemd-analyze is not installed (Debian: apt-get install systemd)",
)
UNIT_HEADER = re.compile(r"# (/etc/systemd/system/newsarchive-crawl-[^/\s]+)\n")


def units_of(output: str) -> dict[str, str]:
    """The units `schedule systemd` printed, by the path each comment line names."""
    parts = UNIT_HEADER.split(output)
    assert parts[0] == ""
    texts = (text.rstrip("\n") + "\n" for text in parts[2::2])
    return dict(zip(parts[1::2], texts, strict=True))


def verify(units: dict[str, str], directory: Path) -> None:
    """`systemd-analyze verify` of the units, written to `directory` under their names."""
    directory.mkdir()
    paths = []
    for path, text in units.items():
        paths.append(directory / Path(path).name)
        paths[-1].write_text(text)
    result = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", *map(str, paths)], capture_output=True, text=True, timeout=60
    )
    complaints = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if "newsarchive-crawl-" in line or str(directory) in line
    ]
    assert result.returncode == 0 and not complaints, result.stdout + result.stderr


def calendar_steps(expression: str, iterations: int = 4) -> set[dt.timedelta]:
    """The intervals between the next elapses of an OnCalendar= expression."""
    result = subprocess.run(
        [SYSTEMD_ANALYZE, "calendar", f"--iterations={iterations}", expression],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TZ": "UTC"},
    )
    assert result.returncode == 0, result.stderr
    times = [
        dt.datetime.strptime(match, "%Y-%m-%d %H:%M:%S")
        for match in re.findall(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", result.stdout)
    ]
    assert len(times) == iterations, result.stdout
    return {later - earlier for earlier, later in itertools.pairwise(times)}


def test_systemd_prints_a_service_and_a_timer_to_install(cli, tmp_path: Path) -> None:
    result = cli("schedule", "systemd", "investkaluga", "--every", "6h")
    assert result.exit_code == 0, result.output
    units = units_of(result.stdout)
    service_path = "/etc/systemd/system/newsarchive-crawl-investkaluga.service"
    timer_path = "/etc/systemd/system/newsarchive-crawl-investkaluga.timer"
    assert list(units) == [service_path, timer_path]
    service = units[service_path].splitlines()
    assert "Type=oneshot" in service
    assert f"User={USER}" in service
    assert f"WorkingDirectory={tmp_path}" in service
    assert (
        f"ExecStart={NEWSARCHIVE} crawl investkaluga --db sqlite:///{tmp_path}/archive.db"
        in service
    )
    assert "SuccessExitStatus=5" in service
    assert "After=network-online.target" in service
    assert any("Any other status is a failure" in line for line in service if line.startswith("#"))
    timer = units[timer_path].splitlines()
    assert "OnCalendar=*-*-* 00/6:00:00" in timer
    assert "Persistent=true" in timer
    assert "WantedBy=timers.target" in timer
    assert not [line for line in timer if line.startswith(("OnBootSec=", "OnUnitActiveSec="))]


@needs_systemd_analyze
@pytest.mark.parametrize("every", ["6h", "30m", "1d", "90s", "45m", "2d"])
def test_systemd_units_pass_systemd_analyze_verify(cli, tmp_path: Path, every: str) -> None:
    result = cli("schedule", "systemd", "investkaluga", "arrko", "--every", every)
    assert result.exit_code == 0, result.output
    units = units_of(result.stdout)
    assert [Path(path).name for path in units] == [
        "newsarchive-crawl-investkaluga-arrko.service",
        "newsarchive-crawl-investkaluga-arrko.timer",
    ]
    verify(units, tmp_path / "units")


@needs_systemd_analyze
@pytest.mark.parametrize(
    ("every", "step"),
    [
        ("15s", dt.timedelta(seconds=15)),
        ("1m", dt.timedelta(minutes=1)),
        ("30m", dt.timedelta(minutes=30)),
        ("60m", dt.timedelta(hours=1)),
        ("6h", dt.timedelta(hours=6)),
        ("8h", dt.timedelta(hours=8)),
        ("24h", dt.timedelta(days=1)),
        ("1d", dt.timedelta(days=1)),
    ],
)
def test_the_calendar_of_a_timer_fires_exactly_every_interval(
    tmp_path: Path, every: str, step: dt.timedelta
) -> None:
    _, timer = systemd_units(crawl_job(["investkaluga"], every, workdir=tmp_path))
    (calendar,) = re.findall(r"^OnCalendar=(.+)$", timer.text, re.MULTILINE)
    assert calendar_steps(calendar) == {step}
    assert "Persistent=true" in timer.text.splitlines()


@pytest.mark.parametrize(
    ("every", "boot", "active"),
    [("90s", "90s", "90s"), ("45m", "5min", "45min"), ("7h", "5min", "7h"), ("2d", "5min", "2d")],
)
def test_other_intervals_run_after_boot_and_then_after_each_run(
    tmp_path: Path, every: str, boot: str, active: str
) -> None:
    _, timer = systemd_units(crawl_job(["investkaluga"], every, workdir=tmp_path))
    lines = timer.text.splitlines()
    assert f"OnBootSec={boot}" in lines
    assert f"OnUnitActiveSec={active}" in lines
    assert not [line for line in lines if line.startswith("OnCalendar=")]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("30m", 1800), ("6h", 21600), ("1d", 86400), (" 2D ", 172800)],
)
def test_durations_parse_to_seconds(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "6", "h", "6x", "1.5h", "-5m", "0m", "6 h", "1h30m"])
def test_a_bad_duration_is_a_clear_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration") as error:
        parse_duration(text)
    assert repr(text) in str(error.value)


@pytest.mark.parametrize(
    ("every", "fields"),
    [
        ("1m", "* * * * *"),
        ("15m", "*/15 * * * *"),
        ("30m", "*/30 * * * *"),
        ("60m", "0 * * * *"),
        ("1h", "0 * * * *"),
        ("6h", "0 */6 * * *"),
        ("12h", "0 */12 * * *"),
        ("1d", "0 0 * * *"),
    ],
)
def test_cron_prints_the_crontab_line(cli, tmp_path: Path, every: str, fields: str) -> None:
    result = cli("schedule", "cron", "investkaluga", "--every", every)
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"{fields} cd {tmp_path} && exec {NEWSARCHIVE} crawl investkaluga"
        f" --db sqlite:///{tmp_path}/archive.db\n"
    )


@pytest.mark.parametrize("every", ["90s", "45m", "7h", "2d", "30s"])
def test_cron_refuses_an_interval_it_cannot_express(cli, every: str) -> None:
    result = cli("schedule", "cron", "investkaluga", "--every", every)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("Error: cron cannot run a job every ")
    assert "schedule systemd" in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("command", ["systemd", "cron"])
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["nowhere"], "Error: no profile for nowhere; known sites: arrko, investkaluga, "),
        (["investkaluga", "nowhere"], "Error: no profile for nowhere; known sites: "),
        ([], "Error: name the SITE to crawl; known sites: arrko, "),
        (["investkaluga", "--every", "6x"], "Error: not a duration: '6x'; give a number"),
        (["investkaluga", "--every", "0h"], "Error: not a duration: '0h'; it must be longer"),
        (["investkaluga", "--db", "mysql://x/y"], "Error: unsupported database 'mysql'"),
        (["investkaluga", "--db", "sqlite://"], "Error: 'sqlite://' is an in-memory SQLite"),
    ],
)
def test_a_bad_request_exits_2_with_one_line(
    cli, command: str, arguments: list[str], message: str
) -> None:
    result = cli("schedule", command, *arguments)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(message)
    assert result.stderr.count("\n") == 1


def test_the_archive_is_the_one_the_crawl_would_use(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    relative = cli("schedule", "cron", "investkaluga", "--db", "sqlite:///data/a.db")
    assert f"--db sqlite:///{tmp_path}/data/a.db\n" in relative.stdout
    absolute = cli("schedule", "cron", "investkaluga", "--db", "sqlite:////srv/a.db")
    assert "--db sqlite:////srv/a.db\n" in absolute.stdout
    monkeypatch.setenv("NEWSARCHIVE_DB", "postgresql://archiver@db.example/news")
    from_environment = cli("schedule", "cron", "investkaluga")
    assert "--db postgresql://archiver@db.example/news\n" in from_environment.stdout


def test_words_are_quoted_for_systemd_and_for_the_shell_of_cron(cli, tmp_path: Path) -> None:
    url = "postgresql://archiver:p%40ss w$rd@db.example/news"
    units = units_of(cli("schedule", "systemd", "investkaluga", "--db", url).stdout)
    (exec_start,) = re.findall(r"^ExecStart=(.+)$", "".join(units.values()), re.MULTILINE)
    quoted = '"postgresql://archiver:p%%40ss w$$rd@db.example/news"'
    assert exec_start == f"{NEWSARCHIVE} crawl investkaluga --db {quoted}"
    line = cli("schedule", "cron", "investkaluga", "--db", url).stdout
    assert "%" not in line.replace("\\%", "")
    command = line.split(" ", 5)[5].replace("\\%", "%")
    assert shlex.split(command) == [
        "cd", str(tmp_path), "&&", "exec", NEWSARCHIVE, "crawl", "investkaluga", "--db", url,
    ]  # fmt: skip


def test_unit_names_are_sanitised_and_bounded() -> None:
    assert unit_name(["investkaluga"]) == "newsarchive-crawl-investkaluga"
    assert unit_name(["a b", "c/d", "e.f_g"]) == "newsarchive-crawl-a_b-c_d-e.f_g"
    long_names = [unit_name(["x" * 300]), unit_name(["x" * 299 + "y"])]
    assert all(len(name) + len(".service") <= 255 for name in long_names)
    assert long_names[0] != long_names[1]
    assert all(name.startswith("newsarchive-crawl-xxx") for name in long_names)


def test_a_site_named_twice_is_crawled_once(tmp_path: Path) -> None:
    job = crawl_job(["arrko", "investkaluga", "arrko"], "1d", "sqlite:///a.db", tmp_path)
    assert job.command == [
        NEWSARCHIVE, "crawl", "arrko", "investkaluga", "--db", f"sqlite:///{tmp_path}/a.db"
    ]  # fmt: skip
    assert job.name == "newsarchive-crawl-arrko-investkaluga"
