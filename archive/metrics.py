"""The archive's figures per site and of each site's crawl runs, in the Prometheus text
exposition format (`newsarchive metrics`).

A site's crawl runs are the rows of crawl_runs whose `sites` is the site's name: a crawl
records one run per site, while reprocessing (`reprocess:SITE`) and imports (`import:FILE`)
are runs of other kinds. The figures come from a few aggregate queries, whatever the size
of the archive: articles and versions per site, and the runs grouped by site.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import Engine, and_, case, func, select

from archive.db import session_factory
from archive.models import Article, ArticleVersion, CrawlRun, Site
from archive.runs import is_site_crawl

PREFIX = "newsarchive_"

LAST_RUN_COUNTS = (
    ("pages_fetched", "Pages fetched by the site's latest finished crawl run."),
    ("articles_new", "New articles stored by the site's latest finished crawl run."),
    ("articles_updated", "Articles given a new version by the site's latest finished crawl run."),
    ("articles_unchanged", "Articles found unchanged by the site's latest finished crawl run."),
    ("errors", "Pages that failed in the site's latest finished crawl run."),
)
LAST_RUN_COUNT_NAMES = tuple(name for name, _ in LAST_RUN_COUNTS)


@dataclass(frozen=True, slots=True)
class LastRun:
    status: str
    started_at: dt.datetime
    finished_at: dt.datetime
    counts: dict[str, int]  # by the names of LAST_RUN_COUNTS


@dataclass(frozen=True, slots=True)
class SiteRuns:
    """A site's crawl runs in figures, and its latest finished run."""

    running: int
    pages_fetched: int
    articles_new: int
    errors: int
    last_success: dt.datetime | None
    last_run: LastRun | None


@dataclass(frozen=True, slots=True)
class ArchiveFigures:
    articles: dict[str, int]
    versions: dict[str, int]
    runs: dict[str, SiteRuns]

    @property
    def sites(self) -> list[str]:
        """Every site of the archive, and every site with crawl runs."""
        return sorted({*self.articles, *self.runs})


def archive_figures(engine: Engine) -> ArchiveFigures:
    """The figures of the archive at `engine`, in three queries; a database error raises
    sqlalchemy's DBAPIError."""
    finished = CrawlRun.finished_at.is_not(None)
    with session_factory(engine)() as session:
        articles = dict(
            session.execute(
                select(Site.name, func.count(Article.id))
                .outerjoin(Article, Article.site_id == Site.id)
                .group_by(Site.name)
            ).all()
        )
        versions = dict(
            session.execute(
                select(Site.name, func.count(ArticleVersion.id))
                .join(Article, Article.site_id == Site.id)
                .join(ArticleVersion, ArticleVersion.article_id == Article.id)
                .group_by(Site.name)
            ).all()
        )
        per_site = (
            select(
                CrawlRun.sites.label("site"),
                func.sum(case((CrawlRun.status == "running", 1), else_=0)).label("running"),
                func.sum(CrawlRun.pages_fetched).label("pages_fetched"),
                func.sum(CrawlRun.articles_new).label("articles_new"),
                func.sum(CrawlRun.errors).label("errors"),
                func.max(
                    case((and_(CrawlRun.status == "finished", finished), CrawlRun.finished_at))
                ).label("last_success"),
                func.max(case((finished, CrawlRun.id))).label("last_run_id"),
            )
            .where(is_site_crawl())
            .group_by(CrawlRun.sites)
            .subquery()
        )
        last = [
            getattr(CrawlRun, name).label(f"last_{name}")
            for name in ("status", "started_at", "finished_at", *LAST_RUN_COUNT_NAMES)
        ]
        rows = session.execute(
            select(per_site, *last).outerjoin(CrawlRun, CrawlRun.id == per_site.c.last_run_id)
        ).all()
    runs = {
        row.site: SiteRuns(
            running=row.running,
            pages_fetched=row.pages_fetched,
            articles_new=row.articles_new,
            errors=row.errors,
            last_success=row.last_success,
            last_run=None
            if row.last_run_id is None
            else LastRun(
                status=row.last_status,
                started_at=row.last_started_at,
                finished_at=row.last_finished_at,
                counts={name: getattr(row, f"last_{name}") for name in LAST_RUN_COUNT_NAMES},
            ),
        )
        for row in rows
    }
    return ArchiveFigures(articles=articles, versions=versions, runs=runs)


def _gauge(name: str, documentation: str, labels: Iterable[str] = ("site",)) -> GaugeMetricFamily:
    return GaugeMetricFamily(PREFIX + name, documentation, labels=list(labels))


def _counter(name: str, documentation: str) -> CounterMetricFamily:
    return CounterMetricFamily(PREFIX + name, documentation, labels=["site"])


def metric_families(figures: ArchiveFigures) -> list[Metric]:
    """The figures as Prometheus metric families, labelled by site."""
    articles = _gauge("articles", "Articles archived.")
    versions = _gauge("article_versions", "Article versions archived (every text kept).")
    running = _gauge("runs_running", "Crawl runs recorded as running.")
    for site in figures.sites:
        articles.add_metric([site], figures.articles.get(site, 0))
        versions.add_metric([site], figures.versions.get(site, 0))
        running.add_metric([site], figures.runs[site].running if site in figures.runs else 0)
    counts = {
        name: _gauge(f"last_run_{name}", documentation) for name, documentation in LAST_RUN_COUNTS
    }
    duration = _gauge(
        "last_run_duration_seconds", "How long the site's latest finished crawl run took."
    )
    finished_at = _gauge(
        "last_run_timestamp_seconds", "When the site's latest finished crawl run ended (Unix time)."
    )
    status = _gauge(
        "last_run_status",
        "The status of the site's latest finished crawl run (1 for that status).",
        labels=("site", "status"),
    )
    last_success = _gauge(
        "last_success_timestamp_seconds",
        "When the site's latest crawl run with status finished ended (Unix time).",
    )
    pages = _counter("pages_fetched", "Pages fetched by every crawl run of the site.")
    new = _counter("articles_new", "New articles stored by every crawl run of the site.")
    errors = _counter("fetch_errors", "Pages that failed in every crawl run of the site.")
    for site, runs in sorted(figures.runs.items()):
        pages.add_metric([site], runs.pages_fetched)
        new.add_metric([site], runs.articles_new)
        errors.add_metric([site], runs.errors)
        if runs.last_success is not None:
            last_success.add_metric([site], runs.last_success.timestamp())
        if (run := runs.last_run) is not None:
            for name, family in counts.items():
                family.add_metric([site], run.counts[name])
            duration.add_metric([site], (run.finished_at - run.started_at).total_seconds())
            finished_at.add_metric([site], run.finished_at.timestamp())
            status.add_metric([site, run.status], 1)
    return [
        articles,
        versions,
        *counts.values(),
        duration,
        finished_at,
        last_success,
        status,
        running,
        pages,
        new,
        errors,
    ]


class _Families:
    """A collector of metric families gathered beforehand."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> list[Metric]:
        return self.families


def metrics_text(engine: Engine) -> str:
    """The archive's metrics in the Prometheus text exposition format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(metric_families(archive_figures(engine))))
    return generate_latest(registry).decode("utf-8")
