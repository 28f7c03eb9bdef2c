"""Running crawls from Python (the `newsarchive` command uses this)."""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings
from twisted.python.failure import Failure

from crawler.settings_check import SettingError as SettingError
from crawler.settings_check import check_storage, checked_value
from crawler.shutdown import CrawlStopper
from crawler.spiders.portal import PortalSpider
from crawler.storage import RUN_ID_STAT, SITE_LOCKED_STAT
from pipelines.page import SiteOptions

logger = logging.getLogger(__name__)


def crawl_settings(db_url: str, overrides: Mapping[str, object] = {}) -> Settings:
    """The project's settings with `overrides`; raises SettingError for an unknown setting or
    a value that cannot work, which Scrapy would only find once the crawl had started, if
    at all."""
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.set("NEWSARCHIVE_DB", db_url, priority="cmdline")
    for name, value in overrides.items():
        settings.set(name, checked_value(name, value, settings.get(name)), priority="cmdline")
    check_storage(settings)
    return settings


def check_overrides(overrides: Mapping[str, object]) -> None:
    """Raises SettingError for an override that does not fit its setting."""
    crawl_settings("", overrides)


@dataclass(frozen=True, slots=True)
class CrawlResult:
    """What a crawl leaves: the ids of the runs it recorded (one per target that started),
    and whether it was abandoned (a second Ctrl-C, or pages in flight that did not finish
    within NEWSARCHIVE_STOP_GRACE seconds of the first): the caller should then exit at
    once, without waiting for what is still running. `locked` says, for each target that
    another run was crawling, by which run (see archive.locks)."""

    run_ids: tuple[int, ...]
    abandoned: bool
    locked: tuple[str, ...] = ()


def _did_not_start(failure: Failure, site: SiteOptions) -> None:
    """Said at once, in a line (Twisted would say it with a traceback, and only once the
    failure is garbage collected, which may be never before the process ends)."""
    logger.error("the crawl of %s did not start: %s", site.name or "the site", failure.value)


def run_crawl(sites: Iterable[SiteOptions], settings: Settings) -> CrawlResult:
    """Crawl every site in one process; blocks until all have finished or were stopped.

    Page workers (NEWSARCHIVE_PAGE_WORKERS) never run the caller's main module, so a
    script may call this without an `if __name__ == "__main__":` guard.
    """
    process = CrawlerProcess(settings)
    crawlers = []
    for site in sites:
        crawler = process.create_crawler(PortalSpider)
        crawlers.append(crawler)
        process.crawl(crawler, options=site).addErrback(_did_not_start, site)
    stopper = CrawlStopper(process, settings.getfloat("NEWSARCHIVE_STOP_GRACE"))
    stopper.install()
    # What the process holds by now (its modules above all) lives as long as the crawl:
    # kept out of the collector's sight, it costs no time in each full collection.
    gc.freeze()
    process.start(install_signal_handlers=False)
    run_ids = (crawler.stats.get_value(RUN_ID_STAT) for crawler in crawlers)
    locked = (crawler.stats.get_value(SITE_LOCKED_STAT) for crawler in crawlers)
    return CrawlResult(
        tuple(run_id for run_id in run_ids if run_id),
        stopper.forced,
        tuple(holder for holder in locked if holder),
    )
