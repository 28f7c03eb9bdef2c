"""Downloader middlewares: polite retries, and recrawls that skip what is archived."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import re
from http.client import responses as HTTP_REASONS
from pathlib import Path

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware, RedirectMiddleware
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import (
    CannotResolveHostError,
    CloseSpider,
    DownloadConnectionRefusedError,
    IgnoreRequest,
    NotConfigured,
    StopDownload,
)
from scrapy.http import HtmlResponse, Response
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet import error as twisted_errors
from twisted.internet.defer import Deferred
from w3lib.html import get_base_url, get_meta_refresh

from archive.store import KnownArticle, archive_url_key
from archive.warc import WarcFile
from crawler.discovery import robots_sitemaps
from crawler.storage import SKIPPED_STAT, WARC_PATH_STAT, archive_writer
from pipelines.urls import canonical_url, url_key

logger = logging.getLogger(__name__)


class BackoffRetryMiddleware(RetryMiddleware):
    """Retries 5xx answers and timeouts after a delay that doubles with each attempt."""

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.backoff_base = settings.getfloat("RETRY_BACKOFF_BASE")
        self.backoff_max = settings.getfloat("RETRY_BACKOFF_MAX")

    async def _after_backoff(self, result: Request | Response | None):
        if isinstance(result, Request):
            attempt = result.meta.get("retry_times", 1)
            await asyncio.sleep(min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1)))
        return result

    async def process_response(self, request: Request, response: Response):
        return await self._after_backoff(super().process_response(request, response))

    async def process_exception(self, request: Request, exception: Exception):
        return await self._after_backoff(super().process_exception(request, exception))


class RedirectLoop(IgnoreRequest):
    """A redirect leads back to a URL of its own chain."""


class RedirectOffsite(IgnoreRequest):
    """A redirect leads to another site, or to another port of the portal's hosts."""


# Where Scrapy looks for a meta refresh: the first 4,096 characters, which take up to
# twice as many bytes in UTF-8 Cyrillic (and up to four in the rarest scripts).
HEAD_CHARS = 4096
HEAD_BYTES = 4 * HEAD_CHARS


class _LoopAware:
    """Reports a redirect loop as such; otherwise the duplicate filter would drop the
    request that closes the loop without a word. A redirect off the portal goes nowhere."""

    def _redirect(self, redirected: Request, request: Request, reason) -> Request:
        chain = [*request.meta.get("redirect_urls", []), request.url]
        if canonical_url(redirected.url) in {canonical_url(url) for url in chain}:
            raise RedirectLoop(f"redirect loop: {' -> '.join([*chain, redirected.url])}")
        in_scope = getattr(self.crawler.spider, "in_scope", None)
        if in_scope is not None and not in_scope(redirected.url):
            raise RedirectOffsite(f"redirected off the portal, to {redirected.url}")
        redirected = super()._redirect(redirected, request, reason)
        if url_key(redirected.url) in {url_key(url) for url in chain}:
            # Another form of the URL asked for (http to https, a trailing slash): the
            # duplicate filter, which knows URLs by their key, would drop it.
            redirected.dont_filter = True
        return redirected


class LoopAwareRedirectMiddleware(_LoopAware, RedirectMiddleware):
    """Scrapy's redirects (3xx), loops reported."""


class HeadMetaRefreshMiddleware(_LoopAware, MetaRefreshMiddleware):
    """Scrapy's meta refresh redirects, loops reported, read from the start of the page
    alone: Scrapy's decodes each whole page to look at its first 4,096 characters, in the
    crawl process, while the page workers decode the page anyway."""

    def process_response(self, request: Request, response: Response, spider=None):
        if (
            request.meta.get("dont_redirect", False)
            or request.method == "HEAD"
            or not isinstance(response, HtmlResponse)
            or urlparse_cached(request).scheme not in {"http", "https"}
        ):
            return response
        interval, url = _head_meta_refresh(response, self._ignore_tags)
        if not url:
            return response
        redirected = self._redirect_request_using_get(request, response, url)
        if urlparse_cached(redirected).scheme not in {"http", "https"}:
            return response
        if interval < self._maxdelay:
            return self._redirect(redirected, request, "meta refresh")
        return response


def _head_meta_refresh(response: HtmlResponse, ignore_tags: list[str]) -> tuple:
    """(delay, URL) of the page's meta refresh, or (None, None), as Scrapy reads it."""
    encoding = response.encoding
    head = response.body[:HEAD_BYTES].decode(encoding, errors="replace")[:HEAD_CHARS]
    base_url = get_base_url(head, response.url, encoding)
    return get_meta_refresh(head, base_url, encoding, ignore_tags=ignore_tags)


class AlreadyArchived(IgnoreRequest):
    """The request is for an archived article that is not due for a revisit."""


class KnownArticlesMiddleware:
    """Makes a recrawl download only what is new or due for a revisit.

    Listings, feeds and sitemaps are always read again; an archived article is skipped
    unless it was last fetched more than NEWSARCHIVE_REVISIT_AFTER_HOURS ago and was
    published within NEWSARCHIVE_REVISIT_WITHIN_DAYS, and then it is asked for with its
    ETag / Last-Modified so that an unchanged page costs a 304.
    """

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.writer = archive_writer(crawler)
        self.crawler = crawler
        self.revisit_after = dt.timedelta(
            hours=settings.getfloat("NEWSARCHIVE_REVISIT_AFTER_HOURS")
        )
        self.revisit_within = dt.timedelta(
            days=settings.getfloat("NEWSARCHIVE_REVISIT_WITHIN_DAYS")
        )
        self.known: dict[str, KnownArticle] = {}
        self.skipped: set[int] = set()
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> KnownArticlesMiddleware:
        return cls(crawler)

    def spider_opened(self, spider: Spider) -> None:
        for site in getattr(spider, "site_names", []):
            self.known.update(self.writer.known_articles(site))
        spider.logger.info("%d URLs of archived articles known", len(self.known))

    def due_for_revisit(self, known: KnownArticle, now: dt.datetime) -> bool:
        if now - known.last_fetched < self.revisit_after:
            return False
        published = known.published or known.first_seen.date()
        return now.date() - published <= self.revisit_within

    def process_request(self, request: Request) -> None:
        known = self.known.get(archive_url_key(request.url))
        if known is None:
            return
        if not self.due_for_revisit(known, dt.datetime.now(dt.UTC)):
            self.skipped.add(known.article_id)
            self.crawler.stats.set_value(SKIPPED_STAT, len(self.skipped))
            raise AlreadyArchived(f"already archived: {request.url}")
        if known.etag:
            request.headers["If-None-Match"] = known.etag
        if known.last_modified:
            request.headers["If-Modified-Since"] = known.last_modified
        request.meta["handle_httpstatus_list"] = [
            *request.meta.get("handle_httpstatus_list", ()),
            304,
        ]


WARC_LOCATION = "newsarchive_warc_location"
# The finish reason, and so the run status, of a crawl stopped because its WARC file failed.
WARC_ERROR = "warc_error"


def _header_pairs(headers) -> list[tuple[str, str]]:
    return [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, values in headers.items()
        for value in values
    ]


class WarcArchiveMiddleware:
    """Keeps every fetched response, with its request, in the run's WARC file.

    It sits after decompression, so the records hold the bodies as the pipelines saw them.
    """

    def __init__(self, crawler: Crawler, directory: Path) -> None:
        self.crawler = crawler
        self.directory = directory
        self.warc: WarcFile | None = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcArchiveMiddleware:
        directory = crawler.settings.get("NEWSARCHIVE_WARC_DIR")
        if not directory:
            raise NotConfigured("NEWSARCHIVE_WARC_DIR is empty: no WARC files are written")
        return cls(crawler, Path(directory))

    def spider_opened(self, spider: Spider) -> None:
        site = re.sub(r"[^\w.-]+", "_", getattr(spider, "site", spider.name))
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        name = f"{site}-{stamp}-{os.getpid()}.warc.gz"
        try:
            self.warc = WarcFile(
                self.directory, name, software=self.crawler.settings.get("USER_AGENT")
            )
        except OSError as exc:
            self._log_failure(self.directory / name, exc)
            raise CloseSpider(WARC_ERROR) from None
        self.crawler.stats.set_value(WARC_PATH_STAT, name)

    def spider_closed(self, spider: Spider) -> None:
        if self.warc is not None:
            self.warc.close()

    def process_response(self, request: Request, response: Response) -> Response:
        """Passes a response on only once its record is written: an article is never
        stored without it. A failed write stops the crawl."""
        if self.warc is None:
            raise IgnoreRequest("not archived: the WARC file cannot be written")
        try:
            request.meta[WARC_LOCATION] = self.warc.write(
                response.url,
                _header_pairs(request.headers),
                request.method,
                response.status,
                HTTP_REASONS.get(response.status, ""),
                _header_pairs(response.headers),
                response.body,
            )
        except OSError as exc:
            self._log_failure(self.warc.path, exc)
            self.warc.close()
            self.warc = None
            deferred_from_coro(self.crawler.engine.close_spider_async(reason=WARC_ERROR))
            raise IgnoreRequest(f"not archived: {response.url}") from exc
        return response

    @staticmethod
    def _log_failure(path: Path, exc: OSError) -> None:
        logger.error("cannot write the WARC file %s, stopping the crawl: %s", path, exc)


# Failures that say the host cannot be reached at all, rather than that one page failed.
UNREACHABLE_ERRORS = (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    twisted_errors.DNSLookupError,
    twisted_errors.ConnectionRefusedError,
    twisted_errors.NoRouteError,
)


class HostUnreachable(Exception):
    """A request for a host that an earlier request found unreachable."""


class UnreachableHostsMiddleware:
    """Gives up on a host once a request to it has failed to connect after every retry.

    The crawl logs one warning for the host; its other requests fail at once (and are
    recorded as failures of the run) instead of each waiting through its own retries.
    It sits above the retry middleware, so it sees what is left once retries are spent.
    """

    def __init__(self) -> None:
        self.unreachable: dict[str, str] = {}

    def process_request(self, request: Request) -> None:
        host = urlparse_cached(request).netloc
        if host in self.unreachable:
            raise HostUnreachable(f"host {host} unreachable: {self.unreachable[host]}")

    def process_exception(self, request: Request, exception: Exception) -> None:
        if not isinstance(exception, UNREACHABLE_ERRORS):
            return
        host = urlparse_cached(request).netloc
        if host not in self.unreachable:
            self.unreachable[host] = str(exception)
            logger.warning("cannot reach %s (%s): its other pages are skipped", host, exception)


DISALLOW_ALL = b"User-agent: *\nDisallow: /\n"
# Marks a robots.txt request, which DOWNLOAD_MAXSIZE does not apply to; the value counts
# the bytes received so far.
ROBOTS_TXT = "newsarchive_robots_txt"
# A signal sent once for each host whose robots.txt was asked for, when it is settled, with
# `origin` (`scheme://host[:port]` of the robots.txt URL) and `sitemaps` (the canonical
# URLs of its Sitemap: lines; none when it answered no 2xx or could not be fetched).
robots_txt_sitemaps = object()


class RobotsPolicyMiddleware(RobotsTxtMiddleware):
    """robots.txt as RFC 9309 reads it: a server error (5xx) means everything is disallowed
    (the next run asks again), any other answer is parsed (a 4xx allows everything), and a
    robots.txt that cannot be fetched is one line in the log, not a traceback. The sitemaps
    it names are announced with the robots_txt_sitemaps signal, so that no one fetches it
    again to read them."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.max_bytes = crawler.settings.getint("NEWSARCHIVE_MAX_ROBOTS_BYTES")
        crawler.signals.connect(self.bytes_received, signal=signals.bytes_received)

    def bytes_received(self, data: bytes, request: Request, spider: Spider) -> None:
        """A robots.txt is read up to NEWSARCHIVE_MAX_ROBOTS_BYTES, not dropped whole for
        being larger than DOWNLOAD_MAXSIZE."""
        if ROBOTS_TXT in request.meta:
            request.meta[ROBOTS_TXT] += len(data)
            if request.meta[ROBOTS_TXT] > self.max_bytes:
                raise StopDownload(fail=False)

    async def robot_parser(self, request: Request):
        netloc = urlparse_cached(request).netloc
        if netloc not in self._parsers:
            self._parsers[netloc] = Deferred()
            origin = f"{urlparse_cached(request).scheme}://{netloc}"
            sitemaps: list[str] = []
            robots = Request(
                f"{origin}/robots.txt",
                priority=self.DOWNLOAD_PRIORITY,
                meta={"dont_obey_robotstxt": True, "download_maxsize": 0, ROBOTS_TXT: 0},
                callback=NO_CALLBACK,
            )
            try:
                response = await self.crawler.engine.download_async(robots)
            except Exception as exc:
                if not isinstance(exc, (IgnoreRequest, HostUnreachable, *UNREACHABLE_ERRORS)):
                    logger.warning("cannot fetch %s: %s", robots.url, exc)
                self._robots_error(exc, netloc)
            else:
                if len(response.body) > self.max_bytes:
                    response = response.replace(body=response.body[: self.max_bytes])
                if response.status >= 500:
                    logger.warning(
                        "%s answered %d: nothing on %s is fetched",
                        robots.url,
                        response.status,
                        netloc,
                    )
                    response = response.replace(body=DISALLOW_ALL)
                elif 200 <= response.status < 300:
                    sitemaps = list(robots_sitemaps(response.body, response.url))
                await self._parse_robots(response, netloc, request)
            self._stats.inc_value("robotstxt/request_count")
            await self.crawler.signals.send_catch_log_async(
                robots_txt_sitemaps, origin=origin, sitemaps=sitemaps
            )
        parser = self._parsers[netloc]
        if isinstance(parser, Deferred):
            # A Deferred hands its result to the first waiter only; the others read it here.
            await maybe_deferred_to_future(parser)
        return self._parsers[netloc]
