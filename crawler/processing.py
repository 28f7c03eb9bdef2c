"""The crawl's page processor: pipelines.page.process_page over each fetched page, in the
crawl process or in worker processes."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from scrapy import signals
from scrapy.crawler import Crawler

from crawler import shutdown
from pipelines.boilerplate import SiteTemplate
from pipelines.page import (
    DEFAULT_LIMITS,
    Page,
    PageLimits,
    PageResult,
    SiteOptions,
    process_page,
)
from pipelines.workers import PAGES_AHEAD, start_fork_server, worker_pool

WORKER_ATTEMPTS = 2
STOPPED = "the crawl was stopped"
# A site's first pages go to the workers one at a time, so that its template forms as it
# would in one process: the pages in flight at once cannot learn from each other.
TEMPLATE_WARM_UP = 16

logger = logging.getLogger(__name__)


def _workers(pool: ProcessPoolExecutor) -> list[multiprocessing.Process]:
    """The worker processes of `pool`: killing one is the only way to take a page back."""
    return list((pool._processes or {}).values())


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    for process in _workers(pool):
        process.kill()


class PageProcessor:
    """Processes the crawl's pages; each worker parses and extracts a page and returns its
    article, links, listing dates and block fingerprints, so that this process only
    schedules, writes the WARC and stores.

    NEWSARCHIVE_PAGE_WORKERS sets the number of workers (0: in the crawl process). A page
    that keeps its worker longer than NEWSARCHIVE_PAGE_TIME_BUDGET seconds is skipped and
    the worker replaced; a worker that dies (killed, out of memory) takes its pages with
    it: they are tried once more, and a page that kills a worker twice is skipped.
    """

    def __init__(
        self, workers: int = 0, time_budget: float = 30.0, limits: PageLimits = DEFAULT_LIMITS
    ) -> None:
        self.workers = workers
        self.time_budget = time_budget
        self.limits = limits
        self.pool: ProcessPoolExecutor | None = None
        self.slots: asyncio.Semaphore | None = None
        self.warming: asyncio.Lock | None = None
        self.stopping = False
        self.stopped_workers: list[multiprocessing.Process] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PageProcessor:
        settings = crawler.settings
        processor = cls(
            settings.getint("NEWSARCHIVE_PAGE_WORKERS"),
            settings.getfloat("NEWSARCHIVE_PAGE_TIME_BUDGET"),
            PageLimits(
                settings.getint("NEWSARCHIVE_MAX_PAGE_TAGS"),
                settings.getint("NEWSARCHIVE_MAX_LINKS_PER_PAGE"),
            ),
        )
        if processor.workers > 0:
            start_fork_server()
        crawler.signals.connect(processor.open, signal=signals.spider_opened)
        crawler.signals.connect(processor.close, signal=signals.spider_closed)
        crawler.signals.connect(processor.stop_requested, signal=shutdown.stop_requested)
        crawler.signals.connect(processor.stop_forced, signal=shutdown.stop_forced)
        return processor

    def open(self) -> None:
        if self.workers > 0:
            self.pool = self._new_pool()
            self.slots = asyncio.Semaphore(self.workers * PAGES_AHEAD)
            self.warming = asyncio.Lock()

    def _new_pool(self) -> ProcessPoolExecutor:
        return worker_pool(self.workers)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None

    def stop_requested(self) -> None:
        """Pages that no worker has started on are given up; those started may finish."""
        self.stopping = True
        if self.pool is not None:
            self.stopped_workers = _workers(self.pool)
            self.pool.shutdown(wait=False, cancel_futures=True)

    def stop_forced(self) -> None:
        """The crawl is abandoned: so are the pages the workers hold."""
        workers = self.stopped_workers or (_workers(self.pool) if self.pool else [])
        for process in workers:
            process.kill()

    async def process(self, page: Page, site: SiteOptions, template: SiteTemplate) -> PageResult:
        """The page processed with its site's template as it stands when a worker takes the
        page, which then learns from the page."""
        if self.pool is None:
            result = process_page(page, site, template.view(page.url), self.limits)
        elif template.pages < TEMPLATE_WARM_UP:
            async with self.warming:
                result = await self._by_worker(page, site, template)
        else:
            async with self.slots:
                result = await self._by_worker(page, site, template)
        template.learn(page.url, result.blocks)
        return result

    async def _by_worker(self, page: Page, site: SiteOptions, template: SiteTemplate) -> PageResult:
        for attempt in range(WORKER_ATTEMPTS):
            pool = self.pool
            if self.stopping or pool is None:
                return PageResult(None, STOPPED)
            try:
                future = pool.submit(process_page, page, site, template.view(page.url), self.limits)
                return await asyncio.wait_for(asyncio.wrap_future(future), self.time_budget)
            except BrokenProcessPool:
                logger.warning("a page worker died on %s (attempt %d)", page.url, attempt + 1)
                self._replace(pool)
            except TimeoutError:
                logger.warning(
                    "%s took over %g s (NEWSARCHIVE_PAGE_TIME_BUDGET): skipped, its worker "
                    "replaced",
                    page.url,
                    self.time_budget,
                )
                _kill_workers(pool)
                self._replace(pool)
                return PageResult(None, f"its extraction took over {self.time_budget:g} s")
            except RuntimeError:
                return PageResult(None, STOPPED)
            except asyncio.CancelledError:
                if not future.cancelled():
                    raise
                return PageResult(None, STOPPED)
        return PageResult(None, "a page worker died on it twice")

    def _replace(self, pool: ProcessPoolExecutor) -> None:
        """A new pool for one that broke; its pages in flight are tried again there."""
        if self.pool is pool and not self.stopping:
            pool.shutdown(wait=False)
            self.pool = self._new_pool()
