"""Running crawls from Python (the `newsarchive` command uses this)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawler.profiles import SiteProfile
from crawler.spiders.portal import PortalSpider


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


class SettingError(ValueError):
    """An overridden setting whose value does not fit the setting."""


def crawl_settings(db_url: str, overrides: Mapping[str, str] = {}) -> Settings:
    """The project's settings with `overrides`; raises SettingError for a value of the wrong
    type, which Scrapy would only find once the crawl had started."""
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.set("NEWSARCHIVE_DB", db_url, priority="cmdline")
    for name, value in overrides.items():
        default = settings.get(name)
        settings.set(name, value, priority="cmdline")
        _check_type(settings, name, default)
    return settings


def check_overrides(overrides: Mapping[str, str]) -> None:
    """Raises SettingError for an override that does not fit its setting."""
    crawl_settings("", overrides)


def _check_type(settings: Settings, name: str, default: object) -> None:
    readers = (
        (bool, settings.getbool, "true or false"),
        (int, settings.getint, "a whole number"),
        (float, settings.getfloat, "a number"),
    )
    for kind, read, expected in readers:
        if isinstance(default, kind):
            try:
                read(name)
            except ValueError:
                value = settings.get(name)
                raise SettingError(f"setting {name}: {value!r} is not {expected}") from None
            return


def run_crawl(targets: Iterable[CrawlTarget], settings: Settings) -> None:
    """Crawl every target in one process; blocks until all have finished or were stopped."""
    process = CrawlerProcess(settings)
    for target in targets:
        process.crawl(
            PortalSpider,
            start_urls=list(target.start_urls),
            site=target.site,
            allowed_domains=list(target.allowed_domains) or None,
            exclude=list(target.exclude_url_patterns),
            article_url_pattern=target.article_url_pattern,
            timezone=target.timezone,
            drop_selectors=list(target.drop_selectors),
        )
    process.start()
