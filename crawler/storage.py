"""The crawl's last item pipeline: articles into the archive, and the crawl run's record."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider, DropItem, NotConfigured
from scrapy.utils.asyncio import create_looping_call
from scrapy.utils.defer import deferred_from_coro
from sqlalchemy.exc import SQLAlchemyError

from archive.db import ArchiveUnavailable, open_archive
from archive.locks import SiteLocked
from archive.runs import RunRecorder
from archive.store import (
    ArchiveUnreachable,
    ArchiveWriter,
    ArticleRejected,
    FetchFailure,
    Outcome,
    RunCounts,
)
from crawler import shutdown
from crawler.items import KnownArticleUnchanged
from pipelines.article import ExtractedArticle

logger = logging.getLogger(__name__)

RUN_STATUS_BY_FINISH_REASON = {"finished": "finished", "shutdown": "interrupted"}
RUN_ID_STAT = "newsarchive/run_id"
SKIPPED_STAT = "newsarchive/articles_skipped"
WARC_PATH_STAT = "newsarchive/warc_path"
SITE_LOCKED_STAT = "newsarchive/site_locked"
# Pages that were no article, by reason: REJECTED_STAT + the reason.
REJECTED_STAT = "newsarchive/rejected/"
RESPONSE_STATUS_STAT = "downloader/response_status_count/"
# How often a batch that is not full checks whether it has waited long enough, or holds the
# crawl up.
BATCH_CHECK_EVERY = 0.1
# Seconds between attempts to reach the archive database while it is down.
DB_RETRY_FIRST_DELAY = 0.5
DB_RETRY_MAX_DELAY = 10.0


def archive_writer(crawler: Crawler) -> ArchiveWriter:
    """The crawl's one writer to the archive (NEWSARCHIVE_DB), opened (and its schema
    brought up to date) by the first component that needs it."""
    writer = getattr(crawler, "newsarchive_writer", None)
    if writer is None:
        try:
            writer = ArchiveWriter(open_archive(crawler.settings.get("NEWSARCHIVE_DB")))
        except ArchiveUnavailable as exc:
            raise NotConfigured(str(exc)) from exc
        crawler.newsarchive_writer = writer
    return writer


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


@dataclass(slots=True)
class _Waiting:
    """A buffered article, and the process_item call that waits until it is stored."""

    item: ExtractedArticle
    done: asyncio.Future[None]

    def settle(self, error: BaseException | None = None) -> None:
        """The article was stored (no error), or it goes no further (the error is raised)."""
        if self.done.done():
            return
        if error is None:
            self.done.set_result(None)
        else:
            self.done.set_exception(error)


class StoragePipeline:
    """Stores the articles in batches and keeps the crawl run record current.

    An article waits in a buffer until NEWSARCHIVE_STORE_BATCH have gathered, or until
    NEWSARCHIVE_STORE_INTERVAL seconds after the first of them, or until the crawl waits
    for nothing else (see _holds_crawl_up), or until the crawl stops; then the buffer is
    stored in one transaction (ArchiveWriter.save_many), and only then does each article
    go on to later pipelines and feeds. So a killed crawl loses about that many seconds
    of articles, a stopped one (Ctrl-C) none.

    Fetch failures and unchanged revisits are recorded here and go no further, so a feed
    (`scrapy crawl portal -o items.jsonl`) holds the stored articles only. A page the
    archive cannot store is a recorded failure of that page. While the database cannot be
    reached the crawl pauses, and the pages it holds wait to be stored, for up to
    NEWSARCHIVE_DB_RETRY_FOR seconds; then the crawl stops as `database_error`.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.writer = archive_writer(crawler)
        settings = crawler.settings
        self.max_error_share = settings.getfloat("NEWSARCHIVE_MAX_ERROR_SHARE")
        self.retry_for = settings.getfloat("NEWSARCHIVE_DB_RETRY_FOR")
        self.update_interval = settings.getfloat("NEWSARCHIVE_RUN_UPDATE_INTERVAL")
        self.batch_size = settings.getint("NEWSARCHIVE_STORE_BATCH")
        self.batch_interval = settings.getfloat("NEWSARCHIVE_STORE_INTERVAL")
        self.run: RunRecorder | None = None
        self.interrupted = False
        self.outage_since: float | None = None
        # Articles waiting for their batch; batches waiting to be stored, in order; the
        # batch being stored (while the database is down, for as long as that lasts).
        self.buffer: list[_Waiting] = []
        self.buffered_at = 0.0
        self.queued: list[list[_Waiting]] = []
        self.storing: list[_Waiting] = []
        self.writing = False
        self.updates = create_looping_call(self._update_run)
        self.checks = create_looping_call(self._check_batch)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.stop_requested, signal=shutdown.stop_requested)
        crawler.signals.connect(self.stop_forced, signal=shutdown.stop_forced)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StoragePipeline:
        return cls(crawler)

    def open_spider(self) -> None:
        spider = self.crawler.spider
        sites = getattr(spider, "site_names", [])
        if hasattr(spider, "keep_drop_selectors"):
            spider.keep_drop_selectors(
                selector for site in sites for selector in self.writer.drop_selectors(site)
            )
        try:
            self.run = RunRecorder(self.writer, sites, lock=True)
        except SiteLocked as exc:
            logger.info("%s: not crawled", exc)
            self.crawler.stats.set_value(SITE_LOCKED_STAT, str(exc))
            raise CloseSpider("site_locked") from None
        self.crawler.stats.set_value(RUN_ID_STAT, self.run.run_id)
        self.updates.start(self.update_interval, now=False)
        self.checks.start(min(BATCH_CHECK_EVERY, self.batch_interval), now=False)

    async def process_item(self, item):
        if isinstance(item, ExtractedArticle):
            waiting = _Waiting(item, asyncio.get_running_loop().create_future())
            self._buffer(waiting)
            await waiting.done
            return item
        delay = DB_RETRY_FIRST_DELAY
        while True:
            try:
                self.store(item)
                break
            except ArchiveUnreachable as exc:
                if not self._outage_goes_on(exc):
                    raise DropItem(f"not stored, the archive database failed: {item.url}") from None
                await asyncio.sleep(delay)
                delay = min(delay * 2, DB_RETRY_MAX_DELAY)
        self._outage_over()
        raise DropItem(f"recorded: {item.url}", log_level="DEBUG")

    def _buffer(self, waiting: _Waiting) -> None:
        if not self.buffer:
            self.buffered_at = time.monotonic()
        self.buffer.append(waiting)
        logger.debug(
            "article waiting to be stored: %s (%d waiting)", waiting.item.url, len(self.buffer)
        )
        if len(self.buffer) >= self.batch_size or self._holds_crawl_up():
            self.flush()

    def _check_batch(self) -> None:
        if not self.buffer:
            return
        if time.monotonic() - self.buffered_at >= self.batch_interval or self._holds_crawl_up():
            self.flush()

    def _holds_crawl_up(self) -> bool:
        """Whether it is the batch that holds the crawl up: Scrapy fetches no more until
        some of its responses are done (it holds SCRAPER_SLOT_MAX_ACTIVE_SIZE of them) and
        the pages waiting here are at least half of those responses; or nothing is being
        fetched and every response Scrapy holds is a page waiting here (a crawl's last)."""
        engine = self.crawler.engine
        slot = getattr(getattr(engine, "scraper", None), "slot", None)
        if slot is None:
            return False
        if slot.needs_backout():
            return 2 * len(self.buffer) >= len(slot.queue) + len(slot.active)
        return (
            bool(slot.active)
            and len(slot.active) <= len(self.buffer)
            and not engine.downloader.active
        )

    def flush(self) -> None:
        """Store the buffered articles now, or right after the batch being stored."""
        if self.buffer:
            if self.queued and len(self.queued[-1]) + len(self.buffer) <= self.batch_size:
                self.queued[-1].extend(self.buffer)
            else:
                self.queued.append(self.buffer)
            self.buffer = []
        if self.queued and not self.writing:
            self.writing = True
            deferred_from_coro(self._store_queued())

    async def _store_queued(self) -> None:
        try:
            while self.queued:
                self.storing = self.queued.pop(0)
                await self._store_batch(self.storing)
        except Exception as exc:
            # A bug: whatever it left must not wait for ever.
            logger.exception("cannot store %d articles", len(self.storing))
            for waiting in (*self.storing, *(w for batch in self.queued for w in batch)):
                waiting.settle(exc)
            self.queued = []
        finally:
            self.storing = []
            self.writing = False

    async def _store_batch(self, batch: list[_Waiting]) -> None:
        """Store the batch, waiting for the database while it cannot be reached."""
        delay = DB_RETRY_FIRST_DELAY
        while True:
            # Stored meanwhile by the crawl's end, or no longer waited for.
            batch = [waiting for waiting in batch if not waiting.done.done()]
            if not batch:
                return
            try:
                results = self.writer.save_many([w.item for w in batch], self.run.run_id)
                break
            except ArchiveUnreachable as exc:
                if not self._outage_goes_on(exc):
                    for waiting in batch:
                        waiting.settle(
                            DropItem(f"not stored, the archive database failed: {waiting.item.url}")
                        )
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, DB_RETRY_MAX_DELAY)
            except Exception as exc:
                if len(batch) == 1:
                    batch[0].settle(exc)
                    return
                # Not the database's: one article's, most likely; only that one fails.
                logger.warning(
                    "cannot store a batch of %d articles (%s): storing them one by one",
                    len(batch),
                    exc,
                )
                for waiting in batch:
                    await self._store_batch([waiting])
                return
        self._outage_over()
        for waiting, result in zip(batch, results, strict=True):
            self._stored(waiting, result)

    def _stored(self, waiting: _Waiting, result: Outcome | ArticleRejected) -> None:
        item = waiting.item
        if isinstance(result, ArticleRejected):
            try:
                self._store_failure(FetchFailure(item.url, f"not stored: {result}"))
            except (ArchiveUnreachable, SQLAlchemyError) as exc:
                # The failure stays pending, to be written with the run's next update.
                logger.debug("cannot record the failed pages of the run: %s", exc)
            waiting.settle(DropItem(f"not stored, {result}: {item.url}"))
            return
        self.run.stored(result)
        self.run.figures.article(item)
        logger.info("%s article %s", result, item.canonical_url)
        waiting.settle()

    def _store_now(self) -> None:
        """The crawl ends now: one attempt to store every article still waiting."""
        batches = [self.storing, *self.queued, self.buffer]
        waiting = [w for batch in batches for w in batch if not w.done.done()]
        self.queued, self.buffer = [], []
        for start in range(0, len(waiting), self.batch_size):
            batch = waiting[start : start + self.batch_size]
            try:
                if self.outage_since is not None:
                    raise ArchiveUnreachable("the archive database is unreachable")
                results = self.writer.save_many([w.item for w in batch], self.run.run_id)
            except Exception as exc:
                logger.error("%d articles not stored: %s", len(batch), exc)
                for w in batch:
                    w.settle(DropItem(f"not stored, the crawl ended: {w.item.url}"))
                continue
            for w, result in zip(batch, results, strict=True):
                self._stored(w, result)

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
        """Record what is no article: an unchanged revisit, a page that failed."""
        if isinstance(item, KnownArticleUnchanged):
            if self.writer.mark_unchanged(item.url, item.fetched_at):
                self.run.stored(Outcome.UNCHANGED)
        elif isinstance(item, FetchFailure):
            self._store_failure(item)

    def _store_failure(self, failure: FetchFailure) -> None:
        if not failure.logged:
            logger.warning("failed: %s (%s)", failure.url, failure.reason)
        self.run.failed(failure)

    def stop_requested(self) -> None:
        """The crawl is being stopped: the run says so at once, whatever follows, and the
        articles waiting are stored."""
        self.interrupted = True
        self.flush()
        self._record("interrupted")

    def stop_forced(self) -> None:
        self._store_now()
        self._record("interrupted")

    def spider_closed(self, spider: Spider, reason: str) -> None:
        for calls in (self.updates, self.checks):
            if calls.running:
                calls.stop()
        if self.run is None:
            return
        self._store_now()
        if self.interrupted:
            status = "interrupted"
        else:
            status = run_status(
                reason, self.crawler.stats.get_stats(), self.run.failures, self.max_error_share
            )
        self._record(status)

    def _counts(self) -> RunCounts:
        stats = self.crawler.stats
        return self.run.counts(
            stats.get_value("response_received_count", 0),
            stats.get_value(SKIPPED_STAT, 0),
            stats.get_value("log_count/ERROR", 0),
        )

    def _update_run(self) -> None:
        """The run record tells how far the crawl has come, even if it is killed."""
        if self.run is None or self.outage_since is not None:
            return
        try:
            self.run.update(self._counts(), self.crawler.stats.get_value(WARC_PATH_STAT))
        except (ArchiveUnreachable, SQLAlchemyError) as exc:
            logger.debug("cannot record the counts of crawl run %s: %s", self.run.run_id, exc)

    def _record(self, status: str) -> None:
        if self.run is None:
            return
        self.run.figures.rejected = {
            key.removeprefix(REJECTED_STAT): count
            for key, count in self.crawler.stats.get_stats().items()
            if key.startswith(REJECTED_STAT)
        }
        try:
            self.run.finish(status, self._counts(), self.crawler.stats.get_value(WARC_PATH_STAT))
        except (ArchiveUnreachable, SQLAlchemyError) as exc:
            logger.error("cannot record the end of crawl run %s: %s", self.run.run_id, exc)
