"""A site's health, from the archive's own history: its latest crawl runs compared with its
earlier ones, and whether its crawls still run at all.

Each finished crawl run keeps its counts and figures (CrawlRun.figures: why pages were not
articles, the articles' languages and text lengths). A site is unhealthy when its latest
run is far from the usual of its own recent runs: a rejection reason that takes most
pages where it used to take none, text lengths that collapse, fetch errors that rise,
languages that change; or when it finds no new article for several runs where it used to;
or when no crawl of it has succeeded for MAX_AGE, or its running crawl records nothing.

Alert state (SiteHealth) changes only when a site turns unhealthy or recovers, so that a
scheduled job alerts once per change (update_health).
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine, select

from archive.db import session_factory, writing
from archive.locks import STALE_AFTER
from archive.models import CrawlRun, SiteHealth, utcnow
from archive.runs import SHORT_BODY_CHARS, is_site_crawl

HISTORY_RUNS = 10
"""The earlier runs a site's latest run is compared with."""
MIN_HISTORY = 2
"""Fewer earlier runs than this say nothing of what is usual."""
QUIET_RUNS = 3
"""Runs in a row without a new article that make a site that used to have some quiet."""
MAX_AGE = dt.timedelta(days=2)
COMPLETED = ("finished", "failed")
# A rejection reason is out of the usual when it takes at least this share of the run's
# pages and this many, and over twice the usual count plus this many.
REJECTED_SHARE = 0.25
MIN_REJECTED = 5
REJECTED_MARGIN = 3
# Fetch errors are out of the usual past this share of the pages, and twice the usual.
ERROR_SHARE = 0.2
SHORT_SHARE = 0.5
USUAL_SHORT_SHARE = 0.25
MIN_ARTICLES = 3
LENGTH_DROP = 0.5
MIN_USUAL_LENGTH = 200
LANGUAGE_SHIFT = 0.3
MIN_LANGUAGE_ARTICLES = 5


@dataclass(frozen=True, slots=True)
class SiteReport:
    site: str
    problems: list[str] = field(default_factory=list)
    # The site's completed runs that were looked at, newest first.
    runs: int = 0

    @property
    def healthy(self) -> bool:
        return not self.problems


def _usual_range(values: Sequence[int]) -> str:
    low, high = min(values), max(values)
    return f"{low}" if low == high else f"{low}-{high}"


def _median(values: Iterable[float]) -> float:
    values = list(values)
    return statistics.median(values) if values else 0.0


def _age(delta: dt.timedelta) -> str:
    if delta >= dt.timedelta(days=1):
        days = delta.days
        return f"{days} day{'s' * (days != 1)}"
    hours = int(delta.total_seconds() // 3600)
    if hours:
        return f"{hours} hour{'s' * (hours != 1)}"
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes} minute{'s' * (minutes != 1)}"


def _figures(run: CrawlRun) -> dict:
    return run.figures or {}


def _quiet(completed: list[CrawlRun]) -> list[str]:
    """No new article in the last QUIET_RUNS runs, where the runs before had some."""
    last, before = completed[:QUIET_RUNS], completed[QUIET_RUNS : QUIET_RUNS + HISTORY_RUNS]
    if len(last) < QUIET_RUNS or len(before) < MIN_HISTORY or any(r.articles_new for r in last):
        return []
    usual = [run.articles_new for run in before]
    if _median(usual) < 1:
        return []
    return [f"0 new articles in the last {QUIET_RUNS} runs, usually {_usual_range(usual)} per run"]


def _rejections(latest: CrawlRun, history: list[CrawlRun]) -> list[str]:
    pages = latest.pages_fetched
    problems = []
    for reason, count in sorted(_figures(latest).get("rejected", {}).items()):
        usual = _median(_figures(run).get("rejected", {}).get(reason, 0) for run in history)
        if (
            count >= MIN_REJECTED
            and count >= REJECTED_SHARE * pages
            and count > 2 * usual + REJECTED_MARGIN
        ):
            problems.append(f"{count} of {pages} pages rejected as '{reason}', usually {usual:g}")
    return problems


def _errors(latest: CrawlRun, history: list[CrawlRun]) -> list[str]:
    def share(run: CrawlRun) -> float:
        return run.errors / max(run.pages_fetched, 1)

    usual = _median(share(run) for run in history)
    if share(latest) >= ERROR_SHARE and share(latest) > 2 * usual:
        return [f"fetch errors {share(latest):.0%}, usually {usual:.0%}"]
    return []


def _texts(latest: CrawlRun, history: list[CrawlRun]) -> list[str]:
    """Articles much shorter than usual: the extraction keeps a teaser, a caption."""
    figures = _figures(latest)
    stored = figures.get("stored", 0)
    if stored < MIN_ARTICLES:
        return []
    problems = []
    short = figures.get("short_bodies", 0)
    usual_shares = [
        _figures(run).get("short_bodies", 0) / _figures(run)["stored"]
        for run in history
        if _figures(run).get("stored")
    ]
    if len(usual_shares) >= MIN_HISTORY:
        usual = _median(usual_shares)
        if short >= SHORT_SHARE * stored and usual < USUAL_SHORT_SHARE:
            problems.append(
                f"{short} of {stored} articles have under {SHORT_BODY_CHARS} characters of "
                f"text, usually {usual:.0%}"
            )
    lengths = [
        _figures(run)["median_body_length"]
        for run in history
        if _figures(run).get("stored", 0) >= MIN_ARTICLES
    ]
    if len(lengths) >= MIN_HISTORY:
        usual_length = _median(lengths)
        length = figures.get("median_body_length", 0)
        if usual_length >= MIN_USUAL_LENGTH and length < LENGTH_DROP * usual_length:
            problems.append(
                f"median article text {length:,} characters, usually {usual_length:,.0f}"
            )
    return problems


def _languages(latest: CrawlRun, history: list[CrawlRun]) -> list[str]:
    def shares(run: CrawlRun) -> dict[str, float]:
        languages = _figures(run).get("languages", {})
        total = sum(languages.values())
        return {lang: n / total for lang, n in languages.items()} if total else {}

    now = shares(latest)
    earlier = [found for run in history if (found := shares(run))]
    if sum(_figures(latest).get("languages", {}).values()) < MIN_LANGUAGE_ARTICLES:
        return []
    if len(earlier) < MIN_HISTORY:
        return []
    problems = []
    for lang in sorted({*now, *(lang for found in earlier for lang in found)}):
        usual = _median(found.get(lang, 0.0) for found in earlier)
        if abs(now.get(lang, 0.0) - usual) >= LANGUAGE_SHIFT:
            problems.append(f"{now.get(lang, 0.0):.0%} of articles in {lang}, usually {usual:.0%}")
    return problems


def _activity(runs: list[CrawlRun], now: dt.datetime) -> list[str]:
    problems = []
    for run in runs:
        seen = run.updated_at or run.started_at
        if run.status == "running" and now - seen >= STALE_AFTER:
            problems.append(
                f"a run is stuck: run {run.id} (pid {run.pid} on {run.hostname}) has "
                f"recorded nothing for {_age(now - seen)}"
            )
    successes = [run.finished_at for run in runs if run.status == "finished" and run.finished_at]
    since = max(successes) if successes else min(run.started_at for run in runs)
    if now - since >= MAX_AGE:
        problems.append(f"no successful run for {_age(now - since)}")
    return problems


def assess(site: str, runs: list[CrawlRun], now: dt.datetime) -> SiteReport:
    """The health of `site` from its runs, newest first."""
    if not runs:
        return SiteReport(site, ["no crawl run recorded"])
    problems = _activity(runs, now)
    completed = [run for run in runs if run.status in COMPLETED]
    if completed:
        latest, history = completed[0], completed[1 : 1 + HISTORY_RUNS]
        problems += _quiet(completed)
        if len(history) >= MIN_HISTORY:
            problems += _rejections(latest, history)
            problems += _errors(latest, history)
            problems += _texts(latest, history)
            problems += _languages(latest, history)
    return SiteReport(site, problems, len(completed))


def crawled_sites(engine: Engine) -> list[str]:
    """The sites the archive has crawl runs of."""
    with session_factory(engine)() as session:
        return sorted(session.scalars(select(CrawlRun.sites).where(is_site_crawl()).distinct()))


def site_health(
    engine: Engine, sites: Iterable[str] | None = None, now: dt.datetime | None = None
) -> list[SiteReport]:
    """The health of each site (all crawled sites when none are named)."""
    now = now or utcnow()
    names = list(sites) if sites else crawled_sites(engine)
    limit = QUIET_RUNS + HISTORY_RUNS + 1
    reports = []
    with session_factory(engine)() as session:
        for site in names:
            runs = list(
                session.scalars(
                    select(CrawlRun)
                    .where(CrawlRun.sites == site)
                    .order_by(CrawlRun.id.desc())
                    .limit(limit)
                )
            )
            reports.append(assess(site, runs, now))
    return reports


@dataclass(frozen=True, slots=True)
class HealthChange:
    """A site that turned unhealthy (or healthy again) since its health was last told."""

    report: SiteReport

    @property
    def subject(self) -> str:
        state = "recovered" if self.report.healthy else "unhealthy"
        return f"newsarchive: {self.report.site} {state}"

    @property
    def lines(self) -> list[str]:
        if self.report.healthy:
            return [f"{self.report.site}: OK again"]
        return [f"{self.report.site}: {problem}" for problem in self.report.problems]


def update_health(engine: Engine, reports: Iterable[SiteReport]) -> list[HealthChange]:
    """Record each site's health; the changes since it was last recorded (a site seen for
    the first time is a change only when it is unhealthy)."""
    now = utcnow()
    changes = []
    with session_factory(writing(engine)).begin() as session:
        for report in reports:
            known = session.get(SiteHealth, report.site, with_for_update=True)
            if known is None:
                known = SiteHealth(site=report.site, healthy=True, problems=[], changed_at=now)
                session.add(known)
            if known.healthy != report.healthy:
                changes.append(HealthChange(report))
                known.healthy = report.healthy
                known.changed_at = now
            known.problems = list(report.problems)
            known.checked_at = now
    return changes
