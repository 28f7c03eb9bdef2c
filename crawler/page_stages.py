"""The crawl's item pipeline for the per-page stages, in this process or in workers."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from crawler import shutdown
from crawler.items import ArticleItem
from pipelines.page import staged_item

PARENT_CHECK_INTERVAL = 1.0
WORKER_ATTEMPTS = 2
STOPPED = "the crawl was stopped"

logger = logging.getLogger(__name__)


def not_stored(item: ArticleItem, reason: str) -> DropItem:
    """What a pipeline raises for a page it does not store, with the reason in the log."""
    return DropItem(f"not stored, {reason}: {item.url}")


def _prepare_worker(crawl_pid: int) -> None:
    """Ctrl-C is the crawl's to handle (it lets the workers finish the pages they hold), and
    a worker must not outlive a crawl that was killed outright."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(crawl_pid,), daemon=True).start()


def _exit_with_parent(crawl_pid: int) -> None:
    while os.getppid() == crawl_pid:
        time.sleep(PARENT_CHECK_INTERVAL)
    os._exit(1)


def _workers(pool: ProcessPoolExecutor) -> list[multiprocessing.Process]:
    """The worker processes of `pool`: killing one is the only way to take a page back."""
    return list((pool._processes or {}).values())


class PageStagesPipeline:
    """Runs the per-page stages (PAGE_STAGES) over each page.

    With NEWSARCHIVE_PAGE_WORKERS = N > 0 they run in N worker processes, so that the
    parsing and extraction of pages use every core while this process fetches and stores.
    A worker parses the page again: parsed trees cannot cross processes. A page that keeps
    its worker longer than NEWSARCHIVE_PAGE_TIME_BUDGET seconds is skipped and the worker
    replaced, so that no page can hold up the crawl.
    """

    def __init__(self, workers: int = 0, time_budget: float = 30.0) -> None:
        self.workers = workers
        self.time_budget = time_budget
        self.pool: ProcessPoolExecutor | None = None
        self.stopping: list[multiprocessing.Process] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PageStagesPipeline:
        settings = crawler.settings
        pipeline = cls(
            settings.getint("NEWSARCHIVE_PAGE_WORKERS"),
            settings.getfloat("NEWSARCHIVE_PAGE_TIME_BUDGET"),
        )
        crawler.signals.connect(pipeline.stop_requested, signal=shutdown.stop_requested)
        crawler.signals.connect(pipeline.stop_forced, signal=shutdown.stop_forced)
        return pipeline

    def stop_requested(self) -> None:
        """Pages that no worker has started on are given up; those started may finish."""
        if self.pool is not None:
            self.stopping = _workers(self.pool)
            self.pool.shutdown(wait=False, cancel_futures=True)

    def stop_forced(self) -> None:
        """The crawl is abandoned: so are the pages the workers hold."""
        for process in self.stopping or (_workers(self.pool) if self.pool else []):
            process.kill()

    def open_spider(self) -> None:
        if self.workers > 0:
            self.pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_prepare_worker,
            initargs=(os.getpid(),),
        )

    def close_spider(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None

    async def _staged_by_worker(self, item: ArticleItem) -> tuple[ArticleItem, str | None]:
        """A worker that dies (killed, out of memory) takes its pages with it: the pool is
        replaced and the page tried once more; a page that kills a worker twice is skipped.
        A page still waiting for a worker when the crawl is stopped is given up."""
        for attempt in range(WORKER_ATTEMPTS):
            pool = self.pool
            try:
                future = pool.submit(staged_item, item)
                return await asyncio.wait_for(asyncio.wrap_future(future), self.time_budget)
            except BrokenProcessPool:
                logger.warning("a page worker died on %s (attempt %d)", item.url, attempt + 1)
                self._replace(pool)
            except TimeoutError:
                logger.warning(
                    "%s took over %g s (NEWSARCHIVE_PAGE_TIME_BUDGET): skipped, its worker "
                    "replaced",
                    item.url,
                    self.time_budget,
                )
                for process in _workers(pool):
                    process.kill()
                self._replace(pool)
                return item, f"its extraction took over {self.time_budget:g} s"
            except RuntimeError:
                return item, STOPPED
            except asyncio.CancelledError:
                if not future.cancelled():
                    raise
                return item, STOPPED
        return item, "a page worker died on it twice"

    def _replace(self, pool: ProcessPoolExecutor) -> None:
        """A new pool for one that broke; its pages in flight are tried again there."""
        if self.pool is pool:
            pool.shutdown(wait=False)
            self.pool = self._new_pool()

    async def process_item(self, item: object) -> object:
        if not isinstance(item, ArticleItem):
            return item
        if self.pool is None:
            item, rejection = staged_item(item)
        else:
            item.tree = None
            item, rejection = await self._staged_by_worker(item)
        if rejection:
            raise not_stored(item, rejection)
        return item
