"""Summaries of what the archive holds and of the latest crawl runs."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select

from archive.db import session_factory
from archive.models import Article, ArticleVersion, CrawlRun, Site

RECENT_RUNS = 5
UNKNOWN_MONTH = "unknown"


@dataclass(frozen=True, slots=True)
class ArchiveStats:
    articles_by_site_lang: list[tuple[str, str, int]]
    total_articles: int
    articles_by_month: list[tuple[str, int]]
    total_versions: int
    total_runs: int
    recent_runs: list[CrawlRun]

    @property
    def last_run(self) -> CrawlRun | None:
        return self.recent_runs[0] if self.recent_runs else None


def _by_month(published_counts: Iterable[tuple[dt.date | None, int]]) -> list[tuple[str, int]]:
    """Counts per YYYY-MM, oldest first, then those without a date.

    Grouping by day in SQL and by month here spares a month function for each database.
    """
    months: Counter[str] = Counter()
    for published, count in published_counts:
        months[published.strftime("%Y-%m") if published else UNKNOWN_MONTH] += count
    known = sorted(month for month in months if month != UNKNOWN_MONTH)
    rows = [(month, months[month]) for month in known]
    if UNKNOWN_MONTH in months:
        rows.append((UNKNOWN_MONTH, months[UNKNOWN_MONTH]))
    return rows


def archive_stats(engine: Engine) -> ArchiveStats:
    with session_factory(engine)() as session:
        by_site_lang = [
            (site, lang, count)
            for site, lang, count in session.execute(
                select(Site.name, Article.lang, func.count(Article.id))
                .join(Article, Article.site_id == Site.id)
                .group_by(Site.name, Article.lang)
                .order_by(Site.name, Article.lang)
            )
        ]
        by_day = session.execute(
            select(Article.published, func.count(Article.id)).group_by(Article.published)
        ).all()
        recent_runs = list(
            session.scalars(select(CrawlRun).order_by(CrawlRun.id.desc()).limit(RECENT_RUNS))
        )
        total_versions = session.scalar(select(func.count(ArticleVersion.id))) or 0
        total_runs = session.scalar(select(func.count(CrawlRun.id))) or 0
    return ArchiveStats(
        articles_by_site_lang=by_site_lang,
        total_articles=sum(count for _, _, count in by_site_lang),
        articles_by_month=_by_month(by_day),
        total_versions=total_versions,
        total_runs=total_runs,
        recent_runs=recent_runs,
    )


def format_run(run: CrawlRun) -> str:
    finished = run.finished_at.isoformat(timespec="seconds") if run.finished_at else "-"
    return (
        f"run {run.id} [{run.status}] sites={run.sites or '-'} "
        f"started={run.started_at.isoformat(timespec='seconds')} finished={finished}\n"
        f"  pages fetched {run.pages_fetched}, articles new {run.articles_new}, "
        f"updated {run.articles_updated}, unchanged {run.articles_unchanged}, "
        f"skipped as archived {run.articles_skipped}, errors {run.errors}"
    )


def format_stats(stats: ArchiveStats) -> str:
    lines = [f"{'site':<30} {'lang':<6} {'articles':>8}"]
    lines += [
        f"{site:<30} {lang:<6} {count:>8}" for site, lang, count in stats.articles_by_site_lang
    ]
    lines.append(f"{'total':<37} {stats.total_articles:>8}")
    if stats.articles_by_month:
        lines.append("")
        lines.append(f"{'published':<37} {'articles':>8}")
        lines += [f"{month:<37} {count:>8}" for month, count in stats.articles_by_month]
    lines.append("")
    lines.append("last crawl: " + (format_run(stats.last_run) if stats.last_run else "none yet"))
    if len(stats.recent_runs) > 1:
        lines.append("earlier runs:")
        lines += [format_run(run) for run in stats.recent_runs[1:]]
    return "\n".join(lines)


def _isoformat(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def stats_document(stats: ArchiveStats) -> dict[str, Any]:
    """The stats as one JSON-ready document, for scripts and dashboards."""
    return {
        "totals": {
            "articles": stats.total_articles,
            "sites": len({site for site, _, _ in stats.articles_by_site_lang}),
            "languages": len({lang for _, lang, _ in stats.articles_by_site_lang}),
            "versions": stats.total_versions,
            "runs": stats.total_runs,
        },
        "by_site_lang": [
            {"site": site, "lang": lang, "articles": count}
            for site, lang, count in stats.articles_by_site_lang
        ],
        "by_month": [
            {"month": month, "articles": count} for month, count in stats.articles_by_month
        ],
        "runs": [
            {
                "id": run.id,
                "sites": run.sites,
                "status": run.status,
                "started_at": _isoformat(run.started_at),
                "finished_at": _isoformat(run.finished_at),
                "pages_fetched": run.pages_fetched,
                "articles_new": run.articles_new,
                "articles_updated": run.articles_updated,
                "articles_unchanged": run.articles_unchanged,
                "articles_skipped": run.articles_skipped,
                "errors": run.errors,
            }
            for run in stats.recent_runs
        ],
    }
