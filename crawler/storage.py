"""The crawl's last item pipeline: articles into the archive, and the crawl run's record."""

from __future__ import annotations

import asyncio
import logging
import time

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured
from scrapy.utils.asyncio import create_looping_call
from scrapy.utils.defer import deferred_from_coro
from sqlalchemy.exc import SQLAlchemyError

from archive.db import ArchiveUnavailable, open_archive
from archive.store import ArchiveUnreachable, ArchiveWriter, ArticleRejected, Outcome, RunCounts
from crawler import shutdown
from crawler.items import ArticleItem, FetchFailure, KnownArticleUnchanged

logger = logging.getLogger(__name__)

RUN_STATUS_BY_FINISH_REASON = {"finished": "finished", "shutdown": "interrupted"}
RUN_ID_STAT = "newsarchive/run_id"
SKIPPED_STAT = "newsarchive/articles_skipped"
WARC_PATH_STAT = "newsarchive/warc_path"
RESPONSE_STATUS_STAT = "downloader/response_status_count/"
# Seconds between attempts to reach the archive database while it is down.
DB_RETRY_FIRST_DELAY = 0.5
DB_RETRY_MAX_DELAY = 10.0
FAILURE_BATCH = 500


def pages_answered(stats: dict) -> int:
    """Responses that were no HTTP error (2xx, 3xx, 304)."""
    return sum(
        count
        for key, count in stats.items()
        if key.startswith(RESPONSE_STATUS_STAT) and int(key.rpartition("/")[2]) < 400
    )


def run_status(reason: str, stats: dict, failures: int, max_error_share: float) -> str:
    """What a crawl run that ended for `reason` is recorded as.

    A crawl that ran to its end is `failed` when no page answered, or when more than
    `max_error_share` of its pages could not be fetched.
    """
    if reason.startswith("closespider_"):
        reason = "finished"
    status = RUN_STATUS_BY_FINISH_REASON.get(reason, reason)
    if status == "finished":
        answered = pages_answered(stats)
        if answered == 0 or failures > max_error_share * (answered + failures):
            return "failed"
    return status


def run_counts(stats: dict, outcomes: dict[Outcome, int], failures: int) -> RunCounts:
    return RunCounts(
        pages_fetched=stats.get("response_received_count", 0),
        articles_new=outcomes[Outcome.NEW],
        articles_updated=outcomes[Outcome.UPDATED],
        articles_unchanged=outcomes[Outcome.UNCHANGED],
        articles_skipped=stats.get(SKIPPED_STAT, 0),
        errors=failures + stats.get("log_count/ERROR", 0),
    )


class StoragePipeline:
    """Saves each item in its own transaction and keeps the crawl run record current.

    Fetch failures and unchanged revisits are recorded here and go no further, so a feed
    (`scrapy crawl portal -o items.jsonl`) holds the stored articles only. A page the
    archive cannot store is a recorded failure of that page. While the database cannot be
    reached the crawl pauses, and the pages it holds wait to be stored, for up to
    NEWSARCHIVE_DB_RETRY_FOR seconds; then the crawl stops as `database_error`.
    """

    def __init__(self, crawler: Crawler, db_url: str | None) -> None:
        self.crawler = crawler
        try:
            self.writer = ArchiveWriter(open_archive(db_url))
        except ArchiveUnavailable as exc:
            raise NotConfigured(str(exc)) from exc
        settings = crawler.settings
        self.max_error_share = settings.getfloat("NEWSARCHIVE_MAX_ERROR_SHARE")
        self.retry_for = settings.getfloat("NEWSARCHIVE_DB_RETRY_FOR")
        self.update_interval = settings.getfloat("NEWSARCHIVE_RUN_UPDATE_INTERVAL")
        self.outcomes = dict.fromkeys(Outcome, 0)
        self.failures = 0
        self.run_id: int | None = None
        self.interrupted = False
        self.outage_since: float | None = None
        self.pending_failures: list[FetchFailure] = []
        self.updates = create_looping_call(self._update_run)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.stop_requested, signal=shutdown.stop_requested)
        crawler.signals.connect(self.stop_forced, signal=shutdown.stop_forced)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StoragePipeline:
        return cls(crawler, crawler.settings.get("NEWSARCHIVE_DB"))

    def open_spider(self) -> None:
        spider = self.crawler.spider
        sites = getattr(spider, "site_names", [])
        if hasattr(spider, "drop_selectors"):
            kept = (selector for site in sites for selector in self.writer.drop_selectors(site))
            spider.drop_selectors = tuple(dict.fromkeys([*spider.drop_selectors, *kept]))
        self.run_id = self.writer.start_run(sites)
        self.crawler.stats.set_value(RUN_ID_STAT, self.run_id)
        self.updates.start(self.update_interval, now=False)

    async def process_item(self, item):
        delay = DB_RETRY_FIRST_DELAY
        while True:
            try:
                self.store(item)
                break
            except ArticleRejected as exc:
                self._store_failure(FetchFailure(item.url, f"not stored: {exc}"))
                raise DropItem(f"not stored, {exc}: {item.url}") from None
            except ArchiveUnreachable as exc:
                if not self._outage_goes_on(exc):
                    raise DropItem(f"not stored, the archive database failed: {item.url}") from None
                await asyncio.sleep(delay)
                delay = min(delay * 2, DB_RETRY_MAX_DELAY)
        self._outage_over()
        if not isinstance(item, ArticleItem):
            raise DropItem(f"recorded: {item.url}", log_level="DEBUG")
        return item

    def _outage_goes_on(self, exc: ArchiveUnreachable) -> bool:
        """Whether to keep waiting for the database; past the limit, the crawl stops."""
        now = time.monotonic()
        if self.outage_since is None:
            self.outage_since = now
            self.crawler.engine.pause()
            logger.warning(
                "archive database unreachable (%s): the crawl pauses for up to %g s",
                exc,
                self.retry_for,
            )
        if now - self.outage_since <= self.retry_for:
            return True
        if self.crawler.engine.paused:
            logger.error(
                "archive database unreachable for %g s, stopping the crawl", self.retry_for
            )
            self.crawler.engine.unpause()
            deferred_from_coro(self.crawler.engine.close_spider_async(reason="database_error"))
        return False

    def _outage_over(self) -> None:
        if self.outage_since is not None:
            logger.warning("archive database reachable again: the crawl goes on")
            self.outage_since = None
            self.crawler.engine.unpause()

    def store(self, item) -> None:
        if isinstance(item, ArticleItem):
            outcome = self.writer.save(item, self.run_id)
            self.outcomes[outcome] += 1
            logger.info("%s article %s", outcome, item.canonical_url)
        elif isinstance(item, KnownArticleUnchanged):
            if self.writer.mark_unchanged(item.url, item.fetched_at):
                self.outcomes[Outcome.UNCHANGED] += 1
        elif isinstance(item, FetchFailure):
            self._store_failure(item)

    def _store_failure(self, failure: FetchFailure) -> None:
        """Failures are written in batches: with the run's counts every few seconds, or
        once FAILURE_BATCH have gathered (a site of dead links fails by the thousand)."""
        self.pending_failures.append(failure)
        self.failures += 1
        if not failure.logged:
            logger.warning("failed: %s (%s)", failure.url, failure.reason)
        if len(self.pending_failures) >= FAILURE_BATCH:
            self._write_failures()

    def _write_failures(self) -> None:
        if self.pending_failures:
            self.writer.record_failures(self.run_id, self.pending_failures)
            self.pending_failures = []

    def stop_requested(self) -> None:
        """The crawl is being stopped: the run says so at once, whatever follows."""
        self.interrupted = True
        self._record("interrupted")

    def stop_forced(self) -> None:
        self._record("interrupted")

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.updates.running:
            self.updates.stop()
        if self.interrupted:
            status = "interrupted"
        else:
            status = run_status(
                reason, self.crawler.stats.get_stats(), self.failures, self.max_error_share
            )
        self._record(status)

    def _counts(self) -> RunCounts:
        return run_counts(self.crawler.stats.get_stats(), self.outcomes, self.failures)

    def _update_run(self) -> None:
        """The run record tells how far the crawl has come, even if it is killed."""
        if self.run_id is None or self.outage_since is not None:
            return
        try:
            self._write_failures()
            self.writer.update_run_counts(
                self.run_id, self._counts(), self.crawler.stats.get_value(WARC_PATH_STAT)
            )
        except (ArchiveUnreachable, SQLAlchemyError) as exc:
            logger.debug("cannot record the counts of crawl run %s: %s", self.run_id, exc)

    def _record(self, status: str) -> None:
        if self.run_id is None:
            return
        try:
            self._write_failures()
            self.writer.finish_run(
                self.run_id, status, self._counts(), self.crawler.stats.get_value(WARC_PATH_STAT)
            )
        except (ArchiveUnreachable, SQLAlchemyError) as exc:
            logger.error("cannot record the end of crawl run %s: %s", self.run_id, exc)
