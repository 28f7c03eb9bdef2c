"""The last stage: articles into the archive, and the crawl run's record."""

from __future__ import annotations

import logging

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured
from scrapy.utils.defer import deferred_from_coro
from sqlalchemy.exc import SQLAlchemyError

from archive.db import ArchiveUnavailable, open_archive
from archive.store import ArchiveWriter, Outcome, RunCounts
from crawler.items import ArticleItem, FetchFailure, KnownArticleUnchanged

logger = logging.getLogger(__name__)

RUN_STATUS_BY_FINISH_REASON = {"finished": "finished", "shutdown": "interrupted"}
SKIPPED_STAT = "newsarchive/articles_skipped"
WARC_PATH_STAT = "newsarchive/warc_path"


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
    """Saves each item in its own transaction and keeps the crawl run record current."""

    def __init__(self, crawler: Crawler, db_url: str | None) -> None:
        self.crawler = crawler
        try:
            self.writer = ArchiveWriter(open_archive(db_url))
        except ArchiveUnavailable as exc:
            raise NotConfigured(str(exc)) from exc
        self.outcomes = dict.fromkeys(Outcome, 0)
        self.failures = 0
        self.run_id: int | None = None
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StoragePipeline:
        return cls(crawler, crawler.settings.get("NEWSARCHIVE_DB"))

    def open_spider(self) -> None:
        sites = getattr(self.crawler.spider, "site_names", [])
        self.run_id = self.writer.start_run(sites)
        self.crawler.stats.set_value("newsarchive/run_id", self.run_id)

    def process_item(self, item):
        try:
            self.store(item)
        except SQLAlchemyError as exc:
            logger.error("archive database failed, stopping the crawl: %s", exc)
            deferred_from_coro(self.crawler.engine.close_spider_async(reason="database_error"))
            raise DropItem(f"not stored, the archive database failed: {item.url}") from exc
        return item

    def store(self, item) -> None:
        if isinstance(item, ArticleItem):
            outcome = self.writer.save(item, self.run_id)
            self.outcomes[outcome] += 1
            logger.info("%s article %s", outcome, item.canonical_url)
        elif isinstance(item, KnownArticleUnchanged):
            if self.writer.mark_unchanged(item.url, item.fetched_at):
                self.outcomes[Outcome.UNCHANGED] += 1
        elif isinstance(item, FetchFailure):
            self.failures += 1
            self.writer.record_failure(self.run_id, item)
            logger.warning("failed: %s (%s)", item.url, item.reason)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        status = RUN_STATUS_BY_FINISH_REASON.get(reason, reason)
        counts = run_counts(self.crawler.stats.get_stats(), self.outcomes, self.failures)
        try:
            self.writer.finish_run(
                self.run_id, status, counts, self.crawler.stats.get_value(WARC_PATH_STAT)
            )
        except SQLAlchemyError as exc:
            logger.error("cannot record the end of crawl run %s: %s", self.run_id, exc)
