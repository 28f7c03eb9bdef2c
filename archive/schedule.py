"""Ready-made schedules for unattended crawls: a systemd service and timer, or a crontab
line, that run `newsarchive crawl SITE... --db URL` every so often.

Plain functions that raise ValueError with a one-line message; `newsarchive schedule`
(archive.cli.schedule) prints what they return.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import re
import shlex
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from archive import exitcodes
from archive.db import ArchiveUnavailable, parse_db_url, resolve_db_url, sqlite_file

SYSTEMD_DIR = PurePosixPath("/etc/systemd/system")
UNIT_PREFIX = "newsarchive-crawl-"
# systemd's longest unit name, suffix included.
UNIT_NAME_MAX = 255
# After a boot, the first crawl of a timer that runs at intervals (once the network is up).
BOOT_DELAY = 300

DURATION = re.compile(r"(\d+)(s|m|h|d)\Z")
SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# systemd time spans: the largest unit that gives a whole number.
SYSTEMD_SPANS = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))
UNIT_NAME_CHARACTER = re.compile(r"[^A-Za-z0-9_.-]")
# Words ExecStart= takes as they are; any other is quoted.
SYSTEMD_PLAIN_WORD = re.compile(r"[A-Za-z0-9_@%+=:,./-]+\Z")


def parse_duration(text: str) -> int:
    """Seconds in a duration such as 90s, 30m, 6h or 1d."""
    match = DURATION.match(text.strip().lower())
    if not match:
        raise ValueError(
            f"not a duration: {text!r}; give a number and a unit, such as 90s, 30m, 6h or 1d"
        )
    seconds = int(match[1]) * SECONDS[match[2]]
    if not seconds:
        raise ValueError(f"not a duration: {text!r}; it must be longer than 0")
    return seconds


def systemd_span(seconds: int) -> str:
    """A duration as systemd writes time spans: 90s, 30min, 6h, 2d."""
    return next(
        f"{seconds // size}{suffix}" for suffix, size in SYSTEMD_SPANS if seconds % size == 0
    )


def unit_name(sites: Iterable[str]) -> str:
    """`newsarchive-crawl-<sites>`: the site names joined by '-', with any character a unit
    name cannot hold replaced by '_'; cut short, with a hash of the names, past systemd's
    limit."""
    joined = "-".join(UNIT_NAME_CHARACTER.sub("_", site) for site in sites)
    name = UNIT_PREFIX + joined
    longest = UNIT_NAME_MAX - len(".service")
    if len(name) > longest:
        digest = hashlib.sha256(joined.encode()).hexdigest()[:12]
        name = f"{name[: longest - len(digest) - 1]}-{digest}"
    return name


def newsarchive_executable() -> Path:
    """The `newsarchive` program of this installation: beside the running Python, or else
    the first on PATH."""
    beside = Path(sys.executable).with_name("newsarchive")
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside.absolute()
    found = shutil.which("newsarchive")
    if found is None:
        raise ValueError(
            f"cannot find the newsarchive program: not beside {sys.executable}, not on PATH"
        )
    return Path(found).absolute()


def absolute_db_url(url: str | None, workdir: Path) -> str:
    """The archive URL the crawl resolves (`url`, else $NEWSARCHIVE_DB, else the default),
    with a relative SQLite path made absolute from `workdir`."""
    resolved = resolve_db_url(url)
    try:
        parsed = parse_db_url(resolved)
    except ArchiveUnavailable as exc:
        raise ValueError(str(exc)) from None
    if parsed.get_backend_name() != "sqlite":
        return resolved
    path = sqlite_file(parsed)
    if path is None:
        raise ValueError(
            f"{resolved!r} is an in-memory SQLite archive: it keeps nothing between runs"
        )
    if path.is_absolute() or parsed.query.get("uri") == "true":
        return resolved
    return parsed.set(database=str(workdir / path)).render_as_string(hide_password=False)


@dataclass(frozen=True, slots=True)
class CrawlJob:
    """A crawl of `sites` into the archive at `db_url`, every `every` seconds, run by `user`
    with `newsarchive` in `workdir` (where its WARC files go, as `warc/`)."""

    sites: tuple[str, ...]
    every: int
    db_url: str
    executable: Path
    workdir: Path
    user: str

    @property
    def name(self) -> str:
        return unit_name(self.sites)

    @property
    def command(self) -> list[str]:
        return [str(self.executable), "crawl", *self.sites, "--db", self.db_url]


def crawl_job(
    sites: Iterable[str], every: str, db_url: str | None = None, workdir: Path | None = None
) -> CrawlJob:
    """The job that crawls `sites` every `every` (a duration such as 6h) into `db_url` (or
    the archive `newsarchive crawl` would use), from `workdir` (the current directory)."""
    chosen = tuple(dict.fromkeys(sites))
    if not chosen:
        raise ValueError("no site to crawl")
    seconds = parse_duration(every)
    workdir = (workdir or Path.cwd()).absolute()
    return CrawlJob(
        sites=chosen,
        every=seconds,
        db_url=absolute_db_url(db_url, workdir),
        executable=newsarchive_executable(),
        workdir=workdir,
        user=pwd.getpwuid(os.geteuid()).pw_name,
    )


def on_calendar(seconds: int) -> str | None:
    """The OnCalendar= expression that fires exactly every `seconds` on the clock (a divisor
    of a minute, an hour or a day, or a whole day); None for other intervals."""
    if seconds == SECONDS["d"]:
        return "*-*-* 00:00:00"
    if seconds % 3600 == 0 and 24 % (seconds // 3600) == 0:
        return f"*-*-* 00/{seconds // 3600}:00:00"
    if seconds % 60 == 0 and 60 % (seconds // 60) == 0:
        return f"*-*-* *:00/{seconds // 60}:00"
    if seconds < 60 and 60 % seconds == 0:
        return f"*-*-* *:*:00/{seconds}"
    return None


def _unit_value(value: str) -> str:
    """A value in a unit file: '%' starts a specifier, written '%%' for itself."""
    return value.replace("%", "%%")


def _exec_word(word: str) -> str:
    """One word of ExecStart=, quoted where systemd would split or expand it."""
    word = _unit_value(word).replace("$", "$$")
    if SYSTEMD_PLAIN_WORD.match(word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True, slots=True)
class UnitFile:
    """A systemd unit: the path to install it to and its text."""

    path: PurePosixPath
    text: str


def systemd_units(job: CrawlJob) -> tuple[UnitFile, UnitFile]:
    """The service that runs the crawl once, and the timer that starts it every interval."""
    sites = ", ".join(job.sites)
    service = f"""\
[Unit]
Description=newsarchive: crawl {_unit_value(sites)} into the archive
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
User={_unit_value(job.user)}
WorkingDirectory={_unit_value(str(job.workdir))}
ExecStart={" ".join(_exec_word(word) for word in job.command)}
# newsarchive exits with 0 when the crawl is done. Any other status is a failure (see
# "Exit codes" in its README), except {exitcodes.SITE_LOCKED}: the previous run still held the site.
SuccessExitStatus={exitcodes.SITE_LOCKED}
"""
    calendar = on_calendar(job.every)
    if calendar:
        trigger = f"OnCalendar={calendar}\nPersistent=true\n"
    else:
        trigger = (
            f"OnBootSec={systemd_span(min(BOOT_DELAY, job.every))}\n"
            f"OnUnitActiveSec={systemd_span(job.every)}\n"
        )
    timer = f"""\
[Unit]
Description=newsarchive: crawl {_unit_value(sites)} every {systemd_span(job.every)}

[Timer]
{trigger}
[Install]
WantedBy=timers.target
"""
    return (
        UnitFile(SYSTEMD_DIR / f"{job.name}.service", service),
        UnitFile(SYSTEMD_DIR / f"{job.name}.timer", timer),
    )


def cron_schedule(seconds: int) -> str:
    """The five time fields of a crontab line that runs every `seconds`: minutes dividing an
    hour, hours dividing a day, or a day."""
    if seconds == SECONDS["d"]:
        return "0 0 * * *"
    if seconds % 3600 == 0 and 24 % (seconds // 3600) == 0:
        hours = seconds // 3600
        return "0 * * * *" if hours == 1 else f"0 */{hours} * * *"
    if seconds % 60 == 0 and 60 % (seconds // 60) == 0:
        minutes = seconds // 60
        return "* * * * *" if minutes == 1 else f"*/{minutes} * * * *"
    raise ValueError(
        f"cron cannot run a job every {systemd_span(seconds)}: give minutes that divide an"
        " hour (such as 15m or 30m), hours that divide a day (such as 6h) or 1d;"
        " `newsarchive schedule systemd` takes any interval"
    )


def crontab_line(job: CrawlJob) -> str:
    """The crontab line that runs the crawl every interval, from its working directory."""
    shell = f"cd {shlex.quote(str(job.workdir))} && exec {shlex.join(job.command)}"
    # cron turns an unescaped '%' of the command into a new line.
    escaped = shell.replace("%", r"\%")
    return f"{cron_schedule(job.every)} {escaped}"
