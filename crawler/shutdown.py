"""Ctrl-C and SIGTERM for crawls: the first stops the crawl within a grace period, the
second at once; either way every run is recorded as `interrupted`.

Scrapy's own handlers stop gracefully, which means fetching every request already queued
at the politeness delay and extracting every page already handed to a worker; and the
second signal stops the reactor before the run is recorded. The reactor is imported where
it is used: Scrapy installs the one it is configured for when the crawl starts.
"""

from __future__ import annotations

import logging
import signal

from scrapy.crawler import CrawlerProcess
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.defer import deferred_from_coro
from twisted.python.failure import Failure

logger = logging.getLogger(__name__)

# Sent to every crawler once, on the first signal: stop taking work, keep what is done.
stop_requested = object()
# Sent to every crawler when the grace period is over (or on the second signal), just
# before the crawl is abandoned: whatever must be recorded is recorded now.
stop_forced = object()

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class CrawlStopper:
    """Installs the crawl's signal handlers; `forced` tells whether the crawl was abandoned."""

    def __init__(self, process: CrawlerProcess, grace: float) -> None:
        self.process = process
        self.grace = grace
        self.signals_received = 0
        self.forced = False

    def install(self) -> None:
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, _frame) -> None:
        from twisted.internet import reactor

        self.signals_received += 1
        if self.signals_received == 1:
            reactor.callFromThread(self._stop, signal.Signals(signum).name)
        else:
            reactor.callFromThread(self._force)

    def _stop(self, signame: str) -> None:
        from twisted.internet import reactor

        logger.warning(
            "%s: stopping the crawl within %g s (send it again to stop at once)",
            signame,
            self.grace,
        )
        for crawler in list(self.process.crawlers):
            crawler.signals.send_catch_log(stop_requested)
            engine = crawler.engine
            if engine is None or engine.spider is None:
                continue
            _drop_queued_downloads(engine.downloader)
            deferred_from_coro(engine.close_spider_async(reason="shutdown"))
        reactor.callLater(self.grace, self._force)

    def _force(self) -> None:
        from twisted.internet import reactor

        if self.forced:
            return
        self.forced = True
        for crawler in list(self.process.crawlers):
            crawler.signals.send_catch_log(stop_forced)
        reactor.crash()


def _drop_queued_downloads(downloader) -> None:
    """Requests waiting in the downloader for their politeness delay are given up on;
    only those already being transferred still finish."""
    for slot in downloader.slots.values():
        while slot.queue:
            _request, waiting = slot.queue.popleft()
            waiting.errback(Failure(IgnoreRequest("the crawl was stopped")))
