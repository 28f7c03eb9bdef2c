"""Running crawls from Python (the `newsarchive` command uses this)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawler.profiles import SiteProfile
from crawler.settings_check import SettingError as SettingError
from crawler.settings_check import check_storage, checked_value
from crawler.shutdown import CrawlStopper
from crawler.spiders.portal import PortalSpider
from crawler.storage import RUN_ID_STAT


@dataclass(frozen=True, slots=True)
class CrawlTarget:
    """What one spider run covers: a site name, where to start, which hosts to stay in."""

    site: str
    start_urls: tuple[str, ...]
    allowed_domains: tuple[str, ...] = ()
    article_url_pattern: str | None = None
    exclude_url_patterns: tuple[str, ...] = ()
    timezone: str = "Europe/Moscow"
    drop_selectors: tuple[str, ...] = ()

    @classmethod
    def from_profile(cls, profile: SiteProfile) -> CrawlTarget:
        return cls(
            profile.name,
            tuple(profile.all_start_urls),
            profile.allowed_domains,
            profile.article_url_pattern,
            profile.exclude_url_patterns,
            profile.timezone,
            profile.drop_selectors,
        )


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
    once, without waiting for what is still running."""

    run_ids: tuple[int, ...]
    abandoned: bool


def run_crawl(targets: Iterable[CrawlTarget], settings: Settings) -> CrawlResult:
    """Crawl every target in one process; blocks until all have finished or were stopped."""
    process = CrawlerProcess(settings)
    crawlers = []
    for target in targets:
        crawler = process.create_crawler(PortalSpider)
        crawlers.append(crawler)
        process.crawl(
            crawler,
            start_urls=list(target.start_urls),
            site=target.site,
            allowed_domains=list(target.allowed_domains) or None,
            exclude=list(target.exclude_url_patterns),
            article_url_pattern=target.article_url_pattern,
            timezone=target.timezone,
            drop_selectors=list(target.drop_selectors),
        )
    stopper = CrawlStopper(process, settings.getfloat("NEWSARCHIVE_STOP_GRACE"))
    stopper.install()
    process.start(install_signal_handlers=False)
    run_ids = (crawler.stats.get_value(RUN_ID_STAT) for crawler in crawlers)
    return CrawlResult(tuple(run_id for run_id in run_ids if run_id), stopper.forced)
