"""The record of a run, of a crawl, an import or a reprocessing: started, kept current as
the run goes, finished with its status."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Iterable

from sqlalchemy import ColumnElement, and_, not_

from archive.models import CrawlRun
from archive.store import ArchiveWriter, FetchFailure, Outcome, RunCounts
from pipelines.article import ExtractedArticle

FAILURE_BATCH = 500
REPROCESS_RUN = "reprocess:"
IMPORT_RUN = "import:"
"""How the runs that are no crawls name what they worked on: `reprocess:SITE`,
`import:FILE`; a crawl's run names its one site."""
SHORT_BODY_CHARS = 500
"""An article text shorter than this is short: a teaser, a caption, a broken extraction."""
_NUMBER = re.compile(r"\d[\d.,]*")


def is_site_crawl() -> ColumnElement[bool]:
    """The crawl_runs rows of one site's crawl: not of several sites, of a reprocessing or
    of an import."""
    return and_(
        CrawlRun.sites != "",
        not_(CrawlRun.sites.contains(",")),
        not_(CrawlRun.sites.startswith(REPROCESS_RUN)),
        not_(CrawlRun.sites.startswith(IMPORT_RUN)),
    )


def reason_kind(reason: str) -> str:
    """A rejection's reason without its figures ("only 120 characters of text" ->
    "only N characters of text"), so that the pages rejected alike count together."""
    return _NUMBER.sub("N", reason)


class RunFigures:
    """What a run's pages looked like, for the site's health: the reasons pages were not
    articles, the articles' languages and text lengths."""

    def __init__(self) -> None:
        self.rejected: dict[str, int] = {}
        self.languages: Counter[str] = Counter()
        self.lengths: list[int] = []

    def article(self, item: ExtractedArticle) -> None:
        self.languages[item.lang or "und"] += 1
        self.lengths.append(len(item.text))

    def as_dict(self) -> dict:
        return {
            "rejected": self.rejected,
            "languages": dict(self.languages),
            "stored": len(self.lengths),
            "short_bodies": sum(length < SHORT_BODY_CHARS for length in self.lengths),
            "median_body_length": int(statistics.median(self.lengths)) if self.lengths else 0,
        }


class RunRecorder:
    """Counts what a run stores and records the pages it failed on.

    Failures are written in batches: with each update of the run's counts, or once
    FAILURE_BATCH have gathered (a site of dead links fails by the thousand).
    """

    def __init__(self, writer: ArchiveWriter, sites: Iterable[str], lock: bool = False) -> None:
        """Starts the run; with `lock`, it takes its sites' locks or raises SiteLocked."""
        self.writer = writer
        self.run_id = writer.start_run(list(sites), lock)
        self.figures = RunFigures()
        self.outcomes = dict.fromkeys(Outcome, 0)
        self.failures = 0
        self.pending: list[FetchFailure] = []

    def stored(self, outcome: Outcome) -> None:
        self.outcomes[outcome] += 1

    def failed(self, failure: FetchFailure) -> None:
        self.pending.append(failure)
        self.failures += 1
        if len(self.pending) >= FAILURE_BATCH:
            self.write_failures()

    def write_failures(self) -> None:
        if self.pending:
            self.writer.record_failures(self.run_id, self.pending)
            self.pending = []

    def counts(self, pages: int, skipped: int = 0, errors: int = 0) -> RunCounts:
        """The run's counts; `errors` are those beside the failed pages."""
        return RunCounts(
            pages_fetched=pages,
            articles_new=self.outcomes[Outcome.NEW],
            articles_updated=self.outcomes[Outcome.UPDATED],
            articles_unchanged=self.outcomes[Outcome.UNCHANGED],
            articles_skipped=skipped,
            errors=self.failures + errors,
        )

    def update(self, counts: RunCounts, warc_path: str | None = None) -> None:
        """Record how far the run has come, so that it shows even if the run is killed."""
        self.write_failures()
        self.writer.update_run_counts(self.run_id, counts, warc_path)

    def finish(self, status: str, counts: RunCounts, warc_path: str | None = None) -> None:
        self.write_failures()
        self.writer.finish_run(self.run_id, status, counts, warc_path, self.figures.as_dict())
