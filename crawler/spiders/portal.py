"""The spider that walks a news portal and hands every HTML page to the pipelines."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator, Iterable, Iterator
from functools import lru_cache
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from lxml.html import HtmlElement
from scrapy import Request, Spider
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawler.discovery import (
    feed_entries,
    is_feed,
    page_links,
    robots_sitemaps,
    sitemap_content,
)
from crawler.items import ArticleItem, FetchFailure, KnownArticleUnchanged
from crawler.middlewares import (
    ROBOTS_TXT,
    UNREACHABLE_ERRORS,
    WARC_LOCATION,
    HostUnreachable,
    RedirectLoop,
    RedirectOffsite,
)
from pipelines.dates import listing_dates
from pipelines.encoding import decode_html
from pipelines.html import parse_html, too_many_tags
from pipelines.urls import (
    canonical_url,
    is_http_url,
    is_within_domains,
    site_name_for,
    split_url,
    url_key,
)

LISTING_DATE = "newsarchive_listing_date"
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


class PortalSpider(Spider):
    """Finds a portal's pages through its links, feeds and sitemaps, staying on its hosts.

    Arguments (also as `scrapy crawl portal -a start_urls=URL,URL -a site=NAME`):
    start_urls, site (the archive's name for the site), allowed_domains,
    exclude (regular expressions of URLs never to request), article_url_pattern
    (a regular expression; when given, only matching pages can be articles), timezone
    (the site's, for publication dates; Moscow by default), drop_selectors (CSS selectors
    of blocks to remove before extraction).
    """

    name = "portal"

    def __init__(
        self,
        start_urls: str | Iterable[str] | None = None,
        site: str | None = None,
        allowed_domains: str | Iterable[str] | None = None,
        exclude: str | Iterable[str] | None = None,
        article_url_pattern: str | None = None,
        timezone: str = "Europe/Moscow",
        drop_selectors: str | Iterable[str] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.start_urls = [canonical_url(url) for url in _as_list(start_urls)]
        if not self.start_urls:
            raise ValueError("no start URL given")
        for url in self.start_urls:
            if not is_http_url(url):
                raise ValueError(f"not an http(s) URL: {url!r}")
        self.allowed_domains = _as_list(allowed_domains) or sorted(
            {urlsplit(url).hostname.removeprefix("www.") for url in self.start_urls}
        )
        self.site = site or site_name_for(self.start_urls[0])
        self.site_names = [self.site]
        self.exclude = [re.compile(pattern) for pattern in _as_list(exclude)]
        self.article_url_pattern = re.compile(article_url_pattern) if article_url_pattern else None
        self.timezone = timezone
        self.site_tz = ZoneInfo(timezone)
        self.drop_selectors = tuple(_as_list(drop_selectors))
        self.allowed_ports = _allowed_ports(self.start_urls)
        self.seen_keys: set[str] = set()
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
        spider.max_tags = settings.getint("NEWSARCHIVE_MAX_PAGE_TAGS")
        return spider

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
        for origin in dict.fromkeys(_origin(url) for url in self.start_urls):
            yield Request(
                f"{origin}/robots.txt",
                callback=self.parse_robots,
                errback=self.failed,
                meta={"download_maxsize": 0, ROBOTS_TXT: 0},
            )
            for request in self.sitemap_requests([f"{origin}/sitemap.xml"]):
                yield request
        for url in self.start_urls:
            yield Request(url, callback=self.parse, errback=self.failed)

    def wanted(self, url: str) -> bool:
        """Whether `url` is on the portal, not excluded and not requested yet (in any variant)."""
        if not self.in_scope(url):
            return False
        if any(pattern.search(url) for pattern in self.exclude):
            return False
        key = url_key(url)
        if key in self.seen_keys:
            return False
        self.seen_keys.add(key)
        return True

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
        """The sitemaps robots.txt names: a tenth of the crawl's share at most, so that a
        robots.txt of junk leaves room for the sitemaps that sitemap indexes list."""
        body = response.body[: self.settings.getint("NEWSARCHIVE_MAX_ROBOTS_BYTES")]
        urls = robots_sitemaps(body, response.url)
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

    def parse(self, response: Response):
        if response.status == 304:
            yield KnownArticleUnchanged(url=response.url, fetched_at=dt.datetime.now(dt.UTC))
            return
        content_type = response.headers.get("Content-Type", b"").decode("latin-1")
        if is_feed(response.body, content_type):
            yield from self.parse_feed(response)
            return
        if "html" not in content_type.lower() and content_type:
            self.logger.info("not HTML (%s), skipped: %s", content_type, response.url)
            return
        _, html = decode_html(response.body, content_type or None)
        tree = parse_html(html, self.max_tags)
        if tree is None:
            self.logger.info("not parseable as HTML, skipped: %s", response.url)
            return
        oversized = too_many_tags(html, self.max_tags)
        yield from self.follow_links(tree, response.url, dated=not oversized)
        if oversized:
            self.cap_reached("NEWSARCHIVE_MAX_PAGE_TAGS", f"{response.url} is too large an article")
            return
        if self.article_url_pattern and not self.article_url_pattern.search(response.url):
            return
        yield ArticleItem(
            url=response.url,
            html=html,
            tree=tree,
            site=self.site,
            fetched_at=dt.datetime.now(dt.UTC),
            requested_urls=tuple(response.request.meta.get("redirect_urls", ())),
            etag=_header(response, b"ETag"),
            last_modified=_header(response, b"Last-Modified"),
            listing_published=response.meta.get(LISTING_DATE),
            warc_location=response.meta.get(WARC_LOCATION),
            timezone=self.timezone,
            drop_selectors=self.drop_selectors,
        )

    def follow_links(self, tree: HtmlElement, url: str, dated: bool = True):
        """Requests for the pages and feeds a page links to; with `dated`, with the date
        that stands by each link (a listing's teasers)."""
        links = page_links(tree, url, self.max_links)
        if links.truncated:
            self.cap_reached(
                "NEWSARCHIVE_MAX_LINKS_PER_PAGE", f"{url} has more links than are read"
            )
        for feed in links.feeds:
            if self.wanted(feed):
                yield Request(feed, callback=self.parse_feed, errback=self.failed)
        found = listing_dates(tree, url, self.site_tz) if dated else {}
        dates = {canonical_url(link): date for link, date in found.items()}
        for link in links.pages:
            if self.wanted(link):
                yield self.page_request(link, dates.get(link))

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
