"""The spider that walks a news portal and hands every HTML page to the pipelines."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator, Iterable
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from lxml.html import HtmlElement
from scrapy import Request, Spider
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from trafilatura.utils import load_html
from twisted.python.failure import Failure

from crawler.discovery import (
    feed_entries,
    is_feed,
    page_links,
    robots_sitemaps,
    sitemap_content,
)
from crawler.items import ArticleItem, FetchFailure, KnownArticleUnchanged
from crawler.middlewares import WARC_LOCATION, RedirectLoop
from pipelines.dates import listing_dates
from pipelines.encoding import decode_html
from pipelines.urls import canonical_url, is_http_url, is_within_domains, site_name_for, url_key

LISTING_DATE = "newsarchive_listing_date"


def _as_list(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part for part in value.split(",") if part]
    return list(value)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


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
        self.seen_keys: set[str] = set()

    async def start(self) -> AsyncIterator[Request]:
        for origin in dict.fromkeys(_origin(url) for url in self.start_urls):
            yield Request(f"{origin}/robots.txt", callback=self.parse_robots, errback=self.failed)
            yield self.sitemap_request(f"{origin}/sitemap.xml")
        for url in self.start_urls:
            yield Request(url, callback=self.parse, errback=self.failed)

    def wanted(self, url: str) -> bool:
        """Whether `url` is on the portal, not excluded and not requested yet (in any variant)."""
        if not is_within_domains(url, self.allowed_domains):
            return False
        if any(pattern.search(url) for pattern in self.exclude):
            return False
        key = url_key(url)
        if key in self.seen_keys:
            return False
        self.seen_keys.add(key)
        return True

    def page_request(self, url: str, listing_date: dt.date | None = None) -> Request:
        meta = {LISTING_DATE: listing_date} if listing_date else {}
        return Request(url, callback=self.parse, errback=self.failed, meta=meta)

    def sitemap_request(self, url: str) -> Request:
        return Request(url, callback=self.parse_sitemap, errback=self.failed_quietly)

    def parse_robots(self, response: Response):
        for sitemap in robots_sitemaps(response.body, response.url):
            yield self.sitemap_request(sitemap)

    def parse_sitemap(self, response: Response):
        content = sitemap_content(response.body)
        for sitemap in content.sitemaps:
            if is_within_domains(sitemap, self.allowed_domains):
                yield self.sitemap_request(sitemap)
        for url in content.pages:
            if self.wanted(url):
                yield self.page_request(url)

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
        tree = load_html(html)
        if tree is None:
            self.logger.info("not parseable as HTML, skipped: %s", response.url)
            return
        yield from self.follow_links(tree, response.url)
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

    def follow_links(self, tree: HtmlElement, url: str):
        links = page_links(tree, url)
        for feed in links.feeds:
            if self.wanted(feed):
                yield Request(feed, callback=self.parse_feed, errback=self.failed)
        dates = {
            canonical_url(link): date
            for link, date in listing_dates(tree, url, self.site_tz).items()
        }
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
        elif failure.check(RedirectLoop):
            yield FetchFailure(url, str(failure.value))
        elif failure.check(IgnoreRequest):
            if "max redirections" in str(failure.value):
                yield FetchFailure(url, "redirect chain too long")
        else:
            yield FetchFailure(url, f"{failure.type.__name__}: {failure.value}")

    def failed_quietly(self, failure: Failure) -> None:
        """Optional resources (a guessed /sitemap.xml) may well be missing."""


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
