"""The spider that walks a news portal and hands every HTML page to the pipelines."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import AsyncIterator, Iterable, Iterator
from functools import lru_cache
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from scrapy import Request, Spider
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from archive.runs import reason_kind
from archive.store import FetchFailure
from crawler.discovery import feed_entries, is_feed, robots_sitemaps, sitemap_content
from crawler.items import KnownArticleUnchanged
from crawler.middlewares import (
    ROBOTS_TXT,
    UNREACHABLE_ERRORS,
    WARC_LOCATION,
    HostUnreachable,
    RedirectLoop,
    RedirectOffsite,
    robots_txt_sitemaps,
)
from crawler.processing import PageProcessor
from crawler.storage import REJECTED_STAT
from pipelines.boilerplate import SiteTemplate
from pipelines.links import PageLinks
from pipelines.page import Page, SiteOptions
from pipelines.urls import canonical_url, is_http_url, is_within_domains, site_name_for, split_url

LISTING_DATE = "newsarchive_listing_date"
NOT_ARTICLES_STAT = "newsarchive/pages_not_articles"
SPIDER_ARGUMENTS = (
    "start_urls",
    "site",
    "allowed_domains",
    "exclude",
    "article_url_pattern",
    "timezone",
    "drop_selectors",
)
DEFAULT_PORTS = {"http": 80, "https": 443}
# Request priorities: higher ones are fetched first.
LINKED = 1
FROM_SITEMAP = 0


def _as_list(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part for part in value.split(",") if part]
    return list(value)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@lru_cache(maxsize=65536)
def _port(url: str) -> int | None:
    """The port a URL names; None for the scheme's default (80 or 443, which count as one
    so that a portal may move between http and https)."""
    parts = split_url(url)
    if parts is None:
        return -1
    port = parts.port
    return None if port == DEFAULT_PORTS.get(parts.scheme) else port


def _allowed_ports(start_urls: Iterable[str]) -> frozenset[int | None]:
    return frozenset(_port(url) for url in start_urls)


def site_options(
    start_urls: str | Iterable[str] | None = None,
    site: str | None = None,
    allowed_domains: str | Iterable[str] | None = None,
    exclude: str | Iterable[str] | None = None,
    article_url_pattern: str | None = None,
    timezone: str = "Europe/Moscow",
    drop_selectors: str | Iterable[str] | None = None,
) -> SiteOptions:
    """The options of a site given as spider arguments (lists as comma-separated strings)."""
    return SiteOptions(
        name=site or "",
        start_urls=tuple(_as_list(start_urls)),
        allowed_domains=tuple(_as_list(allowed_domains)),
        article_url_pattern=article_url_pattern or None,
        exclude_url_patterns=tuple(_as_list(exclude)),
        timezone=timezone,
        drop_selectors=tuple(_as_list(drop_selectors)),
    )


def _completed(options: SiteOptions) -> SiteOptions:
    """The options with canonical start URLs, and the site's name and hosts where none were
    given: those of the first start URL, and of all start URLs."""
    start_urls = tuple(canonical_url(url) for url in options.start_urls)
    if not start_urls:
        raise ValueError("no start URL given")
    for url in start_urls:
        if not is_http_url(url):
            raise ValueError(f"not an http(s) URL: {url!r}")
    return dataclasses.replace(
        options,
        start_urls=start_urls,
        name=options.name or site_name_for(start_urls[0]),
        allowed_domains=options.allowed_domains
        or tuple(sorted({urlsplit(url).hostname.removeprefix("www.") for url in start_urls})),
    )


class PortalSpider(Spider):
    """Finds a portal's pages through its links, feeds and sitemaps, staying on its hosts,
    and hands every page to the page processor (crawler.processing).

    The site is given as `options` (a SiteOptions), or as spider arguments
    (`scrapy crawl portal -a start_urls=URL,URL -a site=NAME`, see site_options):
    start_urls, site (the archive's name for the site), allowed_domains, exclude (regular
    expressions of URLs never to request), article_url_pattern (a regular expression;
    when given, only matching pages can be articles), timezone (the site's, for
    publication dates; Moscow by default), drop_selectors (CSS selectors of blocks to
    remove before extraction).
    """

    name = "portal"

    def __init__(self, options: SiteOptions | None = None, **kwargs) -> None:
        arguments = {key: kwargs.pop(key) for key in SPIDER_ARGUMENTS if key in kwargs}
        super().__init__(**kwargs)
        self.options = _completed(options or site_options(**arguments))
        self.start_urls = list(self.options.start_urls)
        self.allowed_domains = list(self.options.allowed_domains)
        self.site = self.options.name
        self.site_names = [self.site]
        self.exclude = [re.compile(pattern) for pattern in self.options.exclude_url_patterns]
        self.site_tz = ZoneInfo(self.options.timezone)
        self.allowed_ports = _allowed_ports(self.start_urls)
        self.template = SiteTemplate()
        self.links_seen: set[str] = set()
        self.sitemaps_requested = 0
        self.sitemap_pages = 0
        self.caps_reached: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs) -> PortalSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        spider.max_links = settings.getint("NEWSARCHIVE_MAX_LINKS_PER_PAGE")
        spider.max_sitemaps = settings.getint("NEWSARCHIVE_MAX_SITEMAPS")
        spider.max_sitemap_pages = settings.getint("NEWSARCHIVE_MAX_SITEMAP_URLS")
        spider.processor = PageProcessor.from_crawler(crawler)
        return spider

    def keep_drop_selectors(self, selectors: Iterable[str]) -> None:
        """Remove these blocks too (the archive keeps them with the site)."""
        merged = tuple(dict.fromkeys([*self.options.drop_selectors, *selectors]))
        self.options = dataclasses.replace(self.options, drop_selectors=merged)

    def cap_reached(self, setting: str, detail: str) -> None:
        """Logs, once per crawl, that a limit on what one page or site may cost was hit."""
        if setting not in self.caps_reached:
            self.caps_reached.add(setting)
            self.logger.warning("%s: %s (the limit is %s)", detail, setting, self.settings[setting])

    def in_scope(self, url: str) -> bool:
        """Whether `url` is on the portal: on its hosts, and on the port of a start URL
        (another port of the same host is another site)."""
        return is_within_domains(url, self.allowed_domains) and _port(url) in self.allowed_ports

    async def start(self) -> AsyncIterator[Request]:
        """The start URLs, and each origin's guessed /sitemap.xml; the sitemaps robots.txt
        names come from the robots.txt that the robots middleware reads (robots_read), or
        from a request of its own where robots.txt is not obeyed."""
        obeyed = self.settings.getbool("ROBOTSTXT_OBEY")
        if obeyed:
            self.crawler.signals.connect(self.robots_read, signal=robots_txt_sitemaps)
        for origin in dict.fromkeys(_origin(url) for url in self.start_urls):
            if not obeyed:
                yield Request(
                    f"{origin}/robots.txt",
                    callback=self.parse_robots,
                    errback=self.failed_quietly,
                    meta={"download_maxsize": 0, ROBOTS_TXT: 0},
                )
            for request in self.sitemap_requests([f"{origin}/sitemap.xml"]):
                yield request
        for url in self.start_urls:
            yield Request(url, callback=self.parse, errback=self.failed)

    def robots_read(self, origin: str, sitemaps: list[str]) -> None:
        for request in self.robots_sitemap_requests(sitemaps):
            self.crawler.engine.crawl(request)

    def wanted(self, url: str) -> bool:
        """Whether `url` is on the portal and not excluded; Scrapy's duplicate filter drops
        URLs requested before in any variant (crawler.fingerprints)."""
        return self.in_scope(url) and not any(pattern.search(url) for pattern in self.exclude)

    def page_request(
        self, url: str, listing_date: dt.date | None = None, priority: int = LINKED
    ) -> Request:
        """A request for a page. Pages linked from the portal's pages and feeds come before
        those only its sitemaps list: a sitemap may list thousands of old pages."""
        meta = {LISTING_DATE: listing_date} if listing_date else {}
        return Request(url, callback=self.parse, errback=self.failed, meta=meta, priority=priority)

    def sitemap_request(self, url: str) -> Request:
        return Request(url, callback=self.parse_sitemap, errback=self.failed_quietly)

    def sitemap_requests(self, urls: Iterable[str], share: int | None = None) -> Iterator[Request]:
        """Requests for the sitemaps among `urls` on the portal, up to the crawl's limit,
        and up to `share` of them."""
        taken = 0
        for url in urls:
            if not self.in_scope(url):
                continue
            if self.sitemaps_requested >= self.max_sitemaps or taken == share:
                self.cap_reached("NEWSARCHIVE_MAX_SITEMAPS", "more sitemaps than are read")
                return
            self.sitemaps_requested += 1
            taken += 1
            yield self.sitemap_request(url)

    def parse_robots(self, response: Response):
        body = response.body[: self.settings.getint("NEWSARCHIVE_MAX_ROBOTS_BYTES")]
        yield from self.robots_sitemap_requests(robots_sitemaps(body, response.url))

    def robots_sitemap_requests(self, urls: Iterable[str]) -> Iterator[Request]:
        """The sitemaps robots.txt names: a tenth of the crawl's share at most, so that a
        robots.txt of junk leaves room for the sitemaps that sitemap indexes list."""
        yield from self.sitemap_requests(urls, share=max(1, self.max_sitemaps // 10))

    def parse_sitemap(self, response: Response):
        budget = self.max_sitemap_pages - self.sitemap_pages
        content = sitemap_content(response.body, max(budget, self.max_sitemaps))
        yield from self.sitemap_requests(content.sitemaps)
        pages = content.pages[: max(budget, 0)]
        if content.truncated or len(pages) < len(content.pages):
            self.cap_reached(
                "NEWSARCHIVE_MAX_SITEMAP_URLS", "sitemaps list more pages than are read"
            )
        self.sitemap_pages += len(pages)
        for url in pages:
            if self.wanted(url):
                yield self.page_request(url, priority=FROM_SITEMAP)

    def parse_feed(self, response: Response):
        for entry in feed_entries(response.body, response.url):
            if self.wanted(entry.url):
                published = (
                    entry.published.astimezone(self.site_tz).date() if entry.published else None
                )
                yield self.page_request(entry.url, published)

    async def parse(self, response: Response):
        if response.status == 304:
            yield KnownArticleUnchanged(url=response.url, fetched_at=dt.datetime.now(dt.UTC))
            return
        content_type = response.headers.get("Content-Type", b"").decode("latin-1")
        if is_feed(response.body, content_type):
            for request in self.parse_feed(response):
                yield request
            return
        if "html" not in content_type.lower() and content_type:
            self.logger.info("not HTML (%s), skipped: %s", content_type, response.url)
            return
        page = Page(
            url=response.url,
            body=response.body,
            content_type=content_type or None,
            requested_urls=tuple(response.request.meta.get("redirect_urls", ())),
            etag=_header(response, b"ETag"),
            last_modified=_header(response, b"Last-Modified"),
            listing_published=response.meta.get(LISTING_DATE),
            warc_location=response.meta.get(WARC_LOCATION),
        )
        result = await self.processor.process(page, self.options, self.template)
        for request in self.follow_links(result.links, result.listing_dates, response.url):
            yield request
        if result.oversized:
            self.cap_reached("NEWSARCHIVE_MAX_PAGE_TAGS", f"{response.url} is too large an article")
        elif result.rejection:
            self.crawler.stats.inc_value(REJECTED_STAT + reason_kind(result.rejection))
            if result.article is None:
                self.logger.info("%s, skipped: %s", result.rejection, response.url)
            else:
                self.crawler.stats.inc_value(NOT_ARTICLES_STAT)
                self.logger.debug("not an article, %s: %s", result.rejection, response.url)
        else:
            yield result.article

    def follow_links(self, links: PageLinks, dates: dict[str, dt.date], url: str):
        """Requests for the pages and feeds a page links to, with the date that stands by
        each link (a listing's teasers)."""
        if links.truncated:
            self.cap_reached(
                "NEWSARCHIVE_MAX_LINKS_PER_PAGE", f"{url} has more links than are read"
            )
        for feed in self._new(links.feeds):
            yield Request(feed, callback=self.parse_feed, errback=self.failed)
        for link in self._new(links.pages):
            yield self.page_request(link, dates.get(link))

    def _new(self, links: list[str]) -> Iterator[str]:
        """The wanted links among `links` not seen on an earlier page. Every page repeats
        the menus, and a request made only for the duplicate filter to drop it costs more
        than the rest of the page's work in this process; variants of a URL are still
        the duplicate filter's to drop."""
        for link in links:
            if link not in self.links_seen:
                self.links_seen.add(link)
                if self.wanted(link):
                    yield link

    def failed(self, failure: Failure):
        """Records pages that could not be fetched; refusals on purpose are no failures."""
        request = failure.request
        url = [*request.meta.get("redirect_urls", ()), request.url][0]
        if failure.check(HttpError):
            response = failure.value.response
            yield FetchFailure(url, f"HTTP {response.status}", response.status)
        elif failure.check(RedirectLoop, RedirectOffsite):
            yield FetchFailure(url, str(failure.value))
        elif failure.check(IgnoreRequest):
            if "max redirections" in str(failure.value):
                yield FetchFailure(url, "redirect chain too long")
        elif failure.check(HostUnreachable, *UNREACHABLE_ERRORS):
            yield FetchFailure(url, str(failure.value), logged=True)
        else:
            yield FetchFailure(url, f"{failure.type.__name__}: {failure.value}")

    def failed_quietly(self, failure: Failure) -> None:
        """Optional resources (a guessed /sitemap.xml) may well be missing."""


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
